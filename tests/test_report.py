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
    # threadpoolctl limits only libraries already loaded
    import lightgbm  # noqa: F401
    import sklearn.cluster  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.neighbors  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # small fits: threads only spin on a busy machine
        return _build_results(out, protocol=protocol, tracks_per_genre=tracks_per_genre,
                              models=models)


def _build_results(out: Path, *, protocol: str, tracks_per_genre: int,
                   models: tuple[str, ...]) -> Path:
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


# --------------------------------------------------------------------------- fixtures


def _run_experiment(base: Path, name: str, protocol: str, models: list[str]) -> Path:
    """A results folder from genrekit's own experiment runner, on 6 tracks per genre."""
    from genrekit.experiment import run_experiment

    table = pd.read_csv(shared_path(*SLICE))
    number = table["filename"].str.split(".").str[1].astype(int)
    subset = base / "features_3_sec.csv"
    if not subset.exists():
        table[number < 81].to_csv(subset, index=False)
    config = base / f"{name}.toml"
    config.write_text(f'name = "{name}"\nfeatures = "{subset.name}"\nprotocol = "{protocol}"\n'
                      f"seed = 1\ndrop_duplicates = true\nmodels = {json.dumps(models)}\n")
    assert run_experiment(config, out_dir=base / name) == 0
    return base / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A track-cv run (logreg, tree, kNN, LightGBM) and a leaky seed run of the same rows,
    made by ``genrekit experiment`` (or by :func:`build_results` where it is absent)."""
    base = tmp_path_factory.mktemp("runs")
    try:
        import genrekit.experiment  # noqa: F401
    except ImportError:
        return {"track-cv": build_results(base / "track-cv", tracks_per_genre=6,
                                          models=("logreg", "decision_tree", "knn", "lightgbm")),
                "seed": build_results(base / "seed", protocol="seed", tracks_per_genre=6,
                                      models=("logreg", "knn"))}
    return {"track-cv": _run_experiment(base, "track-cv", "track-cv",
                                        ["logreg", "decision_tree", "knn", "lightgbm"]),
            "seed": _run_experiment(base, "seed", "seed", ["logreg", "knn"])}


@pytest.fixture(scope="module")
def report(runs: dict[str, Path]) -> Path:
    from genrekit.report import build_report

    return build_report(runs["track-cv"], compare=[runs["seed"]], progress=False)


def _figures(report: Path) -> list[dict[str, Any]]:
    return json.loads((report.parent / "report_figures" / "figures.json").read_text())


# --------------------------------------------------------------------------- the report


EXPECTED_FIGURES = {
    "class_balance", "duplicates", "feature_pairs", "correlation", "pca_projection",
    "kmeans_elbow", "accuracy", "protocol_comparison", "confusion", "confusion_tracks",
    "class_report", "roc_pr",
    "lightgbm_gain", "permutation_importance", "logreg_coefficients", "validation_curves",
    "prediction_plane",
}


def test_every_figure_is_an_image_of_the_expected_size(report: Path) -> None:
    from xml.etree import ElementTree

    from PIL import Image

    from genrekit.report import DPI

    manifest = _figures(report)
    assert {f["name"] for f in manifest} == EXPECTED_FIGURES
    page = report.read_text(encoding="utf-8")
    folder = report.parent / "report_figures"
    for fig in manifest:
        png = (folder / fig["png"]).read_bytes()
        with Image.open(io.BytesIO(png)) as im:
            im.load()
            assert im.format == "PNG"
            assert im.size == (fig["width"], fig["height"])
            assert im.size[0] >= 5 * DPI and im.size[1] >= 2 * DPI
            pixels = np.asarray(im.convert("L"), dtype=float)
            assert pixels.std() > 5, f"{fig['name']} looks blank"
        # the same PNG is embedded in the page
        assert base64.b64encode(png).decode() in page
        svg = ElementTree.parse(folder / fig["svg"]).getroot()
        assert svg.tag.endswith("svg")


def test_html_has_no_external_references(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"""\bsrc\s*=\s*(?!["']?data:)""", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"<script\b", page, re.I)
    assert not re.search(r"""url\(\s*["']?(https?:|//)""", page, re.I)
    assert not re.search(r"@import", page, re.I)
    assert not re.search(r"""(href|src)\s*=\s*["']?(https?:|//|file:)""", page, re.I)
    assert page.count('src="data:image/png;base64,') == len(EXPECTED_FIGURES)
    assert "@media print" in page


def test_report_states_protocol_results_config_and_version(report: Path, runs: dict[str, Path]) -> None:
    page = report.read_text(encoding="utf-8")
    results = json.loads((runs["track-cv"] / "results.json").read_text())
    assert f"genrekit {__version__}" in page
    assert "protocol <b>track-cv</b>" in page and "grouped by track" in page
    for name, m in results["models"].items():
        if not m.get("skipped"):
            assert f"{m['cv_mean']:.3f}" in page, name
    for name, m in results["models"].items():
        if m.get("skipped"):
            assert f"skipped: {m['skipped']}" in page, name
    assert f"chance baseline {results['chance_accuracy']:.3f}" in page
    assert "&quot;drop_duplicates&quot;: true" in page  # the config, escaped in <pre>
    assert "seed (leaky)" in page  # the compared run
    assert page.count('<p class="caption">') >= len(EXPECTED_FIGURES)
    # misclassification tables
    assert "Most confused genre pairs" in page and "Tracks wrong under every model" in page
    wrong = pd.read_csv(report.parent / "report_figures" / "tracks_wrong_under_every_model.csv")
    assert {"track_id", "label", "logreg", "lightgbm"} <= set(wrong.columns)
    assert (wrong["logreg"] != wrong["label"]).all()


def test_refuses_to_overwrite(report: Path, runs: dict[str, Path]) -> None:
    from genrekit.cli import main
    from genrekit.report import build_report

    before = report.stat().st_mtime_ns
    with pytest.raises(ParameterError, match="already exists; refusing to overwrite"):
        build_report(runs["track-cv"])
    assert main(["report", str(runs["track-cv"]), "--compare", str(runs["seed"])]) == 2
    assert report.stat().st_mtime_ns == before
    with pytest.raises(ParameterError, match=r"expected a \.html file name"):
        build_report(runs["track-cv"], output=report.with_suffix(".pdf"))


def test_missing_results_folder_is_a_clear_error(tmp_path: Path) -> None:
    from genrekit.report import build_report

    with pytest.raises(DataError, match="expected an experiment results folder"):
        build_report(tmp_path / "nope")
    with pytest.raises(DataError, match="expected results.json"):
        build_report(tmp_path)


def _chromium_or_skip() -> str:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (Debian package 'chromium'; "
                    ".ci/run installs it when apt-get is available)")
    return CHROMIUM


_CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--hide-scrollbars", "--mute-audio")

# Appended to a copy of the report only (the report itself carries no script): records
# page errors (script errors and resources that fail to load, images included), then writes
# a marker with the image count and the page height once everything has loaded.
_PROBE = """<script>(function(){var errs=[];
window.addEventListener('error',function(e){errs.push(String(e.message||(e.target&&e.target.tagName)))},true);
window.addEventListener('load',function(){var im=document.images,bad=0;
for(var i=0;i<im.length;i++){if(!im[i].complete||im[i].naturalWidth===0)bad++;}
var d=document.createElement('div');d.id='probe';
d.textContent='PROBE'+' imgs='+im.length+' bad='+bad+' errors='+errs.length+' height='+document.documentElement.scrollHeight;
document.body.appendChild(d);});})();</script>"""


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium_or_skip(), *_CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    _chromium_or_skip()
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
                     encoding="utf-8")
    done = _chromium(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
                      "--dump-dom", probe.as_uri()], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [ln for ln in done.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == [], console
    marker = re.search(r"PROBE imgs=(\d+) bad=(\d+) errors=(\d+) height=(\d+)", done.stdout)
    assert marker, done.stdout[-500:]
    imgs, bad, errors, height = map(int, marker.groups())
    assert (imgs, bad, errors) == (len(EXPECTED_FIGURES), 0, 0)
    assert height > 3000

    shot = tmp_path / "page.png"
    done = _chromium([f"--screenshot={shot}", f"--window-size=1280,{min(height, 16000)}",
                      report.as_uri()], tmp_path)
    assert shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1280, min(height, 16000))
        gray = np.asarray(im.convert("L"), dtype=float)
    assert gray.std() > 20  # text and figures, not a blank page
    assert (gray < 128).mean() > 0.01  # some ink on the page
    rows = gray.std(axis=1) > 1
    assert rows.mean() > 0.5  # content down the whole page, not only at the top


