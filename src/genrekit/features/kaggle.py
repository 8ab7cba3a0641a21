"""The 57 Kaggle GTZAN features, value for value, from one STFT per signal.

For each signal (the whole track, and each 3 s segment as a signal of its own) genrekit takes
one reflect-padded STFT and derives everything from it: chroma (power, librosa's tuning
estimate), spectral centroid / bandwidth / rolloff (magnitude), HPSS (exact median filters on
the magnitude, soft masks, inverse STFT without a target length then zero-padded), the mel
spectrogram and its dB (MFCC, onset envelope, beat-tracker tempo, and the optional log-mel for
the CNN work). Zero-crossing rate and RMS come from the framed waveform, as in librosa's
recipe (the published RMS is of the unwindowed frame, which the windowed STFT cannot give).
Variances are population variances.

:func:`genrekit.features.reference.librosa_kaggle_features` is the librosa recipe these
values are checked against; see ``docs/features.md`` for the measured parity and speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrekit.constants import (
    DEFAULT_PAD_MODE,
    FEATURE_NAMES,
    HOP_LENGTH,
    N_FFT,
    SAMPLE_RATE,
    SEGMENT_SAMPLES,
    SEGMENT_STRIDE,
)
from genrekit.exceptions import ParameterError
from genrekit.features.chroma import _chroma_tf
from genrekit.features.hpss import _hpss_summary_tf, _percussive_medians_tf
from genrekit.features.mfcc import _mel_tf, _mfcc_from_db_tf, power_to_db
from genrekit.features.rhythm import _onset_tf, tempo
from genrekit.features.spectral import _frame_rms, _frame_zcr, _spectral_all
from genrekit.features.spectrum import (
    _check_pad_mode,
    _check_signal,
    _check_sr,
    _pad,
    _stft_tf,
)

__all__ = [
    "TrackAnalysis",
    "kaggle_features",
    "segment_bounds",
    "segment_features",
    "analyze_track",
]


@dataclass(frozen=True)
class TrackAnalysis:
    """Everything the batch extractor needs from one track.

    Attributes
    ----------
    track : dict[str, float]
        The 57 features of the whole signal (the 30 s table row).
    segments : list[dict[str, float]]
        The 57 features of each whole Kaggle 3 s segment (see :func:`segment_bounds`);
        empty for a signal shorter than one segment.
    mel : np.ndarray [shape=(128, t)] float32 or None
        Log-mel of the whole signal, dB relative to its maximum (floored 80 dB below),
        from the same STFT as ``track``; ``None`` unless asked for.
    segment_mels : list[np.ndarray [shape=(128, 130)] float32] or None
        The same for each segment, from that segment's STFT.
    """

    track: dict[str, float]
    segments: list[dict[str, float]]
    mel: np.ndarray | None = None
    segment_mels: list[np.ndarray] | None = None


def segment_bounds(n_samples: int) -> list[tuple[int, int]]:
    """Sample ranges of every whole Kaggle 3 s segment of a signal of ``n_samples``.

    Segment ``i`` is ``[i * 66150, i * 66150 + 66149)`` (a 3 s stride, one sample short of
    3 s long, as the published ``length`` column says); a signal shorter than 66149 samples
    has none, a longer one as many as fit (a 30 s clip has 10).

    Examples
    --------
    >>> segment_bounds(3 * 66150)
    [(0, 66149), (66150, 132299), (132300, 198449)]
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) \
            or n_samples < 0:
        raise ParameterError(f"n_samples: expected a non-negative integer, got {n_samples!r}")
    n = int(n_samples)
    count = 0 if n < SEGMENT_SAMPLES else (n - SEGMENT_SAMPLES) // SEGMENT_STRIDE + 1
    return [(i * SEGMENT_STRIDE, i * SEGMENT_STRIDE + SEGMENT_SAMPLES) for i in range(count)]


def _mean_var(x: np.ndarray) -> tuple[float, float]:
    return float(np.mean(x)), float(np.var(x))


