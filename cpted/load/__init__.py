"""Stage 1, load: files, OSM and rasters into canonical layers (see :mod:`cpted.load.schema`)."""
