"""The feature building blocks: the exact median filter against scipy, and each pure
feature function against the librosa function it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage

from genrekit.exceptions import ParameterError
from genrekit.features.chroma import chroma_stft, estimate_tuning
from genrekit.features.hpss import hpss, hpss_waveforms, median_filter
from genrekit.features.mfcc import log_mel_spectrogram, melspectrogram, mfcc, power_to_db
from genrekit.features.rhythm import onset_strength, tempo
from genrekit.features.spectral import (
    rms,
    spectral_bandwidth,
    spectral_centroid,
    spectral_rolloff,
    summarize,
    zero_crossing_rate,
)
from genrekit.features.spectrum import stft


def _scipy(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    shape = [1, 1]
    shape[axis] = size
    return scipy.ndimage.median_filter(x, size=tuple(shape), mode="reflect")


def _brute(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Reference by definition: symmetric (scipy 'reflect') extension, repeated as often as
    needed, then the middle of each sorted window."""
    h = size // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (h, h)
    ext = np.pad(x, pad, mode="symmetric")
    win = np.lib.stride_tricks.sliding_window_view(ext, size, axis=axis)
    return np.sort(win, axis=-1)[..., h]


@pytest.mark.parametrize("shape", [(1, 1), (2, 9), (5, 3), (3, 100), (16, 7), (31, 31),
                                   (64, 130), (200, 65), (1025, 20)])
@pytest.mark.parametrize("size", [1, 3, 31])
def test_median_filter_bit_exact(rng: np.random.Generator, shape: tuple[int, int],
                                 size: int) -> None:
    """Ties (few distinct values), windows longer than the axis (repeated reflection),
    edges, float32 and float64, C and Fortran order: equal to the definition everywhere,
    and to scipy wherever scipy is well defined. (scipy's line buffer reads past its
    extension when the axis is shorter than half the window, e.g. length 2 or 3 with
    size 31, and then returns arbitrary values, NaN included; librosa's HPSS meets that
    only for signals under 16 frames, about 0.35 s.)"""
    ties = rng.integers(0, 4, size=shape).astype(np.float32)
    cont = rng.standard_exponential(shape)
    for x in (ties, cont, np.asfortranarray(ties), cont.astype(np.float32)):
        for axis in (0, 1):
            got = median_filter(x, size=size, axis=axis)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(got, _brute(x, size, axis))
            if x.shape[axis] > size // 2:
                np.testing.assert_array_equal(got, _scipy(x, size, axis))


