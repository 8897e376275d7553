"""Run the QGIS plugin's tests (qgis_plugin/tests) in a real QGIS, as part of this suite.

They need Debian's QGIS 3.22 and the environment of ``qgis_plugin/scripts/qgis_env.sh``
(``.qgis-venv``, or the venv named by ``CPTED_QGIS_VENV``): QGIS embeds Debian's Python, so
they cannot run in this interpreter. Without that environment they skip and say how to make it;
with ``CPTED_REQUIRE_QGIS=1`` (set by ``.ci/run``) they fail instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("CPTED_QGIS_VENV", ROOT / ".qgis-venv"))
PYTHON = VENV / "bin" / "python"


@pytest.mark.parametrize("module", ["test_plugin.py", "test_algorithms.py", "test_qgis_process.py", "test_install.py"])
def test_qgis_plugin(module, tmp_path):
    if not PYTHON.exists():
        why = (f"no QGIS test environment at {VENV}: apt-get install --no-install-recommends qgis python3-venv "
               f"python3-dev build-essential libgdal-dev libgeos-dev libproj-dev proj-bin qttools5-dev-tools, "
               f"then run qgis_plugin/scripts/qgis_env.sh")
        if os.environ.get("CPTED_REQUIRE_QGIS") == "1":
            pytest.fail(why)
        pytest.skip(why)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime),
           "PATH": f"{PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(PYTHON), "-m", "pytest", "-c", str(ROOT / "qgis_plugin" / "pytest.ini"), "--rootdir",
         str(ROOT / "qgis_plugin"), str(ROOT / "qgis_plugin" / "tests" / module), "-q"],
        cwd=ROOT / "qgis_plugin", env=env, capture_output=True, text=True, timeout=1800,
    )
    print(done.stdout[-20000:])
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
    assert " passed" in done.stdout.splitlines()[-1] and "skipped" not in done.stdout.splitlines()[-1]
