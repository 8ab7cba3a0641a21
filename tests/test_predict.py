"""Prediction: real clips, long files cut into segments, bad inputs in a batch, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import shared_path
from genrekit.bundle import load_model, save_bundle
from genrekit.cli import main
from genrekit.constants import FEATURE_NAMES, GENRES, SAMPLE_RATE
from genrekit.predict import predict_files, window_bounds


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A segment-level model fitted on the published Kaggle 3 s rows of the real clips."""
    import pandas as pd

    df = pd.read_csv(shared_path("kaggle", "features_3_sec_clips.csv"))
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    est.fit(df[list(FEATURE_NAMES)].to_numpy(), df["label"].to_numpy())
    return save_bundle(
        tmp_path_factory.mktemp("predict") / "model",
        estimator=est,
        model_name="logreg",
        labels=list(est.classes_),
        feature_names=FEATURE_NAMES,
        level="segment",
        feature_settings={"sample_rate": SAMPLE_RATE, "pad_mode": "reflect"},
        protocol=None,
        metrics={},
        training_fingerprint=None,
    )


@pytest.fixture(scope="module")
def clip() -> Path:
    return shared_path("gtzan-clips", "disco", "disco.00001.wav")


def test_real_clip_probabilities_sum_to_one(bundle, clip) -> None:  # type: ignore[no-untyped-def]
    model = load_model(bundle)
    result = model.predict_file(clip, segments=True)
    assert result["path"] == str(clip)
    assert list(result["probabilities"]) == list(GENRES)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-9)
    assert result["genre"] == max(result["probabilities"], key=result["probabilities"].get)
    n = sf.info(str(clip)).frames
    assert len(result["segments"]) == len(window_bounds(n, "segment")) >= 5
    # the track's probabilities are the mean of its segments'
    seg = np.array([[s["probabilities"][g] for g in GENRES] for s in result["segments"]])
    assert np.allclose(seg.mean(axis=0), [result["probabilities"][g] for g in GENRES])
    assert result["segments"][1]["start"] == 3.0
    assert model.predict(clip) == result["genre"]


def test_long_file_yields_every_whole_segment(bundle, clip, tmp_path) -> None:  # type: ignore[no-untyped-def]
    y, sr = sf.read(str(clip), dtype="float32")
    song = np.resize(y, 70 * sr)  # 70 s, tiled from the clip
    path = tmp_path / "long.flac"
    sf.write(str(path), song, sr)
    result = load_model(bundle).predict_file(path, segments=True)
    assert len(result["segments"]) == 23  # floor((70 s - 66149) / 66150) + 1
    assert result["segments"][-1]["end"] == pytest.approx((22 * 66150 + 66149) / sr, abs=1e-4)


def test_window_rules() -> None:
    sr = SAMPLE_RATE
    assert window_bounds(661794, "track") == [(0, 661794)]  # a GTZAN excerpt: one window
    assert len(window_bounds(240 * sr, "track")) == 8  # a 4-minute song: eight 30 s windows
    assert window_bounds(70 * sr, "track") == [(0, 35 * sr), (35 * sr, 70 * sr)]
    assert window_bounds(sr, "segment") == [(0, sr)]  # shorter than a segment: analysed whole
    assert len(window_bounds(240 * sr, "segment")) == 80
    assert window_bounds(0, "segment") == []


def _bad_inputs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("this is not audio\n" * 20)
    good = shared_path("gtzan-clips", "rock", "rock.00002.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(good[:30])  # cut inside the header
    return {
        str(tmp_path / "missing.wav"): "missing",
        str(tmp_path / "empty.wav"): "empty",
        str(tmp_path / "notes.wav"): "not audio",
        str(tmp_path / "cut.wav"): "cut",
    }


def test_bad_inputs_are_reported_and_the_rest_answered(bundle, clip, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = _bad_inputs(tmp_path)
    args = [str(clip), *bad, str(clip)]
    status = main(["predict", str(bundle), *args, "--json"])
    out, err = capsys.readouterr()
    assert status == 1
    answers = json.loads(out)
    assert [a["path"] for a in answers] == [str(clip), str(clip)]
    assert all(a["segments"] == [] for a in answers)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    for path in bad:
        line = next(x for x in lines if f": {path}: " in x)
        assert len(line) > len(f"genrekit predict: {path}: ") + 3  # a reason follows
    assert "4 of 6 inputs could not be used" in err


def test_reasons_name_what_is_wrong(bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _bad_inputs(tmp_path)
    results, failures = predict_files(load_model(bundle), list(bad), progress=False)
    assert results == []
    reasons = dict(failures)
    assert "not found" in reasons[str(tmp_path / "missing.wav")].lower() or "no such" in (
        reasons[str(tmp_path / "missing.wav")].lower()
    )
    assert "empty" in reasons[str(tmp_path / "empty.wav")].lower() or "0 bytes" in reasons[
        str(tmp_path / "empty.wav")
    ]


def test_table_output_and_segments(bundle, clip, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["predict", str(bundle), str(clip), "--segments"]) == 0
    out = capsys.readouterr().out
    header, first, timeline = out.splitlines()[:3]
    assert header.split()[:2] == ["file", "genre"]
    assert first.split()[1] in GENRES
    assert timeline.strip().startswith("0:00.0-0:03.0")


def test_tampered_bundle_is_one_line_error(bundle, clip, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in bundle.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (name,) = json.loads((bad / "model.json").read_text())["files"]
    (bad / name).write_bytes((bad / name).read_bytes() + b"\0")
    assert main(["predict", str(bad), str(clip)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sha256 mismatch" in err


def test_track_level_model_sees_30s_windows(clip, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    df = pd.read_csv(shared_path("kaggle", "features_30_sec.csv"))
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    est.fit(df[list(FEATURE_NAMES)].to_numpy(), df["label"].to_numpy())
    path = save_bundle(tmp_path / "track-model", estimator=est, model_name="logreg",
                       labels=list(est.classes_), feature_names=FEATURE_NAMES, level="track",
                       feature_settings={"sample_rate": SAMPLE_RATE}, protocol=None,
                       metrics={}, training_fingerprint=None)
    model = load_model(path)
    y, sr = sf.read(str(clip), dtype="float32")
    song = tmp_path / "song.wav"
    sf.write(str(song), np.resize(y, 70 * sr), sr)
    result = model.predict_file(song, segments=True)
    assert [(s["start"], s["end"]) for s in result["segments"]] == [(0.0, 35.0), (35.0, 70.0)]
    assert sum(result["probabilities"].values()) == pytest.approx(1.0)
    assert len(model.predict_file(clip, segments=True)["segments"]) == 1
