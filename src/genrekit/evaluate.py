"""Scoring: segment and track accuracy, per-class reports, the chance baseline.

Everything here computes and returns plain dicts / arrays; nothing is written or drawn.
Track accuracy aggregates segment predictions by the mean of their class probabilities
(a soft vote), so a model trained on 3 s segments is judged on whole songs too.

Examples
--------
>>> import numpy as np
>>> from genrekit.evaluate import evaluate
>>> proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
>>> r = evaluate(["a", "a", "b"], proba=proba, labels=["a", "b"], tracks=["t1", "t1", "t2"])
>>> r["accuracy"], r["track_accuracy"]
(0.6666666666666666, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from genrekit.exceptions import ParameterError

__all__ = ["evaluate", "track_vote", "chance_accuracy", "cv_summary"]


def chance_accuracy(y: Sequence[Any] | np.ndarray) -> float:
    """Accuracy of always predicting the most frequent class of ``y``.

    Parameters
    ----------
    y : array-like [shape=(n,)]

    Returns
    -------
    float
    """
    y = np.asarray(y)
    if y.size == 0:
        raise ParameterError("chance_accuracy: expected at least one label, got none")
    _, counts = np.unique(y, return_counts=True)
    return float(counts.max() / y.size)


def track_vote(
    proba: np.ndarray, tracks: Sequence[str] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Average segment probabilities per track.

    Parameters
    ----------
    proba : np.ndarray [shape=(n_rows, n_classes)]
        Class probabilities of each segment.
    tracks : array-like [shape=(n_rows,)]
        The track each row belongs to.

    Returns
    -------
    track_ids : np.ndarray [shape=(n_tracks,)]
        Sorted unique track ids.
    track_proba : np.ndarray [shape=(n_tracks, n_classes)]
        Mean probability per track.
    """
    proba = np.asarray(proba, dtype=np.float64)
    tracks = np.asarray(tracks).astype(str)
    if proba.ndim != 2 or proba.shape[0] != tracks.shape[0]:
        raise ParameterError(
            f"track_vote: expected proba [n_rows, n_classes] and tracks [n_rows], got "
            f"{proba.shape} and {tracks.shape}"
        )
    ids, inverse = np.unique(tracks, return_inverse=True)
    sums = np.zeros((ids.size, proba.shape[1]))
    np.add.at(sums, inverse, proba)
    counts = np.bincount(inverse, minlength=ids.size)[:, None]
    return ids, sums / counts


def _track_labels(y: np.ndarray, tracks: np.ndarray, ids: np.ndarray) -> np.ndarray:
    first = pd.Series(y).groupby(tracks).first()
    return first.reindex(ids).to_numpy()


def evaluate(
    y_true: Sequence[Any] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray | None = None,
    *,
    proba: np.ndarray | None = None,
    labels: Sequence[str],
    tracks: Sequence[str] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Score predictions at row level and, for segments, at track level.

    Parameters
    ----------
    y_true : array-like [shape=(n_rows,)]
        True labels.
    y_pred : array-like [shape=(n_rows,)], optional
        Predicted labels; taken as the argmax of ``proba`` when omitted.
    proba : np.ndarray [shape=(n_rows, n_classes)], optional
        Class probabilities in the order of ``labels``; needed for track accuracy.
    labels : sequence of str
        The classes, in the column order of ``proba``.
    tracks : array-like [shape=(n_rows,)], optional
        Track of each row. When rows of one track repeat (segments) and ``proba`` is given,
        track accuracy is the accuracy of the mean-probability vote.

    Returns
    -------
    dict
        ``accuracy``, ``n``, ``chance_accuracy`` (most frequent true class),
        ``per_class`` (precision / recall / f1 / support per label), ``confusion``
        (rows: true, columns: predicted, in ``labels`` order), and when tracks are given
        ``track_accuracy``, ``n_tracks`` (``None`` when rows are whole tracks).
    """
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    labels = [str(lab) for lab in labels]
    y_true = np.asarray(y_true).astype(str)
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.shape != (y_true.size, len(labels)):
            raise ParameterError(
                f"evaluate: expected proba of shape {(y_true.size, len(labels))}, got {proba.shape}"
            )
    if y_pred is None:
        if proba is None:
            raise ParameterError("evaluate: give y_pred or proba")
        y_pred = np.asarray(labels)[np.argmax(proba, axis=1)]
    y_pred = np.asarray(y_pred).astype(str)
    if y_pred.shape != y_true.shape:
        raise ParameterError(
            f"evaluate: y_true and y_pred differ in length: {y_true.size} vs {y_pred.size}"
        )
    report = classification_report(
        y_true, y_pred, labels=labels, output_dict=True, zero_division=0
    )
    out: dict[str, Any] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n": int(y_true.size),
        "chance_accuracy": chance_accuracy(y_true),
        "per_class": {
            lab: {k: float(v) for k, v in report[lab].items()} for lab in labels if lab in report
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "track_accuracy": None,
        "n_tracks": None,
    }
    if tracks is not None:
        tracks = np.asarray(tracks).astype(str)
        n_tracks = int(np.unique(tracks).size)
        out["n_tracks"] = n_tracks
        if n_tracks < tracks.size and proba is not None:
            ids, tp = track_vote(proba, tracks)
            truth = _track_labels(y_true, tracks, ids)
            pred = np.asarray(labels)[np.argmax(tp, axis=1)]
            out["track_accuracy"] = float(np.mean(pred == truth))
    return out


def cv_summary(scores: Sequence[float]) -> dict[str, Any]:
    """``{"cv_mean", "cv_std", "cv_scores"}`` of per-fold scores (population std)."""
    arr = np.asarray(list(scores), dtype=np.float64)
    if arr.size == 0:
        return {"cv_mean": None, "cv_std": None, "cv_scores": []}
    return {"cv_mean": float(arr.mean()), "cv_std": float(arr.std()),
            "cv_scores": [float(s) for s in arr]}
