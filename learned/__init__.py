"""Learned components (torch / torch_geometric): UDC's dividing GNN and DCDM's CNN.

Each subpackage has ``model.py``, ``generator.py``, ``train.py`` (with ``main(argv)``) and
shipped weights loaded offline with ``importlib.resources`` and
``torch.load(..., map_location="cpu", weights_only=True)``.
"""
