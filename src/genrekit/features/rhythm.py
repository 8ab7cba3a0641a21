"""Onset strength and the beat tracker's global tempo, as
``librosa.onset.onset_strength(S=dB mel, aggregate=np.median)`` and the tempo that
``librosa.beat.beat_track(onset_envelope=...)`` returns.

``beat_track``'s tempo is ``librosa.feature.tempo`` (autocorrelation tempogram, log-normal
prior around 120 BPM); the beat positions it then tracks do not change the tempo, so only the
tempo estimate is computed. It is a discrete choice (an argmax), so genrekit computes it with
librosa's own function on an onset envelope that is value-for-value librosa's.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from genrekit.constants import HOP_LENGTH, N_FFT, SAMPLE_RATE
from genrekit.exceptions import ParameterError
from genrekit.features.spectrum import _check_sr

__all__ = ["onset_strength", "tempo"]

# librosa.feature.tempo defaults (beat_track uses them)
_AC_SIZE = 8.0
_START_BPM = 120.0
_STD_BPM = 1.0
_MAX_TEMPO = 320.0
_BLOCK = 128  # frames per batched FFT


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _onset_median_tf(db: np.ndarray, pad: int) -> np.ndarray:
    """Median over bands of the positive first difference of ``db`` ``[frames, bands]``,
    shifted right by ``pad`` frames (zeros) and cut to ``frames``: float32 ``[frames]``."""
    n_frames, n_bands = db.shape
    out = np.zeros(n_frames, dtype=np.float32)
    buf = np.empty(n_bands, dtype=np.float32)
    lo = (n_bands - 1) // 2
    hi = n_bands // 2
    zero = np.float32(0.0)
    for t in range(n_frames - 1):
        if t + pad >= n_frames:
            break
        m = 0
        for b in range(n_bands):
            d = db[t + 1, b] - db[t, b]
            if d > zero:
                buf[m] = d
                m += 1
        n_zero = n_bands - m
        # values sorted ascending: n_zero zeros, then the sorted positives
        if hi < n_zero:
            med = zero
        else:
            pos = np.sort(buf[:m])
            a = zero if lo < n_zero else pos[lo - n_zero]
            b2 = pos[hi - n_zero]
            med = (a + b2) / np.float32(2.0)
        out[t + pad] = med
    return out


def onset_strength(*, S: np.ndarray, hop_length: int = HOP_LENGTH, n_fft: int = N_FFT
                   ) -> np.ndarray:
    """Onset strength envelope from a dB mel spectrogram, as
    ``librosa.onset.onset_strength(S=S, aggregate=np.median)`` (lag 1, centred).

    Parameters
    ----------
    S : np.ndarray [shape=(n_mels, t)]
        dB mel spectrogram (``power_to_db(melspectrogram(...))``).
    hop_length, n_fft : int
        The STFT's hop and size (they set the centring shift).

    Returns
    -------
    np.ndarray [shape=(t,)], float32
    """
    arr = np.asarray(S)
    if arr.ndim != 2:
        raise ParameterError(f"S: expected a [n_mels, frames] array, got shape {arr.shape}")
    return _onset_tf(np.ascontiguousarray(arr.T, dtype=np.float32), hop_length, n_fft)


def _onset_tf(db_tf: np.ndarray, hop_length: int = HOP_LENGTH, n_fft: int = N_FFT
              ) -> np.ndarray:
    return _onset_median_tf(db_tf, 1 + n_fft // (2 * hop_length))


@lru_cache(maxsize=8)
def _tempo_setup(sr: int, hop_length: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Window length (frames), autocorrelation window, BPM of each lag and the log prior of
    ``librosa.feature.tempo``'s defaults (8 s window, prior around 120 BPM, max 320)."""
    import librosa

    win_length = int(librosa.time_to_frames(_AC_SIZE, sr=sr, hop_length=hop_length).item())
    window = np.asarray(librosa.filters.get_window("hann", win_length, fftbins=True),
                        dtype=np.float64)
    bpms = librosa.tempo_frequencies(win_length, hop_length=hop_length, sr=sr)
    with np.errstate(divide="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(_START_BPM)) / _STD_BPM) ** 2
    max_idx = int(np.argmax(bpms < _MAX_TEMPO))
    logprior[:max_idx] = -np.inf
    for arr in (window, bpms, logprior):
        arr.setflags(write=False)
    return win_length, window, bpms, logprior


def _tempo_value(env: np.ndarray, sr: int, hop_length: int) -> float:
    """librosa.feature.tempo(onset_envelope=env)[0], computed with frame-major batched FFTs
    (the same transforms and operations, on contiguous rows)."""
    import scipy.fft

    win_length, window, bpms, logprior = _tempo_setup(sr, hop_length)
    n = env.shape[-1]
    half = win_length // 2
    padded = np.pad(env, (half, half), mode="linear_ramp", end_values=(0, 0))
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n, win_length), strides=(padded.strides[0], padded.strides[0]),
        writeable=False,
    )
    n_pad = scipy.fft.next_fast_len(2 * win_length - 1, real=True)
    total = np.zeros(win_length, dtype=np.float64)
    # Blocks of frames keep the temporaries in cache; each frame's transform is unchanged.
    for start in range(0, n, _BLOCK):
        spec = scipy.fft.rfft(frames[start:start + _BLOCK] * window, n=n_pad, axis=-1)
        power = spec.real**2 + spec.imag**2
        ac = scipy.fft.irfft(power, n=n_pad, axis=-1)[:, :win_length]
        length = np.max(np.abs(ac), axis=-1, keepdims=True)
        length[length < np.finfo(ac.dtype).tiny] = 1.0
        total += np.sum(ac / length, axis=0)
    tg = total / n
    best = int(np.argmax(np.log1p(1e6 * tg) + logprior))
    return float(bpms[best])


def tempo(*, onset_envelope: np.ndarray, sr: int = SAMPLE_RATE,
          hop_length: int = HOP_LENGTH) -> float:
    """Global tempo in BPM, as the first value of ``librosa.beat.beat_track``: 0.0 when the
    envelope has no onsets at all, else ``librosa.feature.tempo`` (autocorrelation tempogram
    over 8 s windows, averaged, weighted by a log-normal prior around 120 BPM, below 320).

    Parameters
    ----------
    onset_envelope : np.ndarray [shape=(t,)]
        Onset strength envelope.
    sr : int
        Sample rate.
    hop_length : int
        Hop of the envelope's frames.

    Returns
    -------
    float
    """
    _check_sr(sr)
    env = np.asarray(onset_envelope)
    if env.ndim != 1 or env.size == 0:
        raise ParameterError(
            f"onset_envelope: expected a non-empty 1-D array, got shape {env.shape}")
    if not env.any():
        return 0.0
    return _tempo_value(env, sr, hop_length)
