"""Frame-wise spectral and temporal features (centroid, bandwidth, rolloff, RMS, zero-crossing
rate) with librosa's definitions and defaults, and the mean/variance summary.

Each spectral feature accepts the signal ``y=`` or a precomputed magnitude spectrogram
``S=`` ``[bins, frames]`` and returns ``[1, frames]``. RMS and zero-crossing rate are
computed from the framed waveform, as librosa's ``rms(y=...)`` and ``zero_crossing_rate``
do: the published RMS column is the root mean square of the *unwindowed* frame, which the
Hann-windowed STFT cannot give back, so it is the one feature taken from the signal.
"""

from __future__ import annotations

import numba
import numpy as np

from genrekit.constants import DEFAULT_PAD_MODE, HOP_LENGTH, N_FFT, SAMPLE_RATE
from genrekit.exceptions import ParameterError
from genrekit.features.spectrum import (
    _check_pad_mode,
    _check_signal,
    _check_sr,
    _magnitude_tf,
    _pad,
    fft_frequencies,
)

__all__ = [
    "spectral_centroid",
    "spectral_bandwidth",
    "spectral_rolloff",
    "rms",
    "zero_crossing_rate",
    "summarize",
]

ROLL_PERCENT = 0.85  # librosa's default rolloff fraction (the Kaggle column)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _spectral_tf(mag: np.ndarray, freqs: np.ndarray, roll_percent: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid, bandwidth (p=2) and rolloff of each frame of ``mag`` ``[frames, bins]``."""
    n_frames, n_bins = mag.shape
    centroid = np.empty(n_frames, dtype=np.float64)
    bandwidth = np.empty(n_frames, dtype=np.float64)
    rolloff = np.empty(n_frames, dtype=np.float64)
    tiny = np.finfo(np.float32).tiny
    rp = np.float32(roll_percent)
    for t in range(n_frames):
        row = mag[t]
        # librosa normalises with a float32 sum; a float32 cumulative sum drives the rolloff
        total32 = np.float32(0.0)
        tot = 0.0
        wsum = 0.0
        for f in range(n_bins):
            v = row[f]
            total32 += v
            tot += v
            wsum += freqs[f] * v
        norm = tot if tot >= tiny else 1.0
        c = wsum / norm
        centroid[t] = c
        dev = 0.0
        for f in range(n_bins):
            d = freqs[f] - c
            dev += row[f] * d * d
        bandwidth[t] = np.sqrt(dev / norm)
        threshold = rp * total32
        acc = np.float32(0.0)
        idx = n_bins - 1
        for f in range(n_bins):
            acc += row[f]
            if not acc < threshold:
                idx = f
                break
        rolloff[t] = freqs[idx]
    return centroid, bandwidth, rolloff


