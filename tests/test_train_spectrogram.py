"""`genrekit train AUDIO_DIR --model cnn|fusion` saves a bundle that `genrekit predict` uses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genrekit.cli import main

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    from genrekit.synth import write_dataset

    root = tmp_path_factory.mktemp("train-mel") / "audio"
    write_dataset(root, per_genre=3, seconds=7, seed=3, genres=("blues", "metal", "classical"))
    return root


@pytest.mark.parametrize(("model", "feature_set", "n_inputs"),
                         [("cnn", "logmel", 128 * 130), ("fusion", "kaggle57+logmel", 57 + 128 * 130)])
def test_train_mel_model_and_predict(audio_dir, tmp_path, capsys, model, feature_set, n_inputs):
    out = tmp_path / model
    assert main(["train", str(audio_dir), "--model", model, "-o", str(out), "--jobs", "1"]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["feature_settings"]["feature_set"] == feature_set
    assert meta["level"] == "segment"
    assert len(meta["feature_names"]) == n_inputs
    capsys.readouterr()
    song = audio_dir / "metal" / "metal.00001.wav"
    assert main(["predict", str(out), str(song), "--json", "--segments"]) == 0
    (answer,) = json.loads(capsys.readouterr().out)
    probs = answer["probabilities"]
    assert set(probs) == {"blues", "classical", "metal"}
    assert abs(sum(probs.values()) - 1) < 1e-6
    assert len(answer["segments"]) == 2  # a 7 s file holds two whole Kaggle 3 s segments
    mean = {g: np.mean([s["probabilities"][g] for s in answer["segments"]]) for g in probs}
    for g in probs:
        assert probs[g] == pytest.approx(mean[g], abs=1e-6)


def test_train_mel_model_refuses_a_feature_table(tmp_path, capsys):
    table = tmp_path / "features_3_sec.csv"
    table.write_text("filename,label\n")
    assert main(["train", str(table), "--model", "cnn", "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "needs log-mel spectrograms; give an audio folder" in err
