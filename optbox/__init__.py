"""optbox: the command line (``optbox``, ``python -m optbox``), the top layer.

Layers point one way: ``problems`` <- ``solvers`` (core, then one package per family) <-
``learned`` (learned methods, registered in ``solvers`` by dotted path) <- ``optbox``.
``benchmarks`` sits beside and is imported only by ``optbox bench``. From Python, use
``from solvers import solve`` and the problem classes in ``problems``.
"""
