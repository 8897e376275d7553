"""The Processing provider ``cpted``: one algorithm class per file in ``algorithms/``."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .i18n import tr


class CptedProvider(QgsProcessingProvider):
    def id(self) -> str:  # noqa: A003 - QGIS API
        return "cpted"

    def name(self) -> str:
        return tr("CPTED audit")

    def longName(self) -> str:  # noqa: N802 - QGIS API
        return tr("CPTED audit (crime prevention through environmental design)")

    def icon(self) -> QIcon:
        return QIcon(str(Path(__file__).parent / "icon.svg"))

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API
        return str(Path(__file__).parent / "icon.svg")

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
