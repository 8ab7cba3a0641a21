"""Fused models as bundles: a multi-input experiment config trained into one model folder.

``genrekit train CONFIG.toml --model fused -o MODEL_DIR`` fits every member of a fusion config
(``[[inputs]]`` + ``[fusion]``, see ``docs/fusion.md``) on the protocol's training tracks,
fits the fusion exactly as ``genrekit experiment`` does, and saves one bundle of kind
``"fused"``::

    MODEL_DIR/
        model.json                  # kind "fused"; kind_info: inputs, members, rule
        m0-model.sklearn.json       # member 0's model files, stored by its own bundle kind
        m1-model.skops              # member 1 ...
        fusion-model.sklearn.json   # the stacker (stacking) or early-fusion model (concat)

Every file is listed in ``model.json`` with its sha256 and checked before anything is read;
each member's files are then loaded by the member's own kind (never unpickled).

Prediction (:func:`genrekit.load_model` then ``predict_file``): the audio is loaded once and
cut into ~30 s windows (one per GTZAN excerpt); in each window every input's rows are
computed from audio (``kaggle57`` features of the whole window or of its 3 s segments,
``musicnn`` patches for ``tag_*`` / ``emb_*`` inputs), each member turns its input's rows
into track probabilities (mean, or majority vote of the rows' most probable genres), and the
rule fuses them (mean; the stacker on the members' concatenated probabilities; the concat
model on the per-track input vectors). The windows' fused probabilities are then averaged.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrekit.constants import FEATURE_NAMES, SAMPLE_RATE
from genrekit.exceptions import DataError, ModelError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from genrekit.bundle import GenreModel

__all__ = ["FusedEstimator", "train_fused", "FUSED_SUFFIXES"]

#: File endings a fused bundle may hold: those of its members' kinds.
FUSED_SUFFIXES = (".json", ".skops", ".txt", ".pt")
_EMBEDDING_MODELS = ("msd_musicnn", "mtt_musicnn")


@dataclass(frozen=True)
class _Part:
    """One fitted estimator of a fused model: a member, or the stacker / concat model."""

    name: str
    input: str            # input name ("" for the stacker, "concat" for early fusion)
    model_name: str
    estimator: Any
    feature_names: tuple[str, ...]
    vote: str = "mean"


class FusedEstimator:
    """A fitted fused model before saving: inputs, members, rule and the fusion estimator.

    Parameters
    ----------
    labels : sequence of str [shape=(n_labels,)]
        Genres in probability column order (sorted, as every member's ``classes_``).
    inputs : list of dict
        ``{"name", "level", "columns", "feature_settings"}`` for each input.
    members : list of _Part
        The late-fusion members (may be empty with ``rule = "concat"``).
    rule : {"mean", "stacking", "concat"}
    combiner : _Part or None
        The stacker (``stacking``) or the early-fusion model (``concat``).
    """

    def __init__(self, labels: Sequence[str], inputs: list[dict[str, Any]],
                 members: list[_Part], rule: str, combiner: _Part | None) -> None:
        self.classes_ = np.asarray(list(labels))
        self.inputs = inputs
        self.members = members
        self.rule = rule
        self.combiner = combiner

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - not row-based
        raise ModelError("a fused model predicts from audio (predict_file), not from rows")


# --------------------------------------------------------------------------- bundle kind


def _save_part(part: _Part, folder: Path, prefix: str, labels: Sequence[str]) -> dict[str, Any]:
    from genrekit import bundle

    est = getattr(part.estimator, "best_estimator_", part.estimator)
    classes = getattr(est, "classes_", None)
    if classes is None and getattr(est, "steps", None):
        classes = getattr(est.steps[-1][1], "classes_", None)
    if classes is not None and [str(c) for c in classes] != list(labels):
        raise ModelError(f"fused member {part.name}: classes {list(classes)} differ from the "
                         f"model's labels {list(labels)}")
    kind = next(k for k in sorted(bundle._KINDS.values(), key=lambda k: -k.priority)
                if k.name != "fused" and k.claims(est))
    with tempfile.TemporaryDirectory(prefix="genrekit-fused-") as tmp:
        info = dict(kind.save(est, Path(tmp), list(part.feature_names)))
        files = {}
        for f in sorted(Path(tmp).iterdir()):
            if f.suffix.lower() not in kind.suffixes:
                raise ModelError(f"bundle kind {kind.name!r} wrote an unexpected file {f.name}")
            stored = f"{prefix}-{f.name}"
            shutil.copyfile(f, folder / stored)
            files[f.name] = stored
    return {"name": part.name, "input": part.input, "model_name": part.model_name,
            "vote": part.vote, "feature_names": list(part.feature_names), "kind": kind.name,
            "kind_info": bundle._jsonable(info), "files": files}


def _save_fused(est: FusedEstimator, folder: Path, feature_names: Sequence[str]) -> dict[str, Any]:
    labels = [str(c) for c in est.classes_]
    members = [_save_part(p, folder, f"m{i}", labels) for i, p in enumerate(est.members)]
    combiner = (_save_part(est.combiner, folder, "fusion", labels)
                if est.combiner is not None else None)
    first = members[0] if members else combiner
    assert first is not None
    return {"file": next(iter(first["files"].values())), "rule": est.rule,
            "inputs": est.inputs, "members": members, "combiner": combiner}


def _load_part(folder: Path, entry: Mapping[str, Any]) -> Any:
    """Load one part with its own kind from a temporary folder holding its original names.

    The files were already checked against their sha256 by ``read_metadata``.
    """
    from genrekit import bundle

    kind_name = str(entry["kind"])
    bundle._ensure_plugin(kind_name)
    kind = bundle._KINDS.get(kind_name)
    if kind is None or kind_name == "fused":
        raise ModelError(f"{folder}: fused member {entry.get('name')!r} has unknown kind "
                         f"{kind_name!r}")
    files = dict(entry["files"])
    with tempfile.TemporaryDirectory(prefix="genrekit-fused-") as tmp:
        for original, stored in files.items():
            if Path(original).name != original or Path(stored).name != stored:
                raise ModelError(f"{folder}: invalid member file name {original!r} -> {stored!r}")
            if Path(original).suffix.lower() not in kind.suffixes:
                raise ModelError(f"{folder / stored}: file type not allowed for a "
                                 f"{kind_name!r} member")
            src = folder / stored
            if not src.is_file():
                raise ModelError(f"{src}: fused member file is missing")
            shutil.copyfile(src, Path(tmp) / original)
        info = dict(entry["kind_info"])
        info.setdefault("feature_names", list(entry["feature_names"]))
        return kind.load(Path(tmp), info)


class _FusedPredictor:
    """The loaded parts; ``predict_proba`` of the fused rows (already probabilities)."""

    def __init__(self, folder: Path, info: Mapping[str, Any]) -> None:
        self.folder = folder
        self.rule = str(info.get("rule"))
        if self.rule not in ("mean", "stacking", "concat"):
            raise ModelError(f"{folder}: unknown fusion rule {self.rule!r}")
        self.inputs = [dict(i) for i in info.get("inputs", [])]
        names = {i["name"] for i in self.inputs}
        self.members = [(dict(m), _load_part(folder, m)) for m in info.get("members", [])]
        comb = info.get("combiner")
        self.combiner = None if comb is None else (dict(comb), _load_part(folder, comb))
        for m, _ in self.members:
            if m["input"] not in names:
                raise ModelError(f"{folder}: member {m['name']} uses unknown input {m['input']!r}")
        if self.rule != "mean" and self.combiner is None:
            raise ModelError(f"{folder}: rule {self.rule!r} needs its fusion model")
        if self.rule == "mean" and not self.members:
            raise ModelError(f"{folder}: rule 'mean' needs at least one member")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        P = np.asarray(X, dtype=np.float64)
        return P / P.sum(axis=1, keepdims=True)


def _load_fused(folder: Path, info: Mapping[str, Any]) -> _FusedPredictor:
    return _FusedPredictor(folder, info)


def _register() -> None:
    from genrekit.bundle import register_kind
    from genrekit.predict import register_feature_set

    register_kind("fused", suffixes=FUSED_SUFFIXES,
                  claims=lambda e: isinstance(e, FusedEstimator), save=_save_fused,
                  load=_load_fused, priority=100)
    register_feature_set("fused", _fused_features)


# --------------------------------------------------------------------------- prediction


class _View:
    """What a featurizer reads of a model: path, level, feature names and settings."""

    def __init__(self, path: Path, level: str, feature_names: Sequence[str],
                 feature_settings: Mapping[str, Any]) -> None:
        self.path = path
        self.level = level
        self.feature_names = tuple(feature_names)
        self.feature_settings = dict(feature_settings)


def _input_rows(folder: Path, inp: Mapping[str, Any], w: np.ndarray) -> np.ndarray:
    """``[n_rows, n_columns]`` model inputs of one input for one window of audio."""
    from genrekit import predict

    view = _View(folder, str(inp["level"]), inp["columns"], inp["feature_settings"])
    fs = str(view.feature_settings.get("feature_set", "kaggle57"))
    featurizer = predict._FEATURE_SETS.get(fs)
    if featurizer is None:
        raise ModelError(f"{folder}: input {inp['name']}: unknown feature set {fs!r}")
    bounds = predict.window_bounds(len(w), view.level)
    return featurizer(view, w, bounds)  # type: ignore[arg-type]


def _vote(p: np.ndarray, vote: str) -> np.ndarray:
    if vote == "majority":
        one = np.zeros_like(p)
        one[np.arange(len(p)), p.argmax(axis=1)] = 1.0
        p = one
    return p.mean(axis=0)


def _fused_features(model: GenreModel, y: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    """Fused track probabilities ``[n_windows, n_labels]`` of each ~30 s window of ``y``."""
    pred = model._predictor
    if not isinstance(pred, _FusedPredictor):
        raise ModelError(f"{model.path}: feature set 'fused' needs a model of kind 'fused'")
    out = []
    for a, b in bounds:
        w = y[a:b]
        rows = {inp["name"]: _input_rows(model.path, inp, w) for inp in pred.inputs}
        probs = [_vote(est.predict_proba(rows[m["input"]]), str(m.get("vote", "mean")))
                 for m, est in pred.members]
        if pred.rule == "mean":
            p = np.mean(probs, axis=0)
        elif pred.rule == "stacking":
            assert pred.combiner is not None
            p = pred.combiner[1].predict_proba(np.hstack(probs)[None, :])[0]
        else:
            assert pred.combiner is not None
            vec = []
            for inp in pred.inputs:
                r = rows[inp["name"]]
                vec += [r[0]] if inp["level"] == "track" else [r.mean(axis=0), r.std(axis=0)]
            p = pred.combiner[1].predict_proba(np.concatenate(vec)[None, :])[0]
        out.append(np.asarray(p, dtype=np.float64))
    return np.asarray(out)


# --------------------------------------------------------------------------- training


def _input_settings(inp: Any) -> dict[str, Any]:
    """How ``predict`` recomputes an input's columns from audio."""
    from genrekit.experiment import _read_extract_settings

    cols = list(inp.columns)
    name = inp.cfg.name
    if inp.cfg.segment_stats is not None or any(str(c).startswith("seg_") for c in cols):
        raise ParameterError(f"input {name}: segment_stats (seg_* columns) cannot be "
                             "recomputed by a fused bundle yet; train without it")
    if all(str(c).startswith(("tag_", "emb_")) for c in cols):
        src = Path(inp.cfg.features).name
        model = next((m for m in _EMBEDDING_MODELS if m in src), None)
        if model is None:
            raise DataError(f"input {name}: {inp.cfg.features} is an embeddings table but its "
                            f"name names no embedding model (one of {', '.join(_EMBEDDING_MODELS)})")
        return {"feature_set": "musicnn", "embedding_model": model, "sample_rate": SAMPLE_RATE,
                "patch_frames": 187, "resampler": "soxr"}
    if all(c in FEATURE_NAMES for c in cols):
        settings = _read_extract_settings(Path(inp.cfg.features).parent)
        settings.setdefault("feature_set", "kaggle57")
        return {k: v for k, v in settings.items() if k != "columns"}
    raise ParameterError(f"input {name}: columns must be Kaggle features or tag_*/emb_* "
                         f"columns for a fused bundle, got {cols[:4]} ...")


def train_fused(config: str | Path, *, out_dir: str | Path) -> int:
    """Fit a fusion config's members and fusion on its training tracks; save one bundle.

    Parameters
    ----------
    config : str or Path
        A multi-input experiment config (``[[inputs]]`` + ``[fusion]``).
    out_dir : str or Path
        The bundle folder (must not exist or be empty).

    Returns
    -------
    int
        0 on success.

    Notes
    -----
    Members are fitted on the protocol's training tracks (``split.train``: for
    ``fault-filtered`` the train list, plus valid with ``tune_on = "train+valid"``; for
    ``seed`` the non-test tracks; for ``track-cv`` / ``artist-cv`` every track), exactly as
    ``genrekit experiment`` fits them for its test; the stacker is fitted on those tracks'
    out-of-fold probabilities; the concat model on their per-track vectors.
    """
    from genrekit.bundle import save_bundle
    from genrekit.datasets import read_artist_index, read_split_lists
    from genrekit.experiment import (
        _fit_member,
        _fit_stacker,
        _join_tracks,
        _late_fusion,
        _load_input,
        load_config,
        table_fingerprint,
    )
    from genrekit.models import get_model
    from genrekit.protocols import make_protocol

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ParameterError(f"{out}: already exists and is not empty; choose another -o")
    cfg = load_config(config)
    if cfg.fusion is None or not cfg.inputs:
        raise ParameterError(f"{config}: not a fusion config (expected [[inputs]] and [fusion])")
    fusion = cfg.fusion
    loaded = [_load_input(i) for i in cfg.inputs]
    inputs = [{"name": i.cfg.name, "level": i.level, "columns": list(i.columns),
               "feature_settings": _input_settings(i)} for i in loaded]
    ids, y, notes = _join_tracks(loaded)
    artists = read_artist_index(cfg.artists) if cfg.artists else None
    tracks = _tracks_frame(ids, y, artists)
    splits = read_split_lists(cfg.splits, kind=cfg.split_kind) if cfg.splits else None
    split = make_protocol(cfg.protocol, tracks, seed=cfg.seed, n_splits=cfg.n_splits,
                          test_size=cfg.test_size, splits=splits, artists=artists,
                          tune_on=cfg.tune_on)
    labels = sorted(set(y))
    lab = np.asarray(labels)
    folds = [(np.asarray(a), np.asarray(b)) for a, b in
             split.cv.split(np.zeros((split.train.size, 1)), y[split.train], split.cv_groups)]
    fold_col = np.full(split.train.size, -1)
    for k, (_, b) in enumerate(folds):
        fold_col[b] = k
    pos = {t: i for i, t in enumerate(ids)}
    parts: list[_Part] = []
    oofs: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    metrics: dict[str, Any] = {"n_tracks": int(len(ids)), "n_train_tracks": int(split.train.size),
                               "members": {}}
    for inp in loaded:
        X = inp.matrix()
        yr = inp.table["label"].astype(str).to_numpy()
        row_pos = np.array([pos[t] for t in inp.table["track_id"]], dtype=np.int64)
        for model in inp.cfg.models:
            name = f"{inp.cfg.name}:{model}"
            rec, oof, test, est = _fit_member(name, get_model(model), X, yr, row_pos, len(ids),
                                              split, folds, labels, seed=cfg.seed, n_jobs=1,
                                              vote=inp.cfg.vote)
            parts.append(_Part(name, inp.cfg.name, model, est, tuple(inp.columns), inp.cfg.vote))
            oofs.append((name, oof, test))
            metrics["members"][name] = {k: rec.get(k) for k in
                                        ("cv_track_mean", "test_track_accuracy")}
            print(f"{name}: fitted on {split.train.size} tracks", flush=True)
    combiner = None
    if fusion.rule == "concat":
        vectors = [inp.track_vectors(ids) for inp in loaded]
        early_X = np.hstack([v for v, _ in vectors])
        cols = [c for _, cs in vectors for c in cs]
        rec, _, _, est = _fit_member(fusion.name, get_model(fusion.model), early_X, y,
                                     np.arange(len(ids)), len(ids), split, folds, labels,
                                     seed=cfg.seed, n_jobs=1)
        combiner = _Part(fusion.name, "concat", fusion.model, est, tuple(cols))
    else:
        if not parts:
            raise ParameterError(f"{config}: rule {fusion.rule!r} needs at least one member model")
        rec, _ = _late_fusion(fusion, oofs, split, folds, y, ids, lab, fold_col, seed=cfg.seed)
        if fusion.rule == "stacking":
            Z = np.hstack([o for _, o, _ in oofs])
            est = _fit_stacker(Z, y[split.train], ids[split.train].astype(str), C=fusion.C,
                               seed=cfg.seed)
            combiner = _Part(fusion.name, "", "stacking_logreg", est,
                             tuple(f"{m}:prob_{c}" for m, _, _ in oofs for c in labels))
    metrics.update({k: rec.get(k) for k in ("cv_track_mean", "cv_track_std",
                                            "test_track_accuracy")})
    fused = FusedEstimator(labels, inputs, parts, fusion.rule, combiner)
    fingerprint = {i.cfg.name: table_fingerprint(i.table, columns=i.columns) for i in loaded}
    path = save_bundle(
        out, estimator=fused, model_name=f"fused:{fusion.rule}", labels=labels,
        feature_names=[f"prob_{c}" for c in labels], level="track",
        feature_settings={"feature_set": "fused", "sample_rate": SAMPLE_RATE,
                          "config": str(Path(config).resolve()), "tune_on": cfg.tune_on},
        protocol=cfg.protocol, metrics={**metrics, "notes": [*notes, *split.notes]},
        training_fingerprint=fingerprint,
    )
    print(f"fused model ({fusion.rule} of {len(parts)} member(s)) trained on "
          f"{split.train.size} tracks and saved to {path}")
    return 0


def _tracks_frame(ids: np.ndarray, y: np.ndarray,
                  artists: Mapping[str, str | None] | None) -> Any:
    import pandas as pd

    tracks = pd.DataFrame({"track_id": ids.astype(str), "segment": -1, "label": y})
    tracks["filename"] = tracks["track_id"]
    if artists is not None:
        tracks["artist"] = [artists.get(t) for t in tracks["track_id"]]
    return tracks


_register()
