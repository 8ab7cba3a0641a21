"""The HTML report and its diagnostics, built from a small real experiment on the 3 s slice.

The results folder is made by ``genrekit.experiment.run_experiment`` when that exists, and
otherwise by :func:`build_results`, which follows ``docs/formats.md`` ("Experiment results"):
real sklearn and LightGBM models fitted with track-grouped CV (or the leaky ``seed`` split)
on the real Kaggle 3 s rows of tracks 00075-00099.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path

from genrekit._version import __version__
from genrekit.constants import FEATURE_NAMES
from genrekit.exceptions import DataError, ModelError, ParameterError

SLICE = ("kaggle", "features_3_sec_tracks00075-00099.csv")
CHROMIUM = "/usr/bin/chromium"


# --------------------------------------------------------------------------- results fixture


def build_results(out: Path, *, protocol: str = "track-cv", tracks_per_genre: int = 10,
                  models: tuple[str, ...] = ("logreg", "decision_tree", "knn", "lightgbm",
                                              "pca_logreg")) -> Path:
    """Write a genuine small experiment results folder (docs/formats.md) from the 3 s slice."""
    import lightgbm
    import skops.io as sio
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    table = pd.read_csv(shared_path(*SLICE))
    table["track_id"] = table["filename"].str.rsplit(".", n=2).str[0]
    table["segment"] = table["filename"].str.rsplit(".", n=2).str[1].astype(int)
    keep = sorted(table["track_id"].unique())
    keep = [t for t in keep if int(t.split(".")[1]) < 75 + tracks_per_genre]
    table = table[table["track_id"].isin(keep)].sort_values(["track_id", "segment"])
    dup_mask = table.duplicated(subset=list(FEATURE_NAMES), keep="first")
    first_of = table[~dup_mask].set_index(list(FEATURE_NAMES))["filename"]
    pairs = [[str(first_of.loc[tuple(r[list(FEATURE_NAMES)])]), str(r["filename"])]
             for _, r in table[dup_mask].iterrows()]
    data = table[~dup_mask][["track_id", "segment", "label", "filename", *FEATURE_NAMES]]
    data = data.reset_index(drop=True)
    labels = sorted(data["label"].unique())
    X, y, groups = data[list(FEATURE_NAMES)], data["label"].to_numpy(), data["track_id"].to_numpy()

    zoo: dict[str, Any] = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "decision_tree": DecisionTreeClassifier(max_depth=8, random_state=1),
        "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=3)),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=40, num_leaves=15, learning_rate=0.1,
                                            random_state=1, verbose=-1, n_jobs=1),
        "pca_logreg": make_pipeline(StandardScaler(), PCA(n_components=0.95),
                                    LogisticRegression(max_iter=500)),
    }
    (out / "models").mkdir(parents=True)
    if protocol == "seed":
        train_idx, test_idx = train_test_split(np.arange(len(data)), test_size=0.2,
                                               stratify=y, random_state=1)
        cv = StratifiedKFold(5, shuffle=True, random_state=1)
        cv_splits = list(cv.split(train_idx, y[train_idx]))
    else:
        train_idx, test_idx = np.arange(len(data)), np.array([], dtype=int)
        cv = StratifiedGroupKFold(5, shuffle=True, random_state=1)
        cv_splits = list(cv.split(train_idx, y, groups))

    def rows_frame(name: str, split: str, fold: int, idx: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame({"model": name, "split": split, "fold": fold, "row": idx,
                              "track_id": groups[idx], "segment": data["segment"].to_numpy()[idx],
                              "label": y[idx], "pred": np.asarray(labels)[proba.argmax(axis=1)]})
        for k, g in enumerate(labels):
            frame[f"prob_{g}"] = proba[:, k]
        return frame

    def track_acc(frame: pd.DataFrame) -> float:
        m = frame.groupby("track_id")[[f"prob_{g}" for g in labels]].mean()
        truth = frame.groupby("track_id")["label"].first()
        return float((np.asarray(labels)[m.to_numpy().argmax(axis=1)] == truth.to_numpy()).mean())

    from sklearn.base import clone

    preds, entries = [], {}
    for name in models:
        est = zoo[name]
        scores, track_scores = [], []
        for fold, (tr, te) in enumerate(cv_splits):
            tr, te = train_idx[tr], train_idx[te]
            proba = clone(est).fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[te])
            frame = rows_frame(name, "cv", fold, te, proba)
            preds.append(frame)
            scores.append(float((frame["pred"] == frame["label"]).mean()))
            track_scores.append(track_acc(frame))
        fitted = clone(est).fit(X.iloc[train_idx], y[train_idx])
        entry = {"description": name, "params": {k: repr(v) for k, v in est.get_params(deep=False).items()
                                                 if k in ("max_depth", "n_neighbors", "n_estimators")},
                 "train_accuracy": float((fitted.predict(X.iloc[train_idx]) == y[train_idx]).mean()),
                 "cv_mean": float(np.mean(scores)), "cv_std": float(np.std(scores)),
                 "cv_scores": scores, "cv_track_mean": float(np.mean(track_scores)),
                 "test_accuracy": None, "test_track_accuracy": None, "fit_seconds": 0.1,
                 "skipped": None}
        if len(test_idx):
            frame = rows_frame(name, "test", -1, test_idx, fitted.predict_proba(X.iloc[test_idx]))
            preds.append(frame)
            entry["test_accuracy"] = float((frame["pred"] == frame["label"]).mean())
            entry["test_track_accuracy"] = track_acc(frame)
        entries[name] = entry
        if name == "lightgbm":
            fitted.booster_.save_model(str(out / "models" / "lightgbm.txt"))
        else:
            sio.dump(fitted, out / "models" / f"{name}.skops")
    entries["svm_rbf"] = {"description": "skipped on purpose", "params": {}, "skipped": "not requested"}
    config = {"features": str(shared_path(*SLICE)), "protocol": protocol, "models": list(models),
              "drop_duplicates": True, "seed": 1}
    results = {"genrekit_version": __version__, "protocol": protocol, "leaky": protocol == "seed",
               "level": "segment", "features": config["features"], "n_rows": len(data),
               "n_tracks": int(data["track_id"].nunique()), "labels": labels,
               "chance_accuracy": float(pd.Series(y).value_counts(normalize=True).max()),
               "config": config, "models": entries}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "results.md").write_text(f"protocol {protocol}\n")
    cross = [p for p in pairs if p[0].split(".")[0] != p[1].split(".")[0]]
    (out / "duplicates.json").write_text(json.dumps(
        {"n_rows": len(table), "n_duplicate_rows": len(pairs), "pairs": pairs,
         "cross_genre_pairs": cross, "dropped": True}))
    data.to_parquet(out / "data.parquet")
    pd.concat(preds, ignore_index=True).to_parquet(out / "predictions.parquet")
    return out
