"""Pretrained music embeddings: musicnn's published weights, run in numpy (no TensorFlow).

``genrekit fetch musicnn`` converts the weights once (:func:`fetch_musicnn`); after that
:func:`embedding_rows` turns a signal into one table row per 3 s patch, with the model's 50 tag
probabilities and its 200-d penultimate embedding (what ``genrekit extract --embeddings``
writes).

Examples
--------
>>> from genrekit.embeddings import embedding_rows                 # doctest: +SKIP
>>> rows = embedding_rows(y, 22050, model="msd_musicnn")           # doctest: +SKIP
>>> rows[0]["segment"], rows[0]["tag_rock"], rows[0]["emb_0"]      # doctest: +SKIP
(0, 0.139, 0.52)
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from genrekit.embeddings.musicnn import (
    DEFAULT_PATCH_HOP,
    EMBEDDING_SIZE,
    MODELS,
    TAGS_MSD,
    TAGS_MTT,
    MusicnnModel,
    resample_to_16k,
    tag_columns,
)
from genrekit.embeddings.weights import fetch_musicnn, load_weights
from genrekit.exceptions import ParameterError

__all__ = [
    "MODELS",
    "TAGS_MSD",
    "TAGS_MTT",
    "EMBEDDING_SIZE",
    "MusicnnModel",
    "embedding_columns",
    "embedding_rows",
    "get_model",
    "tag_columns",
    "track_summary",
    "fetch_musicnn",
    "load_weights",
]

_MODELS: dict[tuple[str, str | None], MusicnnModel] = {}
_LOCK = threading.Lock()


def get_model(model: str = "msd_musicnn", *, weights_dir: str | os.PathLike[str] | None = None) -> MusicnnModel:
    """A loaded :class:`MusicnnModel`, cached per process (weights fetched on first use)."""
    if model not in MODELS:
        raise ParameterError(f"embedding model: expected one of {MODELS}, got {model!r}")
    key = (model, None if weights_dir is None else str(weights_dir))
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = MusicnnModel(load_weights(model, out_dir=weights_dir), name=model)
        return _MODELS[key]


def embedding_columns(model: str = "msd_musicnn") -> tuple[str, ...]:
    """Value columns of an embedding table: ``segment``, the tag columns, ``emb_0..emb_199``."""
    return ("segment", *tag_columns(model), *(f"emb_{i}" for i in range(EMBEDDING_SIZE)))


def embedding_rows(
    y: np.ndarray,
    sr: int,
    *,
    model: str = "msd_musicnn",
    hop: int = DEFAULT_PATCH_HOP,
    resampler: str = "soxr",
    weights_dir: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per 3 s patch of a signal: patch index, 50 tag probabilities, 200-d embedding.

    The signal is resampled from ``sr`` to 16 kHz with soxr (HQ). Resampling the original file
    gives the closest match to the published model; a signal already resampled to 22050 Hz
    differs very slightly (see docs/musicnn.md for the measured difference).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int
        Its sample rate.
    model : {"msd_musicnn", "mtt_musicnn"}
    hop : int
        Patch hop in 16 ms frames (61: a patch every ~1 s, 28 per 30 s).
    resampler : {"soxr", "kaiser_best"}
        ``"kaiser_best"`` ports the resampler of the original musicnn pipeline (resampy 0.2.1):
        slower, and equal to the published taggrams to ~1e-5.
    weights_dir : path, optional
        Folder of the converted weights (default: genrekit's cache, fetched on first use).

    Returns
    -------
    list of dict
        ``{"segment": i, "tag_rock": ..., ..., "emb_0": ..., ..., "emb_199": ...}``; empty for a
        signal shorter than one 3 s patch.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"embedding input: expected mono audio of shape (n,), got {y.shape}")
    if not sr or sr <= 0:
        raise ParameterError(f"embedding input: expected a positive sample rate, got {sr}")
    net = get_model(model, weights_dir=weights_dir)
    tags, emb = net.taggram(resample_to_16k(y, int(sr), resampler=resampler), hop=hop)
    names = tag_columns(model)
    emb_names = [f"emb_{i}" for i in range(emb.shape[1])]
    rows: list[dict[str, Any]] = []
    for i in range(tags.shape[0]):
        row: dict[str, Any] = {"segment": i}
        row.update(zip(names, tags[i].tolist(), strict=True))
        row.update(zip(emb_names, emb[i].tolist(), strict=True))
        rows.append(row)
    return rows


def track_summary(tags: np.ndarray, emb: np.ndarray) -> dict[str, np.ndarray]:
    """Per-track mean and max over patches.

    Parameters
    ----------
    tags : np.ndarray [shape=(n_patches, 50)]
    emb : np.ndarray [shape=(n_patches, 200)]

    Returns
    -------
    dict
        ``tags_mean``, ``tags_max`` (50,), ``emb_mean``, ``emb_max`` (200,).
    """
    if tags.shape[0] == 0:
        raise ParameterError("track summary: expected at least one patch, got none")
    return {
        "tags_mean": tags.mean(axis=0),
        "tags_max": tags.max(axis=0),
        "emb_mean": emb.mean(axis=0),
        "emb_max": emb.max(axis=0),
    }
