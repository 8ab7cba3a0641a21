"""Onset strength and the beat tracker's global tempo, as
``librosa.onset.onset_strength(S=dB mel, aggregate=np.median)`` and the tempo that
``librosa.beat.beat_track(onset_envelope=...)`` returns.

``beat_track``'s tempo is ``librosa.feature.tempo`` (autocorrelation tempogram, log-normal
prior around 120 BPM); the beat positions it then tracks do not change the tempo, so only the
tempo estimate is computed. It is a discrete choice (an argmax), so genrekit computes it with
librosa's own function on an onset envelope that is value-for-value librosa's.
"""

from __future__ import annotations

import numba
import numpy as np

from genrekit.constants import HOP_LENGTH, N_FFT, SAMPLE_RATE
from genrekit.exceptions import ParameterError
from genrekit.features.spectrum import _check_sr

__all__ = ["onset_strength", "tempo"]


@numba.njit(cache=True, nogil=True)
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


def tempo(*, onset_envelope: np.ndarray, sr: int = SAMPLE_RATE,
          hop_length: int = HOP_LENGTH) -> float:
    """Global tempo in BPM, as the first value of ``librosa.beat.beat_track``: 0.0 when the
    envelope has no onsets at all, else ``librosa.feature.tempo``.

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
    if env.ndim != 1:
        raise ParameterError(f"onset_envelope: expected a 1-D array, got shape {env.shape}")
    if not env.any():
        return 0.0
    import librosa

    return float(librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=hop_length)[0])
