"""The 57 Kaggle GTZAN features. (Interim: delegates to the librosa recipe until the fast
single-STFT implementation lands.)"""

from __future__ import annotations

import numpy as np

from genrekit.constants import DEFAULT_PAD_MODE, SAMPLE_RATE, SEGMENT_SAMPLES, SEGMENT_STRIDE
from genrekit.features.reference import librosa_kaggle_features

__all__ = ["kaggle_features", "segment_features", "segment_bounds"]


def segment_bounds(n_samples: int) -> list[tuple[int, int]]:
    """Sample ranges of the whole Kaggle 3 s segments of a signal of ``n_samples``."""
    bounds = []
    i = 0
    while i * SEGMENT_STRIDE + SEGMENT_SAMPLES <= n_samples:
        bounds.append((i * SEGMENT_STRIDE, i * SEGMENT_STRIDE + SEGMENT_SAMPLES))
        i += 1
    return bounds


def kaggle_features(
    y: np.ndarray, *, sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE
) -> dict[str, float]:
    return librosa_kaggle_features(y, sr=sr, pad_mode=pad_mode)


def segment_features(
    y: np.ndarray, *, sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE
) -> list[dict[str, float]]:
    return [kaggle_features(y[a:b], sr=sr, pad_mode=pad_mode) for a, b in segment_bounds(len(y))]
