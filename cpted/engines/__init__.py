"""Shared heavy machinery: visibility (exact isovists, visibility queries) and the street network."""
