"""DCDM (Kaneda et al., ICML 2023): a CNN that maps a residual on a grid to a search direction."""
