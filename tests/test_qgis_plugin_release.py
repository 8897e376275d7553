"""The QGIS plugin as released, checked without QGIS: Qt6 (QGIS 4) forms in its source, its
dependency check and requirements.txt, the zip against the plugin repository's rules, and the
repository's security scanners (Bandit, detect-secrets) on what is uploaded.

The tests that need QGIS itself run in ``tests/test_qgis_plugin.py`` (Debian's QGIS 3.22).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_ROOT = ROOT / "qgis_plugin"


def _load(name: str, path: Path):
    """A plugin module by path, under a name of its own (``build`` is also a PyPI package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


build = _load("cpted_qgis_build", PLUGIN_ROOT / "scripts" / "build.py")
qt6_check = _load("cpted_qgis_qt6_check", PLUGIN_ROOT / "scripts" / "qt6_check.py")
deps = _load("cpted_qgis_deps", PLUGIN_ROOT / "cpted_qgis" / "deps.py")  # pure Python, no QGIS

# -- Qt6 ------------------------------------------------------------------------------------------


def test_the_plugin_has_no_qt6_incompatible_form():
    assert qt6_check.check() == []
    assert len(qt6_check.python_files([qt6_check.PLUGIN])) >= 15  # it read the plugin


BAD = [  # (source, rule) - each form QGIS's pyqt5_to_pyqt6 script rewrites
    ("from qgis.PyQt.QtCore import QVariant\nt = QVariant.Double\n", "qvariant-type"),
    ("from qgis.PyQt.QtCore import QVariant\nt = QVariant.Type.Double\n", "qvariant-type"),
    ("from qgis.PyQt.QtCore import QVariant\nv = QVariant()\n", "qvariant-type"),
    ("from qgis.PyQt.QtCore import Qt\na = Qt.AlignLeft\n", "unscoped-enum"),
    ("from qgis.PyQt.QtCore import Qt\nc = Qt.red\n", "unscoped-enum"),
    ("from qgis.core import QgsWkbTypes\nw = QgsWkbTypes.MultiPolygon\n", "unscoped-enum"),
    ("from qgis.core import QgsProcessing\nf(types=[QgsProcessing.TypeVectorPoint])\n", "unscoped-enum"),
    ("from qgis.PyQt.QtWidgets import QDialog\nQDialog().exec_()\n", "exec_"),
    ("class D:\n    def exec_(self):\n        pass\n", "exec_"),
    ("from qgis.PyQt.QtWidgets import QAction\n", "qaction-qtwidgets"),
    ("from PyQt5.QtCore import QCoreApplication\n", "qt-import"),
    ("import PyQt5.QtWidgets\n", "qt-import"),
]
GOOD = [
    "from qgis.PyQt.QtCore import Qt, QMetaType\na = Qt.AlignmentFlag.AlignLeft\nt = QMetaType.Type.Double\n",
    "from qgis.core import Qgis, QgsWkbTypes\nw = Qgis.WkbType.MultiPolygon\nm = QgsWkbTypes.isMultiType(w)\n"
    "v = Qgis.QGIS_VERSION_INT\n",
    "from qgis.PyQt.QtWidgets import QDialog\nQDialog().exec()\n",
    "try:\n    from qgis.PyQt.QtGui import QAction\nexcept ImportError:  # QGIS 3.22\n"
    "    from qgis.PyQt.QtWidgets import QAction\n",
]


@pytest.mark.parametrize(("source", "rule"), BAD)
def test_the_qt6_check_finds_each_form(source, rule):
    assert [f.rule for f in qt6_check.check_source(source)] == [rule]


@pytest.mark.parametrize("source", GOOD)
def test_the_qt6_check_passes_the_qt6_forms(source):
    assert qt6_check.check_source(source) == []


def test_a_planted_qvariant_double_fails_the_check(tmp_path):
    """A test of the test: the plugin's own source with one QVariant.Double planted fails."""
    copy = tmp_path / "cpted_qgis"
    shutil.copytree(qt6_check.PLUGIN, copy, ignore=shutil.ignore_patterns("__pycache__"))
    compat = copy / "compat.py"
    text = compat.read_text(encoding="utf-8")
    planted = text.replace('"f": QMetaType.Type.Double', '"f": QVariant.Double').replace(
        "from qgis.PyQt.QtCore import QMetaType", "from qgis.PyQt.QtCore import QMetaType, QVariant")
    assert planted != text
    compat.write_text(planted, encoding="utf-8")
    [finding] = qt6_check.check([copy])
    assert (Path(finding.path).name, finding.rule) == ("compat.py", "qvariant-type")
    done = subprocess.run([sys.executable, str(PLUGIN_ROOT / "scripts" / "qt6_check.py"), str(copy)],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "QVariant.Double" in done.stdout


def test_metadata_declares_qgis_3_22_to_4():
    meta = (qt6_check.PLUGIN / "metadata.txt").read_text(encoding="utf-8").splitlines()
    assert {"qgisMinimumVersion=3.22", "qgisMaximumVersion=4.99", "supportsQt6=True"} <= set(meta)


# -- dependencies -------------------------------------------------------------------------------


def test_requirements_txt_is_pyproject_and_reads_as_qpip_reads_it():
    """QPIP parses the file with pkg_resources (packaging's PEP 508 grammar): every line must parse,
    and the plugin's own reader must see the same names and version bounds."""
    from packaging.requirements import Requirement

    assert not build.write_requirements(check=True), "run: python qgis_plugin/scripts/build.py requirements"
    text = deps.REQUIREMENTS.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reference = {}
    for line in lines:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            reference[req.name] = {(s.operator, s.version) for s in req.specifier}
    ours = {r.name: set(r.specifiers) for r in deps.parse_requirements(text)}
    assert ours == reference
    assert "cpted" in ours and "shapely" in ours


@pytest.mark.parametrize("found", ["1.26.4", "2.0.2", "2.0.2rc1", "3", "0.13.0", "2024.1.1", "1.10"])
@pytest.mark.parametrize("spec", [">=2.0.2", "<3", ">=1.26", "<=1.10", "==2.0.2", "!=3", ">2024.1"])
def test_version_comparison_agrees_with_packaging_on_releases(found, spec):
    from packaging.specifiers import SpecifierSet

    op, version = deps._SPEC.match(spec).groups()
    if "rc" in found:  # pre-releases: only the release part is compared (2.0.2rc1 counts as 2.0.2)
        found = found.split("rc")[0]
    assert deps._compare(found, op, version) is SpecifierSet(spec).contains(found)


def test_problems_names_each_missing_old_or_wheel_package(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("surely-not-installed-cpted-test>=1\nnumpy>=999\nshapely>=2\npytest>=1\n",
                            encoding="utf-8")
    import numpy

    found = {p.name: p for p in deps.problems(requirements, platform="linux")}
    assert found["surely-not-installed-cpted-test"].kind == "missing"
    assert (found["numpy"].kind, found["numpy"].found) == ("version", numpy.__version__)
    # this interpreter's shapely is a manylinux wheel (shapely.libs beside it): it would crash in QGIS
    assert found["shapely"].kind == "wheel" and found["shapely"].wanted.endswith("shapely.libs")
    assert "pytest" not in found
    assert "shapely" not in {p.name for p in deps.problems(requirements, platform="darwin")}


def test_the_message_says_what_is_missing_and_how_to_install_on_each_system():
    problem = deps.Problem("cpted", None, "cpted>=0.1.0,<0.2", "missing")
    for platform, first in (("win32", "Windows"), ("darwin", "macOS"), ("linux", "Debian/Ubuntu")):
        text = deps.message([problem], platform=platform)
        assert "cpted: not installed (needed: cpted>=0.1.0,<0.2)" in text
        assert f"This computer: {first}" in text
        assert f'-r "{deps.REQUIREMENTS}"' in text or platform == "linux"  # this computer's file, exactly
        assert "OSGeo4W Shell" in text and "macOS" in text and "qgis_env.sh" in text and "QPIP" in text
        assert "never runs pip" in text


def test_the_plugin_never_runs_pip():
    """No subprocess, os.system or pip import anywhere in what QGIS loads."""
    import ast

    for path in qt6_check.python_files([qt6_check.PLUGIN]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, (ast.Import, ast.ImportFrom)) else []
            module = getattr(node, "module", None) or ""
            assert not {"subprocess", "pip"} & {n.split(".")[0] for n in names + [module]}, path
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
                assert node.attr not in {"system", "popen", "execv", "execvp", "spawnv", "spawnl"}, path


# -- the zip ----------------------------------------------------------------------------------


def need_lrelease() -> None:
    """The zip holds compiled translations: Qt's lrelease must exist."""
    if shutil.which("lrelease") is None and shutil.which("lrelease-qt5") is None:
        pytest.skip("lrelease is missing: apt-get install qttools5-dev-tools")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    need_lrelease()
    return build.build_zip(tmp_path_factory.mktemp("dist"))


def test_the_built_zip_meets_the_plugin_repository_rules(built):
    """Every rule passes but the metadata pyproject.toml does not hold yet (none, once it does)."""
    _values, missing = build.release_metadata()
    expected = [f"metadata.txt lacks {m.split()[0]}" for m in missing if m.split()[0] in build.REQUIRED]
    assert sorted(build.validate(built)) == sorted(expected)
    with zipfile.ZipFile(built) as zf:
        names = zf.namelist()
    assert "cpted_qgis/LICENSE" in names and "cpted_qgis/requirements.txt" in names
    assert not [n for n in names if n.endswith((".pyc", ".pyo", ".ts")) or "__pycache__" in n]
    assert built.stat().st_size < 1_000_000


def test_a_zip_with_the_release_metadata_passes(tmp_path, monkeypatch):
    info = build.project()
    monkeypatch.setattr(build, "project", lambda: {
        **info, "authors": [{"name": "cpted developers", "email": "cpted@example.org"}],
        "urls": {"Homepage": "https://example.org/cpted", "Repository": "https://example.org/cpted.git",
                 "Issues": "https://example.org/cpted/issues"}})
    need_lrelease()
    archive = build.build_zip(tmp_path, release=True)
    assert build.validate(archive) == []
    with zipfile.ZipFile(archive) as zf:
        meta = zf.read("cpted_qgis/metadata.txt").decode("utf-8")
    assert "tracker=https://example.org/cpted/issues\n" in meta and "email=cpted@example.org\n" in meta


def _rezip(source: Path, target: Path, *, rename=None, drop=(), add=None, metadata=None) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for name in src.namelist():
            if name in drop:
                continue
            data = src.read(name)
            if metadata is not None and name.endswith("/metadata.txt"):
                data = metadata(data.decode("utf-8")).encode("utf-8")
            out.writestr(rename(name) if rename else name, data)
        for name, data in (add or {}).items():
            out.writestr(name, data)
    return target


@pytest.mark.parametrize(("change", "error"), [
    ({"add": {"cpted_qgis/__pycache__/bridge.cpython-311.pyc": b"\0"}}, "compiled Python"),
    ({"add": {"cpted_qgis/.git/HEAD": b"ref"}}, "a .git folder"),
    ({"drop": ("cpted_qgis/LICENSE",)}, "no cpted_qgis/LICENSE"),
    ({"rename": lambda n: n.replace("cpted_qgis/", "1cpted/", 1)}, "does not match"),
    ({"metadata": lambda m: m + "tracker=http://bugs\n"}, "tracker=http://bugs is not a valid URL"),
    ({"metadata": lambda m: m.replace("author=cpted developers", "author=a/b")}, "author contains a slash"),
])
def test_the_validator_refuses_what_the_repository_refuses(built, tmp_path, change, error):
    """A test of the validator: each planted fault is reported."""
    bad = _rezip(built, tmp_path / "bad.zip", **change)
    assert any(error in e for e in build.validate(bad)), build.validate(bad)


# -- the plugin repository's scanners ----------------------------------------------------------


@pytest.fixture(scope="module")
def unpacked(built, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(built) as zf:
        zf.extractall(folder)
    return folder / "cpted_qgis"


def bandit(path: Path) -> list[dict]:
    pytest.importorskip("bandit", reason="pip install bandit (the test extra)")
    done = subprocess.run([sys.executable, "-m", "bandit", "-r", str(path), "-f", "json", "-q"],
                          capture_output=True, text=True)
    return json.loads(done.stdout)["results"]


def detect_secrets(path: Path) -> dict:
    pytest.importorskip("detect_secrets", reason="pip install detect-secrets (the test extra)")
    done = subprocess.run([sys.executable, "-m", "detect_secrets", "scan", "--all-files", str(path)],
                          capture_output=True, text=True, cwd=path, check=True)
    return json.loads(done.stdout)["results"]


def test_bandit_finds_nothing_in_the_zip_and_nothing_high_in_the_plugin_sources(unpacked):
    assert bandit(unpacked) == []  # what is uploaded: no finding of any severity
    high = [r for r in bandit(PLUGIN_ROOT) if r["issue_severity"] == "HIGH"]  # with scripts/ and tests/
    assert high == [], high


def test_detect_secrets_finds_nothing_in_the_zip(unpacked):
    assert detect_secrets(unpacked) == {}


def test_the_scanners_do_find_planted_faults(tmp_path):
    """A test of the scans: a shell command built from input, and an AWS key."""
    (tmp_path / "bad.py").write_text(
        "import subprocess\n\ndef run(name):\n    subprocess.call('ls ' + name, shell=True)\n\n"
        "AWS = 'AKIAIOSFODNN7EXAMPLE'\n", encoding="utf-8")
    assert "HIGH" in {r["issue_severity"] for r in bandit(tmp_path)}
    assert any(s["type"] == "AWS Access Key" for found in detect_secrets(tmp_path).values() for s in found)


# -- PyQt6 ----------------------------------------------------------------------------------------

PYQT6 = r"""
import ast, datetime, importlib, json, pathlib, sys
sys.path[:0] = [{standin!r}, {plugin_root!r}]  # before Debian's dist-packages, which hold the real qgis
from qgis.PyQt.QtCore import QT_VERSION_STR, QCoreApplication, QDateTime
app = QCoreApplication([])
out = {{"qt": QT_VERSION_STR, "imported": [], "refused": {{}}, "unresolved": [], "chains": 0}}
for path in sorted(pathlib.Path({plugin!r}).rglob("*.py")):
    name = ".".join(path.relative_to({plugin_root!r}).with_suffix("").parts).removesuffix(".__init__")
    try:
        importlib.import_module(name)
        out["imported"].append(name)
    except ImportError as exc:
        out["refused"][name] = str(exc)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {{a.asname or a.name: n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
             and (n.module or "").startswith("qgis.PyQt") for a in n.names}}
    inner = {{id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}}
    for node in ast.walk(tree):  # every outermost Name.attr.attr... chain on a qgis.PyQt name
        if not isinstance(node, (ast.Attribute, ast.Name)) or id(node) in inner:
            continue
        chain, root = [], node
        while isinstance(root, ast.Attribute):
            chain.insert(0, root.attr)
            root = root.value
        if not isinstance(root, ast.Name) or root.id not in names:
            continue
        value = getattr(importlib.import_module(names[root.id]), root.id, None)
        for attr in chain:
            value = getattr(value, attr, None)
        out["chains"] += 1
        if value is None:
            out["unresolved"].append(f"{{path.name}}:{{node.lineno}}: " + ".".join([root.id, *chain]))
from cpted_qgis import i18n
out["en"] = i18n.tr("Audit site (all principles)")
out["installed"] = i18n.install_translator("fr")
out["fr"] = i18n.tr("Audit site (all principles)")
i18n.remove_translators()
out["after"] = i18n.tr("Audit site (all principles)")
out["locale"] = i18n.user_locale()
when = datetime.datetime(2026, 3, 1, 12, 30)  # what bridge._qgis_value / _python_value do with dates
out["datetime"] = QDateTime(when).toPyDateTime() == when
out["pyqt5"] = sorted(m for m in sys.modules if m.startswith("PyQt5"))
print("RESULT " + json.dumps(out))
"""


def test_the_qt_facing_modules_import_and_run_on_pyqt6(tmp_path):
    """Against PyQt6 (Debian's python3-pyqt6) through a minimal qgis.PyQt stand-in, in Debian's Python.

    What this can show: the modules that import only ``qgis.PyQt`` (i18n; deps imports nothing
    of Qt) import and work on Qt6 - French names load from the .qm, locale settings read, dates
    convert - and every ``qgis.PyQt`` name chain anywhere in the plugin (``QMetaType.Type.QString``,
    ``QCoreApplication.translate``...) exists in PyQt6. What it cannot: the modules that import
    ``qgis.core`` (compat, bridge, provider, plugin, the algorithms) need a Qt6 build of QGIS,
    which Debian 12 does not have; for them the AST check above stands in, and the test asserts
    that the stand-in refuses them for ``qgis.core`` alone.
    """
    import os

    probe = subprocess.run(["/usr/bin/python3", "-I", "-c", "import PyQt6.QtCore"], capture_output=True)
    if probe.returncode != 0:
        why = "PyQt6 is missing from Debian's Python: apt-get install --no-install-recommends python3-pyqt6"
        if os.environ.get("CPTED_REQUIRE_QGIS") == "1":
            pytest.fail(why)
        pytest.skip(why)
    need_lrelease()
    build.compile_translations()
    standin = tmp_path / "standin"
    (standin / "qgis" / "PyQt").mkdir(parents=True)
    (standin / "qgis" / "__init__.py").write_text("", encoding="utf-8")
    (standin / "qgis" / "PyQt" / "__init__.py").write_text("", encoding="utf-8")
    for module in ("QtCore", "QtGui", "QtWidgets"):
        (standin / "qgis" / "PyQt" / f"{module}.py").write_text(f"from PyQt6.{module} import *  # noqa: F403\n",
                                                               encoding="utf-8")
    script = tmp_path / "pyqt6.py"
    script.write_text(PYQT6.format(standin=str(standin), plugin_root=str(PLUGIN_ROOT),
                                   plugin=str(qt6_check.PLUGIN)), encoding="utf-8")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {"PATH": os.environ.get("PATH", ""), "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime),
           "HOME": str(tmp_path), "LANG": "fr_FR.UTF-8", "LC_ALL": "fr_FR.UTF-8"}
    done = subprocess.run(["/usr/bin/python3", "-I", str(script)], capture_output=True, text=True, env=env,
                          timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    seen = json.loads(lines[-1][len("RESULT "):])
    assert seen["qt"].startswith("6.") and seen["pyqt5"] == []
    assert seen["imported"] == ["cpted_qgis", "cpted_qgis.deps", "cpted_qgis.i18n"]
    assert len(seen["refused"]) >= 10 and all("qgis.core" in why for why in seen["refused"].values())
    assert seen["unresolved"] == [] and seen["chains"] >= 10
    assert (seen["en"], seen["installed"], seen["fr"], seen["after"]) == (
        "Audit site (all principles)", True, "Auditer un site (tous les principes)", "Audit site (all principles)")
    assert seen["datetime"] and seen["locale"] == "fr"  # from LANG, through QLocale.system()
