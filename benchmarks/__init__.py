"""Comparative benchmarks: optbox beside the peer libraries, one process per suite.

Each suite module (``ot``, ``bcd``, ``mip``, ``dag``, ``routing``, ``linear``) exposes
``main(argv) -> int`` with ``--quick`` and ``--out DIR``; ``optbox bench SUITE`` runs them.
"""

SUITES = ("ot", "bcd", "mip", "dag", "routing", "linear", "scale")
