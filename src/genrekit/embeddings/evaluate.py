"""musicnn taggrams on the fault-filtered GTZAN split, alone and fused with the Kaggle features.

Everything is fitted on the fault-filtered *train* tracks (the taggram table has no valid
tracks) and scored once on the 290 *test* tracks, at track level:

- ``taggram_svm_vote``: standardized RBF SVM on the 3 s patch taggrams (50 tags), majority
  vote of the patch predictions per track (the published protocol; 0.759);
- ``taggram_track_svm``: the same SVM on per-track taggram statistics (mean and standard
  deviation over patches, 100 values);
- ``kaggle_logreg``: standardized logistic regression on the 57 Kaggle features of the 30 s
  table;
- ``late_mean``: late fusion, the mean of the two models' class probabilities (the
  taggram model's are its vote shares);
- ``late_stacking``: late fusion by stacking: a logistic regression on both models' class
  probabilities, fitted on out-of-fold probabilities of the training tracks only (artist-
  grouped folds, so that no artist is on both sides of an inner split);
- ``early_logreg`` / ``early_svm``: early fusion, one standardized model on the track's
  taggram statistics joined with its 57 Kaggle features.

Run it as ``python -m genrekit.embeddings.evaluate`` (paths default to ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.exceptions import DataError

__all__ = ["fault_filtered_taggram_experiment", "main"]


def _default_data() -> Path:
    env = os.environ.get("GENREKIT_SHARED_DATA")
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


def _svm(random_state: int) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), SVC(random_state=random_state))


def _logreg() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))


def _vote_shares(pred: np.ndarray, tracks: np.ndarray, order: Sequence[str], classes: np.ndarray) -> np.ndarray:
    """Share of each class among a track's patch predictions, ``[len(order), n_classes]``."""
    pos = {t: i for i, t in enumerate(order)}
    col = {c: j for j, c in enumerate(classes)}
    out = np.zeros((len(order), len(classes)))
    for t, p in zip(tracks, pred, strict=True):
        out[pos[t], col[p]] += 1
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1)


