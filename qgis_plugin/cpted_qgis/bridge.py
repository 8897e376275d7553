"""Between QGIS and the cpted library: the dependency check, layers to GeoDataFrames and back,
the CRS checks, progress and cancel, and the styles applied on load.

Nothing is computed here: the algorithms hand GeoDataFrames to the public ``cpted`` API.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from qgis.core import (
    NULL,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QTime

from . import deps
from .compat import FAST_INSERT, FIELD_TYPES, METRES, TEXT, WKT_PREFERRED, field
from .i18n import noop, tr

#: The audit steps, as :func:`progress` shows them.
STEPS = (noop("completeness"), noop("network"), noop("surveillance"), noop("access control"), noop("activity"),
         noop("territoriality"), noop("maintenance"), noop("scores"))

STYLES = Path(__file__).parent / "styles"

class Cancelled(Exception):
    """Raised from a progress callback when the user cancels."""


def require_cpted():
    """The ``cpted`` module, or a QgsProcessingException saying what is missing and how to install it."""
    found = deps.problems()
    if found:
        raise QgsProcessingException(deps.message(found, tr))
    import cpted  # noqa: PLC0415 - imported on use, so QGIS starts without it

    return cpted


def site_id(text: str) -> str:
    """A site identifier safe as a file name, from a layer or site name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-") or "site"


def pyproj_crs(crs: QgsCoordinateReferenceSystem):
    """The pyproj CRS of a QGIS CRS (its authority code when it has one), or None."""
    from pyproj import CRS  # noqa: PLC0415

    if not crs.isValid():
        return None
    if crs.authid() and not crs.authid().startswith("USER:"):
        return CRS.from_user_input(crs.authid())
    return CRS.from_wkt(crs.toWkt(WKT_PREFERRED))


def metre_crs(crs: QgsCoordinateReferenceSystem, layer: str):
    """The pyproj CRS of the layer that defines the analysis CRS; a geographic, missing or
    non-metre CRS is rejected up front."""
    if not crs.isValid():
        raise QgsProcessingException(
            tr("Layer '{layer}' has no CRS: set it (Layer > Set CRS), then reproject to a metre-based CRS "
               "(e.g. EPSG:2154 Lambert-93).").format(layer=layer))
    if crs.isGeographic() or crs.mapUnits() != METRES:
        raise QgsProcessingException(
            tr("Layer '{layer}' is in {crs}, which is not in metres: reproject to a metre-based CRS "
               "(e.g. EPSG:2154 Lambert-93 or the local UTM zone) with Vector > Data Management Tools > "
               "Reproject Layer.").format(layer=layer, crs=crs.authid() or crs.description()))
    return pyproj_crs(crs)


def _python_value(value):
    if value is None or value == NULL:
        return None
    if isinstance(value, QDateTime):
        return value.toPyDateTime()
    if isinstance(value, QDate):
        return value.toPyDate()
    if isinstance(value, QTime):
        return value.toPyTime()
    return value


def to_frame(source, name: str, feedback, *, target_crs=None):
    """The features of a QGIS feature source as a GeoDataFrame indexed by feature id (so the
    library's messages name QGIS feature ids). Says when the layer will be reprojected."""
    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    crs = pyproj_crs(source.sourceCrs())
    if target_crs is not None and crs is not None and crs != target_crs:
        feedback.pushInfo(tr("Layer '{layer}' is in {src}: it is reprojected to the site's {dst}.").format(
            layer=name, src=crs.to_string(), dst=target_crs.to_string()))
    names = source.fields().names()
    ids, rows, wkbs = [], [], []
    total = max(source.featureCount(), 1)
    for i, feature in enumerate(source.getFeatures()):
        if i % 1000 == 0 and feedback.isCanceled():
            raise Cancelled
        geometry = feature.geometry()
        if QgsWkbTypes.isCurvedType(geometry.wkbType()):
            geometry = QgsGeometry(geometry.constGet().segmentize())
        ids.append(feature.id())
        rows.append([_python_value(v) for v in feature.attributes()])
        wkbs.append(None if geometry.isNull() else bytes(geometry.asWkb()))
        if i % 5000 == 0:
            feedback.setProgressText(tr("Reading '{layer}': {done} of {total} features").format(
                layer=name, done=i, total=total))
    geometry = shapely.from_wkb(wkbs) if wkbs else []
    frame = gpd.GeoDataFrame(rows, columns=names, index=ids, geometry=geometry, crs=crs)
    return frame


