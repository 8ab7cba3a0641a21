"""Mel spectrogram, decibels, log-mel and MFCC with librosa's default filter banks
(Slaney mel, 128 bands, area-normalised; orthonormal DCT-II), as
``librosa.feature.melspectrogram`` / ``power_to_db`` / ``mfcc``.

The mel projection is the same BLAS product librosa's ``einsum`` performs, so the values
(and the tempo derived from them) are identical.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from genrekit.constants import DEFAULT_PAD_MODE, N_MELS, N_MFCC, SAMPLE_RATE
from genrekit.exceptions import ParameterError
from genrekit.features.spectrum import _check_sr, _magnitude_tf

__all__ = ["melspectrogram", "power_to_db", "log_mel_spectrogram", "mfcc"]

TOP_DB = 80.0  # librosa's default dynamic range for power_to_db


@lru_cache(maxsize=16)
def _mel_bank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    bank = np.ascontiguousarray(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels),
                                dtype=np.float32)
    bank.setflags(write=False)
    return bank


def _mel_tf(power_tf: np.ndarray, sr: int, n_mels: int = N_MELS) -> np.ndarray:
    """Frame-major mel power ``[frames, n_mels]`` float32 from power ``[frames, bins]``."""
    bank = _mel_bank(sr, 2 * (power_tf.shape[1] - 1), n_mels)
    return np.dot(power_tf, bank.T)


def power_to_db(S: np.ndarray, *, ref: float | str = 1.0, amin: float = 1e-10,
                top_db: float | None = TOP_DB) -> np.ndarray:
    """``10 * log10(S / ref)`` floored at ``amin`` and clipped to ``top_db`` below the peak,
    as :func:`librosa.power_to_db` (same float32 operations).

    Parameters
    ----------
    S : np.ndarray [shape=(..., d, t)]
        Power values.
    ref : float or "max"
        Reference power; ``"max"`` gives dB relative to the maximum of ``S``.
    amin : float
        Floor applied to ``S`` and ``ref``.
    top_db : float or None
        Dynamic range kept below the maximum.

    Returns
    -------
    np.ndarray [shape=(..., d, t)]
    """
    if amin <= 0:
        raise ParameterError(f"amin: expected a positive number, got {amin!r}")
    if top_db is not None and top_db < 0:
        raise ParameterError(f"top_db: expected a non-negative number or None, got {top_db!r}")
    magnitude = np.asarray(S)
    if ref == "max":
        ref_value = np.max(magnitude)
    elif isinstance(ref, str):
        raise ParameterError(f"ref: expected a number or 'max', got {ref!r}")
    else:
        ref_value = np.abs(ref)
    log_spec = 10.0 * np.log10(np.maximum(amin, magnitude))
    log_spec -= 10.0 * np.log10(np.maximum(amin, ref_value))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def melspectrogram(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
                   sr: int = SAMPLE_RATE, n_mels: int = N_MELS,
                   pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Mel power spectrogram, as ``librosa.feature.melspectrogram``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], optional
        Mono audio.
    S : np.ndarray [shape=(1 + n_fft // 2, t)], optional
        Power spectrogram ``|D|**2``.
    sr : int
        Sample rate.
    n_mels : int
        Number of mel bands.
    pad_mode : {"reflect", "constant"}
        STFT centring when ``y`` is given.

    Returns
    -------
    np.ndarray [shape=(n_mels, t)], float32
    """
    _check_sr(sr)
    if not isinstance(n_mels, int | np.integer) or n_mels < 1:
        raise ParameterError(f"n_mels: expected a positive integer, got {n_mels!r}")
    power = _magnitude_tf(y, None, pad_mode=pad_mode) ** 2 if S is None else \
        _magnitude_tf(None, S, pad_mode=pad_mode)
    return _mel_tf(np.ascontiguousarray(power), sr, int(n_mels)).T


def log_mel_spectrogram(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
                        sr: int = SAMPLE_RATE, n_mels: int = N_MELS,
                        pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Log-mel spectrogram in dB relative to its maximum (0 dB at the peak, floored 80 dB
    below), as ``librosa.power_to_db(melspectrogram(...), ref=np.max)``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], optional
        Mono audio.
    S : np.ndarray [shape=(1 + n_fft // 2, t)], optional
        Power spectrogram ``|D|**2``.
    sr : int
        Sample rate.
    n_mels : int
        Number of mel bands.
    pad_mode : {"reflect", "constant"}
        STFT centring when ``y`` is given.

    Returns
    -------
    np.ndarray [shape=(n_mels, t)], float32, C order

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> m = log_mel_spectrogram(y=y)
    >>> m.shape, float(m.max())
    ((128, 44), 0.0)
    """
    mel = melspectrogram(y=y, S=S, sr=sr, n_mels=n_mels, pad_mode=pad_mode)
    return np.ascontiguousarray(power_to_db(mel, ref="max"), dtype=np.float32)


def _mfcc_from_db_tf(mel_db_tf: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCC ``[frames, n_mfcc]`` from frame-major dB mel ``[frames, n_mels]``."""
    import scipy.fft

    return scipy.fft.dct(mel_db_tf, axis=-1, type=2, norm="ortho")[:, :n_mfcc]


def mfcc(*, y: np.ndarray | None = None, S: np.ndarray | None = None, sr: int = SAMPLE_RATE,
         n_mfcc: int = N_MFCC, pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Mel-frequency cepstral coefficients, as ``librosa.feature.mfcc``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], optional
        Mono audio.
    S : np.ndarray [shape=(n_mels, t)], optional
        Log-power mel spectrogram in dB (``power_to_db(melspectrogram(...))``).
    sr : int
        Sample rate.
    n_mfcc : int
        Number of coefficients.
    pad_mode : {"reflect", "constant"}
        STFT centring when ``y`` is given.

    Returns
    -------
    np.ndarray [shape=(n_mfcc, t)], float32
    """
    if not isinstance(n_mfcc, int | np.integer) or n_mfcc < 1:
        raise ParameterError(f"n_mfcc: expected a positive integer, got {n_mfcc!r}")
    if S is None:
        if y is None:
            raise ParameterError("expected either y= (audio) or S= (a dB mel spectrogram), "
                                 "got neither")
        db = power_to_db(melspectrogram(y=y, sr=sr, pad_mode=pad_mode))
    else:
        db = np.asarray(S)
        if db.ndim != 2:
            raise ParameterError(f"S: expected a [n_mels, frames] array, got shape {db.shape}")
    return _mfcc_from_db_tf(np.ascontiguousarray(db.T), int(n_mfcc)).T
