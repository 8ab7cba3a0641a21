"""Decode audio files into float32 signals at genrekit's sample rate, or refuse them clearly.

Every file goes through libsndfile (via ``soundfile``): WAV, AU, FLAC, OGG/Vorbis, MP3 and
AIFF at any sample rate and channel count. Stereo is averaged to mono and other rates are
resampled with soxr's high-quality mode, exactly as ``librosa.load(path, sr=sr)`` does, so
features computed from :func:`load_audio` match features computed from librosa's loader.

A file that cannot be used raises :class:`~genrekit.exceptions.AudioError` whose message names
the file and the reason (``"blues.00012.wav: cannot decode: file is truncated (0 frames)"``);
batch extraction writes that reason to ``failures.csv``. Silence is valid audio.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrekit.constants import SAMPLE_RATE
from genrekit.exceptions import AudioError, ParameterError

__all__ = ["load_audio", "audio_info", "check_file", "AudioInfo", "RESAMPLE_QUALITY"]

#: soxr quality preset used for resampling: librosa's default ``res_type="soxr_hq"``.
RESAMPLE_QUALITY = "soxr_hq"


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, without decoding its samples.

    Attributes
    ----------
    path : Path
        The file.
    sample_rate : int
        Native sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of sample frames per channel.
    format : str
        libsndfile's container name (``"WAV"``, ``"FLAC"``, ``"MP3"`` ...).
    subtype : str
        libsndfile's sample encoding (``"PCM_16"``, ``"FLOAT"`` ...).
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _fail(path: Path, reason: str) -> AudioError:
    err = AudioError(f"{path.name}: {reason}")
    err.path = path  # type: ignore[attr-defined]
    err.reason = reason  # type: ignore[attr-defined]
    return err


def check_file(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is an existing, readable, non-empty regular file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.

    Raises
    ------
    AudioError
        ``"<name>: cannot open: ..."`` when it is missing, a broken link, a directory, not a
        regular file or not readable; ``"<name>: cannot decode: file is empty (0 bytes)"``.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        if p.is_symlink():
            raise _fail(p, "cannot open: broken symbolic link") from None
        raise _fail(p, "cannot open: file not found") from None
    except PermissionError:
        raise _fail(p, "cannot open: permission denied") from None
    except OSError as exc:
        raise _fail(p, f"cannot open: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(p, "cannot open: is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(p, "cannot open: not a regular file")
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise _fail(p, "cannot open: permission denied") from None
    except OSError as exc:
        raise _fail(p, f"cannot open: {exc.strerror or exc}") from None
    if st.st_size == 0:
        raise _fail(p, "cannot decode: file is empty (0 bytes)")
    return p


def _decode_reason(exc: Exception) -> str:
    """A short reason from a libsndfile error ("Format not recognised." -> not audio)."""
    text = str(getattr(exc, "error_string", "") or exc).strip().rstrip(".")
    if "Format not recognised" in text:
        return "cannot decode: not an audio file (format not recognised)"
    if "unknown format" in text.lower() or "not supported" in text.lower():
        return f"cannot decode: unsupported audio encoding ({text})"
    if any(word in text.lower() for word in ("chunk", "header", "malformed", "truncated")):
        return f"cannot decode: corrupt or truncated header ({text})"
    if isinstance(exc, OSError) and exc.errno == errno.EACCES:
        return "cannot open: permission denied"
    return f"cannot decode: {text}"


def _open(p: Path):  # type: ignore[no-untyped-def]
    import soundfile as sf

    try:
        return sf.SoundFile(str(p))
    except sf.LibsndfileError as exc:
        raise _fail(p, _decode_reason(exc)) from None
    except (RuntimeError, OSError, ValueError) as exc:
        raise _fail(p, _decode_reason(exc)) from None


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's header: sample rate, channels and length, without decoding samples.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file libsndfile can open.

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioError
        When the file is missing, unreadable, empty or not audio.

    Examples
    --------
    >>> info = audio_info("blues.00000.wav")  # doctest: +SKIP
    >>> info.sample_rate, info.channels, round(info.duration, 2)  # doctest: +SKIP
    (22050, 1, 30.01)
    """
    p = check_file(path)
    with _open(p) as f:
        return AudioInfo(
            path=p,
            sample_rate=int(f.samplerate),
            channels=int(f.channels),
            frames=int(f.frames),
            format=str(f.format),
            subtype=str(f.subtype),
        )


