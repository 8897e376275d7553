"""Build the QGIS plugin: its styles, its translations and the installable zip.

    python qgis_plugin/scripts/build.py styles        # write cpted_qgis/styles/*.qml from the library
    python qgis_plugin/scripts/build.py translations  # compile cpted_qgis/i18n/*.ts to .qm (lrelease)
    python qgis_plugin/scripts/build.py requirements  # write cpted_qgis/requirements.txt from pyproject.toml
    python qgis_plugin/scripts/build.py zip [--out dist] [--release]
    python qgis_plugin/scripts/build.py validate ZIP  # the plugin repository's rules, offline

The zip holds the folder ``cpted_qgis`` at its top, as QGIS's "Install from ZIP" and the plugin
repository expect, with the project's LICENSE. Its metadata.txt gets the email, homepage,
repository and tracker from pyproject.toml (``[project.urls]`` Homepage, Repository, Issues and
the first author's email): the plugin repository requires them, so ``--release`` refuses to build
without them. The build refuses when the styles or requirements.txt are out of date, a string lacks
its French translation, or the plugin's version differs from the library's.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import io
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET  # nosec B405 - parses the plugin's own .ts translation files
import zipfile
from pathlib import Path
from urllib.parse import urlparse

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "qgis_plugin" / "cpted_qgis"
CONTEXT = "cpted"
_CALLS = {"tr", "noop"}


def strings() -> list[str]:
    """Every literal string the plugin passes to ``tr()`` or marks with ``noop()``."""
    found: list[str] = []
    for path in sorted(PLUGIN.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args:
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                arg = node.args[0]
                if name in _CALLS and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if arg.value not in found:
                        found.append(arg.value)
    return found


def translations(ts: Path) -> dict[str, str]:
    """Source -> translation of a .ts file (finished translations only)."""
    out = {}
    for message in ET.parse(ts).getroot().iter("message"):  # nosec B314 - our own file
        translation = message.find("translation")
        if translation is not None and translation.get("type") not in {"unfinished", "obsolete"} and translation.text:
            out[message.findtext("source")] = translation.text
    return out


def untranslated(ts: Path) -> list[str]:
    """The plugin's strings that ``ts`` does not translate."""
    done = translations(ts)
    return [s for s in strings() if s not in done]


def version(path: Path, pattern: str) -> str:
    match = re.search(pattern, path.read_text(encoding="utf-8"), re.MULTILINE)
    if not match:
        sys.exit(f"no version found in {path}")
    return match.group(1)


def library_styles() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from cpted.report.styles import STYLES  # noqa: PLC0415

    return STYLES


def write_styles(check: bool = False) -> list[str]:
    """Write the library's styles as .qml files; with ``check``, only list the stale ones."""
    folder = PLUGIN / "styles"
    folder.mkdir(exist_ok=True)
    stale = []
    for name, qml in library_styles().items():
        path = folder / f"{name}.qml"
        if not path.exists() or path.read_text(encoding="utf-8") != qml:
            stale.append(path.name)
            if not check:
                path.write_text(qml, encoding="utf-8")
    return stale


def compile_translations() -> list[Path]:
    """Compile every ``i18n/*.ts`` into a ``.qm`` beside it with Qt's lrelease."""
    lrelease = shutil.which("lrelease") or shutil.which("lrelease-qt5")
    if lrelease is None:
        sys.exit("lrelease is missing: apt-get install qttools5-dev-tools (Debian/Ubuntu)")
    out = []
    for ts in sorted((PLUGIN / "i18n").glob("*.ts")):
        missing = untranslated(ts)
        if missing:
            sys.exit(f"{ts.name} lacks {len(missing)} translation(s), e.g. {missing[:3]}")
        qm = ts.with_suffix(".qm")
        subprocess.run([lrelease, "-silent", str(ts), "-qm", str(qm)], check=True)
        out.append(qm)
    return out


def project() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]


