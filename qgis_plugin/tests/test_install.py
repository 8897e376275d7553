"""A planner's install on Debian, end to end: the built zip, installed into a fresh QGIS profile by
QGIS's own plugin installer (``pyplugin_installer``, what *Install from ZIP* runs), then either the
missing-library message (the library hidden) or *Audit site* on the Le Mans layers with styled
outputs (the library present).

Each case runs in a fresh QGIS process and profile, as QGIS Desktop would be started. Headless, a
script has to do what QGIS Desktop does before plugins load: set ``qgis.utils.iface`` (here
a stand-in whose message bar records messages) and the plugin paths
(``qgis.utils.home_plugin_path``, ``plugin_paths``, ``sys.path``), which QGIS's C++ sets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import PLUGIN_ROOT

INSTALL = r"""
import json, os, sys
sys.path.append("/usr/share/qgis/python")  # pyplugin_installer
sys.path.append("/usr/share/qgis/python/plugins")  # processing
if {hide_library}:
    sys.modules["cpted"] = None  # as if the library were not installed
from qgis.core import QgsApplication, QgsProject
app = QgsApplication([], True)
app.initQgis()
logged = []
QgsApplication.messageLog().messageReceived.connect(lambda text, tag, level: logged.append((tag, text)))

import qgis.utils
from qgis.gui import QgsMessageBar
from qgis.PyQt.QtWidgets import QMainWindow


class MessageBar(QgsMessageBar):  # records what the plugin pushes
    pushed = []

    def pushMessage(self, title, text, showMore=None, level=0, duration=-1):
        self.pushed.append((int(level), title, text, showMore))


class PluginManager:  # what pyplugin_installer tells the Plugin Manager dialog
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class Iface:  # the part of QgisInterface the installer and the plugin use
    def __init__(self):
        self.window, self.bar, self.manager = QMainWindow(), MessageBar(), PluginManager()

    def mainWindow(self):
        return self.window

    def messageBar(self):
        return self.bar

    def pluginManagerInterface(self):
        return self.manager

    def mapCanvas(self):  # none headless: Processing then uses the project alone
        return None


qgis.utils.iface = Iface()
home = os.path.join(QgsApplication.qgisSettingsDirPath(), "python", "plugins")
qgis.utils.home_plugin_path = home
qgis.utils.plugin_paths = [home]
sys.path.insert(0, home)

from processing.core.Processing import Processing
Processing.initialize()
import pyplugin_installer
pyplugin_installer.initPluginInstaller()
pyplugin_installer.installer.pluginInstaller.installFromZipFile({zip!r})

out = {{"home": home, "installed": sorted(os.listdir(home)) if os.path.isdir(home) else [],
        "active": sorted(qgis.utils.active_plugins),
        "module": getattr(sys.modules.get("cpted_qgis"), "__file__", None),
        "provider": QgsApplication.processingRegistry().providerById("cpted") is not None,
        "pushed": [[level, title, text, more] for level, title, text, more in MessageBar.pushed],
        "log": [text for tag, text in logged if tag == "cpted"]}}
if not {hide_library}:
    import processing
    results = processing.runAndLoadResults("cpted:audit_site", {params!r})
    layers = {{lyr.source().split("|")[0].rsplit("/", 1)[-1]: lyr for lyr in QgsProject.instance().mapLayers().values()}}
    out["index"] = results.get("CPTED_INDEX")
    out["layers"] = {{name: [lyr.featureCount(), lyr.renderer().type(), getattr(lyr.renderer(), "classAttribute", str)()]
                     for name, lyr in layers.items()}}
    QgsProject.instance().clear()
print("RESULT " + json.dumps(out))
os._exit(0)
"""


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip")
    done = subprocess.run([sys.executable, str(PLUGIN_ROOT / "scripts" / "build.py"), "zip", "--out", str(out)],
                          capture_output=True, text=True, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def install(plugin_zip: Path, tmp_path: Path, *, hide_library: bool, params: dict | None = None) -> dict:
    """Install the zip into a fresh profile in a new QGIS process; what the process saw."""
    script = tmp_path / "install.py"
    script.write_text(INSTALL.format(zip=str(plugin_zip), hide_library=hide_library, params=params or {}),
                      encoding="utf-8")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime),
           "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "profile"), "QGIS_OPTIONS_PATH": str(tmp_path / "profile")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=900, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_the_zip_installs_into_a_fresh_profile_and_says_when_the_library_is_missing(plugin_zip, tmp_path):
    seen = install(plugin_zip, tmp_path, hide_library=True)
    assert seen["installed"] == ["cpted_qgis"]  # unpacked by the installer into the fresh profile
    assert seen["module"].startswith(seen["home"])  # the installed copy runs, not the sources
    assert "cpted_qgis" in seen["active"] and seen["provider"]
    [(level, title, summary, text)] = seen["pushed"]  # one message
    assert (level, title) == (2, "cpted")  # Qgis.MessageLevel.Critical
    assert summary == "The cpted library is missing or incompatible: the algorithms cannot run yet."
    assert seen["log"] == [text]  # the same, in the log (where qgis_process users see it)
    assert "cpted does not import: ModuleNotFoundError" in text
    assert "This computer: Debian/Ubuntu" in text and "qgis_env.sh" in text and "libgdal-dev" in text
    assert "OSGeo4W Shell" in text and "macOS" in text and "-r <plugin folder>/requirements.txt" in text
    assert "never runs pip" in text


def test_the_installed_zip_audits_le_mans_with_styled_outputs(plugin_zip, le_mans, tmp_path):
    outputs = {name: str(tmp_path / f"{name.lower()}.gpkg") for name in ("CELLS", "PROBLEM_PLACES", "ENTRY_POINTS",
                                                                        "MOVEMENT_PREDICTORS")}
    names = {"site": "SITE", "streets": "STREETS", "buildings": "BUILDINGS", "entrances": "ENTRANCES",
             "barriers": "BARRIERS", "lamps": "LAMPS", "pois": "POIS", "landuse": "LANDUSE"}
    params = {names[k]: v for k, v in le_mans.items()} | outputs | {"CELL_SIZE": 10.0, "CONTEXT": 200.0}
    seen = install(plugin_zip, tmp_path, hide_library=False, params=params)
    assert seen["pushed"] == [] and seen["log"] == []  # no message when the library is there
    assert seen["module"].startswith(seen["home"])
    layers = seen["layers"]
    count, renderer, attribute = layers["cells.gpkg"]
    with zipfile.ZipFile(plugin_zip) as zf:  # the style shipped in the zip is the one applied
        style = zf.read("cpted_qgis/styles/cells.qml").decode("utf-8")
    assert count > 100 and renderer == "graduatedSymbol" and attribute == "cpted_index"
    assert 'type="graduatedSymbol"' in style and 'attr="cpted_index"' in style
    assert layers["problem_places.gpkg"][1] == "categorizedSymbol"
    assert layers["entry_points.gpkg"][1] == "categorizedSymbol"
    assert 0 <= seen["index"] <= 100