# --------------------------------------------------------------------------- diagnostics


def test_diagnostics_values_and_cache(report: Path, runs: dict[str, Path]) -> None:
    import lightgbm

    from genrekit.diagnostics import DIAGNOSTICS_FILE, compute_diagnostics, load_fitted_model

    folder = runs["track-cv"]
    diag = json.loads((folder / DIAGNOSTICS_FILE).read_text())
    curves = diag["validation_curves"]
    assert curves["decision_tree"]["values"] == list(range(1, 21))
    assert curves["knn"]["values"] == list(range(1, 31))
    tree_train = np.array(curves["decision_tree"]["train"])
    assert np.all(np.diff(tree_train) >= -1e-9) and tree_train[-1] > 0.99  # deeper fits train better
    assert curves["knn"]["train"][0] == pytest.approx(1.0)  # 1-NN memorises its training rows
    assert 0.3 < max(curves["knn"]["cv"]) < 0.95

    booster = lightgbm.Booster(model_file=str(folder / "models" / "lightgbm.txt"))
    gain = booster.feature_importance(importance_type="gain")
    assert diag["feature_importance"] == pytest.approx(dict(zip(FEATURE_NAMES, gain, strict=True)))

    logreg = load_fitted_model(folder, "logreg")
    coef = np.abs(logreg[-1].coef_).mean(axis=0)
    expected = dict(sorted(zip(FEATURE_NAMES, coef, strict=True), key=lambda kv: -kv[1]))
    assert list(diag["logreg_coefficients"]) == list(expected)
    assert list(diag["logreg_coefficients"].values()) == pytest.approx(list(expected.values()))

    assert "pca_explained_variance" not in diag  # no model of this run uses PCA
    perm = diag["permutation_importance"]["lightgbm"]
    assert perm["held_out"] == "refit" and set(perm["importance"]) == set(FEATURE_NAMES)
    assert diag["kmeans_elbow"]["k"] == list(range(1, 31))
    assert diag["kmeans_elbow"]["silhouette"][0] is None
    assert np.all(np.diff(diag["kmeans_elbow"]["inertia"][:5]) < 0)

    # cached: reused while the results are unchanged
    mtime = (folder / DIAGNOSTICS_FILE).stat().st_mtime_ns
    assert compute_diagnostics(folder) == diag
    assert (folder / DIAGNOSTICS_FILE).stat().st_mtime_ns == mtime


