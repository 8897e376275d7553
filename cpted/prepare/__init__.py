"""Stage 2, prepare: CRS, cleaning, the Site (boundary + context ring + layers), walk network, grid."""
