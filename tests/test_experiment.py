"""Experiments end to end: config -> results folder in the documented format; CLI; errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from genrekit.cli import main
from genrekit.constants import FEATURE_NAMES, GENRES
from genrekit.datasets import read_table
from genrekit.exceptions import DataError, ParameterError
from genrekit.experiment import load_config, run_experiment, table_fingerprint, train

MODEL_KEYS = {"description", "params", "train_accuracy", "cv_mean", "cv_std", "cv_scores",
              "cv_track_mean", "test_accuracy", "test_track_accuracy", "fit_seconds", "skipped"}


@pytest.fixture(scope="module")
def small_3sec(tmp_path_factory):
    """Segments of 4 tracks per genre from the 3 s slice (160 rows), as a Kaggle CSV."""
    df = read_table(shared_path("kaggle", "features_3_sec_tracks00075-00099.csv"))
    keep = {f"{g}.{n:05d}" for g in GENRES for n in (75, 76, 77, 78)}
    small = df[df["track_id"].isin(keep) & (df["segment"] < 4)]
    path = tmp_path_factory.mktemp("data") / "features_3_sec.csv"
    small[["filename", "length", *FEATURE_NAMES, "label"]].to_csv(path, index=False)
    return path


def _write(path, text):
    path.write_text(text)
    return path


def test_track_cv_experiment_writes_the_format(tmp_path, small_3sec, capsys):
    cfg = _write(tmp_path / "small.toml", f"""
features = "{small_3sec}"
protocol = "track-cv"
models = ["logreg", "knn_grid", "lightgbm", "cnn"]
n_splits = 4
drop_duplicates = true
seed = 1
""")
    out = tmp_path / "res"
    assert main(["experiment", str(cfg), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| Model | Parameters | Train | Test | CV mean |" in printed
    assert str(out) in printed
    for name in ("results.json", "results.md", "config.json", "data.parquet",
                 "duplicates.json", "predictions.parquet", "models/logreg.skops",
                 "models/knn_grid.skops", "models/lightgbm.txt"):
        assert (out / name).is_file(), name
    res = json.loads((out / "results.json").read_text())
    dups = json.loads((out / "duplicates.json").read_text())
    assert set(dups) == {"n_rows", "n_duplicate_rows", "pairs", "cross_genre_pairs", "dropped"}
    assert dups["n_rows"] == 160 and dups["dropped"] is True
    n = 160 - dups["n_duplicate_rows"]
    assert len(dups["pairs"]) == dups["n_duplicate_rows"]
    assert res["protocol"] == "track-cv" and res["leaky"] is False
    # 4 rows repeat another track's rows exactly (a GTZAN repetition): dropping them drops
    # that track.
    assert n == 156
    assert res["level"] == "segment" and res["n_rows"] == n and res["n_tracks"] == 39
    assert res["labels"] == list(GENRES) and res["chance_accuracy"] == pytest.approx(16 / 156)
    assert res["config"]["models"] == ["logreg", "knn_grid", "lightgbm", "cnn"]
    for name in ("logreg", "knn_grid", "lightgbm"):
        rec = res["models"][name]
        assert MODEL_KEYS <= set(rec), name
        assert rec["skipped"] is None and rec["test_accuracy"] is None
        assert len(rec["cv_scores"]) == 4
        assert 0.1 < rec["cv_mean"] <= 1.0 and 0.0 <= rec["cv_track_mean"] <= 1.0
    assert set(res["models"]["knn_grid"]["params"]) == {"n_neighbors", "weights"}
    if "cnn" in res["models"]:  # the spectrogram engineer's CNN, when its module exists
        assert "needs audio or spectrograms" in res["models"]["cnn"]["skipped"]

    data = pd.read_parquet(out / "data.parquet")
    assert list(data.columns[:4]) == ["track_id", "segment", "label", "filename"]
    preds = pd.read_parquet(out / "predictions.parquet")
    assert list(preds.columns[:8]) == ["model", "split", "fold", "row", "track_id",
                                       "segment", "label", "pred"]
    assert [c for c in preds.columns if c.startswith("prob_")] == [f"prob_{g}" for g in GENRES]
    lr = preds[preds["model"] == "logreg"]
    assert set(lr["split"]) == {"cv"} and sorted(lr["row"]) == list(range(n))
    # Out-of-fold: the recorded fold accuracies are those of the stored predictions.
    acc = (lr["pred"] == lr["label"]).groupby(lr["fold"]).mean().to_numpy()
    np.testing.assert_allclose(acc, res["models"]["logreg"]["cv_scores"])
    np.testing.assert_array_equal(data["track_id"].to_numpy()[lr["row"]], lr["track_id"])
    # No track is both trained on and predicted in one fold: each track in exactly one fold.
    assert lr.groupby("track_id")["fold"].nunique().max() == 1
    # Never overwrite a finished run.
    with pytest.raises(ParameterError, match="already holds results.json"):
        run_experiment(cfg, out_dir=out)


def test_fault_filtered_experiment_reproduces_baseline(tmp_path):
    """Fault-filtered 30 s, train+valid -> test: logistic regression 0.53, 1-NN 0.40."""
    cfg = _write(tmp_path / "ff.toml", f"""
