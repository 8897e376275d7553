"""Doctest set-up: docstring examples that read real data get ``DATA`` (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

DATA = Path(os.environ.get("CPTED_DATA_DIR") or Path(__file__).resolve().parent.parent / "shared" / "data")


@pytest.fixture(autouse=True)
def _doctest_data(request, doctest_namespace):
    doctest_namespace["DATA"] = DATA
    item = request.node
    if isinstance(item, DoctestItem) and "DATA" in "".join(e.source for e in item.dtest.examples):
        if not DATA.is_dir():
            pytest.skip(f"real data not found at {DATA}: set CPTED_DATA_DIR")