def test_median_filter_on_a_real_spectrogram(rng: np.random.Generator) -> None:
    y = (rng.standard_normal(66149) * np.linspace(0, 1, 66149)).astype(np.float32)
    mag = np.abs(stft(y))
    for axis in (0, 1):
        np.testing.assert_array_equal(median_filter(mag, size=31, axis=axis),
                                      _scipy(mag, 31, axis))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": np.zeros(5), "size": 3, "axis": 0}, r"x: expected a 2-D array, got shape \(5,\)"),
        ({"x": np.zeros((3, 3)), "size": 4, "axis": 0}, "size: expected a positive odd integer"),
        ({"x": np.zeros((3, 3)), "size": 3, "axis": 2}, "axis: expected 0 or 1"),
        ({"x": np.full((3, 3), np.nan), "size": 3, "axis": 0}, "x: expected no NaN"),
    ],
)
def test_median_filter_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        median_filter(**kwargs)


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(66149) / 22050
    tone = sum(np.sin(2 * np.pi * f * t) * (0.3 / (i + 1)) for i, f in enumerate((220, 330, 445)))
    beats = np.zeros_like(t)
    beats[::11025] = 1.0
    beats = np.convolve(beats, np.exp(-np.arange(400) / 40), mode="same")
    return (tone + 0.3 * beats + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_functions_match_librosa(music: np.ndarray) -> None:
    import librosa

    y = music
    D = librosa.stft(y, pad_mode="reflect")
    mag, power = np.abs(D), np.abs(D) ** 2
    close = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(spectral_centroid(y=y), librosa.feature.spectral_centroid(S=mag),
                               **close)
    np.testing.assert_allclose(spectral_centroid(S=mag),
                               librosa.feature.spectral_centroid(S=mag), **close)
    np.testing.assert_allclose(spectral_bandwidth(S=D),
                               librosa.feature.spectral_bandwidth(S=mag), **close)
    np.testing.assert_array_equal(spectral_rolloff(S=mag),
                                  librosa.feature.spectral_rolloff(S=mag))
    np.testing.assert_allclose(rms(y=y), librosa.feature.rms(y=y, pad_mode="reflect"), **close)
    np.testing.assert_array_equal(zero_crossing_rate(y=y), librosa.feature.zero_crossing_rate(y))
    assert estimate_tuning(S=power) == librosa.estimate_tuning(S=power, sr=22050)
    np.testing.assert_allclose(chroma_stft(S=power), librosa.feature.chroma_stft(S=power),
                               **close)
    mel = librosa.feature.melspectrogram(S=power)
    np.testing.assert_array_equal(melspectrogram(S=power), mel)
    db = librosa.power_to_db(mel)
    np.testing.assert_array_equal(power_to_db(mel), db)
    np.testing.assert_array_equal(log_mel_spectrogram(S=power),
                                  librosa.power_to_db(mel, ref=np.max))
    np.testing.assert_allclose(mfcc(S=db), librosa.feature.mfcc(S=db), rtol=1e-5, atol=1e-4)
    env = onset_strength(S=db)
    np.testing.assert_array_equal(
        env, librosa.onset.onset_strength(S=db, aggregate=np.median))
    assert tempo(onset_envelope=env) == librosa.beat.beat_track(onset_envelope=env)[0]
    h, p = hpss(S=D)
    rh, rp = librosa.decompose.hpss(D)
    np.testing.assert_allclose(h, rh, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(p, rp, rtol=1e-4, atol=1e-6)
    wh, wp = hpss_waveforms(y)
    assert wh.shape == wp.shape == y.shape
    np.testing.assert_allclose(wh[: 512 * 129], librosa.istft(rh), atol=1e-6)
    assert not wh[512 * 129:].any()


def test_shapes_and_summary(music: np.ndarray) -> None:
    assert stft(music).shape == (1025, 130)
    for fn in (spectral_centroid, spectral_bandwidth, spectral_rolloff):
        assert fn(y=music).shape == (1, 130)
    assert chroma_stft(y=music).shape == (12, 130)
    assert mfcc(y=music).shape == (20, 130)
    assert log_mel_spectrogram(y=music).shape == (128, 130)
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert summarize(x) == (2.5, 1.25)
    with pytest.raises(ParameterError, match="expected at least one value"):
        summarize(np.zeros((1, 0)))
    with pytest.raises(ParameterError, match="expected either y= .* or S="):
        spectral_centroid()
    with pytest.raises(ParameterError, match="pad_mode: expected one of"):
        log_mel_spectrogram(y=music, pad_mode="wrap")


def test_harmonic_mask_is_librosas_softmask(rng: np.random.Generator) -> None:
    """The fused mask (one division less) gives librosa's softmask bit for bit, including
    ties, zeros (split 0.5/0.5) and denormals."""
    import librosa

    from genrekit.features.hpss import _harmonic_spec

    h = (rng.standard_exponential((60, 257)) ** 3).astype(np.float32)
    p = (rng.standard_exponential((60, 257)) ** 3).astype(np.float32)
    h[:5], p[:3] = 0, 0
    h[10, :100] = p[10, :100]
    h[11], p[12] = 1e-39, 1e-30
    spec = (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)).astype(np.complex64)
    mask = librosa.util.softmask(h, p, power=2, split_zeros=True)
    np.testing.assert_array_equal(_harmonic_spec(spec, h, p), spec * mask)
