"""cpted for QGIS: Processing algorithms that audit a site by the four CPTED principles.

The plugin is thin: every computation is the ``cpted`` library's. Nothing here imports ``cpted``
at load time, so QGIS starts even when the library is missing; the algorithms then fail with
install instructions.
"""


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    """Called by QGIS when it loads the plugin."""
    from .plugin import CptedPlugin

    return CptedPlugin(iface)
