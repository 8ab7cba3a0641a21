"""musicnn forward pass: against the original TensorFlow taggrams, fast path vs plain port.

The reference is ``../shared/data/musicnn/msd_musicnn_taggrams_fault_filtered.csv``: taggrams
of the original MSD_musicnn (TensorFlow, resampy 0.2.1 ``kaiser_best``, hop 61 frames) for the
fault-filtered tracks, 42 of which are among the real clips.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import shared_path
from genrekit.embeddings import embedding_columns, embedding_rows, get_model, track_summary
from genrekit.embeddings.musicnn import (
    PATCH_FRAMES,
    MusicnnModel,
    log_mel,
    patch_starts,
    resample_to_16k,
    tag_columns,
)
from genrekit.exceptions import ParameterError
from test_embeddings_fetch import real_weights_dir


@pytest.fixture(scope="module")
def msd() -> MusicnnModel:
    return get_model("msd_musicnn", weights_dir=real_weights_dir())


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(shared_path("musicnn", "msd_musicnn_taggrams_fault_filtered.csv"))


@pytest.fixture(scope="module")
def clip_tracks(reference) -> dict[str, object]:
    clips = shared_path("gtzan-clips")
    paths = {p.stem: p for p in clips.glob("*/*.wav")}
    common = sorted(set(reference["track_id"]) & set(paths))
    assert len(common) == 42
    return {t: paths[t] for t in common}


def _reference_taggram(reference: pd.DataFrame, track: str) -> np.ndarray:
    rows = reference[reference["track_id"] == track].sort_values("segment")
    return rows[list(tag_columns("msd_musicnn"))].to_numpy()


def test_constants_and_tag_columns(reference):
    assert PATCH_FRAMES == 187
    assert len(patch_starts(1 + 30 * 16000 // 256)) == 28  # 28 patches per 30 s
    assert len(patch_starts(186)) == 0
    header = [c for c in reference.columns if c.startswith("tag_")]
    assert list(tag_columns("msd_musicnn")) == header
    mtt = tag_columns("mtt_musicnn")
    assert len(set(mtt)) == 50 and "tag_no_vocals" in mtt and "tag_no_vocal" in mtt
    with pytest.raises(ParameterError, match="expected one of"):
        tag_columns("vggish")


def test_log_mel_rounds_through_float16(rng):
    y = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    mel = log_mel(y)
    assert mel.shape == (1 + 16000 // 256, 96) and mel.dtype == np.float32
    lin = (10 ** mel.astype(np.float64) - 1) / 10000  # undo log10(10000 x + 1)
    np.testing.assert_allclose(lin, lin.astype(np.float16).astype(np.float64), rtol=2e-3, atol=1e-7)


def test_matches_original_taggrams_with_soxr(msd, reference, clip_tracks):
    """All patches of the 42 real clips: mean |diff| <= 5e-3, max <= 0.1 (resampler differs)."""
    diffs = []
    for track, path in clip_tracks.items():
        y, sr = sf.read(path, dtype="float32")
        tags, emb = msd.taggram(resample_to_16k(y, sr))
        ref = _reference_taggram(reference, track)
        assert 13 <= len(tags) <= 18 and emb.shape == (len(tags), 200)
        diffs.append(np.abs(tags - ref[: len(tags)]))
    d = np.concatenate(diffs)
    assert d.shape[0] > 600
    assert d.mean() <= 5e-3 and d.max() <= 0.1, (d.mean(), d.max())


def test_matches_original_taggrams_with_kaiser_best(msd, reference, clip_tracks):
    """With the original's resampler (resampy 0.2.1 kaiser_best, ported) the port is exact."""
    for track in ("jazz.00001", "rock.00008"):
        y, sr = sf.read(clip_tracks[track], dtype="float32")
        y16 = resample_to_16k(y[: 8 * sr], sr, resampler="kaiser_best")  # first 8 s: 6 patches
        tags, _ = msd.taggram(y16)
        ref = _reference_taggram(reference, track)[: len(tags)]
        assert len(tags) == 6
        np.testing.assert_allclose(tags, ref, atol=2e-5, rtol=0)


