"""Shared fixtures: a seeded rng, and the real GTZAN material in ../shared/data.

The data location is ``$GENREKIT_SHARED_DATA`` or ``../shared/data`` next to the repository;
tests that need it skip with the reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """A path inside the shared data, or skip the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared GTZAN data not found at {path} (set GENREKIT_SHARED_DATA)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20021)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def gtzan_clips() -> Path:
    return shared_path("gtzan-clips")


@pytest.fixture(scope="session")
def kaggle_dir() -> Path:
    return shared_path("kaggle")