def _spectral_all(mag_tf: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    freqs = fft_frequencies(sr=sr, n_fft=2 * (mag_tf.shape[1] - 1))
    return _spectral_tf(mag_tf, freqs, ROLL_PERCENT)


def spectral_centroid(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
                      sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Spectral centroid per frame (Hz), as ``librosa.feature.spectral_centroid``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], optional
        Mono audio.
    S : np.ndarray [shape=(1 + n_fft // 2, t)], optional
        Magnitude (or complex) spectrogram.
    sr : int
        Sample rate.
    pad_mode : {"reflect", "constant"}
        STFT centring when ``y`` is given.

    Returns
    -------
    np.ndarray [shape=(1, t)], float64

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(22050) / 22050
    >>> bool(abs(spectral_centroid(y=np.sin(2 * np.pi * 1000 * t))[0, 20] - 1000) < 20)
    True
    """
    _check_sr(sr)
    return _spectral_all(_magnitude_tf(y, S, pad_mode=pad_mode), sr)[0][None, :]


def spectral_bandwidth(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
                       sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Second-order spectral bandwidth per frame (Hz), as
    ``librosa.feature.spectral_bandwidth``. Parameters as :func:`spectral_centroid`.

    Returns
    -------
    np.ndarray [shape=(1, t)], float64
    """
    _check_sr(sr)
    return _spectral_all(_magnitude_tf(y, S, pad_mode=pad_mode), sr)[1][None, :]


def spectral_rolloff(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
                     sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Frequency below which 85% of each frame's magnitude lies (Hz), as
    ``librosa.feature.spectral_rolloff``. Parameters as :func:`spectral_centroid`.

    Returns
    -------
    np.ndarray [shape=(1, t)], float64
    """
    _check_sr(sr)
    return _spectral_all(_magnitude_tf(y, S, pad_mode=pad_mode), sr)[2][None, :]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _frame_rms(padded: np.ndarray, n_frames: int, frame: int, hop: int) -> np.ndarray:
    # Cumulative sum of squares in float64: exact enough that each frame's mean matches
    # librosa's float32 mean to ~1e-7.
    cs = np.empty(padded.size + 1, dtype=np.float64)
    cs[0] = 0.0
    acc = 0.0
    for i in range(padded.size):
        v = np.float64(padded[i])
        acc += v * v
        cs[i + 1] = acc
    out = np.empty(n_frames, dtype=np.float32)
    for t in range(n_frames):
        s = t * hop
        m = (cs[s + frame] - cs[s]) / frame
        out[t] = np.float32(np.sqrt(max(m, 0.0)))
    return out


def rms(*, y: np.ndarray, pad_mode: str = DEFAULT_PAD_MODE, frame_length: int = N_FFT,
        hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Root mean square of each centred, unwindowed frame, as ``librosa.feature.rms(y=...)``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    pad_mode : {"reflect", "constant"}
        How the signal is extended by ``frame_length // 2`` for centring.
    frame_length, hop_length : int
        Frame size and hop.

    Returns
    -------
    np.ndarray [shape=(1, 1 + n // hop_length)], float32
    """
    _check_pad_mode(pad_mode)
    y = _check_signal(y)
    padded = _pad(y, pad_mode, frame_length)
    n = 1 + (len(padded) - frame_length) // hop_length
    return _frame_rms(padded, n, frame_length, hop_length)[None, :]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _frame_zcr(y: np.ndarray, frame: int, hop: int, threshold: float) -> np.ndarray:
    half = frame // 2
    n = y.size
    n_pad = n + 2 * half
    # Sign bit of the edge-padded signal after zeroing |x| <= threshold (librosa's rule).
    neg = np.empty(n_pad, dtype=np.bool_)
    for i in range(n_pad):
        j = min(max(i - half, 0), n - 1)
        v = y[j]
        neg[i] = v < -threshold
    cs = np.zeros(n_pad + 1, dtype=np.int64)
    for i in range(1, n_pad):
        cs[i + 1] = cs[i] + (1 if neg[i] != neg[i - 1] else 0)
    n_frames = 1 + (n_pad - frame) // hop
    out = np.empty(n_frames, dtype=np.float64)
    for t in range(n_frames):
        s = t * hop
        # crossings at positions s+1 .. s+frame-1 (the first sample of a frame counts none)
        out[t] = (cs[s + frame] - cs[s + 1]) / frame
    return out


def zero_crossing_rate(*, y: np.ndarray, frame_length: int = N_FFT,
                       hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Fraction of sign changes in each centred frame, as
    ``librosa.feature.zero_crossing_rate`` (edge padding, |x| <= 1e-10 counts as zero).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    frame_length, hop_length : int
        Frame size and hop.

    Returns
    -------
    np.ndarray [shape=(1, 1 + n // hop_length)], float64
    """
    y = _check_signal(y)
    return _frame_zcr(y, frame_length, hop_length, 1e-10)[None, :]


def summarize(x: np.ndarray) -> tuple[float, float]:
    """Mean and population variance (ddof=0) over every value of a feature matrix.

    Parameters
    ----------
    x : np.ndarray [shape=(..., d, t)]

    Returns
    -------
    mean, var : float
    """
    arr = np.asarray(x)
    if arr.size == 0:
        raise ParameterError("x: expected at least one value to summarise, got none")
    return float(np.mean(arr)), float(np.var(arr))