def _fields(frame) -> tuple[QgsFields, list[str]]:
    fields, columns = QgsFields(), []
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        metatype = FIELD_TYPES.get(frame[column].dtype.kind, TEXT)
        name = "fid_" if column.lower() == "fid" else column  # fid is the GeoPackage key
        fields.append(field(name, metatype))
        columns.append(column)
    return fields, columns


def _qgis_value(value):
    if value is None or type(value).__name__ == "NAType":  # pandas' NA: unknown in a nullable column
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "to_pydatetime"):
        return None if value != value else QDateTime(value.to_pydatetime())  # NaT != NaT
    if isinstance(value, (list, tuple, dict, set)):
        return str(value)
    return value


def write_sink(algorithm, parameters, key: str, context, frame, feedback, *, geometry: int) -> str:
    """Write a GeoDataFrame to the feature sink output ``key``; returns its destination id.

    ``geometry`` is the QgsWkbTypes type of the output (used as is when the frame is empty;
    features are made multi-part when it is).
    """
    fields, columns = _fields(frame)
    crs = QgsCoordinateReferenceSystem()
    if frame.crs is not None:
        epsg = frame.crs.to_epsg()
        crs = QgsCoordinateReferenceSystem(f"EPSG:{epsg}") if epsg else QgsCoordinateReferenceSystem.fromWkt(
            frame.crs.to_wkt())
    sink, dest_id = algorithm.parameterAsSink(parameters, key, context, fields, geometry, crs)
    if sink is None:
        raise QgsProcessingException(algorithm.invalidSinkError(parameters, key))
    multi = QgsWkbTypes.isMultiType(geometry)
    values = frame[columns].to_numpy(dtype=object) if columns else [[] for _ in range(len(frame))]
    wkbs = frame.geometry.to_wkb()
    batch = []
    for row, wkb in zip(values, wkbs, strict=True):
        feature = QgsFeature(fields)
        if wkb is not None:
            g = QgsGeometry()
            g.fromWkb(wkb)
            if multi:
                g.convertToMultiType()
            feature.setGeometry(g)
        feature.setAttributes([_qgis_value(v) for v in row])
        batch.append(feature)
        if len(batch) == 5000:
            if feedback.isCanceled():
                raise Cancelled
            sink.addFeatures(batch, FAST_INSERT)
            batch = []
    sink.addFeatures(batch, FAST_INSERT)
    return dest_id


def style_path(style: str) -> Path:
    """The .qml file of a style name (see ``styles/``)."""
    return STYLES / f"{style}.qml"


def apply_style(layer, style: str) -> bool:
    """Load the style ``style`` onto a layer; False when it has no such style."""
    path = style_path(style)
    if not path.exists():
        return False
    _message, ok = layer.loadNamedStyle(str(path))
    layer.triggerRepaint()
    return ok


class _Styler(QgsProcessingLayerPostProcessorInterface):
    def __init__(self, style: str):
        super().__init__()
        self.style = style

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 - QGIS API
        apply_style(layer, self.style)


_stylers: dict[str, _Styler] = {}  # Processing holds only a pointer: keep them alive


def style_on_load(context, dest_id: str, style: str, name: str | None = None) -> None:
    """Style an output layer (and name it) when Processing loads it into the project."""
    if not context.willLoadLayerOnCompletion(dest_id):
        return
    details = context.layerToLoadOnCompletionDetails(dest_id)
    if name:
        details.name = name
    _stylers[dest_id] = _Styler(style)
    details.setPostProcessor(_stylers[dest_id])


def progress(feedback, *, start: float = 0.0, span: float = 100.0):
    """A ``progress(step, done, total)`` callback for :func:`cpted.audit` that reports to
    ``feedback`` and stops the run when the user cancels."""
    def report(step: str, done: int, total: int) -> None:
        if feedback.isCanceled():
            raise Cancelled
        feedback.setProgress(start + span * done / max(total, 1))
        if step != "done":
            feedback.pushInfo(tr("Running: {step}").format(step=tr(step.replace("_", " "))))
    return report
