"""The Kaggle GTZAN recipe written with plain librosa calls: the reference genrekit is checked
against and benchmarked against.

This is the recipe people copy from the Kaggle notebooks, made to reproduce the published
tables under librosa 0.11: every STFT is centred with ``pad_mode="reflect"`` (librosa < 0.9's
default, which the tables were made with), HPSS waveforms come from an inverse STFT without a
target length, zero-padded at the end, and variances are population variances (ddof=0).
It is slow on purpose: it does what the notebooks do, one librosa call per feature.

Use :func:`genrekit.features.kaggle.kaggle_features` for real work; it returns the same values
many times faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genrekit.constants import (
    DEFAULT_PAD_MODE,
    FEATURE_NAMES,
    HOP_LENGTH,
    HPSS_KERNEL,
    N_FFT,
    N_MFCC,
    SAMPLE_RATE,
)

__all__ = ["librosa_kaggle_features"]


def _mean_var(name: str, x: np.ndarray, out: dict[str, float]) -> None:
    out[f"{name}_mean"] = float(np.mean(x))
    out[f"{name}_var"] = float(np.var(x))


def librosa_kaggle_features(
    y: np.ndarray, *, sr: int = SAMPLE_RATE, pad_mode: str = DEFAULT_PAD_MODE
) -> dict[str, float]:
    """The 57 Kaggle features of ``y`` computed with librosa, one call per feature.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int
        Sample rate of ``y``.
    pad_mode : {"reflect", "constant"}
        STFT centring. ``"reflect"`` reproduces the published tables.

    Returns
    -------
    dict[str, float]
        The 57 features, in the Kaggle column order.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    mode: Any = pad_mode
    stft = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH, center=True, pad_mode=mode)
    mag = np.abs(stft)
    power = mag**2

    out: dict[str, float] = {}
    _mean_var("chroma_stft", librosa.feature.chroma_stft(S=power, sr=sr), out)
    # RMS is computed from the framed waveform (not the windowed STFT), centred the same way.
    _mean_var(
        "rms",
        librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP_LENGTH, pad_mode=mode),
        out,
    )
    _mean_var("spectral_centroid", librosa.feature.spectral_centroid(S=mag, sr=sr), out)
    _mean_var("spectral_bandwidth", librosa.feature.spectral_bandwidth(S=mag, sr=sr), out)
    _mean_var("rolloff", librosa.feature.spectral_rolloff(S=mag, sr=sr), out)
    _mean_var("zero_crossing_rate", librosa.feature.zero_crossing_rate(y), out)

    harmonic, percussive = librosa.decompose.hpss(stft, kernel_size=HPSS_KERNEL)
    for name, part in (("harmony", harmonic), ("perceptr", percussive)):
        wave = librosa.istft(part, hop_length=HOP_LENGTH)  # no length=: slightly short
        wave = np.pad(wave, (0, max(0, len(y) - len(wave))))[: len(y)]
        _mean_var(name, wave, out)

    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr))
    # beat_track(y=...) aggregates the onset envelope over mel bands with the median.
    onset_env = librosa.onset.onset_strength(
        S=mel_db, sr=sr, hop_length=HOP_LENGTH, aggregate=np.median
    )
    tempo, _ = librosa.beat.beat_track(onset_envelope=onset_env, sr=sr, hop_length=HOP_LENGTH)
    out["tempo"] = float(np.atleast_1d(tempo)[0])

    mfcc = librosa.feature.mfcc(S=mel_db, sr=sr, n_mfcc=N_MFCC)
    for k in range(N_MFCC):
        _mean_var(f"mfcc{k + 1}", mfcc[k], out)

    return {name: out[name] for name in FEATURE_NAMES}