def test_seed_run_permutation_uses_its_test_rows(runs: dict[str, Path]) -> None:
    from genrekit.diagnostics import DiagnosticsSettings, compute_diagnostics

    small = DiagnosticsSettings(max_depths=(2, 4), neighbors=(1, 5), kmeans_ks=(1, 2, 10),
                                n_repeats=2, permutation_rows=150)
    diag = compute_diagnostics(runs["seed"], settings=small)
    perm = diag["permutation_importance"]
    assert set(perm) in ({"logreg"}, {"knn"})  # the best model; no LightGBM in this run
    for entry in perm.values():
        n_test = json.loads((runs["seed"] / "results.json").read_text()).get("n_test_rows") or 150
        assert entry["held_out"] == "test" and entry["n_rows"] == min(150, n_test)
    assert diag["notes"]["feature_importance"] == "no LightGBM model in this run"
    assert diag["notes"]["pca_explained_variance"] == "no model in this run uses PCA"


def test_untrusted_model_types_are_refused(tmp_path: Path) -> None:
    import skops.io as sio

    from genrekit.diagnostics import load_fitted_model

    (tmp_path / "models").mkdir()
    sio.dump({"f": pd.Timestamp("2020-01-01")}, tmp_path / "models" / "odd.skops")
    with pytest.raises(ModelError, match="refusing to load types outside the trusted list"):
        load_fitted_model(tmp_path, "odd")
    with pytest.raises(ModelError, match=r"expected none\.skops or none\.txt"):
        load_fitted_model(tmp_path, "none")


