"""Find the Qt5-only forms in Python source that QGIS 4 (Qt6) rejects, by reading its syntax tree.

    python qgis_plugin/scripts/qt6_check.py [FILE_OR_FOLDER ...]   # default: the plugin; exit 1 on findings

It covers the forms QGIS's own migration script (``scripts/pyqt5_to_pyqt6/pyqt5_to_pyqt6.py`` in
the QGIS sources) rewrites:

- ``qt-import``: PyQt5/PyQt6/PySide/sip imported directly instead of through ``qgis.PyQt``;
- ``exec_``: ``exec_()`` calls or definitions (Qt6: ``exec()``);
- ``qvariant-type``: ``QVariant.Double``-style types and ``QVariant()`` (Qt6: ``QMetaType.Type``, ``NULL``);
- ``qaction-qtwidgets``: ``QAction``, ``QActionGroup``, ``QShortcut`` from QtWidgets (Qt6: QtGui),
  except as the fallback of a ``try: ... except ImportError`` (QGIS 3.22 has them in QtWidgets only);
- ``unscoped-enum``: an enum member read from its class, ``Qt.AlignLeft`` or
  ``QgsWkbTypes.MultiPolygon`` (Qt6: ``Qt.AlignmentFlag.AlignLeft``, ``Qgis.WkbType.MultiPolygon``).

Without QGIS the enum rule is syntactic: ``Class.Member`` on a class imported from ``qgis.*`` (or
PyQt), where the member starts with a capital (any member of ``Qt``), is not called
and is not followed by another attribute. :func:`enum_members` gives the exact answer where QGIS
can be imported (the member's value is an enum value), and the plugin tests compare the two.

Example
-------
>>> [f.rule for f in check_source("from qgis.PyQt.QtCore import QVariant\\nt = QVariant.Double\\n")]
['qvariant-type']
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1] / "cpted_qgis"
DIRECT_QT = {"PyQt5", "PyQt6", "PySide2", "PySide6", "sip"}
MOVED_TO_QTGUI = {"QAction", "QActionGroup", "QShortcut"}
#: Capitalised class attributes of QGIS that are constants, not enum members.
CONSTANTS = {"QGIS_VERSION", "QGIS_VERSION_INT", "QGIS_RELEASE_NAME", "QGIS_DEV_VERSION"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.text}"


def _qt_names(tree: ast.AST) -> dict[str, str]:
    """Names bound by ``from qgis... import X`` (or from PyQt) -> their module: the classes whose
    attributes are checked."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {"qgis", *DIRECT_QT}:
            for alias in node.names:
                names[alias.asname or alias.name] = node.module
    return names


def _import_fallbacks(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside an ``except ImportError`` handler."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            if caught & {"ImportError", "ModuleNotFoundError"}:
                out |= {id(n) for n in ast.walk(node) if isinstance(n, ast.ImportFrom)}
    return out


def enum_accesses(tree: ast.AST) -> list[tuple[ast.Attribute, str]]:
    """Every ``Class.Member`` read on a class imported from QGIS/Qt, with the class's module."""
    names = _qt_names(tree)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.value is node:  # Class.Enum.Member: scoped
            continue
        if isinstance(parent, ast.Call) and parent.func is node:  # a static method or a constructor
            continue
        out.append((node, names[node.value.id]))
    return out


def check_source(source: str, path: str = "<source>") -> list[Finding]:
    """The Qt6-incompatible forms in one Python source text."""
    tree = ast.parse(source, filename=path)
    found = []

    def add(node, rule, text):
        found.append(Finding(path, node.lineno, rule, text))

    fallbacks = _import_fallbacks(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in DIRECT_QT:
                    add(node, "qt-import", f"import {alias.name}: import through qgis.PyQt")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in DIRECT_QT:
                add(node, "qt-import", f"from {node.module}: import through qgis.PyQt")
            if node.module.endswith("QtWidgets") and id(node) not in fallbacks:
                for alias in node.names:
                    if alias.name in MOVED_TO_QTGUI:
                        add(node, "qaction-qtwidgets", f"{alias.name} from QtWidgets: it is in QtGui in Qt6")
        elif isinstance(node, ast.Attribute) and node.attr == "exec_":
            add(node, "exec_", "exec_(): use exec()")
        elif isinstance(node, ast.FunctionDef) and node.name == "exec_":
            add(node, "exec_", "def exec_: name it exec")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "QVariant":
            add(node, "qvariant-type", "QVariant(): use NULL (qgis.core)")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "QVariant":
            add(node, "qvariant-type", f"QVariant.{node.attr}: use QMetaType.Type (see compat.field)")
    for node, _module in enum_accesses(tree):
        cls, member = node.value.id, node.attr
        if cls == "QVariant" or member in CONSTANTS:
            continue
        if cls == "Qt" or member[:1].isupper():
            add(node, "unscoped-enum", f"{cls}.{member}: write the enum's class, e.g. {cls}.<Enum>.{member}")
    return sorted(found, key=lambda f: (f.path, f.line, f.rule))


def python_files(paths) -> list[Path]:
    out = []
    for p in map(Path, paths):
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return out


def check(paths=(PLUGIN,)) -> list[Finding]:
    """The findings of :func:`check_source` over files and folders (``*.py``)."""
    return [f for p in python_files(paths) for f in check_source(p.read_text(encoding="utf-8"), str(p))]


def enum_members(paths=(PLUGIN,)) -> list[str]:
    """``Class.Member`` reads whose value, in the running QGIS, is an enum value: the exact form
    of the ``unscoped-enum`` rule (needs ``qgis`` importable)."""
    import importlib  # noqa: PLC0415
    from enum import Enum  # noqa: PLC0415

    out = []
    for p in python_files(paths):
        for node, module in enum_accesses(ast.parse(p.read_text(encoding="utf-8"))):
            owner = getattr(importlib.import_module(module), node.value.id, None)
            value = getattr(owner, node.attr, None)
            if isinstance(value, Enum) or type(type(value)).__name__ == "enumtype":  # PyQt6 / PyQt5 (sip)
                out.append(f"{p}:{node.lineno}: {node.value.id}.{node.attr}")
    return out


def main(argv: list[str] | None = None) -> int:
    findings = check(argv or [PLUGIN])
    print("\n".join(map(str, findings)) or "no Qt6-incompatible form found")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
