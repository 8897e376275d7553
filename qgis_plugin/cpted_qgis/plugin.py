"""The plugin object QGIS loads: it installs the translation, registers the provider and says,
once, when the cpted library cannot run in QGIS's Python."""

from __future__ import annotations

from qgis.core import Qgis, QgsApplication, QgsMessageLog

from . import deps
from .i18n import install_translator, remove_translators, tr
from .provider import CptedProvider


class CptedPlugin:
    """Registers the cpted Processing provider (no menus of its own: the algorithms live in
    the Processing toolbox, graphical models and batch mode)."""

    def __init__(self, iface):
        self.iface = iface
        self.provider: CptedProvider | None = None
        self.missing: str | None = None  # the message shown when the library cannot run

    def initProcessing(self):  # noqa: N802 - QGIS API
        """Called by QGIS (also by qgis_process, which has no GUI)."""
        if self.provider is None:
            install_translator()
            provider = CptedProvider()
            if QgsApplication.processingRegistry().addProvider(provider):  # False: another copy is loaded
                self.provider = provider
            self.missing = self.check_library()

    def initGui(self):  # noqa: N802 - QGIS API
        self.initProcessing()
        if self.missing and self.iface is not None:
            self.iface.messageBar().pushMessage(
                tr("cpted"), tr("The cpted library is missing or incompatible: the algorithms cannot run yet."),
                showMore=self.missing, level=Qgis.MessageLevel.Critical, duration=0)

    def check_library(self) -> str | None:
        """The install message when the library or a dependency cannot run here (also in the
        log, where qgis_process users see it), else None. Nothing is installed."""
        found = deps.problems()
        if not found:
            return None
        text = deps.message(found, tr)
        QgsMessageLog.logMessage(text, "cpted", Qgis.MessageLevel.Critical)
        return text

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        remove_translators()
