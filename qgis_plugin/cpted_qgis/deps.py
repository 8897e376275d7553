"""Is the cpted library usable in the Python QGIS runs? What is missing, and how to install it.

Pure Python (no QGIS, no Qt): the plugin calls :func:`problems` when it loads and before every
algorithm, and shows :func:`message`. The requirements are the plugin's ``requirements.txt``
(also read by QPIP, the community's dependency installer plugin). Nothing here installs anything.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS = Path(__file__).parent / "requirements.txt"
#: Imported on the check (the rest is checked by version only): what the algorithms need first.
IMPORTED = ("numpy", "pandas", "shapely", "pyproj", "pyogrio", "rasterio", "geopandas", "cpted")
#: Packages whose pip wheels bundle their own GEOS/PROJ/GDAL: inside QGIS on Linux they crash.
NATIVE = ("shapely", "pyproj", "pyogrio", "rasterio")
_OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
_SPEC = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([0-9][0-9A-Za-z.*+-]*)\s*$")


@dataclass(frozen=True)
class Requirement:
    name: str  # the distribution name
    specifiers: tuple[tuple[str, str], ...]  # (operator, version)
    text: str  # the line as written


@dataclass(frozen=True)
class Problem:
    name: str
    found: str | None  # the installed version, None when absent
    wanted: str  # the requirement, or what is wrong
    kind: str  # "missing", "version", "import" or "wheel"


def version_tuple(text: str) -> tuple[int, ...]:
    """The numeric release part of a version: ``"2.0.2rc1"`` -> ``(2, 0, 2)``."""
    parts = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
        if digits.group() != piece:
            break
    return tuple(parts)


def _compare(found: str, op: str, wanted: str) -> bool:
    a, b = version_tuple(found), version_tuple(wanted)
    width = max(len(a), len(b))
    return _OPS[op](a + (0,) * (width - len(a)), b + (0,) * (width - len(b)))


def _marker_applies(marker: str) -> bool:
    """``python_version`` markers are evaluated; any other marker is taken as true."""
    match = re.fullmatch(r"\s*python_version\s*(>=|<=|==|!=|>|<)\s*['\"]([0-9.]+)['\"]\s*", marker)
    if not match:
        return True
    return _compare("{}.{}".format(*sys.version_info[:2]), match.group(1), match.group(2))


def parse_requirements(text: str) -> list[Requirement]:
    """The PEP 508 lines of a requirements file this plugin writes: ``name[extras] specs ; marker``.

    Example
    -------
    >>> parse_requirements("shapely>=2.0.2,<3\\ntomli>=2.0; python_version < '3.0'\\n")[0].specifiers
    (('>=', '2.0.2'), ('<', '3'))
    """
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        if marker and not _marker_applies(marker):
            continue
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$", requirement.strip())
        if not match:
            raise ValueError(f"{REQUIREMENTS.name}: cannot read the line {line!r}")
        specs = []
        for spec in filter(None, (s.strip() for s in match.group(3).split(","))):
            parsed = _SPEC.match(spec)
            if not parsed:
                raise ValueError(f"{REQUIREMENTS.name}: cannot read {spec!r} in {line!r}")
            specs.append((parsed.group(1), parsed.group(2)))
        out.append(Requirement(match.group(1), tuple(specs), requirement.strip()))
    return out


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def pip_wheel_libraries(module: str) -> Path | None:
    """The libraries a manylinux pip wheel of ``module`` bundles (``<module>.libs``), or None
    (a source build, or not installed)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    libs = Path(list(spec.submodule_search_locations)[0]).parent / f"{module}.libs"
    return libs if libs.is_dir() else None


def problems(requirements: Path = REQUIREMENTS, *, platform: str = sys.platform) -> list[Problem]:
    """What keeps the cpted library from running in this Python: each requirement absent, at an
    incompatible version, failing to import, or (on Linux) a pip wheel that brings its own GEOS,
    PROJ or GDAL. Empty when all is well."""
    found = []
    for req in parse_requirements(requirements.read_text(encoding="utf-8")):
        version = _installed(req.name)
        if version is None:
            found.append(Problem(req.name, None, req.text, "missing"))
        elif not all(_compare(version, op, v) for op, v in req.specifiers):
            found.append(Problem(req.name, version, req.text, "version"))
        elif platform.startswith("linux") and req.name in NATIVE and pip_wheel_libraries(req.name):
            found.append(Problem(req.name, version, str(pip_wheel_libraries(req.name)), "wheel"))
    bad = {p.name for p in found}
    for module in IMPORTED:
        if module in bad or (module == "cpted" and bad):  # not imported: already reported, or may crash
            continue
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any failure to import is what the user must see
            found.append(Problem(module, _installed(module), f"{type(exc).__name__}: {exc}", "import"))
    return found


