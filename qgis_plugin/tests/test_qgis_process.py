"""The built plugin zip, installed into a fresh QGIS profile, runs through qgis_process, and
shows French algorithm names when the profile's locale is French."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import PLUGIN_ROOT

QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/lib/qgis/qgis_process.bin"  # /usr/bin/qgis_process fails


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The plugin zip built, unpacked into a plugin folder, enabled in a fresh profile."""
    if not Path(QGIS_PROCESS).exists() and not shutil.which("qgis_process.bin"):
        pytest.fail("qgis_process.bin is missing: apt-get install --no-install-recommends qgis")
    root = tmp_path_factory.mktemp("qgis_process")
    built = subprocess.run([sys.executable, str(PLUGIN_ROOT / "scripts" / "build.py"), "zip", "--out", str(root)],
                           capture_output=True, text=True, check=True)
    archive = Path(built.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(archive) as zf:
        assert {n.split("/")[0] for n in zf.namelist()} == {"cpted_qgis"}
        assert "cpted_qgis/i18n/cpted_fr.qm" in zf.namelist() and "cpted_qgis/metadata.txt" in zf.namelist()
        zf.extractall(root / "plugins")
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QGIS_PLUGINPATH": str(root / "plugins"),
           "XDG_DATA_HOME": str(root / "profile"), "XDG_RUNTIME_DIR": str(runtime),
           # qgis_process runs the Python it finds first on PATH: this environment's
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("PYTHONPATH", "QGIS_CUSTOM_CONFIG_PATH", "QGIS_OPTIONS_PATH"):  # pytest-qgis sets the last two
        env.pop(name, None)
    done = subprocess.run([QGIS_PROCESS, "plugins", "enable", "cpted_qgis"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def qgis_process(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=900)


def test_audit_site_runs_through_qgis_process(installed, ile_de_nantes, tmp_path):
    from test_algorithms import FIELDS, direct

    import pyogrio

    cells = tmp_path / "cells.gpkg"
    done = qgis_process(installed, "--json", "run", "cpted:audit_site", "--",
                        f"SITE={ile_de_nantes['site']}", f"STREETS={ile_de_nantes['streets']}",
                        f"BUILDINGS={ile_de_nantes['buildings']}", "HEIGHT_FIELD=HEIGHT", "CELL_SIZE=10",
                        "CONTEXT=200", f"CELLS={cells}", f"PROBLEM_PLACES={tmp_path / 'problems.gpkg'}",
                        f"ENTRY_POINTS={tmp_path / 'entries.gpkg'}",
                        f"MOVEMENT_PREDICTORS={tmp_path / 'predictors.gpkg'}", f"REPORT={tmp_path / 'report.html'}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(done.stdout)["results"]
    expected = direct({k: v for k, v in ile_de_nantes.items() if k != "waste"}, fields=FIELDS)
    assert pyogrio.read_info(cells)["features"] == len(expected.layers["cells"])
    assert results["CPTED_INDEX"] == pytest.approx(expected.summary["cpted_index"])
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_algorithm_names_are_french_in_a_french_profile(installed):
    ini = Path(installed["XDG_DATA_HOME"]) / "QGIS" / "QGIS3" / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    english = qgis_process(installed, "list")
    assert "Audit site (all principles)" in english.stdout, english.stdout[-2000:] + english.stderr[-2000:]
    settings = configparser.ConfigParser(interpolation=None)
    settings.optionxform = str
    settings.read(ini)
    settings["locale"] = {"overrideFlag": "true", "userLocale": "fr"}
    with ini.open("w") as f:
        settings.write(f, space_around_delimiters=False)
    french = qgis_process(installed, "list")
    assert "Auditer un site (tous les principes)" in french.stdout, french.stdout[-2000:] + french.stderr[-2000:]
    assert "Isovistes depuis des points" in french.stdout
