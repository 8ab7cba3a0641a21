"""Multi-input experiments: inputs joined by track, member rows, late and early fusion."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from genrekit import experiment
from genrekit.constants import GENRES
from genrekit.datasets import read_split_lists
from genrekit.exceptions import ParameterError
from genrekit.experiment import load_config, run_experiment


@pytest.fixture(scope="module")
def subsets(tmp_path_factory):
    """Taggram patches (first 8 per track) and 30 s rows of 5 train + 2 test tracks per genre.

    The taggram subset has one track the 30 s subset lacks and vice versa, so the join
    drops one track from each input.
    """
    tg = pd.read_csv(shared_path("musicnn", "msd_musicnn_taggrams_fault_filtered.csv"))
    kg = pd.read_csv(shared_path("kaggle", "features_30_sec.csv"))
    keep = []
    for g in GENRES:
        for part, n in (("train", 5), ("test", 2)):
            ids = sorted(tg.loc[(tg["split"] == part) & (tg["label"] == g), "track_id"].unique())
            keep += ids[:n]
    extra_tg = sorted(set(tg["track_id"]) - set(keep))[0]
    tg = tg[tg["track_id"].isin([*keep, extra_tg]) & (tg["segment"] < 8)]
    kg_ids = kg["filename"].str.replace(".wav", "", regex=False)
    only_kg = next(t for t in kg_ids if t not in set(tg["track_id"]))
    kg = kg[kg_ids.isin([*keep[1:], only_kg])]  # keep[0] only in the taggrams
    folder = tmp_path_factory.mktemp("fusion")
    tg.to_csv(folder / "taggrams.csv", index=False)
    kg.to_csv(folder / "k30.csv", index=False)
    return folder, keep


def _config(folder, rule, extra=""):
    return f"""
