"""The plugin loads in a real QGIS, registers its algorithms, and ships its styles,
translations and version consistently."""

from __future__ import annotations

import sys

import pytest
from conftest import PLUGIN_ROOT, ROOT
from qgis.core import QgsApplication

sys.path.insert(0, str(PLUGIN_ROOT / "scripts"))
import build  # noqa: E402

ALGORITHMS = {"audit_site", "surveillance", "territoriality", "access_control", "maintenance", "activity",
              "compare_scenarios", "isovists"}


def test_plugin_loads_and_unloads_through_iface(plugin):
    """``plugin`` was made by classFactory(qgis_iface) and initGui(), as QGIS does."""
    registry = QgsApplication.processingRegistry()
    assert registry.providerById("cpted") is not None
    plugin.unload()
    assert registry.providerById("cpted") is None
    assert registry.algorithmById("cpted:audit_site") is None
    plugin.initGui()  # loaded again, for the other tests
    assert registry.algorithmById("cpted:audit_site") is not None


def test_provider_registers_every_algorithm(plugin):
    provider = QgsApplication.processingRegistry().providerById("cpted")
    assert {a.name() for a in provider.algorithms()} == ALGORITHMS
    assert not provider.icon().isNull()
    for algorithm in provider.algorithms():
        assert algorithm.shortHelpString(), algorithm.name()
        assert QgsApplication.processingRegistry().algorithmById(f"cpted:{algorithm.name()}") is not None


def test_metadata_version_is_the_library_version():
    import cpted

    metadata = (PLUGIN_ROOT / "cpted_qgis" / "metadata.txt").read_text(encoding="utf-8")
    assert f"version={cpted.__version__}\n" in metadata
    assert "qgisMinimumVersion=3.22" in metadata and "hasProcessingProvider=yes" in metadata


def test_styles_are_the_library_styles():
    assert build.write_styles(check=True) == [], "run: python qgis_plugin/scripts/build.py styles"


def test_every_string_has_a_french_translation():
    assert build.untranslated(PLUGIN_ROOT / "cpted_qgis" / "i18n" / "cpted_fr.ts") == []
    assert len(build.strings()) > 50


@pytest.mark.parametrize(("locale", "expected"), [("fr", "Auditer un site (tous les principes)"),
                                                  ("en", "Audit site (all principles)")])
def test_algorithm_names_follow_the_locale(plugin, locale, expected):
    from cpted_qgis.i18n import install_translator, remove_translators

    remove_translators()
    try:
        assert install_translator(locale) is (locale == "fr")  # English is the source language
        algorithm = QgsApplication.processingRegistry().algorithmById("cpted:audit_site")
        assert algorithm.displayName() == expected
    finally:
        remove_translators()


def test_every_algorithm_file_holds_one_algorithm():
    folder = PLUGIN_ROOT / "cpted_qgis" / "algorithms"
    files = {p.stem for p in folder.glob("*.py")} - {"__init__", "base", "principle"}
    assert files == ALGORITHMS


def test_plugin_calls_only_the_public_api():
    """The plugin is thin: it imports cpted's public names and its errors, nothing deeper."""
    allowed = {"cpted", "cpted.errors"}
    for path in (PLUGIN_ROOT / "cpted_qgis").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.strip().split()
            if len(words) > 1 and words[0] in {"import", "from"} and words[1].startswith("cpted"):
                module = words[1].rstrip(",")
                if not module.startswith("cpted_qgis"):
                    assert module in allowed, f"{path.name}: {line.strip()}"
    assert ROOT.joinpath("cpted", "__init__.py").exists()


def test_no_enum_member_is_read_from_its_class_in_real_qgis(tmp_path):
    """The exact form of qt6_check's syntactic enum rule: in QGIS 3.22, no ``Class.Member`` the plugin
    reads is an enum value; on a sample, the exact and the syntactic rules flag the same lines."""
    import qt6_check

    assert qt6_check.enum_members() == []
    sample = tmp_path / "sample.py"
    sample.write_text("from qgis.core import Qgis, QgsProcessing, QgsWkbTypes\nfrom qgis.PyQt.QtCore import Qt\n"
                      "a = QgsWkbTypes.MultiPolygon\nb = Qt.AlignLeft\nc = QgsProcessing.TypeVectorPoint\n"
                      "d = QgsWkbTypes.Type.MultiPolygon\ne = Qgis.QGIS_VERSION_INT\nf = QgsWkbTypes.isMultiType(6)\n",
                      encoding="utf-8")
    exact = [int(line.split(":")[1]) for line in qt6_check.enum_members([sample])]
    syntactic = [f.line for f in qt6_check.check([sample])]
    assert exact == syntactic == [3, 4, 5]