def fault_filtered_taggram_experiment(
    *,
    taggrams: str | os.PathLike[str] | None = None,
    kaggle_30s: str | os.PathLike[str] | None = None,
    artist_index: str | os.PathLike[str] | None = None,
    n_splits: int = 5,
    random_state: int = 0,
) -> dict[str, Any]:
    """Track accuracy on the fault-filtered test tracks of taggram, Kaggle and fused models.

    Parameters
    ----------
    taggrams : path, optional
        ``msd_musicnn_taggrams_fault_filtered.csv`` (columns ``track_id, segment, split,
        label, tag_*``); default ``$GENREKIT_SHARED_DATA/musicnn/...`` or ``../shared/data``.
        A table written by ``genrekit extract --embeddings msd_musicnn`` works too, given a
        ``split`` column.
    kaggle_30s : path, optional
        The Kaggle ``features_30_sec.csv``.
    artist_index : path, optional
        Sturm's ``GTZANindex.txt``, for the artist-grouped inner folds of the stacking.
    n_splits : int
        Inner folds for the stacking's out-of-fold probabilities.
    random_state : int

    Returns
    -------
    dict
        ``{"n_train": 443, "n_test": 290, "chance_accuracy": ..., "test_track_accuracy":
        {model: accuracy}, "inner_cv_accuracy": {model: accuracy}}``; the inner CV numbers are
        artist-grouped out-of-fold accuracies on the training tracks.
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    from genrekit.datasets import artist_groups, read_artist_index

    data = _default_data()
    taggrams = Path(taggrams) if taggrams else data / "musicnn" / "msd_musicnn_taggrams_fault_filtered.csv"
    kaggle_30s = Path(kaggle_30s) if kaggle_30s else data / "kaggle" / "features_30_sec.csv"
    artist_index = Path(artist_index) if artist_index else data / "sturm" / "GTZANindex.txt"
    for p in (taggrams, kaggle_30s, artist_index):
        if not p.is_file():
            raise DataError(f"{p}: not found (needed by the fault-filtered taggram experiment)")

    tg = pd.read_csv(taggrams)
    tag_cols = [c for c in tg.columns if c.startswith("tag_")]
    missing = {"track_id", "split", "label"} - set(tg.columns)
    if missing or not tag_cols:
        raise DataError(f"{taggrams}: expected columns track_id, split, label and tag_*; missing {sorted(missing)}")
    kg = pd.read_csv(kaggle_30s)
    kg["track_id"] = kg["filename"].astype(str).str.replace(r"\.(wav|au)$", "", regex=True)
    kg = kg.drop_duplicates("track_id").set_index("track_id")
    feat_cols = [c for c in kg.columns if c not in ("filename", "length", "label")]

    labels = tg.groupby("track_id")["label"].first()
    train = sorted(set(tg.loc[tg["split"] == "train", "track_id"]) & set(kg.index))
    test = sorted(set(tg.loc[tg["split"] == "test", "track_id"]) & set(kg.index))
    classes = np.array(sorted(labels.unique()))
    y_train = labels.loc[train].to_numpy()
    y_test = labels.loc[test].to_numpy()

    g = tg.groupby("track_id")[tag_cols]
    stats = pd.concat([g.mean().add_suffix("_mean"), g.std(ddof=0).add_suffix("_std")], axis=1)
    early = stats.join(kg[feat_cols], how="inner")

    def patch_model(fit_ids: Sequence[str], score_ids: Sequence[str]) -> np.ndarray:
        a = tg[tg["track_id"].isin(fit_ids)]
        b = tg[tg["track_id"].isin(score_ids)]
        model = _svm(random_state).fit(a[tag_cols].to_numpy(), a["label"].to_numpy())
        return _vote_shares(model.predict(b[tag_cols].to_numpy()), b["track_id"].to_numpy(), score_ids, classes)

    def kaggle_model(fit_ids: Sequence[str], score_ids: Sequence[str]) -> np.ndarray:
        model = _logreg().fit(kg.loc[list(fit_ids), feat_cols].to_numpy(), labels.loc[list(fit_ids)].to_numpy())
        proba = model.predict_proba(kg.loc[list(score_ids), feat_cols].to_numpy())
        out = np.zeros((len(score_ids), len(classes)))
        out[:, np.searchsorted(classes, model.classes_)] = proba
        return out

    def table_model(make: Any, table: Any, fit_ids: Sequence[str], score_ids: Sequence[str]) -> np.ndarray:
        model = make().fit(table.loc[list(fit_ids)].to_numpy(), labels.loc[list(fit_ids)].to_numpy())
        return model.predict(table.loc[list(score_ids)].to_numpy())

    def acc(p: np.ndarray, y: np.ndarray) -> float:
        pred = classes[p.argmax(axis=1)] if p.ndim == 2 else p
        return float(np.mean(pred == y))

    p_tag = patch_model(train, test)
    p_kag = kaggle_model(train, test)

    # out-of-fold probabilities on the training tracks, artist-grouped folds
    groups = artist_groups(train, read_artist_index(artist_index))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    train_arr = np.asarray(train)
    oof_tag = np.zeros((len(train), len(classes)))
    oof_kag = np.zeros_like(oof_tag)
    oof_early: dict[str, np.ndarray] = {"early_logreg": np.empty(len(train), object),
                                        "early_svm": np.empty(len(train), object),
                                        "taggram_track_svm": np.empty(len(train), object)}  # fmt: skip
    for a, b in folds.split(train_arr, y_train, groups):
        fit_ids, score_ids = list(train_arr[a]), list(train_arr[b])
        oof_tag[b] = patch_model(fit_ids, score_ids)
        oof_kag[b] = kaggle_model(fit_ids, score_ids)
        oof_early["early_logreg"][b] = table_model(_logreg, early, fit_ids, score_ids)
        oof_early["early_svm"][b] = table_model(lambda: _svm(random_state), early, fit_ids, score_ids)
        oof_early["taggram_track_svm"][b] = table_model(lambda: _svm(random_state), stats, fit_ids, score_ids)
    meta = LogisticRegression(max_iter=5000).fit(np.hstack([oof_tag, oof_kag]), y_train)
    oof_meta = np.empty(len(train), object)
    for a, b in folds.split(train_arr, y_train, groups):  # the stacker's own inner estimate
        inner = LogisticRegression(max_iter=5000).fit(np.hstack([oof_tag[a], oof_kag[a]]), y_train[a])
        oof_meta[b] = inner.predict(np.hstack([oof_tag[b], oof_kag[b]]))

    test_acc = {
        "taggram_svm_vote": acc(p_tag, y_test),
        "taggram_track_svm": acc(table_model(lambda: _svm(random_state), stats, train, test), y_test),
        "kaggle_logreg": acc(p_kag, y_test),
        "late_mean": acc((p_tag + p_kag) / 2, y_test),
        "late_stacking": acc(meta.predict(np.hstack([p_tag, p_kag])), y_test),
        "early_logreg": acc(table_model(_logreg, early, train, test), y_test),
        "early_svm": acc(table_model(lambda: _svm(random_state), early, train, test), y_test),
    }
    inner_acc = {
        "taggram_svm_vote": acc(oof_tag, y_train),
        "kaggle_logreg": acc(oof_kag, y_train),
        "late_mean": acc((oof_tag + oof_kag) / 2, y_train),
        "late_stacking": acc(oof_meta, y_train),
        **{k: acc(v, y_train) for k, v in oof_early.items()},
    }
    counts = labels.loc[test].value_counts()
    return {
        "protocol": "fault-filtered: fit on train, score test tracks",
        "n_train": len(train),
        "n_test": len(test),
        "chance_accuracy": float(counts.max() / counts.sum()),
        "test_track_accuracy": test_acc,
        "inner_cv_accuracy": inner_acc,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the experiment's results as a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taggrams")
    parser.add_argument("--kaggle-30s")
    parser.add_argument("--artist-index")
    args = parser.parse_args(argv)
    res = fault_filtered_taggram_experiment(
        taggrams=args.taggrams, kaggle_30s=args.kaggle_30s, artist_index=args.artist_index
    )
    print(f"{res['protocol']}: {res['n_train']} train / {res['n_test']} test tracks; "
          f"chance {res['chance_accuracy']:.3f}\n")  # fmt: skip
    print("| model | test track accuracy | inner CV (train, artist-grouped) |")
    print("| --- | --- | --- |")
    for name, value in res["test_track_accuracy"].items():
        inner = res["inner_cv_accuracy"].get(name)
        print(f"| {name} | {value:.3f} | {'' if inner is None else f'{inner:.3f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
