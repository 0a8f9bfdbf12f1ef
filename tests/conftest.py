"""Test fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def _shared_data_dir() -> Path:
    env = os.environ.get("WATTBIT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data beside the project (``../shared/data``); CI has it, so its absence is a failure."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"real data folder {path} not found: set WATTBIT_SHARED_DATA or check out ../shared")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Small checked-in sample files under tests/fixtures."""
    return FIXTURES