def test_compat_gives_the_values_of_qgis_3_22s_own_names():
    """compat's scoped forms are the very values the (unscoped) 3.22 names have."""
    from cpted_qgis import compat
    from qgis.core import (QgsCoordinateReferenceSystem, QgsFeatureSink, QgsProcessing,
                           QgsProcessingParameterDefinition, QgsProcessingParameterField,
                           QgsProcessingParameterNumber, QgsUnitTypes, QgsWkbTypes)
    from qgis.PyQt.QtCore import QMetaType, QVariant

    assert (compat.POINT, compat.LINE, compat.POLYGON) == (
        QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorLine, QgsProcessing.TypeVectorPolygon)
    assert compat.DOUBLE == QgsProcessingParameterNumber.Double
    assert (compat.FIELD_ANY, compat.FIELD_NUMERIC) == (QgsProcessingParameterField.Any,
                                                        QgsProcessingParameterField.Numeric)
    assert compat.ADVANCED == QgsProcessingParameterDefinition.FlagAdvanced
    assert compat.WKT_PREFERRED == QgsCoordinateReferenceSystem.WKT_PREFERRED
    assert (compat.WKB_POINT, compat.WKB_MULTILINE, compat.WKB_MULTIPOLYGON) == (
        QgsWkbTypes.Point, QgsWkbTypes.MultiLineString, QgsWkbTypes.MultiPolygon)
    assert compat.METRES == QgsUnitTypes.DistanceMeters and compat.FAST_INSERT == QgsFeatureSink.FastInsert
    expected = {QMetaType.Type.Double: QVariant.Double, QMetaType.Type.LongLong: QVariant.LongLong,
                QMetaType.Type.Bool: QVariant.Bool, QMetaType.Type.QDateTime: QVariant.DateTime,
                QMetaType.Type.QString: QVariant.String}
    for metatype in [*compat.FIELD_TYPES.values(), compat.TEXT]:
        assert compat.field("x", metatype).type() == expected[metatype]


def test_audit_gpkg_context_layers_open_styled_in_qgis(qgis_app, tmp_path):
    """audit.gpkg (cpted.report.outputs.write_audit) opened as a planner would, layer by layer: the
    context layers (buildings, pois, lamps, water) take their default style from layer_styles."""
    import geopandas as gpd
    from qgis.core import QgsVectorLayer
    from shapely import LineString, Point, box

    from cpted.pipeline import audit
    from cpted.prepare.site import Site
    from cpted.report.outputs import write_audit

    crs = 2154
    layers = {
        "streets": gpd.GeoDataFrame({"walk_kind": ["street"], "name": ["Rue Longue"]},
                                    geometry=[LineString([(0, 100), (400, 100)])], crs=crs),
        "buildings": gpd.GeoDataFrame({"height_m": [10.0]}, geometry=[box(40, 110, 120, 150)], crs=crs),
        "pois": gpd.GeoDataFrame({"category": ["shop"]}, geometry=[Point(60, 105)], crs=crs),
        "lamps": gpd.GeoDataFrame({"height_m": [6.0]}, geometry=[Point(50, 95)], crs=crs),
        "water": gpd.GeoDataFrame({"kind": ["river"]}, geometry=[box(0, 0, 150, 60)], crs=crs),
    }
    site = Site.from_layers("scene", box(0, 0, 400, 200), crs=crs, layers=layers, cell_size=10)
    path = write_audit(audit(site, measures=["access_control"]), tmp_path / "audit.gpkg")
    expected = {"buildings": ("graduatedSymbol", "height_m"), "pois": ("categorizedSymbol", "category"),
                "lamps": ("singleSymbol", "#ffc800"), "water": ("singleSymbol", "#a6cee3")}
    for name, (renderer, attribute) in expected.items():
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        assert layer.isValid() and layer.featureCount() == len(layers[name])
        _, from_database = layer.loadDefaultStyle()
        assert from_database, f"{name}: no default style in layer_styles"
        assert layer.renderer().type() == renderer
        if renderer == "singleSymbol":  # QGIS's own default is a random colour
            assert layer.renderer().symbol().color().name() == attribute
        else:
            assert layer.renderer().classAttribute() == attribute
        del layer