def test_fast_path_equals_plain_port(msd, gtzan_clips):
    y, sr = sf.read(gtzan_clips / "country" / "country.00000.wav", dtype="float32")
    y16 = resample_to_16k(y[: 9 * sr], sr)
    for hop in (61, 100):
        tags, emb = msd.taggram(y16, hop=hop, batch=3)
        tags_ref, emb_ref = msd.taggram_reference(y16, hop=hop)
        assert tags.shape == tags_ref.shape and len(tags) == len(patch_starts(len(log_mel(y16)), hop))
        np.testing.assert_allclose(tags, tags_ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(emb, emb_ref, atol=1e-4, rtol=1e-5)


def test_embedding_rows_any_rate(msd, gtzan_clips):
    y, sr = sf.read(gtzan_clips / "blues" / "blues.00000.wav", dtype="float32")
    y = y[: 5 * sr]
    rows = embedding_rows(y, sr, weights_dir=real_weights_dir())
    assert [r["segment"] for r in rows] == [0, 1, 2]
    assert list(rows[0]) == list(embedding_columns("msd_musicnn"))
    tags, emb = msd.taggram(resample_to_16k(y, sr))
    assert rows[1]["tag_rock"] == pytest.approx(float(tags[1, 0]))
    assert rows[2]["emb_199"] == pytest.approx(float(emb[2, 199]))
    # the same audio at 44.1 kHz gives nearly the same rows
    import soxr

    y44 = soxr.resample(y, sr, 44100)
    rows44 = embedding_rows(y44, 44100, weights_dir=real_weights_dir())
    a = np.array([[r[c] for c in tag_columns()] for r in rows])
    b = np.array([[r[c] for c in tag_columns()] for r in rows44])
    assert np.abs(a - b).max() < 0.05
    summary = track_summary(tags, emb)
    np.testing.assert_allclose(summary["tags_max"], tags.max(axis=0))
    assert embedding_rows(y[: sr], sr, weights_dir=real_weights_dir()) == []  # shorter than 3 s


def test_mtt_model_and_bad_input():
    mtt = get_model("mtt_musicnn", weights_dir=real_weights_dir())
    t = np.arange(4 * 16000) / 16000
    y = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    tags, emb = mtt.taggram(y)
    assert tags.shape == (2, 50) and emb.shape == (2, 200)
    assert ((tags > 0) & (tags < 1)).all()
    with pytest.raises(ParameterError, match="expected mono audio"):
        embedding_rows(np.zeros((2, 100)), 16000, weights_dir=real_weights_dir())
    with pytest.raises(ParameterError, match="variable 'dense/kernel' is missing"):
        MusicnnModel({k: v for k, v in mtt_weights().items() if k != "dense/kernel"})


def mtt_weights() -> dict[str, np.ndarray]:
    from genrekit.embeddings.weights import load_weights

    return load_weights("mtt_musicnn", out_dir=real_weights_dir(), fetch=False)


def test_fault_filtered_experiment_on_a_subset(tmp_path, reference):
    """The evaluation runs end to end; its patch-SVM vote equals a direct computation."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from genrekit.embeddings.evaluate import fault_filtered_taggram_experiment

    tracks = reference.groupby("track_id")[["split", "label"]].first()
    keep = tracks.groupby(["split", "label"]).head(8).index  # 8 train + 8 test tracks per genre
    sub = reference[reference["track_id"].isin(keep)]
    sub.to_csv(tmp_path / "taggrams.csv", index=False)
    res = fault_filtered_taggram_experiment(
        taggrams=tmp_path / "taggrams.csv",
        kaggle_30s=shared_path("kaggle", "features_30_sec.csv"),
        artist_index=shared_path("sturm", "GTZANindex.txt"),
        n_splits=3,
    )
    assert res["n_train"] == 80 and res["n_test"] == 80
    acc = res["test_track_accuracy"]
    assert set(acc) >= {"taggram_svm_vote", "kaggle_logreg", "late_mean", "late_stacking", "early_logreg"}
    tags = list(tag_columns())
    train, test = sub[sub["split"] == "train"], sub[sub["split"] == "test"]
    svm = make_pipeline(StandardScaler(), SVC(random_state=0)).fit(train[tags], train["label"])
    votes = pd.crosstab(test["track_id"].to_numpy(), svm.predict(test[tags]))
    votes = votes.reindex(columns=sorted(sub["label"].unique()), fill_value=0)
    truth = test.groupby("track_id")["label"].first().loc[votes.index]
    assert acc["taggram_svm_vote"] == pytest.approx(float((votes.idxmax(axis=1) == truth).mean()))
    assert all(0.3 < v <= 1 for v in acc.values())  # 10 genres: chance is 0.1
