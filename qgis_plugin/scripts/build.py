"""Build the QGIS plugin: its styles, its translations and the installable zip.

    python qgis_plugin/scripts/build.py styles        # write cpted_qgis/styles/*.qml from the library
    python qgis_plugin/scripts/build.py translations  # compile cpted_qgis/i18n/*.ts to .qm (lrelease)
    python qgis_plugin/scripts/build.py zip [--out dist]

The zip holds the folder ``cpted_qgis`` at its top, as QGIS's "Install from ZIP" and the plugin
repository expect; it refuses to build when the styles are out of date, a string lacks its French
translation, or the plugin's version differs from the library's.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

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
    for message in ET.parse(ts).getroot().iter("message"):
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


def build_zip(out: Path) -> Path:
    """The installable plugin zip, ``cpted_qgis`` at its top."""
    stale = write_styles(check=True)
    if stale:
        sys.exit(f"styles out of date: {stale}; run: python qgis_plugin/scripts/build.py styles")
    plugin_version = version(PLUGIN / "metadata.txt", r"^version=(\S+)")
    library_version = version(ROOT / "cpted" / "__init__.py", r'^__version__ = "([^"]+)"')
    if plugin_version != library_version:
        sys.exit(f"metadata.txt version {plugin_version} differs from the library's {library_version}")
    compile_translations()
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"cpted_qgis-{plugin_version}.zip"
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PLUGIN.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix in {".pyc", ".ts"}:
                continue
            zf.write(path, Path("cpted_qgis") / path.relative_to(PLUGIN))
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("styles", help="write the .qml styles from the library")
    sub.add_parser("translations", help="compile the .ts translations to .qm")
    sub.add_parser("strings", help="list the strings to translate")
    z = sub.add_parser("zip", help="build the installable plugin zip")
    z.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    if args.command == "styles":
        print("written:", write_styles() or "none (up to date)")
    elif args.command == "translations":
        print("compiled:", [p.name for p in compile_translations()])
    elif args.command == "strings":
        print("\n".join(strings()))
    else:
        print(build_zip(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
