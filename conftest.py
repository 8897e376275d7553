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


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory):
    """A cache folder for the whole session, for the fixtures of wider scope than a test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CPTED_CACHE_DIR", str(tmp_path_factory.mktemp("cpted-cache-session")))
        yield


@pytest.fixture(autouse=True)
def _own_cache_dir(_session_cache_dir, tmp_path_factory, monkeypatch):
    """Each test (and docstring example) gets its own empty cache folder ($CPTED_CACHE_DIR): the
    tests never write in the user's cache (the parsed-source cache, cpted.load.cache) and do not
    depend on each other's entries."""
    monkeypatch.setenv("CPTED_CACHE_DIR", str(tmp_path_factory.mktemp("cpted-cache")))

