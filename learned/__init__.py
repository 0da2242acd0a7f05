"""Learned methods (torch / torch_geometric): UDC's dividing GNN and DCDM's CNN.

Each subpackage has ``model.py`` (and the modules it splits into), ``generator.py``,
``train.py`` (with ``main(argv)``), ``solve.py`` (the method's ``solve_*``, registered in
``solvers`` by its dotted path, so the library never imports this package) and shipped
weights loaded offline with ``importlib.resources`` and
``torch.load(..., map_location="cpu", weights_only=True)``. ``learned`` builds on
``solvers`` (PCG loop, smoother, local search), never the other way.
"""
