"""Chromagram from the power spectrogram with librosa's tuning estimation, as
``librosa.feature.chroma_stft(S=|D|**2)``.

Tuning is estimated the way librosa does (parabolic-interpolated spectral peaks between
150 Hz and 4 kHz, magnitudes above their median, histogram of the pitch residuals at 0.01
semitone resolution); the peak picking runs in one compiled pass over the frames with
librosa's float32/float64 arithmetic, and the final histogram is librosa's own
:func:`librosa.pitch_tuning`, so the tuning (a discrete choice) is the same.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from genrekit.constants import DEFAULT_PAD_MODE, N_CHROMA, SAMPLE_RATE
from genrekit.features.spectrum import _check_sr, _magnitude_tf, fft_frequencies

__all__ = ["chroma_stft", "estimate_tuning"]

_FMIN = 150.0  # piptrack's defaults, used by estimate_tuning
_FMAX = 4000.0
_PEAK_THRESHOLD = 0.1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _peaks(S: np.ndarray, sr: float, n_fft: int, f_lo: int, f_hi: int, threshold: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """librosa.piptrack's non-zero (pitch, magnitude) pairs of ``S`` ``[frames, bins]``,
    restricted to bins ``f_lo <= f < f_hi``, in librosa's arithmetic."""
    n_frames, n_bins = S.shape
    cap = n_frames * max(1, (f_hi - f_lo + 1) // 2)
    pitches = np.empty(cap, dtype=np.float32)
    mags = np.empty(cap, dtype=np.float32)
    count = 0
    thr = np.float32(threshold)
    half = np.float32(0.5)
    for t in range(n_frames):
        x = S[t]
        ref = x[0]
        for f in range(1, n_bins):
            if x[f] > ref:
                ref = x[f]
        ref = thr * ref
        for f in range(f_lo, f_hi):
            z0 = x[f] if x[f] > ref else np.float32(0.0)
            if f == 0:
                continue  # edge-padded: z0 > z0 is false
            zm = x[f - 1] if x[f - 1] > ref else np.float32(0.0)
            if f == n_bins - 1:
                is_max = z0 > zm
            else:
                zp = x[f + 1] if x[f + 1] > ref else np.float32(0.0)
                is_max = z0 > zm and z0 >= zp
            if not is_max:
                continue
            if f == n_bins - 1:
                shift = np.float32(0.0)
                avg = x[f] - x[f - 1]
            else:
                # librosa's stencil, with the same (numba) type promotions
                a = x[f + 1] + x[f - 1] - 2 * x[f]
                b = (x[f + 1] - x[f - 1]) / 2
                if np.abs(b) >= np.abs(a):
                    shift = np.float32(0.0)
                else:
                    shift = np.float32(-b / a)
                avg = (x[f + 1] - x[f - 1]) / np.float32(2.0)
            dskew = half * avg * shift
            pitches[count] = np.float32((f + np.float64(shift)) * sr / n_fft)
            mags[count] = x[f] + dskew
            count += 1
    return pitches[:count], mags[:count]


def _estimate_tuning_tf(power_tf: np.ndarray, sr: int, n_chroma: int = N_CHROMA) -> float:
    import librosa

    n_fft = 2 * (power_tf.shape[1] - 1)
    freqs = fft_frequencies(sr=sr, n_fft=n_fft)
    fmax = min(_FMAX, sr / 2)
    inside = np.flatnonzero((_FMIN <= freqs) & (freqs < fmax))
    if inside.size == 0:
        return 0.0
    pitch, mag = _peaks(power_tf, float(sr), n_fft, int(inside[0]), int(inside[-1]) + 1,
                        _PEAK_THRESHOLD)
    keep = pitch > 0
    threshold = np.median(mag[keep]) if keep.any() else 0.0
    freqs_kept = pitch[(mag >= threshold) & keep]
    if not np.any(freqs_kept > 0):
        return 0.0  # librosa warns and returns 0.0 here
    return float(librosa.pitch_tuning(freqs_kept, resolution=0.01, bins_per_octave=n_chroma))


@lru_cache(maxsize=256)
def _chroma_bank(sr: int, n_fft: int, tuning: float, n_chroma: int) -> np.ndarray:
    import librosa

    bank = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=n_chroma)
    bank = np.ascontiguousarray(bank, dtype=np.float32)
    bank.setflags(write=False)
    return bank


def _chroma_tf(power_tf: np.ndarray, sr: int, n_chroma: int = N_CHROMA) -> np.ndarray:
    """Chroma ``[n_chroma, frames]`` float64 of frame-major power ``[frames, bins]``."""
    tuning = _estimate_tuning_tf(power_tf, sr, n_chroma)
    bank = _chroma_bank(sr, 2 * (power_tf.shape[1] - 1), tuning, n_chroma)
    # Same BLAS call as librosa's einsum (dot of the bank with the [bins, frames] view).
    raw = np.dot(bank, power_tf.T)
    length = np.max(np.abs(raw).astype(np.float64), axis=0, keepdims=True)
    length[length < np.finfo(raw.dtype).tiny] = 1.0
    return raw / length


def estimate_tuning(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
                    sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE) -> float:
    """Tuning deviation from A440 in fractions of a chroma bin, as
    ``librosa.estimate_tuning(S=S, sr=sr)`` on a power spectrogram.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], optional
        Mono audio (its power spectrogram is used).
    S : np.ndarray [shape=(1 + n_fft // 2, t)], optional
        Power spectrogram.
    sr : int
        Sample rate.
    pad_mode : {"reflect", "constant"}
        STFT centring when ``y`` is given.

    Returns
    -------
    float
        In ``[-0.5, 0.5)``, a multiple of 0.01.
    """
    _check_sr(sr)
    power = _magnitude_tf(y, None, pad_mode=pad_mode) ** 2 if S is None else \
        _magnitude_tf(None, S, pad_mode=pad_mode)
    return _estimate_tuning_tf(np.ascontiguousarray(power), sr)


def chroma_stft(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
                sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Chromagram (each frame scaled to a maximum of 1), as
    ``librosa.feature.chroma_stft``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], optional
        Mono audio.
    S : np.ndarray [shape=(1 + n_fft // 2, t)], optional
        Power spectrogram ``|D|**2``.
    sr : int
        Sample rate.
    pad_mode : {"reflect", "constant"}
        STFT centring when ``y`` is given.

    Returns
    -------
    np.ndarray [shape=(12, t)], float64
    """
    _check_sr(sr)
    power = _magnitude_tf(y, None, pad_mode=pad_mode) ** 2 if S is None else \
        _magnitude_tf(None, S, pad_mode=pad_mode)
    return _chroma_tf(np.ascontiguousarray(power), sr)
