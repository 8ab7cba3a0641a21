"""Experiments: run zoo models under a protocol from a TOML config, and write the results.

A config names the data, the protocol and the models::

    features = "../shared/data/kaggle/features_30_sec.csv"   # or: audio = "path/to/gtzan"
    protocol = "fault-filtered"          # seed | track-cv | artist-cv | fault-filtered
    splits = "../shared/data/splits"     # fault-filtered: {train,valid,test}_filtered.txt
    artists = "../shared/data/sturm/GTZANindex.txt"   # artist-cv (optional otherwise)
    models = ["logreg", "lightgbm"]      # or "all", or "quick" (all but the heavy grids)
    drop_duplicates = false
    seed = 1

Optional keys: ``name``, ``split_kind`` (``"filtered"``), ``n_splits`` (5), ``test_size``
(0.2), ``tune_on`` (``"train+valid"`` or ``"valid"``), ``n_jobs`` (1), ``table``
(``"3sec"`` or ``"30sec"``, which table of an audio extraction to use; default ``"3sec"``),
``save_models`` (true), ``segment_stats`` (a 3 s table of the same tracks: adds the mean and
standard deviation of each feature over each track's segments to a 30 s table, see
:func:`genrekit.datasets.add_segment_stats`).

Several inputs, joined by track and fused (``docs/fusion.md``)::

    protocol = "fault-filtered"
    splits = "../shared/data/splits"
    tune_on = "train"                  # or "train+valid" (default), "valid"
    [[inputs]]
    name = "taggrams"
    features = "../shared/data/musicnn/msd_musicnn_taggrams_fault_filtered.csv"
    columns = "tag_*"                  # glob(s); default: the 57 Kaggle features
    models = ["svm_rbf"]
    vote = "majority"                  # segment rows -> track: "mean" (default) or "majority"
    [[inputs]]
    name = "kaggle30"
    features = "../shared/data/kaggle/features_30_sec.csv"
    segment_stats = "../shared/data/kaggle/features_3_sec.csv"   # optional, as above
    models = ["logreg"]
    [fusion]
    rule = "mean"                      # "stacking" (C = 1.0) or "concat" (model = "logreg")
    name = "fusion"

Every model yields track probabilities, scored on the protocol's split of the joined
tracks (only tracks in every input; the notes say how many each input lost); all members
share the protocol's tuning folds, so stacking is fitted on out-of-fold probabilities of the
training tracks only. Results: one row per ``<input>:<model>`` plus the fusion row.

Relative paths are resolved against the config file's folder first and, when nothing is
there, against the current directory -- so the shipped configs, which say
``../shared/data/...``, work when run from the repository root, and a config next to its
data works from anywhere.

The results folder holds exactly what ``docs/formats.md`` ("Experiment results") lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import tomllib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrekit._io import atomic_write, atomic_write_text
from genrekit._version import __version__
from genrekit.constants import (
    FEATURE_NAMES,
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    N_MFCC,
    SAMPLE_RATE,
    SEGMENT_SAMPLES,
    SEGMENT_STRIDE,
    TABLE_3S,
    TABLE_30S,
)
from genrekit.exceptions import DataError, DependencyError, GenreKitError, ParameterError

__all__ = [
    "ExperimentConfig",
    "load_config",
    "run_experiment",
    "run_models",
    "fit_and_score",
    "train",
    "table_fingerprint",
    "KAGGLE_FEATURE_SETTINGS",
    "InputConfig",
    "FusionConfig",
    "FUSION_RULES",
]

#: How the public Kaggle tables were computed (for bundles trained on them).
KAGGLE_FEATURE_SETTINGS: dict[str, Any] = {
    "feature_set": "kaggle57",
    "source": "kaggle",
    "sample_rate": SAMPLE_RATE,
    "n_fft": N_FFT,
    "hop_length": HOP_LENGTH,
    "pad_mode": "reflect",
    "n_mels": N_MELS,
    "n_mfcc": N_MFCC,
    "segment_samples": SEGMENT_SAMPLES,
    "segment_stride": SEGMENT_STRIDE,
}

_KNOWN_KEYS = {
    "name", "features", "audio", "protocol", "splits", "split_kind", "artists", "models",
    "drop_duplicates", "seed", "n_splits", "test_size", "tune_on", "n_jobs", "table",
    "save_models", "segment_stats", "inputs", "fusion",
}
_INPUT_KEYS = {"name", "features", "columns", "models", "segment_stats", "vote"}
_FUSION_KEYS = {"rule", "name", "model", "C"}
#: Fusion rules of a multi-input config (``[fusion] rule = ...``).
FUSION_RULES: dict[str, str] = {
    "mean": "late fusion: mean of the members' track probabilities",
    "stacking": "late fusion: logistic regression on the members' out-of-fold track "
    "probabilities (folds of the protocol, fitted on training tracks only)",
    "concat": "early fusion: one model on the inputs' per-track feature vectors joined "
    "(segment/patch tables: per-track mean and std of the selected columns)",
}
#: Columns of an input table that are never model inputs.
_META = ("filename", "length", "label", "track_id", "segment", "split", "artist", "group")
_SKIP_MEL = "needs audio or spectrograms; input is a feature table"


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class InputConfig:
    """One ``[[inputs]]`` entry of a multi-input (fusion) config.

    Attributes
    ----------
    name : str
        Prefix of its models' result rows (``<name>:<model>``).
    features : str
        The table (absolute path): a Kaggle / ``genrekit extract`` feature table, or any
        CSV/parquet with ``track_id`` (or ``filename``), ``label`` and numeric columns (e.g. an
        embeddings table with ``tag_*`` / ``emb_*``); one or several rows per track.
    columns : tuple of str or None
        Glob patterns selecting the model inputs (``"tag_*"``); ``None``: the 57 Kaggle
        features (plus ``seg_*`` statistics when ``segment_stats`` is given).
    models : tuple of str
        Zoo names fitted on this input (may be empty for ``rule = "concat"``).
    segment_stats : str or None
        A 3 s table whose per-track mean/std are appended to a whole-track table.
    vote : str
        How segment rows become track probabilities: ``"mean"`` (mean of the segment
        probabilities, the default) or ``"majority"`` (share of the segments predicted as
        each class, the published musicnn protocol).
    """

    name: str
    features: str
    columns: tuple[str, ...] | None = None
    models: tuple[str, ...] = ()
    segment_stats: str | None = None
    vote: str = "mean"


@dataclass(frozen=True)
class FusionConfig:
    """The ``[fusion]`` table: how the inputs' models are combined into one row.

    ``rule`` is a key of :data:`FUSION_RULES`; ``name`` the result row's name; ``model`` the
    zoo model of ``concat``; ``C`` the inverse regularisation of the stacking regression.
    """

    rule: str = "mean"
    name: str = "fusion"
    model: str = "logreg"
    C: float = 1.0


@dataclass(frozen=True)
class ExperimentConfig:
    """The settings of one experiment run (written as ``config.json``).

    Paths are absolute once loaded. See the module docstring for the meaning of each key.
    """

    name: str
    protocol: str
    models: tuple[str, ...] | str
    features: str | None = None
    audio: str | None = None
    splits: str | None = None
    split_kind: str = "filtered"
    artists: str | None = None
    drop_duplicates: bool = False
    seed: int = 1
    n_splits: int = 5
    test_size: float = 0.2
    tune_on: str = "train+valid"
    n_jobs: int = 1
    table: str = "3sec"
    save_models: bool = True
    segment_stats: str | None = None
    config_path: str | None = None
    inputs: tuple[InputConfig, ...] = ()
    fusion: FusionConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if isinstance(self.models, tuple):
            d["models"] = list(self.models)
        return d


def _resolve(value: Any, key: str, base: Path, *, must_exist: bool = True) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(f"config key {key!r}: expected a path string, got {value!r}")
    p = Path(os.path.expanduser(value))
    if p.is_absolute():
        candidates = [p]
    else:
        candidates = [base / p, Path.cwd() / p]
    for c in candidates:
        if c.exists():
            return str(c.resolve())
    if must_exist:
        tried = " or ".join(str(c) for c in candidates)
        raise DataError(f"config key {key!r}: {value} not found (looked for {tried})")
    return str(candidates[0])


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment TOML file.

    Raises
    ------
    DataError
        The config or a path it names does not exist, or the TOML is malformed.
    ParameterError
        Unknown keys, unknown protocol, missing ``features``/``audio``, a missing
        ``splits`` (fault-filtered) or ``artists`` (artist-cv), or values of the wrong type.
    """
    from genrekit.models import resolve_models
    from genrekit.protocols import PROTOCOLS, TUNE_ON

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: experiment config not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ParameterError(
            f"{path}: unknown config key(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(sorted(_KNOWN_KEYS))}"
        )
    base = path.resolve().parent
    if "inputs" in raw or "fusion" in raw:
        return _load_fusion_config(raw, path, base)
    if ("features" in raw) == ("audio" in raw):
        raise ParameterError(
            f"{path}: give exactly one of 'features' (a feature table) or 'audio' (a folder)"
        )
    protocol = raw.get("protocol")
    if protocol not in PROTOCOLS:
        raise ParameterError(
            f"{path}: protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}"
        )
    models = raw.get("models", "all")
    if isinstance(models, list):
        models = tuple(models)
    elif not isinstance(models, str):
        raise ParameterError(f"{path}: models: expected \"all\" or a list of names, got {models!r}")
    resolve_models(models)  # unknown names fail here, before any work

    def typed(key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = raw.get(key, default)
        if isinstance(value, bool) and kind is not bool and bool not in (
            kind if isinstance(kind, tuple) else (kind,)
        ):
            raise ParameterError(f"{path}: {key}: expected {kind}, got {value!r}")
        if not isinstance(value, kind):
            raise ParameterError(f"{path}: {key}: expected {getattr(kind, '__name__', kind)}, "
                                 f"got {value!r}")
        return value

    settings: dict[str, Any] = {
        "name": typed("name", str, path.stem),
        "protocol": protocol,
        "models": models,
        "drop_duplicates": typed("drop_duplicates", bool, False),
        "seed": typed("seed", int, 1),
        "n_splits": typed("n_splits", int, 5),
        "test_size": float(typed("test_size", (int, float), 0.2)),
        "tune_on": typed("tune_on", str, "train+valid"),
        "n_jobs": typed("n_jobs", int, 1),
        "table": typed("table", str, "3sec"),
        "save_models": typed("save_models", bool, True),
        "split_kind": typed("split_kind", str, "filtered"),
        "config_path": str(path.resolve()),
    }
    if settings["tune_on"] not in TUNE_ON:
        raise ParameterError(
            f"{path}: tune_on: expected one of {', '.join(TUNE_ON)}, got {settings['tune_on']!r}"
        )
    if settings["table"] not in ("3sec", "30sec"):
        raise ParameterError(f"{path}: table: expected '3sec' or '30sec', got {settings['table']!r}")
    if settings["n_jobs"] == 0 or settings["n_jobs"] < -1:
        raise ParameterError(f"{path}: n_jobs: expected a positive integer or -1, got {settings['n_jobs']}")
    if "features" in raw:
        settings["features"] = _resolve(raw["features"], "features", base)
    else:
        settings["audio"] = _resolve(raw["audio"], "audio", base)
    if "splits" in raw:
        settings["splits"] = _resolve(raw["splits"], "splits", base)
    elif protocol == "fault-filtered":
        raise ParameterError(
            f"{path}: protocol 'fault-filtered' needs splits = \"<folder with "
            "train_filtered.txt, valid_filtered.txt, test_filtered.txt>\""
        )
    if "segment_stats" in raw:
        settings["segment_stats"] = _resolve(raw["segment_stats"], "segment_stats", base)
    if "artists" in raw:
        settings["artists"] = _resolve(raw["artists"], "artists", base)
    elif protocol == "artist-cv":
        raise ParameterError(
            f"{path}: protocol 'artist-cv' needs artists = \"<Sturm's GTZANindex.txt>\""
        )
    return ExperimentConfig(**settings)


# --------------------------------------------------------------------------- data


@dataclass
class _Data:
    table: pd.DataFrame
    description: str
    mel: np.ndarray | None = None  # [n_rows, n_mel_features], aligned with table
    feature_settings: dict[str, Any] = field(default_factory=dict)

    def inputs(self, kind: str) -> np.ndarray | None:
        from genrekit.datasets import feature_columns

        feats = self.table[feature_columns(self.table)].to_numpy(dtype=np.float64)
        if kind == "features":
            return feats
        if self.mel is None:
            return None
        if kind == "mel":
            return self.mel
        return np.hstack([feats.astype(np.float32), self.mel])


def _read_extract_settings(folder: Path) -> dict[str, Any]:
    path = folder / "extract.json"
    if path.is_file():
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return dict(KAGGLE_FEATURE_SETTINGS)
        settings = info.get("settings", info)
        if isinstance(settings, dict):
            out = {k: v for k, v in settings.items() if not isinstance(v, (dict, list))}
            out.setdefault("feature_set", "kaggle57")
            out["source"] = "genrekit extract"
            return out
    return dict(KAGGLE_FEATURE_SETTINGS)


def _find_table(folder: Path, stem: str) -> Path:
    for ext in (".parquet", ".csv"):
        p = folder / f"{stem}{ext}"
        if p.is_file():
            return p
    raise DataError(f"{folder}: no {stem}.parquet or {stem}.csv after extraction")


def _load_mel(npz_path: Path, table: pd.DataFrame) -> np.ndarray:
    with np.load(npz_path, allow_pickle=False) as z:
        mel = np.asarray(z["mel"], dtype=np.float32)
        keys = [f"{t}#{int(s)}" for t, s in zip(z["track_id"].astype(str), z["segment"], strict=True)]
    pos = {k: i for i, k in enumerate(keys)}
    want = [f"{t}#{int(s)}" for t, s in zip(table["track_id"], table["segment"], strict=True)]
    missing = [k for k in want if k not in pos]
    if missing:
        raise DataError(f"{npz_path}: no spectrogram for {len(missing)} rows (e.g. {missing[0]})")
    return mel[[pos[k] for k in want]].reshape(len(want), -1)


def _extract_audio(
    audio: Path, out_dir: Path, *, mel: bool, table: str, jobs: int | None,
    scheduler: str | None,
) -> _Data:
    from genrekit.extract import extract

    out_dir.mkdir(parents=True, exist_ok=True)
    report = extract([audio], out_dir, fmt="parquet", mel=mel, jobs=jobs, scheduler=scheduler)
    n_failed = getattr(report, "n_failed", 0)
    if n_failed:
        print(f"note: {n_failed} audio files could not be used; see {out_dir / 'failures.csv'}",
              file=sys.stderr)
    from genrekit.datasets import read_table

    stem = TABLE_3S if table == "3sec" else TABLE_30S
    df = read_table(_find_table(out_dir, stem))
    data = _Data(df, f"{audio} (extracted to {out_dir / stem})",
                 feature_settings=_read_extract_settings(out_dir))
    npz = out_dir / "mel_3_sec.npz"
    if mel and table == "3sec" and npz.is_file():
        data.mel = _load_mel(npz, df)
    return data


# --------------------------------------------------------------------------- fitting


def _proba_in(est: Any, X: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """``predict_proba`` with columns in ``labels`` order (zeros for unseen classes)."""
    p = np.asarray(est.predict_proba(X), dtype=np.float64)
    classes = [str(c) for c in getattr(est, "classes_", labels)]
    if classes == list(labels):
        return p
    out = np.zeros((p.shape[0], len(labels)))
    index = {lab: i for i, lab in enumerate(labels)}
    for j, c in enumerate(classes):
        out[:, index[c]] = p[:, j]
    return out


def _short(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        key = k.split("__", 1)[1] if k.startswith("model__") else k
        out[key] = v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
    return out


def _changed_params(est: Any) -> dict[str, Any]:
    """The parameters of the final model step that differ from its class defaults."""
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    try:
        default = type(final)()
    except TypeError:  # ensembles need their members: name those
        members = getattr(final, "estimators", None)
        if isinstance(members, list):
            return {"estimators": "+".join(name for name, _ in members)}
        return {}
    out = {}
    for k, v in final.get_params(deep=False).items():
        dv = default.get_params(deep=False).get(k, object())
        if k == "estimators" and isinstance(v, list):
            out[k] = "+".join(name for name, _ in v)
            continue
        if hasattr(v, "get_params") or isinstance(v, (list, tuple)):
            continue
        same = (v is dv) or (type(v) is type(dv) and _eq(v, dv))
        if not same and k not in _HIDDEN_PARAMS:
            out[k] = v
    return _short(out)


# Settings that do not change what is learned (or only how probabilities are produced).
_HIDDEN_PARAMS = {"random_state", "n_jobs", "verbose", "probability", "max_iter", "tol"}


def _eq(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and exotic objects
        return False


def _is_search(est: Any) -> bool:
    return hasattr(est, "param_grid") or hasattr(est, "param_distributions")


def _fit_grouped(est: Any, X: np.ndarray, y: np.ndarray, tracks: np.ndarray) -> Any:
    """Fit ``est``, passing the rows' tracks as ``groups`` when its ``fit`` takes them.

    The CNN and fusion models hold out whole tracks inside their training data (early
    stopping, inner folds); without the track ids they would split segments of one song.
    """
    import inspect

    if "groups" in inspect.signature(est.fit).parameters:
        return est.fit(X, y, groups=tracks)
    return est.fit(X, y)


def fit_and_score(
    spec: Any,
    X: np.ndarray,
    y: np.ndarray,
    tracks: np.ndarray,
    split: Any,
    labels: Sequence[str],
    *,
    seed: int = 1,
    n_jobs: int = 1,
) -> tuple[dict[str, Any], pd.DataFrame, Any]:
    """Fit one model under a protocol split and score it.

    Parameters
    ----------
    spec : ModelSpec
        The model to build.
    X : np.ndarray [shape=(n_rows, n_inputs)]
        All rows of the table (the split's indices select from it).
    y : np.ndarray [shape=(n_rows,)]
        Labels.
    tracks : np.ndarray [shape=(n_rows,)]
        Track of each row (for track accuracy of segment tables).
    split : ProtocolSplit
        From :func:`genrekit.protocols.make_protocol`.
    labels : sequence of str
        All classes, sorted (the probability column order).
    seed, n_jobs : int
        ``random_state`` and parallel jobs.

    Returns
    -------
    record : dict
        The model's entry of ``results.json``.
    predictions : pd.DataFrame
        Out-of-fold (``split="cv"``) and test (``split="test"``) predictions.
    fitted : estimator
        The final model (a grid search's best estimator), fitted on the train rows.
    """
    from joblib import Parallel, delayed
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    from genrekit.evaluate import cv_summary, evaluate

    segment_level = split.level == "segment"
    tr = split.train
    Xtr, ytr, ttr = X[tr], y[tr], tracks[tr]
    est = spec.build(seed=seed, n_jobs=n_jobs, cv=split.cv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        if _is_search(est):
            est.fit(Xtr, ytr, groups=split.cv_groups)
            final = est.best_estimator_
            params = _short(est.best_params_)
        else:
            _fit_grouped(est, Xtr, ytr, ttr)
            final = est
            params = _changed_params(est)
        fit_seconds = time.perf_counter() - t0
        train_acc = float(np.mean(final.predict(Xtr).astype(str) == ytr))

        folds = list(split.cv.split(Xtr, ytr, split.cv_groups))

        def one_fold(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            m = clone(final)
            _fit_grouped(m, Xtr[a], ytr[a], ttr[a])
            return _proba_in(m, Xtr[b], labels)

        fold_proba = Parallel(n_jobs=n_jobs)(delayed(one_fold)(a, b) for a, b in folds)
    notes = sorted({str(w.message).splitlines()[0] for w in caught
                    if issubclass(w.category, ConvergenceWarning)})
    frames = []
    scores, track_scores = [], []
    lab = np.asarray(labels)
    for k, ((_, b), proba) in enumerate(zip(folds, fold_proba, strict=True)):
        r = evaluate(ytr[b], proba=proba, labels=labels, tracks=ttr[b])
        scores.append(r["accuracy"])
        if segment_level and r["track_accuracy"] is not None:
            track_scores.append(r["track_accuracy"])
        frames.append(_pred_frame(spec.name, "cv", k, tr[b], proba, lab))
    record: dict[str, Any] = {
        "description": spec.description,
        "input": spec.input,
        "params": params,
        "train_accuracy": train_acc,
        **cv_summary(scores),
        "cv_track_mean": float(np.mean(track_scores)) if track_scores else None,
        "test_accuracy": None,
        "test_track_accuracy": None,
        "fit_seconds": round(fit_seconds, 3),
        "skipped": None,
        "warnings": [f"ConvergenceWarning: {n}" for n in notes],
    }
    if split.test is not None:
        te = split.test
        proba = _proba_in(final, X[te], labels)
        r = evaluate(y[te], proba=proba, labels=labels, tracks=tracks[te])
        record["test_accuracy"] = r["accuracy"]
        record["test_track_accuracy"] = r["track_accuracy"] if segment_level else None
        record["per_class"] = r["per_class"]
        frames.append(_pred_frame(spec.name, "test", -1, te, proba, lab))
    return record, pd.concat(frames, ignore_index=True), final


def _pred_frame(
    model: str, part: str, fold: int, rows: np.ndarray, proba: np.ndarray, labels: np.ndarray
) -> pd.DataFrame:
    df = pd.DataFrame({
        "model": model,
        "split": part,
        "fold": np.full(rows.size, fold, dtype=np.int64),
        "row": rows.astype(np.int64),
        "pred": labels[np.argmax(proba, axis=1)],
    })
    for j, lab in enumerate(labels):
        df[f"prob_{lab}"] = proba[:, j]
    return df


@contextmanager
def _backend(scheduler: str | None) -> Iterator[Any]:
    if scheduler is None:
        yield None
        return
    from genrekit.exceptions import require

    require("distributed", "dask")
    import joblib
    from distributed import Client

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ParameterError(f"--scheduler {scheduler}: cannot connect: {exc}") from exc
    try:
        with joblib.parallel_backend("dask"):
            yield client
    finally:
        client.close()


def run_models(
    data: Any,
    split: Any,
    specs: Sequence[Any],
    *,
    seed: int = 1,
    n_jobs: int = 1,
    scheduler: str | None = None,
    log: Any = None,
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame, dict[str, Any]]:
    """Fit and score every spec on ``data`` (a table or ``_Data``) under ``split``.

    Returns
    -------
    records : dict
        ``name -> results.json model entry``.
    predictions : pd.DataFrame
        All models' predictions (``docs/formats.md``).
    fitted : dict
        ``name -> fitted final estimator``.
    """
    if isinstance(data, pd.DataFrame):
        data = _Data(data, "table")
    df = data.table
    y = df["label"].astype(str).to_numpy()
    tracks = df["track_id"].astype(str).to_numpy()
    labels = sorted(set(y))
    records: dict[str, dict[str, Any]] = {}
    frames: list[pd.DataFrame] = []
    fitted: dict[str, Any] = {}
    jobs = -1 if scheduler else n_jobs
    with _backend(scheduler):
        for spec in specs:
            X = data.inputs(spec.input)
            if X is None:
                records[spec.name] = _skipped(spec, _SKIP_MEL)
                continue
            if log:
                log(f"{spec.name} ...")
            try:
                rec, pred, est = fit_and_score(spec, X, y, tracks, split, labels,
                                               seed=seed, n_jobs=jobs)
            except DependencyError as exc:
                records[spec.name] = _skipped(spec, str(exc))
                continue
            except (ValueError, MemoryError, GenreKitError) as exc:
                records[spec.name] = _skipped(spec, f"failed: {type(exc).__name__}: {exc}")
                records[spec.name]["failed"] = True
                continue
            records[spec.name] = rec
            frames.append(pred)
            fitted[spec.name] = est
            if log:
                log(_one_line(spec.name, rec))
    if frames:
        preds = pd.concat(frames, ignore_index=True)
        preds.insert(4, "track_id", tracks[preds["row"].to_numpy()])
        preds.insert(5, "segment", df["segment"].to_numpy()[preds["row"].to_numpy()])
        preds.insert(6, "label", y[preds["row"].to_numpy()])
    else:
        preds = pd.DataFrame(columns=["model", "split", "fold", "row", "track_id", "segment",
                                      "label", "pred", *[f"prob_{lab}" for lab in labels]])
    return records, preds, fitted


def _skipped(spec: Any, reason: str) -> dict[str, Any]:
    return {
        "description": spec.description, "input": spec.input, "params": {},
        "train_accuracy": None, "cv_mean": None, "cv_std": None, "cv_scores": [],
        "cv_track_mean": None, "test_accuracy": None, "test_track_accuracy": None,
        "fit_seconds": None, "skipped": reason,
    }


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def _one_line(name: str, rec: Mapping[str, Any]) -> str:
    parts = [f"train {_fmt(rec['train_accuracy'])}", f"cv {_fmt(rec['cv_mean'])}"]
    if rec.get("cv_track_mean") is not None:
        parts.append(f"cv track {_fmt(rec['cv_track_mean'])}")
    if rec.get("test_accuracy") is not None:
        parts.append(f"test {_fmt(rec['test_accuracy'])}")
    if rec.get("test_track_accuracy") is not None:
        parts.append(f"test track {_fmt(rec['test_track_accuracy'])}")
    parts.append(f"{rec['fit_seconds']:.1f}s")
    return f"  {name}: " + ", ".join(parts)


# --------------------------------------------------------------------------- writing


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    return repr(value)


def _write_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def _write_json(path: Path, obj: Any) -> None:
    _write_text(path, json.dumps(_jsonable(obj), indent=2) + "\n")


def _write_parquet(path: Path, df: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def results_markdown(results: Mapping[str, Any]) -> str:
    """The capstone-style table (Model | Parameters | Train | Test | CV mean) as Markdown."""
    segment = results.get("level") == "segment" or any(
        rec.get("test_track_accuracy") is not None or rec.get("cv_track_mean") is not None
        for rec in results["models"].values())
    lines = [
        f"# {results.get('name', 'experiment')}",
        "",
        f"Protocol: **{results['protocol']}** -- {results.get('protocol_description', '')}",
    ]
    if results.get("leaky"):
        lines.append("")
        lines.append("**LEAKY**: segments of one track are on both sides of the split; these "
                     "numbers overstate accuracy on new songs.")
    lines += [
        "",
        f"Data: {results['features']} -- {results['n_rows']} rows ({results['level']} level), "
        f"{results['n_tracks']} tracks. Chance (most frequent class): "
        f"{results['chance_accuracy']:.3f}.",
    ]
    for note in results.get("notes", []):
        lines.append(f"Note: {note}.")
    lines.append("")
    head = ["Model", "Parameters", "Train", "Test", "CV mean"]
    if segment:
        head += ["Test (track)", "CV (track)"]
    head += ["CV std", "Fit s"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for name, rec in results["models"].items():
        if rec.get("skipped"):
            lines.append(f"| {name} | skipped: {rec['skipped']} |" + " |" * (len(head) - 2))
            continue
        params = ", ".join(f"{k}={v}" for k, v in rec["params"].items()) or "defaults"
        row = [name, params.replace("|", "/"), _fmt(rec["train_accuracy"]),
               _fmt(rec["test_accuracy"]), _fmt(rec["cv_mean"])]
        if segment:
            row += [_fmt(rec["test_track_accuracy"]), _fmt(rec["cv_track_mean"])]
        row += [_fmt(rec["cv_std"]), f"{rec['fit_seconds']:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _save_model(est: Any, folder: Path, name: str) -> str | None:
    """``models/<name>.txt`` for a bare LightGBM classifier, else ``models/<name>.skops``."""
    folder.mkdir(parents=True, exist_ok=True)
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    if type(final).__name__ == "LGBMClassifier" and (not hasattr(est, "steps")
                                                     or len(est.steps) == 1):
        path = atomic_write(folder / f"{name}.txt",
                            lambda tmp: final.booster_.save_model(str(tmp)))
        return path.name
    import skops.io as sio

    try:
        path = atomic_write(folder / f"{name}.skops", lambda tmp: sio.dump(est, tmp))
    except Exception as exc:  # skops cannot serialise every object; the run still counts
        print(f"note: model {name} not saved: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    return path.name


# --------------------------------------------------------------------------- entry points


def _load_data(cfg: ExperimentConfig, out: Path, specs: Sequence[Any], scheduler: str | None) -> _Data:
    from genrekit.datasets import read_table

    if cfg.features is not None:
        path = Path(cfg.features)
        data = _Data(read_table(path), str(path),
                     feature_settings=_read_extract_settings(path.parent))
        if cfg.segment_stats is not None:
            from genrekit.datasets import add_segment_stats

            data.table = add_segment_stats(data.table, read_table(cfg.segment_stats))
            data.description += f" + segment mean/std from {cfg.segment_stats}"
        npz = path.parent / "mel_3_sec.npz"
        wants_mel = any(s.input != "features" for s in specs)
        if wants_mel and npz.is_file() and path.stem == TABLE_3S:
            data.mel = _load_mel(npz, data.table)
        return data
    assert cfg.audio is not None
    wants_mel = any(s.input != "features" for s in specs)
    return _extract_audio(Path(cfg.audio), out / "features", mel=wants_mel, table=cfg.table,
                          jobs=None if cfg.n_jobs < 1 else cfg.n_jobs, scheduler=scheduler)


def run_experiment(
    config_path: str | Path,
    *,
    out_dir: str | Path | None = None,
    scheduler: str | None = None,
) -> int:
    """Run the experiment a TOML config describes and write its results folder.

    Parameters
    ----------
    config_path : str or Path
        The TOML config (see the module docstring).
    out_dir : str or Path, optional
        Results folder (default ``results/<config name>`` in the current directory). It must
        not already hold a ``results.json``.
    scheduler : str, optional
        Dask scheduler address: grid searches and CV folds run there (joblib's dask backend).

    Returns
    -------
    int
        0 when every model ran (models that need spectrograms on a feature table are skipped,
        not failed), 1 when some model failed.

    Raises
    ------
    DataError, ParameterError
        Missing files, unknown model or protocol names, missing split lists.
    """
    from genrekit.datasets import (
        drop_duplicates,
        find_duplicates,
        read_artist_index,
        read_split_lists,
        table_level,
    )
    from genrekit.models import resolve_models
    from genrekit.protocols import describe_protocol, make_protocol

    cfg = load_config(config_path)
    out = Path(out_dir) if out_dir is not None else Path("results") / cfg.name
    if (out / "results.json").exists():
        raise ParameterError(
            f"{out}: already holds results.json; choose another folder with -o or remove it"
        )
    if cfg.inputs:
        out.mkdir(parents=True, exist_ok=True)
        return _run_fusion(cfg, out, scheduler)
    specs = resolve_models(cfg.models)
    out.mkdir(parents=True, exist_ok=True)
    data = _load_data(cfg, out, specs, scheduler)

    if cfg.drop_duplicates:
        table, dups = drop_duplicates(data.table)
        if data.mel is not None:
            keep = np.ones(len(data.table), dtype=bool)
            keep[dups.drop_index] = False
            data.mel = data.mel[keep]
        data.table = table
    else:
        dups = find_duplicates(data.table)
    df = data.table
    if (df["label"] == "").any():
        raise DataError(f"{data.description}: {int((df['label'] == '').sum())} rows have no "
                        "label; experiments need labelled rows")
    artists = read_artist_index(cfg.artists) if cfg.artists else None
    if artists is not None:
        df = df.copy()
        df["artist"] = [artists.get(t) for t in df["track_id"]]
        data.table = df
    splits = read_split_lists(cfg.splits, kind=cfg.split_kind) if cfg.splits else None
    split = make_protocol(cfg.protocol, df, seed=cfg.seed, n_splits=cfg.n_splits,
                          test_size=cfg.test_size, splits=splits, artists=artists,
                          tune_on=cfg.tune_on)
    level = table_level(df)
    print(f"{cfg.name}: {len(df)} rows ({level} level), protocol {cfg.protocol}"
          + (" [LEAKY]" if split.leaky else ""), file=sys.stderr)

    records, preds, fitted = run_models(
        data, split, specs, seed=cfg.seed, n_jobs=cfg.n_jobs, scheduler=scheduler,
        log=lambda s: print(s, file=sys.stderr),
    )
    if cfg.save_models:
        for name, est in fitted.items():
            records[name]["model_file"] = _save_model(est, out / "models", name)
    y = df["label"].astype(str).to_numpy()
    eval_rows = split.train if split.test is None else split.test
    results = {
        "genrekit_version": __version__,
        "name": cfg.name,
        "protocol": cfg.protocol,
        "protocol_description": describe_protocol(cfg.protocol),
        "leaky": split.leaky,
        "level": level,
        "features": data.description,
        "n_rows": int(len(df)),
        "n_tracks": int(df["track_id"].nunique()),
        "n_train_rows": int(split.train.size),
        "n_test_rows": None if split.test is None else int(split.test.size),
        "labels": sorted(set(y)),
        "chance_accuracy": _chance(y[eval_rows]),
        "notes": list(split.notes),
        "config": cfg.to_dict(),
        "models": records,
    }
    from genrekit.datasets import feature_columns

    keep_cols = ["track_id", "segment", "label", "filename", *feature_columns(df)]
    if "artist" in df.columns:
        keep_cols.append("artist")
    _write_parquet(out / "data.parquet", df[keep_cols])
    _write_parquet(out / "predictions.parquet", preds)
    _write_json(out / "duplicates.json", dups.to_dict(dropped=cfg.drop_duplicates))
    _write_json(out / "config.json", cfg.to_dict())
    _write_json(out / "results.json", results)
    md = results_markdown(results)
    _write_text(out / "results.md", md)
    print(md)
    print(f"results written to {out} (results.json, results.md, predictions.parquet, "
          f"data.parquet{', models/' if cfg.save_models and fitted else ''})")
    failed = [n for n, r in records.items() if r.get("failed")]
    if failed:
        print(f"genrekit experiment: {len(failed)} model(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


def _chance(y: np.ndarray) -> float:
    from genrekit.evaluate import chance_accuracy

    return chance_accuracy(y)


def table_fingerprint(df: pd.DataFrame, *, columns: Sequence[str] | None = None) -> str:
    """sha256 of a table's canonical bytes: key columns and features as CSV, rows sorted.

    Float values are written with 17 significant digits, so equal tables hash equal
    whatever file format they came from. ``columns``: the feature columns (default the 57).
    """
    cols = ["track_id", "segment", "label", *(FEATURE_NAMES if columns is None else columns)]
    canon = df[cols].sort_values(["track_id", "segment"], kind="stable")
    text = canon.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: Embedding models whose tables ``genrekit train`` accepts (name found in the file name).
_EMBEDDING_MODELS = ("msd_musicnn", "mtt_musicnn")


def _embedding_table(source: Path) -> _Data | None:
    """An embeddings table (``tag_*`` / ``emb_*`` columns, no Kaggle features) as training data.

    ``None`` when ``source`` is a Kaggle-style feature table. The embedding model is read
    from the file name (``embeddings_msd_musicnn.parquet``, ``msd_musicnn_taggrams...csv``).
    """
    head = (pd.read_parquet(source).columns if source.suffix.lower() == ".parquet"
            else pd.read_csv(source, nrows=0, encoding="utf-8-sig").columns)
    if all(f in head for f in FEATURE_NAMES):
        return None
    cols = [str(c) for c in head if str(c).startswith(("tag_", "emb_"))]
    if not cols:
        return None
    name = next((m for m in _EMBEDDING_MODELS if m in source.name), None)
    if name is None:
        raise DataError(
            f"{source}: an embeddings table, but its name names no embedding model; expected "
            f"one of {', '.join(_EMBEDDING_MODELS)} in the file name (as `genrekit extract "
            "--embeddings` writes it: embeddings_msd_musicnn.parquet)"
        )
    df = _read_any_table(str(source))
    settings = {"feature_set": "musicnn", "embedding_model": name, "source": str(source),
                "sample_rate": SAMPLE_RATE, "patch_frames": 187, "resampler": "soxr",
                "columns": cols}
    return _Data(df, str(source), feature_settings=settings)


def train(
    source: str | Path,
    *,
    model: str,
    out_dir: str | Path,
    protocol: str | None = None,
    jobs: int | None = None,
) -> int:
    """Fit one zoo model on all the data given and save it as a model bundle.

    Parameters
    ----------
    source : str or Path
        A feature table (Kaggle CSV or ``genrekit extract`` output), an embeddings table
        (``tag_*`` / ``emb_*`` columns; ``msd_musicnn`` or ``mtt_musicnn`` in its file name;
        the bundle's predict computes musicnn patches from audio), or an audio folder
        (extracted first; the 3 s table is used, so predictions vote over segments). Models
        whose input is log-mel (``cnn``, the image models, ``fusion``) need an audio folder:
        it is extracted with ``mel=True`` and their bundle recomputes the patches from audio.
        A fusion config (``.toml`` with ``[[inputs]]`` + ``[fusion]``) with ``model="fused"``
        trains one fused bundle (:func:`genrekit.fused.train_fused`).
    model : str
        A zoo name (``genrekit models``), or ``"fused"`` for a fusion config.
    out_dir : str or Path
        The bundle folder (must not exist or be empty).
    protocol : str, optional
        ``"seed"`` or ``"track-cv"``: evaluate under it first and store its metrics in the
        bundle. (``artist-cv`` and ``fault-filtered`` need an index or split lists: use
        ``genrekit experiment``.)
    jobs : int, optional
        Worker processes for audio extraction.

    Returns
    -------
    int
        0 on success.
    """
    import tempfile

    if Path(source).suffix.lower() == ".toml":  # a fusion config: one fused bundle
        from genrekit.fused import train_fused

        if model != "fused":
            raise ParameterError(f"{source}: a fusion config trains a fused model; pass "
                                 f"--model fused, got {model!r}")
        if protocol is not None:
            raise ParameterError(f"--protocol {protocol}: a fusion config names its own "
                                 "protocol; remove --protocol")
        return train_fused(source, out_dir=out_dir)

    from genrekit.bundle import save_bundle
    from genrekit.datasets import read_table, table_level
    from genrekit.models import get_model
    from genrekit.protocols import PROTOCOLS, make_protocol

    spec = get_model(model)
    needs_mel = spec.input != "features"
    if needs_mel and not Path(source).is_dir():
        raise ParameterError(
            f"model {model}: input {spec.input!r} needs log-mel spectrograms; give an audio "
            f"folder (GTZAN layout), not {source}"
        )
    if protocol is not None and protocol not in ("seed", "track-cv"):
        if protocol in PROTOCOLS:
            raise ParameterError(
                f"--protocol {protocol}: needs split lists or an artist index; use "
                "`genrekit experiment` with a config for it (train accepts seed, track-cv)"
            )
        raise ParameterError(
            f"--protocol: expected seed or track-cv, got {protocol!r}"
        )
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ParameterError(f"{out}: already exists and is not empty; choose another -o")
    source = Path(source)
    with tempfile.TemporaryDirectory(prefix="genrekit-train-") as tmp:
        if source.is_dir():
            data = _extract_audio(source, Path(tmp), mel=needs_mel, table="3sec", jobs=jobs,
                                  scheduler=None)
        elif source.is_file():
            emb = _embedding_table(source)
            data = emb if emb is not None else _Data(
                read_table(source), str(source),
                feature_settings=_read_extract_settings(source.parent))
        else:
            raise DataError(f"{source}: not found (expected a feature table or an audio folder)")
    df = data.table
    if (df["label"] == "").any() or df["label"].nunique() < 2:
        raise DataError(f"{source}: training needs labelled rows of at least 2 genres")
    level = table_level(df)
    y = df["label"].astype(str).to_numpy()
    tracks = df["track_id"].astype(str).to_numpy()
    labels = sorted(set(y))
    emb_cols = data.feature_settings.get("columns") if data.feature_settings.get(
        "feature_set") == "musicnn" else None
    feature_names = list(emb_cols) if emb_cols else list(FEATURE_NAMES)
    feature_settings = {k: v for k, v in data.feature_settings.items() if k != "columns"}
    if needs_mel:
        # The bundle's predict recomputes the same patches from audio: the "logmel" feature
        # set (CNN, image models) or "kaggle57+logmel" (fusion), registered by models.cnn.
        X = data.inputs(spec.input)
        if X is None:
            raise DataError(f"{source}: no 3 s log-mel patches could be extracted")
        mel_names = [f"mel_{i}" for i in range(data.mel.shape[1])] if data.mel is not None else []
        feature_names = mel_names if spec.input == "mel" else list(FEATURE_NAMES) + mel_names
        feature_settings.update(feature_set="logmel" if spec.input == "mel"
                                else "kaggle57+logmel", n_mels=N_MELS)
    else:
        X = df[emb_cols].to_numpy(dtype=np.float64) if emb_cols else data.inputs("features")
    assert X is not None
    metrics: dict[str, Any] = {"n_rows": int(len(df)), "n_tracks": int(len(set(tracks)))}
    if protocol is not None:
        split = make_protocol(protocol, df, seed=1)
        rec, _, _ = fit_and_score(spec, X, y, tracks, split, labels, seed=1, n_jobs=1)
        metrics.update({k: rec[k] for k in ("cv_mean", "cv_std", "cv_track_mean",
                                            "test_accuracy", "test_track_accuracy")})
        print(_one_line(model, rec))
    # Final fit on everything; a grid tunes with folds grouped by track.
    full = make_protocol("track-cv", df, seed=1) if df["track_id"].nunique() >= 2 else None
    est = spec.build(seed=1, n_jobs=1, cv=full.cv if full else None)
    t0 = time.perf_counter()
    if _is_search(est):
        est.fit(X, y, groups=full.cv_groups if full else None)
        est = est.best_estimator_
    else:
        _fit_grouped(est, X, y, tracks)
    metrics["fit_seconds"] = round(time.perf_counter() - t0, 3)
    metrics["train_accuracy"] = float(np.mean(est.predict(X).astype(str) == y))
    path = save_bundle(
        out,
        estimator=est,
        model_name=model,
        labels=labels,
        feature_names=feature_names,
        level=level,
        feature_settings=feature_settings,
        protocol=protocol,
        metrics=metrics,
        training_fingerprint=table_fingerprint(df, columns=emb_cols),
        overwrite=False,
    )
    print(f"model {model} trained on {len(df)} rows ({level} level) and saved to {path}")
    return 0


# --------------------------------------------------------------------------- fusion


def _load_fusion_config(raw: Mapping[str, Any], path: Path, base: Path) -> ExperimentConfig:
    """Validate a multi-input config (``[[inputs]]`` + ``[fusion]``)."""
    from genrekit.models import get_model
    from genrekit.protocols import PROTOCOLS, TUNE_ON

    clash = sorted({"features", "audio", "models", "segment_stats", "table",
                    "drop_duplicates"} & set(raw))
    if clash:
        raise ParameterError(
            f"{path}: with [[inputs]], give {', '.join(clash)} inside each [[inputs]] entry, "
            "not at top level"
        )
    protocol = raw.get("protocol")
    if protocol not in PROTOCOLS:
        raise ParameterError(
            f"{path}: protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}"
        )
    items = raw.get("inputs")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ParameterError(f"{path}: inputs: expected one or more [[inputs]] tables, got {items!r}")

    def need_str(value: Any, what: str) -> str:
        if not isinstance(value, str) or not value:
            raise ParameterError(f"{path}: {what}: expected a non-empty string, got {value!r}")
        return value

    inputs: list[InputConfig] = []
    for k, item in enumerate(items):
        where = f"inputs[{k}]"
        unknown = sorted(set(item) - _INPUT_KEYS)
        if unknown:
            raise ParameterError(f"{path}: {where}: unknown key(s) {', '.join(unknown)}; expected "
                                 f"some of {', '.join(sorted(_INPUT_KEYS))}")
        name = need_str(item.get("name", f"input{k}"), f"{where}.name")
        if ":" in name or any(i.name == name for i in inputs):
            raise ParameterError(f"{path}: {where}.name: expected a unique name without ':', "
                                 f"got {name!r}")
        if "features" not in item:
            raise ParameterError(f"{path}: {where} ({name}): needs features = \"<table path>\"")
        cols = item.get("columns")
        if isinstance(cols, str):
            cols = [cols]
        if cols is not None and (not isinstance(cols, list) or not cols
                                 or not all(isinstance(c, str) and c for c in cols)):
            raise ParameterError(f"{path}: {where}.columns: expected a glob such as \"tag_*\" "
                                 f"or a list of them, got {item.get('columns')!r}")
        models = item.get("models", [])
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ParameterError(f"{path}: {where}.models: expected a list of zoo names, "
                                 f"got {models!r}")
        for m in models:
            if get_model(m).input != "features":
                raise ParameterError(f"{path}: {where}.models: {m} needs spectrograms; inputs "
                                     "of a fusion config are feature tables")
        vote = item.get("vote", "mean")
        if vote not in ("mean", "majority"):
            raise ParameterError(f"{path}: {where}.vote: expected 'mean' or 'majority', "
                                 f"got {vote!r}")
        inputs.append(InputConfig(
            vote=vote,
            name=name,
            features=_resolve(item["features"], f"{where}.features", base),
            columns=None if cols is None else tuple(cols),
            models=tuple(models),
            segment_stats=(_resolve(item["segment_stats"], f"{where}.segment_stats", base)
                           if "segment_stats" in item else None),
        ))

    fraw = raw.get("fusion", {})
    if not isinstance(fraw, dict):
        raise ParameterError(f"{path}: fusion: expected a [fusion] table, got {fraw!r}")
    unknown = sorted(set(fraw) - _FUSION_KEYS)
    if unknown:
        raise ParameterError(f"{path}: fusion: unknown key(s) {', '.join(unknown)}; expected "
                             f"some of {', '.join(sorted(_FUSION_KEYS))}")
    rule = fraw.get("rule", "mean")
    if rule not in FUSION_RULES:
        raise ParameterError(f"{path}: fusion.rule: expected one of {', '.join(FUSION_RULES)}, "
                             f"got {rule!r}")
    C = fraw.get("C", 1.0)
    if isinstance(C, bool) or not isinstance(C, (int, float)) or C <= 0:
        raise ParameterError(f"{path}: fusion.C: expected a positive number, got {C!r}")
    fusion = FusionConfig(rule=rule, name=need_str(fraw.get("name", "fusion"), "fusion.name"),
                          model=need_str(fraw.get("model", "logreg"), "fusion.model"),
                          C=float(C))
    if rule == "concat":
        if get_model(fusion.model).input != "features":
            raise ParameterError(f"{path}: fusion.model: {fusion.model} needs spectrograms")
    else:
        n_members = sum(len(i.models) for i in inputs)
        if n_members < 1:
            raise ParameterError(f"{path}: fusion.rule {rule!r} needs at least one model in "
                                 "the inputs' models lists, got none")
        if rule == "stacking" and protocol in ("track-cv", "artist-cv"):
            pass  # stacking is scored inside the CV folds (nested), no test set needed
    if len(inputs) < 2 and rule == "concat":
        pass  # one input, concatenated statistics: still a valid early model

    def typed(key: str, kind: type, default: Any) -> Any:
        value = raw.get(key, default)
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise ParameterError(f"{path}: {key}: expected {kind.__name__}, got {value!r}")
        return value

    tune_on = typed("tune_on", str, "train+valid")
    if tune_on not in TUNE_ON:
        raise ParameterError(f"{path}: tune_on: expected one of {', '.join(TUNE_ON)}, got {tune_on!r}")
    settings: dict[str, Any] = {
        "name": typed("name", str, path.stem),
        "protocol": protocol,
        "models": (),
        "seed": typed("seed", int, 1),
        "n_splits": typed("n_splits", int, 5),
        "test_size": float(raw.get("test_size", 0.2)),
        "tune_on": tune_on,
        "n_jobs": typed("n_jobs", int, 1),
        "save_models": typed("save_models", bool, False),
        "split_kind": typed("split_kind", str, "filtered"),
        "config_path": str(path.resolve()),
        "inputs": tuple(inputs),
        "fusion": fusion,
    }
    if "splits" in raw:
        settings["splits"] = _resolve(raw["splits"], "splits", base)
    elif protocol == "fault-filtered":
        raise ParameterError(
            f"{path}: protocol 'fault-filtered' needs splits = \"<folder with "
            "train_filtered.txt, valid_filtered.txt, test_filtered.txt>\""
        )
    if "artists" in raw:
        settings["artists"] = _resolve(raw["artists"], "artists", base)
    elif protocol == "artist-cv":
        raise ParameterError(f"{path}: protocol 'artist-cv' needs artists = \"<Sturm's GTZANindex.txt>\"")
    return ExperimentConfig(**settings)


@dataclass
class _Input:
    """One loaded input: its rows restricted to the joined tracks, and its inputs."""

    cfg: InputConfig
    table: pd.DataFrame        # rows, with track_id, segment, label
    columns: list[str]         # the selected input columns
    level: str                 # "segment" (several rows per track) or "track"
    n_tracks_read: int = 0

    def matrix(self) -> np.ndarray:
        return self.table[self.columns].to_numpy(dtype=np.float64)

    def track_vectors(self, track_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Per-track inputs ``[n_tracks, d]`` (segment tables: mean then std, ddof 0)."""
        g = self.table.groupby("track_id")[self.columns]
        if self.level == "track":
            frame = g.first()
            names = [f"{self.cfg.name}:{c}" for c in self.columns]
        else:
            frame = pd.concat([g.mean(), g.std(ddof=0).fillna(0.0)], axis=1)
            names = ([f"{self.cfg.name}:mean_{c}" for c in self.columns]
                     + [f"{self.cfg.name}:std_{c}" for c in self.columns])
        return frame.reindex(track_ids).to_numpy(dtype=np.float64), names


def _read_any_table(path: str) -> pd.DataFrame:
    """A feature table (Kaggle / extract) via ``read_table``, else any table with track ids."""
    from genrekit.datasets import read_table, track_id_from_filename

    p = Path(path)
    head = (pd.read_parquet(p).columns if p.suffix.lower() == ".parquet"
            else pd.read_csv(p, nrows=0, encoding="utf-8-sig").columns)
    if all(f in head for f in FEATURE_NAMES) and "filename" in head:
        return read_table(p)
    try:
        df = (pd.read_parquet(p) if p.suffix.lower() == ".parquet"
              else pd.read_csv(p, encoding="utf-8-sig", dtype={"filename": str, "label": str,
                                                                "track_id": str}))
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: cannot read the table: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if "track_id" not in df.columns:
        if "filename" not in df.columns:
            raise DataError(f"{p}: expected a 'track_id' or 'filename' column, got "
                            f"{', '.join(map(str, df.columns[:8]))} ...")
        parsed = [track_id_from_filename(str(f)) for f in df["filename"]]
        df["track_id"] = [t for t, _ in parsed]
        if "segment" not in df.columns:
            df["segment"] = [s for _, s in parsed]
    df["track_id"] = df["track_id"].astype(str)
    if "segment" not in df.columns:
        counts = df.groupby("track_id").cumcount()
        df["segment"] = counts if df["track_id"].duplicated().any() else -1
    df["segment"] = pd.to_numeric(df["segment"]).astype(np.int64)
    if "label" not in df.columns:
        raise DataError(f"{p}: expected a 'label' column (experiments need labelled rows)")
    df["label"] = df["label"].fillna("").astype(str).str.strip()
    return df.reset_index(drop=True)


def _select_columns(df: pd.DataFrame, inp: InputConfig) -> list[str]:
    from fnmatch import fnmatchcase

    if inp.columns is None:
        missing = [c for c in FEATURE_NAMES if c not in df.columns]
        if missing:
            raise ParameterError(
                f"input {inp.name}: {inp.features} lacks the 57 Kaggle features (e.g. "
                f"{missing[0]}); select its columns with columns = \"tag_*\" (a glob)"
            )
        return [*FEATURE_NAMES, *[c for c in df.columns if str(c).startswith("seg_")]]
    cols: list[str] = []
    for pattern in inp.columns:
        hit = [c for c in df.columns if c not in _META and fnmatchcase(str(c), pattern)]
        if not hit:
            raise ParameterError(
                f"input {inp.name}: columns glob {pattern!r} matches no column of "
                f"{inp.features} (columns: {', '.join(map(str, df.columns[:8]))} ...)"
            )
        cols += [c for c in hit if c not in cols]
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise DataError(f"input {inp.name}: column {bad[0]} of {inp.features} is not numeric")
    return cols


def _load_input(inp: InputConfig) -> _Input:
    from genrekit.datasets import add_segment_stats, read_table

    df = _read_any_table(inp.features)
    if inp.segment_stats is not None:
        df = add_segment_stats(df, read_table(inp.segment_stats))
    cols = _select_columns(df, inp)
    unlabelled = int((df["label"] == "").sum())
    if unlabelled:
        raise DataError(f"input {inp.name}: {unlabelled} rows of {inp.features} have no label; "
                        "experiments need labelled rows")
    level = "segment" if df["track_id"].duplicated().any() else "track"
    return _Input(inp, df, cols, level, n_tracks_read=int(df["track_id"].nunique()))


def _join_tracks(inputs: list[_Input]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Tracks present in every input (sorted), their labels, and notes on what was dropped."""
    sets = [set(i.table["track_id"]) for i in inputs]
    common = set.intersection(*sets)
    notes = []
    for i, s in zip(inputs, sets, strict=True):
        dropped = len(s - common)
        if dropped:
            notes.append(f"input {i.cfg.name}: {dropped} of its {len(s)} tracks are missing "
                         "from another input and were dropped")
    if not common:
        raise DataError("inputs share no track_id; expected tables of the same tracks "
                        f"({', '.join(i.cfg.name for i in inputs)})")
    ids = np.array(sorted(common), dtype=object)
    labels = None
    for i in inputs:
        i.table = i.table[i.table["track_id"].isin(common)].reset_index(drop=True)
        lab = i.table.groupby("track_id")["label"].agg(lambda s: s.iloc[0]).reindex(ids)
        mixed = i.table.groupby("track_id")["label"].nunique()
        if (mixed > 1).any():
            raise DataError(f"input {i.cfg.name}: track {mixed[mixed > 1].index[0]} has rows "
                            "with different labels")
        if labels is None:
            labels = lab.to_numpy()
        elif not np.array_equal(labels, lab.to_numpy()):
            t = ids[np.flatnonzero(labels != lab.to_numpy())[0]]
            raise DataError(f"input {i.cfg.name}: track {t} is labelled differently than in "
                            f"input {inputs[0].cfg.name}")
    assert labels is not None
    return ids, labels.astype(str), notes


def _fit_member(
    name: str,
    spec: Any,
    X: np.ndarray,
    y: np.ndarray,
    row_pos: np.ndarray,
    n_tracks: int,
    split: Any,
    folds: list[tuple[np.ndarray, np.ndarray]],
    labels: Sequence[str],
    *,
    seed: int,
    n_jobs: int,
    vote: str = "mean",
) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None, Any]:
    """Fit one model on one input's rows; score it per row and per track.

    Parameters
    ----------
    X : np.ndarray [shape=(n_rows, n_inputs)]
        The input's rows (several per track for segment/patch tables).
    y : np.ndarray [shape=(n_rows,)]
    row_pos : np.ndarray [shape=(n_rows,)]
        Position of each row's track in the joined track list.
    split : ProtocolSplit
        The protocol on the joined *tracks*; ``folds`` are its tuning folds (positions into
        ``split.train``), shared by every member so out-of-fold probabilities line up.

    Returns
    -------
    record : dict
    oof : np.ndarray [shape=(len(split.train), n_classes)]
        Out-of-fold track probabilities of the training tracks.
    test : np.ndarray [shape=(len(split.test), n_classes)] or None
        Track probabilities of the test tracks.
    final : estimator
    """
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    from genrekit.evaluate import cv_summary, track_vote
    from genrekit.protocols import PredefinedFolds

    lab = np.asarray(labels)
    segment_level = np.unique(row_pos).size < row_pos.size
    fold_of_track = np.full(n_tracks, -1)
    for k, (_, b) in enumerate(folds):
        fold_of_track[split.train[b]] = k
    is_train = np.zeros(n_tracks, dtype=bool)
    is_train[split.train] = True
    tr_rows = np.flatnonzero(is_train[row_pos])
    tr_fold = fold_of_track[row_pos[tr_rows]]
    row_folds = [(np.flatnonzero(tr_fold != k), np.flatnonzero(tr_fold == k))
                 for k in range(len(folds))]
    Xtr, ytr = X[tr_rows], y[tr_rows]
    est = spec.build(seed=seed, n_jobs=n_jobs, cv=PredefinedFolds(row_folds))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        if _is_search(est):
            final, params = est.best_estimator_, _short(est.best_params_)
        else:
            final, params = est, _changed_params(est)
        fit_seconds = time.perf_counter() - t0
        train_acc = float(np.mean(final.predict(Xtr).astype(str) == ytr))
        pos_in_train = np.full(n_tracks, -1)
        pos_in_train[split.train] = np.arange(split.train.size)
        oof = np.zeros((split.train.size, len(labels)))
        scores, track_scores = [], []
        for a, b in row_folds:
            m = clone(final).fit(Xtr[a], ytr[a])
            proba = _proba_in(m, Xtr[b], labels)
            if vote == "majority":
                proba = _one_hot(m.predict(Xtr[b]), lab)
            scores.append(float(np.mean(lab[proba.argmax(1)] == ytr[b])))
            ids, tp = track_vote(proba, row_pos[tr_rows][b].astype(str))
            where = pos_in_train[ids.astype(np.int64)]
            oof[where] = tp
            track_scores.append(float(np.mean(lab[tp.argmax(1)] == _y_track_of(y, row_pos, ids))))
    notes = sorted({str(w.message).splitlines()[0] for w in caught
                    if issubclass(w.category, ConvergenceWarning)})
    record: dict[str, Any] = {
        "description": spec.description,
        "input": "features",
        "params": params,
        "train_accuracy": train_acc,
        **cv_summary(scores if segment_level else track_scores),
        "cv_track_mean": float(np.mean(track_scores)),
        "cv_track_std": float(np.std(track_scores)),
        "test_accuracy": None,
        "test_track_accuracy": None,
        "fit_seconds": round(fit_seconds, 3),
        "skipped": None,
        "warnings": [f"ConvergenceWarning: {n}" for n in notes],
        "level": "segment" if segment_level else "track",
    }
    test = None
    if split.test is not None:
        is_test = np.zeros(n_tracks, dtype=bool)
        is_test[split.test] = True
        te_rows = np.flatnonzero(is_test[row_pos])
        proba = (_one_hot(final.predict(X[te_rows]), lab) if vote == "majority"
                 else _proba_in(final, X[te_rows], labels))
        ids, tp = track_vote(proba, row_pos[te_rows].astype(str))
        pos_in_test = np.full(n_tracks, -1)
        pos_in_test[split.test] = np.arange(split.test.size)
        test = np.zeros((split.test.size, len(labels)))
        test[pos_in_test[ids.astype(np.int64)]] = tp
        record["test_accuracy"] = float(np.mean(lab[proba.argmax(1)] == y[te_rows]))
        record["test_track_accuracy"] = float(np.mean(lab[tp.argmax(1)]
                                                      == _y_track_of(y, row_pos, ids)))
    return record, oof, test, final


def _one_hot(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``[n, n_classes]`` indicator of predicted labels (majority vote shares after averaging)."""
    return (np.asarray(pred).astype(str)[:, None] == labels[None, :]).astype(np.float64)


def _y_track_of(y: np.ndarray, row_pos: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Label of each track position in ``ids`` (strings of positions) from its rows."""
    first = pd.Series(y).groupby(row_pos).first()
    return first.reindex(ids.astype(np.int64)).to_numpy().astype(str)


def _fit_stacker(Z: np.ndarray, y: np.ndarray, track_ids: np.ndarray, *, C: float, seed: int) -> Any:
    """The stacking regression on out-of-fold member probabilities.

    ``track_ids`` names the tracks of ``Z``'s rows (only training tracks ever reach here; the
    tests check that by replacing this function).
    """
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=5000, random_state=seed).fit(Z, y)


def _track_frame(model: str, part: str, fold: np.ndarray, rows: np.ndarray,
                 proba: np.ndarray, labels: np.ndarray, ids: np.ndarray,
                 y: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({
        "model": model, "split": part, "fold": fold.astype(np.int64),
        "row": rows.astype(np.int64), "track_id": ids[rows].astype(str),
        "segment": np.full(rows.size, -1, dtype=np.int64), "label": y[rows],
        "pred": labels[np.argmax(proba, axis=1)],
    })
    for j, lab in enumerate(labels):
        df[f"prob_{lab}"] = proba[:, j]
    return df


def _run_fusion(cfg: ExperimentConfig, out: Path, scheduler: str | None) -> int:
    """``run_experiment`` for a multi-input config: members, then the fusion row."""
    from genrekit.datasets import read_artist_index, read_split_lists
    from genrekit.models import get_model
    from genrekit.protocols import describe_protocol, make_protocol

    assert cfg.fusion is not None
    fusion = cfg.fusion
    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    loaded = [_load_input(i) for i in cfg.inputs]
    ids, y, notes = _join_tracks(loaded)
    artists = read_artist_index(cfg.artists) if cfg.artists else None
    tracks = pd.DataFrame({"track_id": ids.astype(str), "segment": -1, "label": y})
    tracks["filename"] = tracks["track_id"]
    if artists is not None:
        tracks["artist"] = [artists.get(t) for t in tracks["track_id"]]
    splits = read_split_lists(cfg.splits, kind=cfg.split_kind) if cfg.splits else None
    split = make_protocol(cfg.protocol, tracks, seed=cfg.seed, n_splits=cfg.n_splits,
                          test_size=cfg.test_size, splits=splits, artists=artists,
                          tune_on=cfg.tune_on)
    labels = sorted(set(y))
    lab = np.asarray(labels)
    y_tr = y[split.train]
    folds = [(np.asarray(a), np.asarray(b)) for a, b in
             split.cv.split(np.zeros((split.train.size, 1)), y_tr, split.cv_groups)]
    fold_col = np.full(split.train.size, -1)
    for k, (_, b) in enumerate(folds):
        fold_col[b] = k
    print(f"{cfg.name}: {len(ids)} tracks in all {len(loaded)} inputs, protocol "
          f"{cfg.protocol}, fusion {fusion.rule}", file=sys.stderr)
    for note in notes:
        log(f"note: {note}")

    records: dict[str, dict[str, Any]] = {}
    frames: list[pd.DataFrame] = []
    fitted: dict[str, Any] = {}
    members: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    pos = {t: i for i, t in enumerate(ids)}
    jobs = -1 if scheduler else cfg.n_jobs

    def run_one(name: str, spec: Any, X: np.ndarray, yr: np.ndarray, row_pos: np.ndarray,
                input_name: str, vote: str = "mean") -> tuple[np.ndarray, np.ndarray | None] | None:
        log(f"{name} ...")
        try:
            rec, oof, test, est = _fit_member(name, spec, X, yr, row_pos, len(ids), split,
                                              folds, labels, seed=cfg.seed, n_jobs=jobs,
                                              vote=vote)
        except DependencyError as exc:
            records[name] = _skipped(spec, str(exc))
            return None
        except (ValueError, MemoryError, GenreKitError) as exc:
            records[name] = _skipped(spec, f"failed: {type(exc).__name__}: {exc}")
            records[name]["failed"] = True
            return None
        rec["input"] = input_name
        if vote != "mean":
            rec["params"] = {**rec["params"], "vote": vote}
        records[name] = rec
        fitted[name] = est
        frames.append(_track_frame(name, "cv", fold_col, split.train, oof, lab, ids, y))
        if test is not None and split.test is not None:
            frames.append(_track_frame(name, "test", np.full(split.test.size, -1), split.test,
                                       test, lab, ids, y))
        log(_one_line(name, rec))
        return oof, test

    with _backend(scheduler):
        for inp in loaded:
            X = inp.matrix()
            yr = inp.table["label"].astype(str).to_numpy()
            row_pos = np.array([pos[t] for t in inp.table["track_id"]], dtype=np.int64)
            for model in inp.cfg.models:
                name = f"{inp.cfg.name}:{model}"
                got = run_one(name, get_model(model), X, yr, row_pos, inp.cfg.name,
                              inp.cfg.vote)
                if got is not None:
                    members.append((name, *got))

        vectors = [inp.track_vectors(ids) for inp in loaded]
        early_X = np.hstack([v for v, _ in vectors])
        early_cols = [c for _, cs in vectors for c in cs]
        fparams: dict[str, Any] = {"rule": fusion.rule, "inputs": "+".join(i.cfg.name for i in loaded)}
        if fusion.rule == "concat":
            spec = get_model(fusion.model)
            got = run_one(fusion.name, spec, early_X, y, np.arange(len(ids)), "concat")
            if got is not None:
                rec = records[fusion.name]
                rec["params"] = {**fparams, "model": fusion.model, **rec["params"],
                                 "n_inputs": len(early_cols)}
                rec["description"] = FUSION_RULES["concat"] + f"; {spec.description}"
        elif not members:
            records[fusion.name] = {**_skipped(get_model("logreg"), "no member model ran"),
                                    "description": FUSION_RULES[fusion.rule]}
        else:
            rec, fr = _late_fusion(fusion, members, split, folds, y, ids, lab, fold_col,
                                   seed=cfg.seed)
            rec["params"] = {**fparams, **rec["params"]}
            records[fusion.name] = rec
            frames.extend(fr)
            log(_one_line(fusion.name, rec))

    if cfg.save_models:
        for name, est in fitted.items():
            records[name]["model_file"] = _save_model(est, out / "models", name.replace(":", "__"))
    eval_rows = split.train if split.test is None else split.test
    results = {
        "genrekit_version": __version__,
        "name": cfg.name,
        "protocol": cfg.protocol,
        "protocol_description": describe_protocol(cfg.protocol),
        "leaky": split.leaky,
        "level": "track",
        "features": " + ".join(
            f"{i.cfg.name}={i.cfg.features}" + (f" [{','.join(i.cfg.columns)}]" if i.cfg.columns else "")
            for i in loaded),
        "n_rows": int(len(ids)),
        "n_tracks": int(len(ids)),
        "n_train_rows": int(split.train.size),
        "n_test_rows": None if split.test is None else int(split.test.size),
        "labels": labels,
        "chance_accuracy": _chance(y[eval_rows]),
        "notes": [*notes, *split.notes],
        "inputs": {i.cfg.name: {"features": i.cfg.features, "level": i.level,
                                "n_rows": int(len(i.table)), "n_tracks_read": i.n_tracks_read,
                                "n_columns": len(i.columns),
                                "models": [f"{i.cfg.name}:{m}" for m in i.cfg.models]}
                   for i in loaded},
        "fusion": {"name": fusion.name, "rule": fusion.rule,
                   "description": FUSION_RULES[fusion.rule],
                   "members": [m for m, _, _ in members] if fusion.rule != "concat"
                   else [i.cfg.name for i in loaded]},
        "config": cfg.to_dict(),
        "models": records,
    }
    data = pd.concat([tracks, pd.DataFrame(early_X, columns=early_cols)], axis=1)
    keep = ["track_id", "segment", "label", "filename", *early_cols]
    if "artist" in data.columns:
        keep.append("artist")
    preds = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["model", "split", "fold", "row", "track_id", "segment", "label", "pred",
                 *[f"prob_{c}" for c in labels]])
    _write_parquet(out / "data.parquet", data[keep])
    _write_parquet(out / "predictions.parquet", preds)
    _write_json(out / "config.json", cfg.to_dict())
    _write_json(out / "results.json", results)
    md = results_markdown(results)
    _write_text(out / "results.md", md)
    print(md)
    print(f"results written to {out} (results.json, results.md, predictions.parquet, data.parquet)")
    failed = [n for n, r in records.items() if r.get("failed")]
    if failed:
        print(f"genrekit experiment: {len(failed)} model(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


def _late_fusion(
    fusion: FusionConfig,
    members: list[tuple[str, np.ndarray, np.ndarray | None]],
    split: Any,
    folds: list[tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    ids: np.ndarray,
    lab: np.ndarray,
    fold_col: np.ndarray,
    *,
    seed: int,
) -> tuple[dict[str, Any], list[pd.DataFrame]]:
    """Score the mean or stacking combination of members' track probabilities.

    CV: for ``mean``, the mean of the members' out-of-fold probabilities per fold; for
    ``stacking``, the regression fitted on the other folds' out-of-fold probabilities and
    applied to the fold. Test: members fitted on all training tracks; the stacker fitted on
    all training tracks' out-of-fold probabilities.
    """
    from genrekit.evaluate import cv_summary, evaluate

    y_tr = y[split.train]
    tr_ids = ids[split.train].astype(str)
    oof = [m[1] for m in members]
    t0 = time.perf_counter()
    if fusion.rule == "mean":
        cv_proba = np.mean(oof, axis=0)
        params: dict[str, Any] = {"members": "+".join(m[0] for m in members)}
        final = None
    else:
        Z = np.hstack(oof)
        cv_proba = np.zeros_like(oof[0])
        for a, b in folds:
            meta = _fit_stacker(Z[a], y_tr[a], tr_ids[a], C=fusion.C, seed=seed)
            cv_proba[b] = _proba_in(meta, Z[b], list(lab))
        final = _fit_stacker(Z, y_tr, tr_ids, C=fusion.C, seed=seed)
        params = {"members": "+".join(m[0] for m in members), "C": fusion.C,
                  "meta": "logistic regression on out-of-fold track probabilities"}
    scores = [float(np.mean(lab[cv_proba[b].argmax(1)] == y_tr[b])) for _, b in folds]
    train_proba = (np.mean(oof, axis=0) if final is None
                   else _proba_in(final, np.hstack(oof), list(lab)))
    rec: dict[str, Any] = {
        "description": FUSION_RULES[fusion.rule],
        "input": "fusion",
        "params": params,
        # fusion members are scored out-of-fold on the training tracks; this is that accuracy
        "train_accuracy": float(np.mean(lab[train_proba.argmax(1)] == y_tr)),
        **cv_summary(scores),
        "cv_track_mean": float(np.mean(scores)),
        "cv_track_std": float(np.std(scores)),
        "test_accuracy": None,
        "test_track_accuracy": None,
        "fit_seconds": 0.0,
        "skipped": None,
        "warnings": [],
        "level": "track",
    }
    frames = [_track_frame(fusion.name, "cv", fold_col, split.train, cv_proba, lab, ids, y)]
    tests = [m[2] for m in members]
    if split.test is not None and all(t is not None for t in tests):
        P = [t for t in tests if t is not None]
        proba = (np.mean(P, axis=0) if final is None
                 else _proba_in(final, np.hstack(P), list(lab)))
        r = evaluate(y[split.test], proba=proba, labels=list(lab))
        rec["test_accuracy"] = rec["test_track_accuracy"] = r["accuracy"]
        rec["per_class"] = r["per_class"]
        frames.append(_track_frame(fusion.name, "test", np.full(split.test.size, -1), split.test,
                                   proba, lab, ids, y))
    rec["fit_seconds"] = round(time.perf_counter() - t0, 3)
    return rec, frames