def test_figures_that_do_not_apply_are_omitted_with_a_note(tmp_path: Path) -> None:
    from genrekit.diagnostics import DiagnosticsSettings, load_fitted_model
    from genrekit.report import build_report

    folder = build_results(tmp_path / "run", tracks_per_genre=4,
                           models=("decision_tree", "knn", "pca_logreg"))
    small = DiagnosticsSettings(max_depths=(1, 2, 3), neighbors=(1, 3), kmeans_ks=(1, 2, 3),
                                n_repeats=1, permutation_rows=100)
    out = build_report(folder, output=tmp_path / "out" / "r.html", settings=small, progress=False)
    page = out.read_text(encoding="utf-8")
    names = {f["name"] for f in json.loads((tmp_path / "out" / "r_figures" / "figures.json").read_text())}
    assert {"lightgbm_gain", "logreg_coefficients", "protocol_comparison"}.isdisjoint(names)
    assert "LightGBM gain importance omitted: no LightGBM model in this run" in page
    # pca_logreg's coefficients act on principal components, not on features
    assert "pca_logreg: its coefficients act on" in page
    assert {"confusion", "validation_curves", "permutation_importance",
            "pca_variance_pca_logreg"} <= names
    diag = json.loads((folder / "diagnostics.json").read_text())
    pca = load_fitted_model(folder, "pca_logreg")[1]
    assert diag["pca_explained_variance"] == {
        "pca_logreg": pytest.approx(list(pca.explained_variance_ratio_))}


# --------------------------------------------------------------------------- pure helpers


def _toy_run(tmp_path: Path) -> Any:
    from genrekit.diagnostics import RunResults

    labels = ["blues", "rock"]
    rows = []
    truth = {"blues.1": "blues", "blues.2": "blues", "rock.1": "rock"}
    # (model, track, segment probabilities of "blues")
    for model, p in (("a", {"blues.1": 0.9, "blues.2": 0.2, "rock.1": 0.6}),
                     ("b", {"blues.1": 0.4, "blues.2": 0.3, "rock.1": 0.1})):
        for track, pb in p.items():
            for seg in range(2):
                rows.append({"model": model, "split": "cv", "fold": 0, "row": len(rows) % 6,
                             "track_id": track, "segment": seg, "label": truth[track],
                             "pred": "blues" if pb > 0.5 else "rock",
                             "prob_blues": pb, "prob_rock": 1 - pb})
    results = {"protocol": "track-cv", "labels": labels, "models": {
        "a": {"cv_mean": 0.5, "cv_track_mean": 0.6}, "b": {"cv_mean": 0.7, "cv_track_mean": 0.4},
        "c": {"skipped": "needs audio"}}}
    return RunResults(path=tmp_path, results=results, predictions=pd.DataFrame(rows))


def test_best_model_is_chosen_on_cv_track_accuracy(tmp_path: Path) -> None:
    from genrekit.diagnostics import best_model, headline_metric

    run = _toy_run(tmp_path)
    assert best_model(run) == "a"
    assert headline_metric(run) == ("cv_track_mean", "CV track accuracy")
    assert run.fitted_names == ["a", "b"]


def test_track_votes_confused_pairs_and_always_wrong(tmp_path: Path) -> None:
    from genrekit.diagnostics import (
        always_wrong_tracks,
        confused_pairs,
        model_predictions,
        track_predictions,
    )

    run = _toy_run(tmp_path)
    rows, split = model_predictions(run, "a")
    assert split == "cv" and len(rows) == 6
    tracks = track_predictions(rows, run.labels)
    assert tracks.set_index("track_id")["pred"].to_dict() == {
        "blues.1": "blues", "blues.2": "rock", "rock.1": "blues"}
    pairs = confused_pairs(rows)
    assert pairs[["true", "predicted", "count"]].values.tolist() == [
        ["blues", "rock", 2], ["rock", "blues", 2]]
    assert pairs.loc[0, "tracks"] == "blues.2 (2)" and pairs.loc[0, "share"] == 0.5
    wrong = always_wrong_tracks(run)
    assert wrong["track_id"].tolist() == ["blues.2"]  # rock.1 is right under model b
    assert wrong.loc[0, "a"] == "rock" and wrong.loc[0, "b"] == "rock"
