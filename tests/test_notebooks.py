"""The notebooks are stored without outputs (they run top to bottom in the suite, by nbmake)."""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_four_notebooks_exist_and_are_stripped():
    assert [p.name for p in NOTEBOOKS] == ["01_audit_one_site.ipynb", "02_six_sites.ipynb", "03_sensitivity.ipynb",
                                           "04_scenario.ipynb"]
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"
