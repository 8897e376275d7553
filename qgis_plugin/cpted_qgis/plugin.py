"""The plugin object QGIS loads: it installs the translation and registers the provider."""

from __future__ import annotations

from qgis.core import QgsApplication

from .i18n import install_translator, remove_translators
from .provider import CptedProvider


class CptedPlugin:
    """Registers the cpted Processing provider (no menus of its own: the algorithms live in
    the Processing toolbox, graphical models and batch mode)."""

    def __init__(self, iface):
        self.iface = iface
        self.provider: CptedProvider | None = None

    def initProcessing(self):  # noqa: N802 - QGIS API
        """Called by QGIS (also by qgis_process, which has no GUI)."""
        if self.provider is None:
            install_translator()
            provider = CptedProvider()
            if QgsApplication.processingRegistry().addProvider(provider):  # False: another copy is loaded
                self.provider = provider

    def initGui(self):  # noqa: N802 - QGIS API
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        remove_translators()
