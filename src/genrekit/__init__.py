"""genrekit: music genre classification you can trust.

Kaggle-exact GTZAN features extracted fast, the classic model zoo and spectrogram models
evaluated under honest protocols, reports, and saved models that predict new songs.

The public names below are imported lazily, so ``import genrekit`` (and ``genrekit --help``)
stays fast: numpy, scikit-learn and friends load only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genrekit._version import __version__
from genrekit.exceptions import (
    AudioError,
    DataError,
    DependencyError,
    FetchError,
    GenreKitError,
    ModelError,
    ParameterError,
)

__all__ = [
    "__version__",
    "GenreKitError",
    "ParameterError",
    "AudioError",
    "DataError",
    "ModelError",
    "FetchError",
    "DependencyError",
    "load_audio",
    "kaggle_features",
    "segment_features",
    "extract",
    "read_table",
    "load_model",
]

# public name -> module that defines it
_LAZY = {
    "load_audio": "genrekit.audio",
    "kaggle_features": "genrekit.features.kaggle",
    "segment_features": "genrekit.features.kaggle",
    "extract": "genrekit.extract",
    "read_table": "genrekit.datasets",
    "load_model": "genrekit.bundle",
}

if TYPE_CHECKING:  # pragma: no cover
    from genrekit.audio import load_audio
    from genrekit.bundle import load_model
    from genrekit.datasets import read_table
    from genrekit.extract import extract
    from genrekit.features.kaggle import kaggle_features, segment_features


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genrekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
