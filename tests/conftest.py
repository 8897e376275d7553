"""Shared fixtures: the real data directory and small scenes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # test helpers (overpass_server) import by name
DATA = Path(os.environ.get("CPTED_DATA_DIR") or ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data() -> Path:
    """The real open data (../shared/data); tests that need it skip when it is absent."""
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA}: place shared/data beside the project or set CPTED_DATA_DIR")
    return DATA


@pytest.fixture(scope="session")
def samples() -> Path:
    """The sample sites files shipped with the project."""
    return ROOT / "sample_sites"