def _signal_features(y: np.ndarray, sr: int, pad_mode: str, want_mel: bool,
                     pre: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                     ) -> tuple[dict[str, float], np.ndarray | None]:
    """The 57 features (and optionally the log-mel) of one validated float32 signal.

    ``pre``: its STFT, magnitude and frequency-axis HPSS median, when already computed
    (:func:`_segment_spectra`); otherwise they are computed here.
    """
    perc = None
    if pre is None:
        spec = _stft_tf(y, pad_mode=pad_mode)  # [frames, bins] complex64: the one STFT
        mag = np.abs(spec)
    else:
        spec, mag, perc = pre
    power = np.square(mag)
    out: dict[str, float] = {}

    out["chroma_stft_mean"], out["chroma_stft_var"] = _mean_var(_chroma_tf(power, sr))

    padded = _pad(y, pad_mode, N_FFT)
    out["rms_mean"], out["rms_var"] = _mean_var(
        _frame_rms(padded, spec.shape[0], N_FFT, HOP_LENGTH))

    centroid, bandwidth, rolloff = _spectral_all(mag, sr)
    out["spectral_centroid_mean"], out["spectral_centroid_var"] = _mean_var(centroid)
    out["spectral_bandwidth_mean"], out["spectral_bandwidth_var"] = _mean_var(bandwidth)
    out["rolloff_mean"], out["rolloff_var"] = _mean_var(rolloff)
    out["zero_crossing_rate_mean"], out["zero_crossing_rate_var"] = _mean_var(
        _frame_zcr(y, N_FFT, HOP_LENGTH, 1e-10))

    (out["harmony_mean"], out["harmony_var"], out["perceptr_mean"],
     out["perceptr_var"]) = _hpss_summary_tf(spec, mag, y, perc=perc)

    mel = _mel_tf(power, sr)  # [frames, 128]
    mel_db = power_to_db(mel)
    out["tempo"] = tempo(onset_envelope=_onset_tf(mel_db), sr=sr, hop_length=HOP_LENGTH)

    # [20, frames], rows contiguous: numpy's pairwise float32 sums per row, as librosa's
    # per-coefficient np.mean / np.var (near-zero means would drift with another order).
    coeffs = np.ascontiguousarray(_mfcc_from_db_tf(mel_db).T)
    means, variances = np.mean(coeffs, axis=1), np.var(coeffs, axis=1)
    for k in range(coeffs.shape[0]):
        out[f"mfcc{k + 1}_mean"], out[f"mfcc{k + 1}_var"] = float(means[k]), float(variances[k])

    log_mel = None
    if want_mel:
        log_mel = np.ascontiguousarray(power_to_db(mel, ref="max").T, dtype=np.float32)
    return {name: out[name] for name in FEATURE_NAMES}, log_mel


def _segment_spectra(y: np.ndarray, pad_mode: str
                     ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(STFT, magnitude, frequency-axis HPSS median) of every whole segment of ``y``, the
    medians of all segments computed in one kernel call (same values: each frame is filtered
    on its own)."""
    specs = [_stft_tf(y[a:b], pad_mode=pad_mode) for a, b in segment_bounds(len(y))]
    mags = [np.abs(s) for s in specs]
    percs = _percussive_medians_tf(mags) if mags else []
    return list(zip(specs, mags, percs, strict=True))


def _validate(y: np.ndarray, sr: int, pad_mode: str) -> np.ndarray:
    _check_sr(sr)
    _check_pad_mode(pad_mode)
    return _check_signal(y)


def kaggle_features(y: np.ndarray, *, sr: int = SAMPLE_RATE,
                    pad_mode: str = DEFAULT_PAD_MODE) -> dict[str, float]:
    """The 57 Kaggle features of a signal, in the published column order.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio at ``sr`` (any real dtype; computed in float32 as librosa loads it).
    sr : int
        Sample rate (22050 for the Kaggle tables).
    pad_mode : {"reflect", "constant"}
        STFT centring. ``"reflect"`` (default) reproduces the published tables (librosa
        < 0.9); ``"constant"`` is current librosa's zero padding.

    Returns
    -------
    dict[str, float]
        ``chroma_stft_mean`` ... ``mfcc20_var`` (:data:`genrekit.constants.FEATURE_NAMES`).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(66149) / 22050
    >>> f = kaggle_features(np.sin(2 * np.pi * 440 * t).astype(np.float32))
    >>> len(f), abs(f["spectral_centroid_mean"] - 440) < 10
    (57, True)
    """
    return _signal_features(_validate(y, sr, pad_mode), sr, pad_mode, False)[0]


def segment_features(y: np.ndarray, *, sr: int = SAMPLE_RATE,
                     pad_mode: str = DEFAULT_PAD_MODE) -> list[dict[str, float]]:
    """The 57 features of each whole Kaggle 3 s segment of ``y`` (see
    :func:`segment_bounds`), each computed as a signal of its own.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int
        Sample rate.
    pad_mode : {"reflect", "constant"}
        STFT centring.

    Returns
    -------
    list[dict[str, float]]
        One dict per segment; empty when ``y`` is shorter than one segment.
    """
    y = _validate(y, sr, pad_mode)
    return [_signal_features(y[a:b], sr, pad_mode, False, pre)[0]
            for (a, b), pre in zip(segment_bounds(len(y)), _segment_spectra(y, pad_mode),
                                   strict=True)]


def analyze_track(y: np.ndarray, *, sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE,
                  mel: bool = False) -> TrackAnalysis:
    """Whole-signal features, every segment's features and, with ``mel=True``, the log-mel
    spectrograms: the one call the batch extractor makes per file.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int
        Sample rate.
    pad_mode : {"reflect", "constant"}
        STFT centring.
    mel : bool
        Also return the log-mel of the track and of each segment.

    Returns
    -------
    TrackAnalysis
    """
    y = _validate(y, sr, pad_mode)
    track, track_mel = _signal_features(y, sr, pad_mode, mel)
    segments: list[dict[str, float]] = []
    seg_mels: list[np.ndarray] = []
    for (a, b), pre in zip(segment_bounds(len(y)), _segment_spectra(y, pad_mode), strict=True):
        feats, seg_mel = _signal_features(y[a:b], sr, pad_mode, mel, pre)
        segments.append(feats)
        if seg_mel is not None:
            seg_mels.append(seg_mel)
    return TrackAnalysis(track=track, segments=segments, mel=track_mel,
                         segment_mels=seg_mels if mel else None)
