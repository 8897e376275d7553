"""Write audit outputs: one GeoPackage per site and the batch summary CSV, atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio

from cpted import __version__
from cpted.atomic import atomic_path
from cpted.report.styles import write_styles

__all__ = ["write_audit", "write_summary"]


def write_audit(result, path: str | Path) -> Path:
    """Write an :class:`~cpted.pipeline.AuditResult`'s layers into one GeoPackage.

    The file is written beside ``path`` under a temporary name and renamed when complete,
    so a failure never leaves a partial GeoPackage (and an older one stays as it was).
    The data attribution is stored as dataset metadata and in the ``site`` layer.
    """
    path = Path(path)
    metadata = {
        "generator": f"cpted {__version__}",
        "site_id": result.site.id,
        "attribution": " | ".join(result.site.attribution),
    }
    with atomic_path(path) as tmp:
        for i, (name, gdf) in enumerate(result.layers.items()):
            pyogrio.write_dataframe(
                gdf,
                tmp,
                layer=name,
                driver="GPKG",
                append=i > 0,
                metadata=metadata if i == 0 else None,
                promote_to_multi=False,
            )
        write_styles(tmp, list(result.layers))  # QGIS opens the result layers styled
    return path


def write_summary(summary: pd.DataFrame, path: str | Path) -> Path:
    """Write the batch summary (one row per site) as UTF-8 CSV, atomically."""
    with atomic_path(path) as tmp:
        summary.to_csv(tmp, index=False, encoding="utf-8")
    return Path(path)
