"""load_audio: equal to librosa.load on real and synthetic files, clear refusals otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_path
from genrekit.audio import audio_info, check_file, load_audio
from genrekit.exceptions import AudioError, ParameterError


def _write(path: Path, y: np.ndarray, sr: int, subtype: str = "PCM_16", **kw) -> Path:
    sf.write(str(path), y, sr, subtype=subtype, **kw)
    return path


def test_matches_librosa_on_real_44k_file():
    import librosa

    path = shared_path("other", "ballroom-waltz-Media-105901.wav")
    y = load_audio(path)
    ref, sr = librosa.load(path, sr=22050)
    assert sr == 22050
    assert y.dtype == np.float32 and y.shape == ref.shape == (700924,)
    np.testing.assert_array_equal(y, ref)


def test_native_rate_file_is_decoded_unchanged():
    path = shared_path("gtzan-clips", "blues", "blues.00000.wav")
    y = load_audio(path)
    raw, sr = sf.read(str(path), dtype="float32")
    assert sr == 22050
    np.testing.assert_array_equal(y, raw)


@pytest.mark.parametrize(
    ("sr", "channels", "mono"),
    [(8000, 2, True), (8000, 2, False), (48000, 1, True), (22050, 2, True), (44100, 1, True)],
)
def test_matches_librosa_on_synthetic(tmp_path, rng, sr, channels, mono):
    import librosa

    n = sr // 2
    t = np.arange(n) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.05 * rng.standard_normal((n, channels))
    path = _write(tmp_path / f"x{sr}.wav", y.astype(np.float32), sr)
    ours = load_audio(path, mono=mono)
    ref, _ = librosa.load(path, sr=22050, mono=mono)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)
    expected_len = int(np.ceil(n * 22050 / sr))
    assert ours.shape[-1] == expected_len


@pytest.mark.parametrize("ext", ["flac", "ogg", "mp3", "au"])
def test_other_containers(tmp_path, ext):
    import librosa

    sr = 22050
    y = (0.4 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)).astype(np.float32)
    kw = {"subtype": None} if ext in ("ogg", "mp3") else {}
    path = tmp_path / f"tone.{ext}"
    sf.write(str(path), y, sr, **kw)
    ours = load_audio(path)
    ref, _ = librosa.load(path, sr=sr)
    np.testing.assert_array_equal(ours, ref)
    assert abs(len(ours) - sr) < 2500  # mp3 adds encoder delay / padding


def test_silence_is_valid(tmp_path):
    path = _write(tmp_path / "quiet.wav", np.zeros(4000, dtype=np.float32), 8000)
    y = load_audio(path)
    assert y.shape == (11025,) and not y.any()


def test_sr_and_resample_length(tmp_path):
    path = _write(tmp_path / "a.wav", np.zeros(1000, dtype=np.float32), 22050)
    assert load_audio(path, sr=16000).shape == (int(np.ceil(1000 * 16000 / 22050)),)
    with pytest.raises(ParameterError, match="positive integer sample rate, got 0"):
        load_audio(path, sr=0)


def test_audio_info(tmp_path):
    path = _write(tmp_path / "st.wav", np.zeros((4800, 2), dtype=np.float32), 48000)
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames, info.format) == (48000, 2, 4800, "WAV")
    assert info.duration == pytest.approx(0.1)


def _wav_bytes(tmp_path: Path) -> bytes:
    path = _write(tmp_path / "src.wav", np.zeros(2000, dtype=np.float32), 22050)
    return path.read_bytes()


def test_refusals_name_file_and_reason(tmp_path):
    cases: dict[str, str] = {}

    missing = tmp_path / "blues.00012.wav"
    cases[str(missing)] = r"^blues\.00012\.wav: cannot open: file not found$"

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cases[str(empty)] = r"^empty\.wav: cannot decode: file is empty \(0 bytes\)$"

    text = tmp_path / "notes.wav"
    text.write_text("this is a text file, not a song\n" * 20)
    cases[str(text)] = r"^notes\.wav: cannot decode: not an audio file \(format not recognised\)$"

    data = _wav_bytes(tmp_path)
    cut = tmp_path / "cut_header.wav"
    cut.write_bytes(data[:30])
    cases[str(cut)] = r"^cut_header\.wav: cannot decode: corrupt or truncated header"

    odd = tmp_path / "odd_fmt.wav"  # a 'fmt ' chunk of the wrong size
    odd.write_bytes(data[:16] + b"\x12\x00" + data[18:])
    cases[str(odd)] = r"^odd_fmt\.wav: cannot decode: corrupt or truncated header \(Error in WAV"

    header_only = tmp_path / "blues.00054.wav"
    header_only.write_bytes(data[:44])
    cases[str(header_only)] = r"^blues\.00054\.wav: cannot decode: file is truncated \(0 frames\)$"

    nan = tmp_path / "nan.wav"
    y = np.zeros(2205, dtype=np.float32)
    y[1102] = np.nan
    y[1500] = np.inf
    _write(nan, y, 22050, subtype="FLOAT")
    cases[str(nan)] = r"^nan\.wav: cannot use: 2 non-finite samples \(NaN or infinite\), first at 0\.050 s$"

    folder = tmp_path / "folder.wav"
    folder.mkdir()
    cases[str(folder)] = r"^folder\.wav: cannot open: is a directory"

    link = tmp_path / "dangling.wav"
    os.symlink(tmp_path / "nowhere.wav", link)
    cases[str(link)] = r"^dangling\.wav: cannot open: broken symbolic link$"

    for path, pattern in cases.items():
        with pytest.raises(AudioError, match=pattern) as info:
            load_audio(path)
        assert info.value.path == Path(path)  # type: ignore[attr-defined]
        assert info.value.reason in str(info.value)  # type: ignore[attr-defined]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_permission_denied(tmp_path):
    path = _write(tmp_path / "locked.wav", np.zeros(100, dtype=np.float32), 22050)
    path.chmod(0)
    try:
        with pytest.raises(AudioError, match="locked.wav: cannot open: permission denied"):
            check_file(path)
    finally:
        path.chmod(0o644)


def test_permission_denied_simulated(tmp_path, monkeypatch):
    # tests often run as root, where chmod 000 does not stop reads: simulate the refusal
    import builtins

    import genrekit.audio as audio_mod

    path = _write(tmp_path / "blues.00012.wav", np.zeros(100, dtype=np.float32), 22050)

    def deny(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(audio_mod, "open", deny, raising=False)
    with pytest.raises(AudioError, match=r"^blues\.00012\.wav: cannot open: permission denied$"):
        load_audio(path)