protocol = "fault-filtered"
splits = "{shared_path('splits')}"
tune_on = "train"
n_splits = 3
[[inputs]]
name = "taggrams"
features = "{folder / 'taggrams.csv'}"
columns = "tag_*"
models = ["logreg"]
[[inputs]]
name = "kaggle30"
features = "{folder / 'k30.csv'}"
models = ["logreg"]
[fusion]
rule = "{rule}"
{extra}
"""


def test_stacking_writes_members_and_fusion_and_never_sees_test(tmp_path, subsets, monkeypatch):
    folder, keep = subsets
    cfg = tmp_path / "stack.toml"
    cfg.write_text(_config(folder, "stacking"))
    seen: list[np.ndarray] = []
    real = experiment._fit_stacker

    def spy(Z, y, track_ids, **kw):
        seen.append(np.asarray(track_ids))
        return real(Z, y, track_ids, **kw)

    monkeypatch.setattr(experiment, "_fit_stacker", spy)
    out = tmp_path / "out"
    assert run_experiment(cfg, out_dir=out) == 0
    res = json.loads((out / "results.json").read_text())
    assert list(res["models"]) == ["taggrams:logreg", "kaggle30:logreg", "fusion"]
    splits = read_split_lists(shared_path("splits"))
    test_ids = set(keep) & set(splits["test"]) - {keep[0]}
    train_ids = set(keep) & set(splits["train"]) - {keep[0]}
    assert res["n_tracks"] == len(keep) - 1 and res["n_test_rows"] == len(test_ids) == 20
    assert any("taggrams: 2 of its" in n and "dropped" in n for n in res["notes"])
    assert any("kaggle30: 1 of its" in n for n in res["notes"])
    fus = res["models"]["fusion"]
    assert fus["params"]["rule"] == "stacking"
    assert fus["params"]["members"] == "taggrams:logreg+kaggle30:logreg"
    assert 0.0 <= fus["test_track_accuracy"] <= 1.0 and len(fus["cv_scores"]) == 3
    assert res["fusion"]["members"] == ["taggrams:logreg", "kaggle30:logreg"]
    tag = res["models"]["taggrams:logreg"]
    assert tag["level"] == "segment" and tag["test_track_accuracy"] is not None
    # The stacker is fitted 3 times inside the folds and once on all training tracks, and
    # only ever on training tracks.
    assert len(seen) == 4 and set(seen[-1]) == train_ids
    assert all(set(s) <= train_ids for s in seen)
    preds = pd.read_parquet(out / "predictions.parquet")
    f = preds[preds["model"] == "fusion"]
    assert (f["segment"] == -1).all()
    assert set(f.loc[f["split"] == "test", "track_id"]) == test_ids
    assert set(f.loc[f["split"] == "cv", "track_id"]) == train_ids
    # Out-of-fold: the stored fold predictions give the recorded CV scores.
    acc = (f["pred"] == f["label"])[f["split"] == "cv"].groupby(f["fold"]).mean()
    np.testing.assert_allclose(acc.to_numpy(), fus["cv_scores"])
    test = f[f["split"] == "test"]
    assert np.mean(test["pred"] == test["label"]) == pytest.approx(fus["test_track_accuracy"])
    data = pd.read_parquet(out / "data.parquet")
    assert data["track_id"].tolist() == sorted(data["track_id"])
    assert "taggrams:mean_tag_rock" in data and "kaggle30:tempo" in data
    md = (out / "results.md").read_text()
    assert "| fusion |" in md and "| taggrams:logreg |" in md and "Test (track)" in md


def test_mean_and_concat_fusion(tmp_path, subsets):
    folder, keep = subsets
    res = {}
    for rule in ("mean", "concat"):
        cfg = tmp_path / f"{rule}.toml"
        cfg.write_text(_config(folder, rule, 'name = "fused"\nmodel = "logreg"'))
        assert run_experiment(cfg, out_dir=tmp_path / rule) == 0
        res[rule] = json.loads((tmp_path / rule / "results.json").read_text())
    # mean: the test prediction is the mean of the members' test probabilities
    preds = pd.read_parquet(tmp_path / "mean" / "predictions.parquet")
    test = preds[preds["split"] == "test"].set_index(["model", "track_id"]).sort_index()
    probs = [c for c in preds.columns if c.startswith("prob_")]
    mean = (test.loc["taggrams:logreg", probs] + test.loc["kaggle30:logreg", probs]) / 2
    np.testing.assert_allclose(test.loc["fused", probs].to_numpy(), mean.to_numpy())
    early = res["concat"]["models"]["fused"]
    assert early["params"]["n_inputs"] == 50 * 2 + 57 and early["params"]["rule"] == "concat"
    assert early["test_track_accuracy"] is not None


def test_fusion_config_errors(tmp_path, subsets):
    folder, _ = subsets
    cfg = tmp_path / "bad.toml"
    cfg.write_text(_config(folder, "median"))
    with pytest.raises(ParameterError, match="fusion.rule: expected one of mean, stacking, concat"):
        load_config(cfg)
    cfg.write_text(_config(folder, "mean").replace(f'features = "{folder / "k30.csv"}"\n', ""))
    with pytest.raises(ParameterError, match=r"inputs\[1\] \(kaggle30\): needs features"):
        load_config(cfg)
    cfg.write_text(_config(folder, "mean").replace('"tag_*"', '"emb_*"'))
    with pytest.raises(ParameterError, match="columns glob 'emb_\\*' matches no column"):
        run_experiment(cfg, out_dir=tmp_path / "o")
    cfg.write_text('features = "x.csv"\n' + _config(folder, "mean"))
    with pytest.raises(ParameterError, match="inside each"):
        load_config(cfg)
    cfg.write_text(_config(folder, "mean").replace('columns = "tag_*"\n', ""))
    with pytest.raises(ParameterError, match="lacks the 57 Kaggle features"):
        run_experiment(cfg, out_dir=tmp_path / "o2")


def test_train_on_embeddings_then_predict_from_audio(tmp_path):
    """A bundle trained on a taggram table computes musicnn tags from audio when predicting."""
    from genrekit.audio import load_audio
    from genrekit.bundle import load_model
    from genrekit.embeddings.weights import weights_dir
    from genrekit.predict import _musicnn, predict_path

    if not (weights_dir() / "msd_musicnn.npz").is_file():
        pytest.skip("musicnn weights not in genrekit's cache (run `genrekit fetch musicnn`)")
    clip = shared_path("gtzan-clips", "hiphop", "hiphop.00000.wav")
    tg = pd.read_csv(shared_path("musicnn", "msd_musicnn_taggrams_fault_filtered.csv"))
    ids = tg.groupby("label")["track_id"].unique().apply(lambda a: list(a[:3])).sum()
    small = tg[tg["track_id"].isin([*ids, "hiphop.00000"]) & (tg["segment"] < 4)]
    tags = [c for c in tg.columns if c.startswith("tag_")]
    small = small[["track_id", "segment", "label", *tags]]
    table = tmp_path / "embeddings_msd_musicnn.csv"
    small.to_csv(table, index=False)
    out = tmp_path / "bundle"
    assert experiment.train(table, model="logreg", out_dir=out) == 0
    info = json.loads((out / "model.json").read_text())
    assert info["feature_names"] == tags
    model = load_model(out)
    assert model.feature_settings["feature_set"] == "musicnn" and model.level == "segment"
    # The first 3 s window gives the original's first patch (hop-61 taggram table, segment 0),
    # up to the resampler (soxr vs resampy, docs/musicnn.md: 2.7e-3 mean over whole tracks)
    # and the window's cut end, which the resampler sees and the whole-track run did not.
    y = load_audio(clip)
    X = _musicnn(model, y, [(0, 66149)])
    ref = small[(small["track_id"] == "hiphop.00000") & (small["segment"] == 0)][tags].to_numpy()
    assert X.shape == (1, 50)
    assert np.abs(X - ref).mean() < 1e-2 and np.abs(X - ref).max() < 0.1
    res = predict_path(model, clip, segments=True)
    assert res["genre"] in GENRES and sum(res["probabilities"].values()) == pytest.approx(1.0)
    assert len(res["segments"]) == len(y) // 66150
    with pytest.raises(Exception, match="names no embedding model"):
        (tmp_path / "tags.csv").write_text(table.read_text())
        experiment.train(tmp_path / "tags.csv", model="logreg", out_dir=tmp_path / "b2")
