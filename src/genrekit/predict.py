"""Predict the genre of audio files with a saved model bundle.

How a song of any length is cut and aggregated depends on what the model was trained on
(the bundle's ``level``):

- ``segment`` models (trained on 3 s rows) see the Kaggle 3 s segments of the song,
  segment ``i`` = samples ``[i*66150, i*66150 + 66149)`` at 22050 Hz, every whole segment of
  the file (a 4-minute song has 80). A file shorter than one segment is analysed whole, as a
  single (short) segment.
- ``track`` models (trained on whole-track rows, GTZAN's 30 s excerpts) see the song cut into
  ``max(1, round(duration / 30 s))`` equal windows, each about 30 s long like the excerpts
  they were trained on; a GTZAN excerpt is one window, exactly as in training.

The track's probabilities are the mean of its windows' probabilities and its genre their
argmax: the same track vote genrekit's evaluation uses. ``--segments`` adds the per-window
timeline (3 s segments, or the ~30 s windows of a track model).

Output (``genrekit predict --json``): a JSON list, one object per answered input::

    {"path": "song.mp3", "genre": "disco",
     "probabilities": {"blues": 0.01, ...},
     "segments": [{"index": 0, "start": 0.0, "end": 3.0, "genre": "disco",
                   "probabilities": {...}}, ...]}

``segments`` is always present, and empty unless asked for. Inputs that could not be used
are reported on stderr (``path: reason``) and left out of the list; the exit status is then 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrekit.constants import (
    DEFAULT_PAD_MODE,
    SAMPLE_RATE,
    SEGMENT_SAMPLES,
    TRACK_SECONDS,
)
from genrekit.exceptions import GenreKitError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    from genrekit.bundle import GenreModel

__all__ = [
    "predict_cli",
    "predict_files",
    "predict_path",
    "predict_signal",
    "window_bounds",
    "format_table",
    "register_feature_set",
]

#: ``featurizer(model, y, bounds) -> X``: model inputs for each window of a signal.
Featurizer = Callable[["GenreModel", np.ndarray, list[tuple[int, int]]], np.ndarray]
_FEATURE_SETS: dict[str, Featurizer] = {}
#: Feature sets registered by optional modules, imported when a bundle needs them.
_FEATURE_SET_PLUGINS = {"logmel": "genrekit.models.cnn", "kaggle57+logmel": "genrekit.models.cnn"}


def register_feature_set(name: str, featurizer: Featurizer) -> None:
    """Teach ``predict`` how to compute a feature set's model inputs from audio.

    Parameters
    ----------
    name : str
        The ``feature_set`` value in a bundle's ``feature_settings`` (``"kaggle57"`` is
        built in; the CNN registers ``"logmel"``).
    featurizer : callable
        ``featurizer(model, y, bounds) -> X`` with ``y`` a 22050 Hz mono float32 signal,
        ``bounds`` the ``(start, end)`` sample ranges of the windows to analyse, and ``X``
        the model's input for each window (``X.shape[0] == len(bounds)``).
    """
    _FEATURE_SETS[name] = featurizer


def window_bounds(n_samples: int, level: str, *, sr: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """The windows a model of ``level`` sees in a signal of ``n_samples``.

    Parameters
    ----------
    n_samples : int
        Length of the signal at ``sr``.
    level : {"segment", "track"}
        ``segment``: every whole Kaggle 3 s segment (or the whole signal when shorter than
        one). ``track``: ``max(1, round(duration / 30 s))`` equal windows covering the signal.
    sr : int
        Sample rate (22050: the Kaggle segment rule is defined at that rate).

    Returns
    -------
    list of (start, end)
        Sample ranges, ``end`` exclusive.
    """
    if n_samples <= 0:
        return []
    if level == "segment":
        from genrekit.features.kaggle import segment_bounds

        bounds = [(int(a), int(b)) for a, b in segment_bounds(n_samples)]
        return bounds or [(0, n_samples)]
    k = max(1, round(n_samples / (TRACK_SECONDS * sr)))
    edges = [i * n_samples // k for i in range(k + 1)]
    return [(edges[i], edges[i + 1]) for i in range(k)]


def _kaggle57(model: GenreModel, y: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    from genrekit.features import kaggle

    settings = model.feature_settings
    sr = int(settings.get("sample_rate", SAMPLE_RATE))
    pad_mode = str(settings.get("pad_mode", DEFAULT_PAD_MODE))
    rows: list[dict[str, float]]
    if model.level == "segment" and bounds[0][1] - bounds[0][0] == SEGMENT_SAMPLES:
        rows = list(kaggle.segment_features(y, sr=sr, pad_mode=pad_mode))[: len(bounds)]
    else:
        rows = [kaggle.kaggle_features(y[a:b], sr=sr, pad_mode=pad_mode) for a, b in bounds]
    try:
        return np.array([[row[f] for f in model.feature_names] for row in rows], dtype=np.float64)
    except KeyError as exc:
        raise ModelError(
            f"{model.path}: the model expects feature {exc.args[0]!r}, which the "
            "kaggle57 feature set does not compute"
        ) from None


register_feature_set("kaggle57", _kaggle57)


def _musicnn(model: GenreModel, y: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    """musicnn tags/embedding of one 3 s patch per window (the window's first 187 frames)."""
    from genrekit.embeddings import embedding_rows

    settings = model.feature_settings
    sr = int(settings.get("sample_rate", SAMPLE_RATE))
    name = str(settings.get("embedding_model", "msd_musicnn"))
    need = SEGMENT_SAMPLES  # 3 s at 22050 Hz: 188 frames at 16 kHz, one 187-frame patch
    out = []
    for a, b in bounds:
        w = y[a:b]
        if w.size < need:  # a short file: zero-padded to one patch
            w = np.pad(w, (0, need - w.size))
        row = embedding_rows(w, sr, model=name, hop=187)[0]
        try:
            out.append([row[f] for f in model.feature_names])
        except KeyError as exc:
            raise ModelError(f"{model.path}: the model expects {exc.args[0]!r}, which "
                             f"{name} does not compute") from None
    return np.asarray(out, dtype=np.float64)


register_feature_set("musicnn", _musicnn)


def _prob_dict(labels: Sequence[str], p: np.ndarray) -> dict[str, float]:
    return {label: float(v) for label, v in zip(labels, p, strict=True)}


def predict_signal(
    model: GenreModel, y: np.ndarray, *, segments: bool = False, sr: int = SAMPLE_RATE
) -> dict[str, Any]:
    """Predict the genre of a signal.

    Parameters
    ----------
    model : GenreModel
        A loaded bundle (:func:`genrekit.load_model`).
    y : np.ndarray [shape=(n,)]
        Mono audio at ``sr`` (22050 Hz).
    segments : bool
        Also return the per-window timeline.
    sr : int
        Sample rate of ``y``; only the model's rate (22050) is accepted.

    Returns
    -------
    dict
        ``{"genre", "probabilities", "segments"}`` (see the module docstring).
    """
    from genrekit.exceptions import AudioError, ParameterError

    want = int(model.feature_settings.get("sample_rate", SAMPLE_RATE))
    if sr != want:
        raise ParameterError(f"expected audio at {want} Hz, got {sr} Hz (use load_audio)")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"expected mono audio of shape (n,), got shape {y.shape}")
    if not len(y):
        raise AudioError("empty signal (0 samples)")
    if not np.isfinite(y).all():
        raise AudioError("signal has NaN or infinite samples")
    feature_set = str(model.feature_settings.get("feature_set", "kaggle57"))
    if feature_set not in _FEATURE_SETS and feature_set in _FEATURE_SET_PLUGINS:
        import importlib

        try:
            importlib.import_module(_FEATURE_SET_PLUGINS[feature_set])
        except ImportError:
            pass
    featurizer = _FEATURE_SETS.get(feature_set)
    if featurizer is None:
        raise ModelError(
            f"{model.path}: unknown feature set {model.feature_settings.get('feature_set')!r}; "
            f"this genrekit computes {', '.join(sorted(_FEATURE_SETS))}"
        )
    bounds = window_bounds(len(y), model.level, sr=sr)
    X = featurizer(model, y, bounds)
    probs = model.predict_rows(X)
    mean = probs.mean(axis=0)
    mean /= mean.sum()
    labels = model.labels
    out: dict[str, Any] = {
        "genre": labels[int(np.argmax(mean))],
        "probabilities": _prob_dict(labels, mean),
        "segments": [],
    }
    if segments:
        out["segments"] = [
            {
                "index": i,
                "start": round(a / sr, 4),
                "end": round(b / sr, 4),
                "genre": labels[int(np.argmax(p))],
                "probabilities": _prob_dict(labels, p),
            }
            for i, ((a, b), p) in enumerate(zip(bounds, probs, strict=True))
        ]
    return out


