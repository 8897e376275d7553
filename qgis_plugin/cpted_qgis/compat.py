"""The QGIS enums and field types the plugin uses, in the form each QGIS version has.

QGIS 4 (Qt6) needs fully scoped enums and ``QMetaType`` field types. Most scoped forms also work
in QGIS 3.22 (``QgsFeatureSink.Flag.FastInsert``); the ones that moved to the ``Qgis`` namespace
later (3.30: ``Qgis.WkbType``, ``Qgis.DistanceUnit``; 3.36: the Processing enums,
``Qgis.CrsWktVariant``; 3.38: ``QgsField`` taking a ``QMetaType.Type``) are chosen here, the new
form first. Every name below is a scoped form; nothing uses ``QVariant`` types.
"""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsFeatureSink,
    QgsField,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsUnitTypes,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QMetaType

if hasattr(Qgis, "ProcessingSourceType"):  # QGIS >= 3.36, and QGIS 4
    POINT = Qgis.ProcessingSourceType.VectorPoint
    LINE = Qgis.ProcessingSourceType.VectorLine
    POLYGON = Qgis.ProcessingSourceType.VectorPolygon
    DOUBLE = Qgis.ProcessingNumberParameterType.Double
    FIELD_ANY = Qgis.ProcessingFieldParameterDataType.Any
    FIELD_NUMERIC = Qgis.ProcessingFieldParameterDataType.Numeric
    ADVANCED = Qgis.ProcessingParameterFlag.Advanced
    WKT_PREFERRED = Qgis.CrsWktVariant.Preferred
else:  # QGIS 3.22 - 3.34
    POINT = QgsProcessing.SourceType.TypeVectorPoint
    LINE = QgsProcessing.SourceType.TypeVectorLine
    POLYGON = QgsProcessing.SourceType.TypeVectorPolygon
    DOUBLE = QgsProcessingParameterNumber.Type.Double
    FIELD_ANY = QgsProcessingParameterField.DataType.Any
    FIELD_NUMERIC = QgsProcessingParameterField.DataType.Numeric
    ADVANCED = QgsProcessingParameterDefinition.Flag.FlagAdvanced
    WKT_PREFERRED = QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED

if hasattr(Qgis, "WkbType"):  # QGIS >= 3.30
    WKB_POINT, WKB_MULTILINE, WKB_MULTIPOLYGON = (Qgis.WkbType.Point, Qgis.WkbType.MultiLineString,
                                                  Qgis.WkbType.MultiPolygon)
    METRES = Qgis.DistanceUnit.Meters
else:
    WKB_POINT, WKB_MULTILINE, WKB_MULTIPOLYGON = (QgsWkbTypes.Type.Point, QgsWkbTypes.Type.MultiLineString,
                                                  QgsWkbTypes.Type.MultiPolygon)
    METRES = QgsUnitTypes.DistanceUnit.DistanceMeters

FAST_INSERT = QgsFeatureSink.Flag.FastInsert

#: Field types by numpy dtype kind (anything else is text).
FIELD_TYPES = {"f": QMetaType.Type.Double, "i": QMetaType.Type.LongLong, "u": QMetaType.Type.LongLong,
               "b": QMetaType.Type.Bool, "M": QMetaType.Type.QDateTime}
TEXT = QMetaType.Type.QString

#: QgsField takes a QMetaType.Type from QGIS 3.38 on; before, a QVariant.Type, whose values are
#: the same Qt type ids, so the id is passed as an int.
_METATYPE_FIELDS = Qgis.QGIS_VERSION_INT >= 33800


def field(name: str, metatype) -> QgsField:
    """A QgsField of a ``QMetaType.Type`` in any QGIS >= 3.22.

    Example
    -------
    >>> field("score", QMetaType.Type.Double).type() == 6  # doctest: +SKIP
    True
    """
    return QgsField(name, metatype if _METATYPE_FIELDS else int(metatype))