def requirements_text() -> str:
    """The plugin's requirements.txt: the cpted library at the plugin's version (same minor
    release) and the library's own dependencies, as pyproject.toml states them."""
    info = project()
    major, minor = (int(x) for x in info["version"].split(".")[:2])
    lines = ["# The Python packages the cpted plugin needs in the Python that QGIS runs. QPIP (the QGIS plugin that",
             "# installs plugins' dependencies) reads this file; by hand: python -m pip install -r requirements.txt",
             "# Not so on Debian/Ubuntu: shapely, pyproj, pyogrio and rasterio must be built from source there",
             "# (qgis_plugin/scripts/qgis_env.sh in the cpted sources). Written by: build.py requirements",
             f"cpted>={info['version']},<{major}.{minor + 1}", *info["dependencies"]]
    return "\n".join(lines) + "\n"


def write_requirements(check: bool = False) -> bool:
    """Write cpted_qgis/requirements.txt; with ``check``, only say whether it is stale."""
    path = PLUGIN / "requirements.txt"
    stale = not path.exists() or path.read_text(encoding="utf-8") != requirements_text()
    if stale and not check:
        path.write_text(requirements_text(), encoding="utf-8")
    return stale


#: metadata.txt key -> where pyproject.toml holds it
RELEASE_KEYS = {"email": "[project] authors[0].email", "homepage": "[project.urls] Homepage",
                "repository": "[project.urls] Repository", "tracker": "[project.urls] Issues"}


def release_metadata() -> tuple[dict[str, str], list[str]]:
    """The metadata the plugin repository requires beyond metadata.txt's, from pyproject.toml,
    and the pyproject entries still missing for them."""
    info = project()
    urls = {k.lower(): v for k, v in info.get("urls", {}).items()}
    values = {"email": next((a["email"] for a in info.get("authors", []) if a.get("email")), None),
              "homepage": urls.get("homepage"), "repository": urls.get("repository") or urls.get("source"),
              "tracker": urls.get("issues") or urls.get("tracker") or urls.get("bug tracker")}
    return ({k: v for k, v in values.items() if v},
            [f"{k} ({RELEASE_KEYS[k]})" for k, v in values.items() if not v])


def zip_metadata() -> str:
    """metadata.txt as shipped: the source file with the release metadata added."""
    text = (PLUGIN / "metadata.txt").read_text(encoding="utf-8")
    values, _missing = release_metadata()
    text = re.sub(r"^(email|homepage|repository|tracker)=.*\n", "", text, flags=re.MULTILINE)
    return text.rstrip("\n") + "\n" + "".join(f"{k}={v}\n" for k, v in values.items())


def build_zip(out: Path, *, release: bool = False) -> Path:
    """The installable plugin zip, ``cpted_qgis`` at its top; ``release``: also ready for the
    plugin repository (refuses when pyproject.toml lacks the metadata it requires)."""
    stale = write_styles(check=True)
    if stale:
        sys.exit(f"styles out of date: {stale}; run: python qgis_plugin/scripts/build.py styles")
    if write_requirements(check=True):
        sys.exit("cpted_qgis/requirements.txt is out of date; run: python qgis_plugin/scripts/build.py requirements")
    plugin_version = version(PLUGIN / "metadata.txt", r"^version=(\S+)")
    library_version = version(ROOT / "cpted" / "__init__.py", r'^__version__ = "([^"]+)"')
    if plugin_version != library_version:
        sys.exit(f"metadata.txt version {plugin_version} differs from the library's {library_version}")
    _values, missing = release_metadata()
    if missing:
        note = "the plugin repository requires metadata that pyproject.toml lacks: " + ", ".join(missing)
        if release:
            sys.exit(note)
        print(f"warning: {note} (the zip installs, but cannot be uploaded)", file=sys.stderr)
    compile_translations()
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"cpted_qgis-{plugin_version}.zip"
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PLUGIN.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo", ".ts"}:
                continue
            if path.name == "metadata.txt" and path.parent == PLUGIN:
                zf.writestr("cpted_qgis/metadata.txt", zip_metadata())
                continue
            zf.write(path, Path("cpted_qgis") / path.relative_to(PLUGIN))
        zf.write(ROOT / "LICENSE", "cpted_qgis/LICENSE")
    tmp.replace(target)
    return target


