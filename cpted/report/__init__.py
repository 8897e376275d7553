"""Stage 5, report: GeoPackages, the summary CSV and the HTML overview."""