def predict_path(
    model: GenreModel, path: str | os.PathLike[str], *, segments: bool = False
) -> dict[str, Any]:
    """Predict the genre of one audio file (any supported format, rate and length).

    Returns ``{"path", "genre", "probabilities", "segments"}``; raises
    :class:`~genrekit.exceptions.AudioError` naming the file when it cannot be used.
    """
    from genrekit.audio import load_audio

    sr = int(model.feature_settings.get("sample_rate", SAMPLE_RATE))
    y = load_audio(path, sr=sr)
    try:
        result = predict_signal(model, y, segments=segments, sr=sr)
    except GenreKitError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    return {"path": os.fspath(path), **result}


def predict_files(
    model: GenreModel,
    paths: Sequence[str | os.PathLike[str]],
    *,
    segments: bool = False,
    progress: bool | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Predict many files; a bad one is recorded and the others still answered.

    Parameters
    ----------
    model : GenreModel
    paths : sequence of path
    segments : bool
        Add each file's per-window timeline.
    progress : bool or None
        Show a progress bar on stderr; None: when stderr is a terminal and there are
        several files.

    Returns
    -------
    results : list of dict
        One ``{"path", "genre", "probabilities", "segments"}`` per usable file, in input order.
    failures : list of (path, reason)
        Every file that could not be used, with why (missing, empty, not audio, corrupt...).
    """
    if progress is None:
        progress = len(paths) > 1 and sys.stderr.isatty()
    results: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), unit="file", desc="predict", file=sys.stderr, leave=False)
    try:
        for path in paths:
            try:
                results.append(predict_path(model, path, segments=segments))
            except GenreKitError as exc:
                failures.append((os.fspath(path), _reason(path, str(exc))))
            except Exception as exc:  # a decoder/feature bug must not lose the other files
                failures.append((os.fspath(path), f"unexpected error: {type(exc).__name__}: {exc}"))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return results, failures


def _reason(path: str | os.PathLike[str], message: str) -> str:
    """The reason alone: messages usually start with the file's name, which we print anyway."""
    for prefix in (os.fspath(path), Path(path).name):
        if message.startswith(prefix + ": "):
            return message[len(prefix) + 2 :]
    return message


def format_table(results: list[dict[str, Any]], top: int = 3) -> str:
    """Predictions as a readable table: file, genre, the ``top`` most probable genres, and
    each result's segment timeline under it."""
    if not results:
        return ""
    width = min(60, max(len("file"), *(len(r["path"]) for r in results)))
    lines = [f"{'file':<{width}}  {'genre':<10}  top {top}"]
    for r in results:
        best = sorted(r["probabilities"].items(), key=lambda kv: -kv[1])[:top]
        ranked = ", ".join(f"{g} {p:.2f}" for g, p in best)
        path = r["path"] if len(r["path"]) <= width else "..." + r["path"][-(width - 3) :]
        lines.append(f"{path:<{width}}  {r['genre']:<10}  {ranked}")
        for s in r["segments"]:
            p = s["probabilities"][s["genre"]]
            lines.append(
                f"    {_clock(s['start'])}-{_clock(s['end'])}  {s['genre']:<10} {p:.2f}"
            )
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    m, s = divmod(float(seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"


def predict_cli(
    model_dir: str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    *,
    as_json: bool = False,
    segments: bool = False,
) -> int:
    """``genrekit predict``: print predictions, report bad inputs, return the exit status.

    Prints a table (or, with ``as_json``, a JSON list) on stdout; each input that could not
    be used goes to stderr as ``genrekit predict: PATH: REASON``.

    Returns
    -------
    int
        0 when every input was answered, 1 when any failed (the others are still printed).
    """
    from genrekit.bundle import load_model

    model = load_model(model_dir)
    results, failures = predict_files(model, list(paths), segments=segments)
    if as_json:
        print(json.dumps(results, indent=2))
    elif results:
        print(format_table(results))
    for path, reason in failures:
        print(f"genrekit predict: {path}: {reason}", file=sys.stderr)
    if failures:
        print(
            f"genrekit predict: {len(failures)} of {len(paths)} inputs could not be used",
            file=sys.stderr,
        )
    return 1 if failures else 0