def describe(problem: Problem, tr=lambda text: text) -> str:
    """One line saying what is wrong with one package."""
    if problem.kind == "missing":
        return tr("{name}: not installed (needed: {wanted})").format(name=problem.name, wanted=problem.wanted)
    if problem.kind == "version":
        return tr("{name} {found} is installed; needed: {wanted}").format(
            name=problem.name, found=problem.found, wanted=problem.wanted)
    if problem.kind == "wheel":
        return tr("{name} {found} is a pip wheel with its own GEOS/PROJ/GDAL ({libs}): inside QGIS on Linux it "
                  "crashes; build it from source").format(name=problem.name, found=problem.found,
                                                         libs=problem.wanted)
    return tr("{name} does not import: {error}").format(name=problem.name, error=problem.wanted)


def python_command(platform: str = sys.platform) -> str:
    """The command that runs QGIS's Python from a shell (inside QGIS, ``sys.executable`` is QGIS)."""
    if platform == "win32":
        return "python"  # the OSGeo4W shell puts QGIS's Python first on PATH
    candidates = [Path(sys.prefix) / "bin" / "python3", Path(sys.executable).parent / "bin" / "python3",
                  Path(sys.executable)]
    for path in candidates:
        if path.is_file() and path.name.startswith("python"):
            return f'"{path}"'
    return "python3"


def message(found: list[Problem], tr=lambda text: text, *, platform: str = sys.platform) -> str:
    """The one message a planner reads: what is missing, then the steps on each system."""
    lines = [tr("The cpted plugin needs the cpted library and its dependencies in the Python that QGIS runs "
                "({python}). Missing or incompatible:").format(python=sys.version.split()[0])]
    lines += ["  - " + describe(p, tr) for p in found]
    here = {"win32": "windows", "darwin": "macos"}.get(platform, "linux")

    def requirements(key):  # this computer's file, else where it is in any install
        return f'"{REQUIREMENTS}"' if key == here else tr("<plugin folder>") + "/requirements.txt"

    steps = {
        "windows": tr("Windows (QGIS from OSGeo4W or the standalone installer): close QGIS, open the OSGeo4W Shell "
                      "(Start menu, QGIS folder), run:\n      python -m pip install -r {requirements}\n    then start "
                      "QGIS again.").format(requirements=requirements("windows")),
        "macos": tr("macOS (the QGIS bundle's own Python): close QGIS, open Terminal, run:\n      {python} -m pip "
                    "install --user -r {requirements}\n    then start QGIS again.").format(
                        python=python_command(platform) if here == "macos" else
                        "/Applications/QGIS-LTR.app/Contents/MacOS/bin/python3", requirements=requirements("macos")),
        "linux": tr("Debian/Ubuntu: QGIS has loaded Debian's GDAL, PROJ and GEOS, and the pip wheels of shapely, "
                    "pyproj, pyogrio and rasterio crash inside it: build those four from source with the script "
                    "of the cpted sources:\n      sudo apt-get install --no-install-recommends python3-venv "
                    "python3-dev build-essential libgdal-dev libgeos-dev libproj-dev proj-bin\n      bash "
                    "qgis_plugin/scripts/qgis_env.sh ~/cpted-qgis\n      source ~/cpted-qgis/bin/activate && qgis\n"
                    "    (about 6 minutes; always start QGIS from that environment)."),
    }
    lines.append(tr("How to install:"))
    for key in (here, *(k for k in steps if k != here)):
        lines.append(("  * " + tr("This computer: ") if key == here else "  * ") + steps[key])
    lines.append(tr("Or install the QPIP plugin (Plugins menu, Manage and Install Plugins): it reads this plugin's "
                    "requirements.txt and asks before installing anything (not on Debian/Ubuntu: it installs "
                    "wheels). The cpted plugin never runs pip itself."))
    lines.append(tr("Then restart QGIS."))
    return "\n".join(lines)
