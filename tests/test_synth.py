"""Synthetic demo data: deterministic, GTZAN layout, unclipped, and styles that really differ."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from genrekit.constants import FEATURE_NAMES, GENRES, SAMPLE_RATE
from genrekit.exceptions import ParameterError
from genrekit.synth import STYLES, synthesize, track_params, write_dataset


def test_styles_cover_the_gtzan_genres() -> None:
    assert tuple(STYLES) == GENRES


def test_same_seed_gives_identical_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = write_dataset(tmp_path / "a", per_genre=1, seconds=2.0, seed=3)
    b = write_dataset(tmp_path / "b", per_genre=2, seconds=2.0, seed=3)
    c = write_dataset(tmp_path / "c", per_genre=1, seconds=2.0, seed=4)
    b_first = [p for p in b if p.name.endswith(".00000.wav")]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b_first]  # per_genre-free
    assert all(p.read_bytes() != q.read_bytes() for p, q in zip(a, c, strict=True))


def test_gtzan_layout_and_wav_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = write_dataset(tmp_path, per_genre=2, seconds=1.5, seed=0)
    assert len(paths) == 20
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == sorted(
        f"{g}/{g}.{i:05d}.wav" for g in GENRES for i in range(2)
    )
    readme = (tmp_path / "README.txt").read_text()
    assert "SYNTHETIC" in readme and "NOT GTZAN" in readme
    for p in paths:
        with wave.open(str(p)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
            assert w.getnframes() == round(1.5 * SAMPLE_RATE)
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        peak = np.abs(pcm.astype(np.int32)).max()
        assert 0.4 * 32767 < peak < 32767  # loud enough, never clipped


@pytest.mark.parametrize("genre", GENRES)
def test_tracks_are_unclipped_and_vary(genre: str) -> None:
    y0 = synthesize(genre, seconds=2.0, index=0)
    y1 = synthesize(genre, seconds=2.0, index=1)
    assert y0.dtype == np.float32 and y0.shape == (44100,)
    assert np.isfinite(y0).all() and np.abs(y0).max() < 0.96
    assert not np.array_equal(y0, y1)
    assert np.array_equal(y0, synthesize(genre, seconds=2.0, index=0))


def test_bad_arguments_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError, match="per_genre must be >= 1, got 0"):
        write_dataset(tmp_path, per_genre=0)
    with pytest.raises(ParameterError, match="seconds must be positive, got -1"):
        synthesize("rock", seconds=-1)
    with pytest.raises(ParameterError, match="unknown style 'polka'"):
        track_params("polka")


def test_tempo_ranges_follow_the_styles() -> None:
    tempos = {g: [track_params(g, index=i)["tempo"] for i in range(40)] for g in GENRES}
    assert np.median(tempos["reggae"]) < np.median(tempos["disco"]) < np.median(tempos["metal"])
    assert np.median(tempos["hiphop"]) < np.median(tempos["rock"])
    assert not track_params("classical")["drums"]  # no drums in classical


@pytest.mark.parametrize("index", [0, 2])
def test_disco_tempo_is_detected_near_nominal(index: int) -> None:
    from genrekit.features.kaggle import kaggle_features

    nominal = track_params("disco", index=index)["tempo"]
    tempo = kaggle_features(synthesize("disco", seconds=8.0, index=index))["tempo"]
    assert tempo == pytest.approx(nominal, rel=0.03)


def test_features_separate_the_styles_but_not_perfectly() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genrekit.features.kaggle import kaggle_features

    rows, labels = [], []
    for g in GENRES:
        for i in range(5):
            feats = kaggle_features(synthesize(g, seconds=5.0, index=i, seed=11))
            rows.append([feats[f] for f in FEATURE_NAMES])
            labels.append(g)
    X, y = np.array(rows), np.array(labels)
    assert len(np.unique(X.round(6), axis=0)) == len(X)  # no two tracks alike
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    acc = cross_val_score(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    assert acc > 0.5  # chance is 0.1