features = "{shared_path('kaggle', 'features_30_sec.csv')}"
protocol = "fault-filtered"
splits = "{shared_path('splits')}"
artists = "{shared_path('sturm', 'GTZANindex.txt')}"
models = ["logreg", "knn1"]
save_models = false
""")
    assert run_experiment(cfg, out_dir=tmp_path / "out") == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["n_test_rows"] == 290 and res["n_train_rows"] == 640
    assert res["models"]["logreg"]["test_accuracy"] == pytest.approx(0.534, abs=0.002)
    assert res["models"]["knn1"]["test_accuracy"] == pytest.approx(0.403, abs=0.002)
    preds = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    test = preds[(preds["split"] == "test") & (preds["model"] == "logreg")]
    assert len(test) == 290
    assert "artist" in pd.read_parquet(tmp_path / "out" / "data.parquet").columns
    assert not (tmp_path / "out" / "models").exists()


def test_models_command(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "logreg"
    assert any(line.startswith("lightgbm_grid ") for line in lines)


def test_config_errors(tmp_path, small_3sec, capsys):
    def cfg(text):
        return _write(tmp_path / "c.toml", text)

    with pytest.raises(DataError, match="experiment config not found"):
        load_config(tmp_path / "none.toml")
    with pytest.raises(ParameterError, match="unknown config key"):
        load_config(cfg(f'features = "{small_3sec}"\nprotocol = "seed"\nmodel = "x"\n'))
    with pytest.raises(ParameterError, match="protocol: expected one of seed"):
        load_config(cfg(f'features = "{small_3sec}"\nprotocol = "random"\n'))
    with pytest.raises(ParameterError, match="unknown name 'nope'"):
        load_config(cfg(f'features = "{small_3sec}"\nprotocol = "seed"\nmodels = ["nope"]\n'))
    with pytest.raises(ParameterError, match="'fault-filtered' needs splits"):
        load_config(cfg(f'features = "{small_3sec}"\nprotocol = "fault-filtered"\n'))
    with pytest.raises(ParameterError, match="exactly one of 'features'"):
        load_config(cfg('protocol = "seed"\n'))
    with pytest.raises(DataError, match="'features': nowhere.csv not found"):
        load_config(cfg('features = "nowhere.csv"\nprotocol = "seed"\n'))
    with pytest.raises(DataError, match="not valid TOML"):
        load_config(cfg("features = \n"))
    # Through the CLI: one line on stderr, exit 2 for bad usage.
    path = cfg(f'features = "{small_3sec}"\nprotocol = "seed"\nmodels = ["nope"]\n')
    assert main(["experiment", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genrekit experiment: error:") and "Traceback" not in err


def test_relative_paths_resolve_against_config_then_cwd(tmp_path, small_3sec, monkeypatch):
    folder = tmp_path / "cfgs"
    folder.mkdir()
    (folder / "t.csv").write_bytes(small_3sec.read_bytes())
    cfg = _write(folder / "a.toml", 'features = "t.csv"\nprotocol = "seed"\n')
    assert load_config(cfg).features == str((folder / "t.csv").resolve())
    monkeypatch.chdir(small_3sec.parent)
    cfg = _write(folder / "b.toml", f'features = "{small_3sec.name}"\nprotocol = "seed"\n')
    assert load_config(cfg).features == str(small_3sec.resolve())


def test_train_saves_a_bundle(tmp_path, small_3sec):
    out = tmp_path / "bundle"
    assert train(small_3sec, model="logreg", out_dir=out, protocol="track-cv") == 0
    info = json.loads((out / "model.json").read_text())
    assert info["labels"] == list(GENRES)
    df = read_table(small_3sec)
    assert table_fingerprint(df) in json.dumps(info)
    assert table_fingerprint(df.iloc[::-1]) == table_fingerprint(df)
    with pytest.raises(ParameterError, match="already exists and is not empty"):
        train(small_3sec, model="logreg", out_dir=out)
    with pytest.raises(ParameterError, match="needs split lists or an artist index"):
        train(small_3sec, model="logreg", out_dir=tmp_path / "b2", protocol="fault-filtered")
