"""Isovists from points: the visible area from observer points the planner places."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
)

from ..bridge import Cancelled, metre_crs, to_frame
from ..compat import DOUBLE, WKB_MULTIPOLYGON
from ..i18n import noop, tr
from .base import LINE, POINT, POLYGON, CptedAlgorithm, Output


class Isovists(CptedAlgorithm):
    NAME = "isovists"
    DISPLAY = noop("Isovists from points")
    HELP = noop(
        "The exact isovist (the area visible at eye level) of each observer point among the obstacles "
        "(building polygons, and opaque lines such as walls), within the view radius, with its measures: "
        "isovist_area (m2), isovist_perimeter (m), isovist_compactness (1 for a disc), isovist_occlusivity "
        "(m of boundary that is no surface), isovist_min_radial and isovist_max_radial (nearest and farthest "
        "visible point, m) and isovist_drift (m from the observer to the centroid). The observer "
        "layer's CRS must be metre-based; the obstacles are reprojected to it. An observer inside an obstacle "
        "sees nothing.")
    SITE = False
    OUTPUTS = (Output("ISOVISTS", noop("Isovists"), "isovists", WKB_MULTIPOLYGON, "isovists"),)

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterFeatureSource(
            "OBSERVERS", tr("Observer points (in a metre-based CRS)"), [POINT]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "OBSTACLES", tr("Obstacles: buildings (polygons) or opaque walls (lines)"), [POLYGON, LINE]))
        self.addParameter(QgsProcessingParameterNumber(
            "RADIUS", tr("View radius (m)"), DOUBLE, 100.0, minValue=1.0))
        self.addParameter(QgsProcessingParameterFeatureSink("ISOVISTS", tr(self.OUTPUTS[0].description)))

    def compute(self, cpted, parameters, context, feedback):
        observers_source = self.parameterAsSource(parameters, "OBSERVERS", context)
        obstacles_source = self.parameterAsSource(parameters, "OBSTACLES", context)
        if observers_source is None or obstacles_source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "OBSERVERS" if observers_source is None
                                                                 else "OBSTACLES"))
        label = self.layer_name(parameters, "OBSERVERS", context)
        crs = metre_crs(observers_source.sourceCrs(), label)
        observers = to_frame(observers_source, label, feedback)
        obstacles_label = self.layer_name(parameters, "OBSTACLES", context)
        obstacles = to_frame(obstacles_source, obstacles_label, feedback, target_crs=crs)
        obstacles = cpted.to_crs(obstacles, crs, layer=obstacles_label)
        feedback.setProgress(20)
        scene = cpted.prepare_scene(obstacles)
        if feedback.isCanceled():
            raise Cancelled
        polygons = cpted.isovists(observers, scene, radius=self.parameterAsDouble(parameters, "RADIUS", context))
        feedback.setProgress(80)
        extra = [c for c in observers.columns if c != observers.geometry.name and c not in polygons.columns]
        return {"isovists": polygons.join(observers[extra].set_axis(polygons.index))}, {}