# The plugin repository's rules (plugins.qgis.org; qgis/QGIS-Django, qgis-app/plugins/validator.py)
MAX_SIZE = 25_000_000
REQUIRED = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker",
            "repository")
PLACEHOLDER_URLS = {"tracker": "http://bugs", "repository": "http://repo", "homepage": "http://homepage"}


def validate(archive: Path) -> list[str]:
    """What the plugin repository would refuse in ``archive``, checked offline (it also checks that
    the URLs answer, which needs the network). Empty when the zip is ready to upload."""
    errors = []
    if archive.stat().st_size > MAX_SIZE:
        errors.append(f"larger than {MAX_SIZE // 1_000_000} MB")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        for name in names:
            parts = name.split("/")
            if ".." in name or name.startswith("/"):
                errors.append(f"{name}: path information")
            if ".pyc" in name:
                errors.append(f"{name}: compiled Python")
            errors += [f"{name}: a {d} folder" for d in ("__MACOSX", ".git", "__pycache__") if d in parts]
        if zf.testzip() is not None:
            errors.append("bad zip (CRC error)")
        tops = {n.split("/")[0] for n in names}
        if len(tops) != 1:
            return errors + [f"not one top folder: {sorted(tops)}"]
        top = tops.pop()
        if not re.match(r"^[A-Za-z][A-Za-z0-9-_]+$", top):
            errors.append(f"folder name {top!r} does not match ^[A-Za-z][A-Za-z0-9-_]+$")
        for needed in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{top}/{needed}" not in names:
                errors.append(f"no {top}/{needed}")
        if f"{top}/metadata.txt" not in names:
            return errors
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read_file(io.StringIO(zf.read(f"{top}/metadata.txt").decode("utf-8")))
        meta = dict(parser["general"]) if parser.has_section("general") else {}
        icon = meta.get("icon", "").removeprefix("./")
        if icon and f"{top}/{icon}" not in names:
            errors.append(f"icon {icon} is not in the zip")
    errors += [f"metadata.txt lacks {key}" for key in REQUIRED if not meta.get(key, "").strip()]
    for key in ("tracker", "repository", "homepage"):
        url = meta.get(key)
        if url is not None:
            parsed = urlparse(url)
            if url == PLACEHOLDER_URLS[key] or not (parsed.scheme and parsed.netloc):
                errors.append(f"metadata.txt {key}={url} is not a valid URL")
    if "/" in meta.get("author", ""):
        errors.append("author contains a slash")
    if meta.get("email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", meta["email"]):
        errors.append(f"email {meta['email']} is not an address")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("styles", help="write the .qml styles from the library")
    sub.add_parser("translations", help="compile the .ts translations to .qm")
    sub.add_parser("strings", help="list the strings to translate")
    sub.add_parser("requirements", help="write cpted_qgis/requirements.txt from pyproject.toml")
    z = sub.add_parser("zip", help="build the installable plugin zip")
    z.add_argument("--out", type=Path, default=ROOT / "dist")
    z.add_argument("--release", action="store_true", help="refuse unless ready for the plugin repository")
    v = sub.add_parser("validate", help="check a zip against the plugin repository's rules")
    v.add_argument("zip", type=Path)
    args = parser.parse_args(argv)
    if args.command == "styles":
        print("written:", write_styles() or "none (up to date)")
    elif args.command == "translations":
        print("compiled:", [p.name for p in compile_translations()])
    elif args.command == "strings":
        print("\n".join(strings()))
    elif args.command == "requirements":
        print("written:", write_requirements() and "requirements.txt" or "none (up to date)")
    elif args.command == "validate":
        errors = validate(args.zip)
        print("\n".join(errors) or "ready for the plugin repository (the URLs' reachability is not checked)")
        return 1 if errors else 0
    else:
        print(build_zip(args.out, release=args.release))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
