"""What every cpted algorithm shares: the site and layer inputs, their conversion for the
library, the error handling, progress and cancel, and the styled outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtGui import QIcon

from ..bridge import Cancelled, metre_crs, require_cpted, site_id, style_on_load, to_frame, write_sink
from ..compat import ADVANCED, DOUBLE, FIELD_ANY, FIELD_NUMERIC, LINE, POINT, POLYGON
from ..i18n import noop, tr


@dataclass(frozen=True)
class FieldInput:
    """A field of a layer input the user picks, and the cpted option it sets."""

    name: str
    description: str
    option: str  # an option of cpted.as_layer, or "fields:<canonical column>"
    numeric: bool = False


@dataclass(frozen=True)
class LayerInput:
    """A layer input and the canonical cpted layer kind it becomes."""

    kind: str
    name: str
    description: str
    types: tuple[int, ...]
    fields: tuple[FieldInput, ...] = field(default_factory=tuple)
    mapping: str = ""  # a parameter mapping the category field's values onto the cpted vocabulary


#: Every layer input an algorithm may take, by canonical kind.
LAYERS = {
    i.kind: i
    for i in (
        LayerInput("streets", "STREETS", noop("Streets and footpaths (lines)"), (LINE,)),
        LayerInput("buildings", "BUILDINGS", noop("Buildings (polygons)"), (POLYGON,), (
            FieldInput("HEIGHT_FIELD", noop("Building height field (metres)"), "height_field", numeric=True),
            FieldInput("LEVELS_FIELD", noop("Building storeys field (when there is no height)"), "levels_field",
                       numeric=True),
        )),
        LayerInput("entrances", "ENTRANCES", noop("Building entrances (points)"), (POINT,)),
        LayerInput("barriers", "BARRIERS", noop("Barriers: fences, walls, hedges, gates (lines or points)"),
                   (LINE, POINT), (
            FieldInput("BARRIER_KIND_FIELD", noop("Barrier kind field (fence, wall, hedge, gate...)"), "fields:kind"),
            FieldInput("BARRIER_HEIGHT_FIELD", noop("Barrier height field (metres)"), "fields:height_m", numeric=True),
        )),
        LayerInput("lamps", "LAMPS", noop("Street lamps (points)"), (POINT,), (
            FieldInput("LAMP_HEIGHT_FIELD", noop("Lamp mounting height field (metres)"), "fields:height_m",
                       numeric=True),
        )),
        LayerInput("pois", "POIS", noop("Points of interest (shops, services, facilities)"), (POINT, POLYGON), (
            FieldInput("POI_CATEGORY_FIELD", noop("Point of interest category field"), "category_field"),
        ), mapping="POI_CATEGORY_MAP"),
        LayerInput("landuse", "LANDUSE", noop("Land use and private plots (polygons)"), (POLYGON,), (
            FieldInput("LANDUSE_CATEGORY_FIELD", noop("Land use category field"), "fields:category"),
            FieldInput("LANDUSE_ACCESS_FIELD", noop("Land use access field (private, yes...)"), "fields:access"),
        )),
        LayerInput("reports", "REPORTS", noop("Disorder reports or walk-audit observations (points)"), (POINT,), (
            FieldInput("REPORT_CATEGORY_FIELD", noop("Report category field"), "category_field"),
            FieldInput("REPORT_DATE_FIELD", noop("Report date field"), "date_field"),
        ), mapping="REPORT_CATEGORY_MAP"),
    )
}


@dataclass(frozen=True)
class Output:
    """A feature sink output: the cpted layer it holds, its geometry and its style."""

    name: str
    description: str
    layer: str
    geometry: int
    style: str | None = None


class CptedAlgorithm(QgsProcessingAlgorithm):
    """Base of the cpted algorithms. A subclass names its layer inputs (:attr:`INPUTS`, kinds of
    :data:`LAYERS`; :attr:`REQUIRED` of them mandatory), its outputs (:attr:`OUTPUTS`) and
    implements :meth:`compute`, which returns the output frames by layer name."""

    NAME = ""
    DISPLAY = ""
    HELP = ""
    INPUTS: tuple[str, ...] = ()
    REQUIRED: tuple[str, ...] = ()
    OUTPUTS: tuple[Output, ...] = ()
    SITE = True  # takes a site polygon and builds a cpted Site

    def createInstance(self):  # noqa: N802 - QGIS API
        return type(self)()

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return tr(self.DISPLAY)

    def group(self) -> str:
        return tr("CPTED audit")

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return "cpted"

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return tr(self.HELP)

    def icon(self) -> QIcon:
        return QIcon(str(Path(__file__).parent.parent / "icon.svg"))

    # -- parameters -----------------------------------------------------------------------------
    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API
        if self.SITE:
            self.addParameter(QgsProcessingParameterFeatureSource(
                "SITE", tr("Site boundary (polygons, in a metre-based CRS)"), [POLYGON]))
            self.addParameter(QgsProcessingParameterString("SITE_NAME", tr("Site name"), optional=True))
        self.add_layer_inputs("", self.INPUTS, self.REQUIRED)
        self.add_options()
        for i, out in enumerate(self.OUTPUTS):  # the first output (the cells) is required, the others on by default
            self.addParameter(QgsProcessingParameterFeatureSink(out.name, tr(out.description), optional=i > 0,
                                                                createByDefault=True))
        self.add_other_outputs()

    def add_layer_inputs(self, prefix: str, kinds, required, label: str = "") -> None:
        for kind in kinds:
            spec = LAYERS[kind]
            self.addParameter(QgsProcessingParameterFeatureSource(
                prefix + spec.name, tr(label) + tr(spec.description), list(spec.types), optional=kind not in required))
            for f in spec.fields:
                kinds_ = FIELD_NUMERIC if f.numeric else FIELD_ANY
                self.addParameter(QgsProcessingParameterField(
                    prefix + f.name, tr(label) + tr(f.description), parentLayerParameterName=prefix + spec.name,
                    type=kinds_, optional=True))
            if spec.mapping:
                self.addParameter(QgsProcessingParameterString(
                    prefix + spec.mapping, tr(label) + tr("Category map: value=category pairs separated by ';' "
                                                          "(values not listed become 'other')"), optional=True))

    def add_options(self) -> None:
        """The grid and radii options (advanced), and a canopy raster, for site algorithms."""
        if not self.SITE:
            return
        self.addParameter(QgsProcessingParameterNumber(
            "CELL_SIZE", tr("Cell size of the analysis grid (m)"), DOUBLE, 5.0,
            minValue=0.5))
        options = [
            QgsProcessingParameterNumber("CONTEXT", tr("Context ring around the site (m)"),
                                         DOUBLE, 400.0, minValue=0.0),
            QgsProcessingParameterNumber("VIEW_RADIUS", tr("View radius of isovists (m)"),
                                         DOUBLE, 100.0, minValue=1.0),
            QgsProcessingParameterString("RADII", tr("Network radii (m, comma-separated; scores use 800)"),
                                         "400,800,1200"),
        ]
        for p in options:
            p.setFlags(p.flags() | ADVANCED)
            self.addParameter(p)
        if "maintenance" in self.MEASURES:
            self.addParameter(QgsProcessingParameterRasterLayer(
                "CANOPY", tr("Canopy height raster (vegetation that blocks sightlines)"), optional=True))

    def add_weights(self) -> None:
        self.addParameter(QgsProcessingParameterFile(
            "WEIGHTS", tr("Weights file (TOML; the defaults when empty)"), extension="toml", optional=True))

    def add_other_outputs(self) -> None:
        """Outputs beyond the feature sinks (a report file, numbers)."""

    MEASURES: tuple[str, ...] = ()

    # -- running --------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API
        cpted = require_cpted()
        from cpted.errors import CptedError  # noqa: PLC0415

        try:
            frames, results = self.compute(cpted, parameters, context, feedback)
            feedback.setProgressText(tr("Writing the outputs"))
            for out in self.OUTPUTS:
                if not parameters.get(out.name):  # an optional output the user switched off
                    continue
                frame = frames.get(out.layer)
                if frame is None:  # the measure had no input for it: an empty layer, with the notes saying why
                    import geopandas as gpd  # noqa: PLC0415

                    frame = gpd.GeoDataFrame(geometry=[], crs=next(iter(frames.values())).crs)
                dest = write_sink(self, parameters, out.name, context, frame, feedback, geometry=out.geometry)
                results[out.name] = dest
                if out.style:
                    style_on_load(context, dest, out.style)
        except Cancelled:
            raise QgsProcessingException(tr("Cancelled: no output was written.")) from None
        except CptedError as exc:
            raise QgsProcessingException(str(exc)) from None
        feedback.setProgress(100)
        return results

    def compute(self, cpted, parameters, context, feedback) -> tuple[dict, dict]:
        raise NotImplementedError

    # -- inputs for the library ------------------------------------------------------------------
    def site_crs(self, parameters, context):
        source = self.parameterAsSource(parameters, "SITE", context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "SITE"))
        return source, metre_crs(source.sourceCrs(), self.layer_name(parameters, "SITE", context))

    def layer_name(self, parameters, name: str, context) -> str:
        layer = self.parameterAsVectorLayer(parameters, name, context)
        return layer.name() if layer is not None else name.lower()

    def layers(self, cpted, parameters, context, feedback, crs, prefix: str = "") -> dict:
        """The canonical cpted layers of the inputs given (kind -> GeoDataFrame)."""
        out = {}
        for kind in self.INPUTS:
            spec = LAYERS[kind]
            source = self.parameterAsSource(parameters, prefix + spec.name, context)
            if source is None:
                continue
            label = self.layer_name(parameters, prefix + spec.name, context)
            frame = to_frame(source, label, feedback, target_crs=crs)
            options: dict = {}
            for f in spec.fields:
                chosen = self.parameterAsString(parameters, prefix + f.name, context)
                if not chosen:
                    continue
                if f.option.startswith("fields:"):
                    options.setdefault("fields", {})[f.option.split(":", 1)[1]] = chosen
                else:
                    options[f.option] = chosen
            mapping = self.parameterAsString(parameters, prefix + spec.mapping, context) if spec.mapping else ""
            if mapping:
                options["category_map"] = category_map(mapping)
            out[kind], _facts = cpted.as_layer(frame, kind, name=label, **options)
            feedback.pushInfo(tr("Layer '{layer}': {n} features as {kind}.").format(
                layer=label, n=len(frame), kind=kind))
        return out

    def audit_options(self, parameters, context) -> dict:
        text = self.parameterAsString(parameters, "RADII", context)
        try:
            radii = [float(r) for r in text.replace(";", ",").split(",") if r.strip()]
        except ValueError:
            raise QgsProcessingException(
                tr("Network radii '{text}': write numbers of metres separated by commas, e.g. 400,800,1200")
                .format(text=text)) from None
        return {"view_radius": self.parameterAsDouble(parameters, "VIEW_RADIUS", context), "radii": radii}

    def site(self, cpted, parameters, context, feedback):
        """The prepared cpted Site of the site polygon and the layer inputs."""
        _source, crs = self.site_crs(parameters, context)
        layers = self.layers(cpted, parameters, context, feedback, crs)
        return self.sites(cpted, parameters, context, feedback, [layers])[0]

    def sites(self, cpted, parameters, context, feedback, designs: list[dict], known_empty: list | None = None) -> list:
        """One prepared cpted Site per dict of layers, all on the site polygon (read once, as is the
        canopy raster); ``known_empty``: per design, the layer kinds surveyed and empty."""
        source, crs = self.site_crs(parameters, context)
        label = self.layer_name(parameters, "SITE", context)
        boundary = to_frame(source, label, feedback)
        if boundary.empty:
            raise QgsProcessingException(tr("The site layer '{layer}' has no feature: select or draw the site "
                                            "polygon.").format(layer=label))
        name = self.parameterAsString(parameters, "SITE_NAME", context) or label
        rasters = {}
        if "maintenance" in self.MEASURES:
            canopy = self.parameterAsRasterLayer(parameters, "CANOPY", context)
            if canopy is not None:
                rasters["canopy"] = cpted.read_raster(canopy.source())
        feedback.setProgressText(tr("Preparing the site"))
        return [cpted.Site.from_layers(
            site_id(name), boundary, crs=crs, layers=layers, name=name,
            context=self.parameterAsDouble(parameters, "CONTEXT", context),
            cell_size=self.parameterAsDouble(parameters, "CELL_SIZE", context), rasters=rasters,
            known_empty=(known_empty or [()] * len(designs))[i],
        ) for i, layers in enumerate(designs)]


def category_map(text: str) -> dict[str, str]:
    """``"amenity=cafe=food_drink; école=education"`` -> {value: category}; a value may hold '='
    (the category, after the last one, never does)."""
    pairs = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        value, sep, category = item.rpartition("=")
        if not sep or not value.strip() or not category.strip():
            raise QgsProcessingException(
                tr("Category map '{item}': write value=category pairs separated by ';', e.g. "
                   "boulangerie=shop; école=education").format(item=item.strip()))
        pairs[value.strip()] = category.strip()
    return pairs