def load_audio(
    path: str | os.PathLike[str], *, sr: int = SAMPLE_RATE, mono: bool = True
) -> np.ndarray:
    """Decode an audio file to float32, mixed to mono and resampled to ``sr``.

    The result equals ``librosa.load(path, sr=sr, mono=mono)[0]``: libsndfile decoding to
    float32, channels averaged, soxr high-quality resampling to ``ceil(n * sr / native)``
    samples.

    Parameters
    ----------
    path : str or os.PathLike
        A WAV, AU, FLAC, OGG, MP3 or AIFF file, any sample rate, any number of channels.
    sr : int
        Target sample rate in Hz (default 22050, the rate every feature uses).
    mono : bool
        Average the channels (default). With ``False`` a multichannel file gives
        ``[shape=(channels, n)]``.

    Returns
    -------
    np.ndarray [shape=(n,) or (channels, n), dtype=float32]
        The samples in ``[-1, 1]`` (for integer sources).

    Raises
    ------
    AudioError
        Naming the file and the reason: missing, unreadable, not audio, empty or truncated
        (0 frames), corrupt header, or NaN / infinite samples.
    ParameterError
        When ``sr`` is not a positive integer.

    Examples
    --------
    >>> y = load_audio("song.flac")  # doctest: +SKIP
    >>> y.dtype, y.ndim
    (dtype('float32'), 1)
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer sample rate, got {sr!r}")
    p = check_file(path)
    with _open(p) as f:
        native = int(f.samplerate)
        declared = int(f.frames)
        try:
            y = f.read(dtype="float32", always_2d=True)  # (n, channels)
        except Exception as exc:  # libsndfile read errors on corrupt data
            raise _fail(p, _decode_reason(exc)) from None
    if y.shape[0] == 0:
        why = "file is truncated" if declared == 0 else "no samples could be decoded"
        raise _fail(p, f"cannot decode: {why} (0 frames)")
    finite = np.isfinite(y)
    if not finite.all():
        bad = int(y.size - np.count_nonzero(finite))
        first = int(np.argmin(finite.all(axis=1)))
        raise _fail(
            p,
            f"cannot use: {bad} non-finite sample{'s' if bad != 1 else ''} "
            f"(NaN or infinite), first at {first / native:.3f} s",
        )
    out = y.T  # (channels, n), librosa's layout
    if mono:
        # librosa.to_mono: mean over channels (a mono file stays as it is)
        out = out[0] if out.shape[0] == 1 else np.mean(out, axis=0)
    elif out.shape[0] == 1:
        out = out[0]
    if native != sr:
        out = _resample(out, native, int(sr))
    return np.ascontiguousarray(out, dtype=np.float32)


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """soxr HQ along the last axis, fixed to ``ceil(n * ratio)`` samples (librosa.resample)."""
    import soxr

    n_out = int(np.ceil(y.shape[-1] * float(target_sr) / orig_sr))
    rows = [y] if y.ndim == 1 else list(y)
    done = []
    for row in rows:
        r = soxr.resample(np.ascontiguousarray(row), orig_sr, target_sr, quality=RESAMPLE_QUALITY)
        if r.shape[0] < n_out:
            r = np.pad(r, (0, n_out - r.shape[0]))
        done.append(r[:n_out])
    out = done[0] if y.ndim == 1 else np.stack(done)
    return np.asarray(out, dtype=y.dtype)
