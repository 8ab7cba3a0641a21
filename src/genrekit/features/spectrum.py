"""The one STFT every genrekit feature derives from, and its inverse.

Values follow :func:`librosa.stft` / :func:`librosa.istft` (Hann window, centred frames),
with the frames computed in one batched FFT. Internally genrekit keeps spectrograms
frame-major (``[frames, bins]``, C order), which is exactly the memory of librosa's
Fortran-ordered ``[bins, frames]`` arrays: the public functions return the ``[bins, frames]``
view of it, so nothing is copied and each frame's bins are contiguous for the kernels.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from genrekit.constants import DEFAULT_PAD_MODE, HOP_LENGTH, N_FFT, PAD_MODES
from genrekit.exceptions import ParameterError

__all__ = ["stft", "fft_frequencies", "n_frames"]

_BLOCK = 128  # frames per batched FFT


def _check_pad_mode(pad_mode: str) -> None:
    if pad_mode not in PAD_MODES:
        raise ParameterError(
            f"pad_mode: expected one of {', '.join(map(repr, PAD_MODES))}, got {pad_mode!r}"
        )


def _check_signal(y: object, *, name: str = "y") -> np.ndarray:
    """Validate a mono signal at the public boundary and return it as float32."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ParameterError(
            f"{name}: expected a mono signal (1-D array), got an array of shape {arr.shape}"
        )
    if arr.size == 0:
        raise ParameterError(f"{name}: expected at least one sample, got an empty array")
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"{name}: expected real audio samples, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name}: expected finite samples, found NaN or infinity")
    return arr


def _check_sr(sr: int) -> None:
    if not isinstance(sr, int | np.integer) or isinstance(sr, bool) or sr <= 0:
        raise ParameterError(f"sr: expected a positive integer sample rate, got {sr!r}")


def n_frames(n_samples: int, *, hop_length: int = HOP_LENGTH) -> int:
    """Number of centred STFT frames of a signal of ``n_samples``."""
    return 1 + n_samples // hop_length


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (``scipy.signal.get_window('hann', n_fft, fftbins=True)``)."""
    import scipy.signal

    win = scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float64)
    win.setflags(write=False)
    return win


@lru_cache(maxsize=8)
def fft_frequencies(*, sr: int, n_fft: int = N_FFT) -> np.ndarray:
    """Centre frequency of each STFT bin, ``[n_fft // 2 + 1]`` float64 (as librosa)."""
    freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    freqs.setflags(write=False)
    return freqs


def _pad(y: np.ndarray, pad_mode: str, n_fft: int) -> np.ndarray:
    """Centring: ``n_fft // 2`` samples each side. np.pad reflects repeatedly when the
    signal is shorter than that, exactly as librosa's own np.pad call does."""
    mode: Any = pad_mode
    return np.pad(y, n_fft // 2, mode=mode)


def _stft_tf(y: np.ndarray, *, pad_mode: str, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH
             ) -> np.ndarray:
    """Frame-major STFT ``[frames, bins]`` complex64, C order (librosa's values)."""
    import scipy.fft

    padded = _pad(y, pad_mode, n_fft)
    n = 1 + (len(padded) - n_fft) // hop_length
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n, n_fft), strides=(hop_length * padded.strides[0], padded.strides[0]),
        writeable=False,
    )
    # librosa multiplies the float32 frames by a float64 window and transforms in float64
    # before storing complex64; doing the same keeps the values identical to ~1 ulp. Blocks
    # of frames keep the float64 temporaries in cache.
    window = _hann(n_fft)
    out = np.empty((n, n_fft // 2 + 1), dtype=np.complex64)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        out[start:stop] = scipy.fft.rfft(frames[start:stop] * window, axis=-1)
    return out


def stft(y: np.ndarray, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
         pad_mode: str = DEFAULT_PAD_MODE) -> np.ndarray:
    """Centred short-time Fourier transform (Hann window), as :func:`librosa.stft`.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    n_fft, hop_length : int
        Frame size and hop in samples.
    pad_mode : {"reflect", "constant"}
        How the signal is extended by ``n_fft // 2`` on each side for centring.

    Returns
    -------
    np.ndarray [shape=(n_fft // 2 + 1, 1 + n // hop_length)], complex64
        A Fortran-ordered view (each frame's bins are contiguous).

    Examples
    --------
    >>> import numpy as np
    >>> stft(np.zeros(22050, dtype=np.float32)).shape
    (1025, 44)
    """
    _check_pad_mode(pad_mode)
    y = _check_signal(y)
    return _stft_tf(y, pad_mode=pad_mode, n_fft=n_fft, hop_length=hop_length).T


def _magnitude_tf(y: np.ndarray | None, S: np.ndarray | None, *, pad_mode: str
                  ) -> np.ndarray:
    """The private helper every feature goes through: ``y`` or a spectrogram ``S``
    ``[bins, frames]`` (complex or magnitude) -> frame-major magnitude ``[frames, bins]``."""
    if S is None:
        if y is None:
            raise ParameterError("expected either y= (audio) or S= (a spectrogram), got neither")
        _check_pad_mode(pad_mode)
        spec = _stft_tf(_check_signal(y), pad_mode=pad_mode)
        return np.abs(spec)
    arr = np.asarray(S)
    if arr.ndim != 2:
        raise ParameterError(f"S: expected a [bins, frames] array, got shape {arr.shape}")
    return np.ascontiguousarray(np.abs(arr).T, dtype=np.float32)
