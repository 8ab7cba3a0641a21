"""musicnn weights: the real wheel from the package index, offline wheels, the cache folder.

The real ``musicnn==0.1.0`` wheel (29 MB) is obtained once per test session: from
``$GENREKIT_MUSICNN_WHEEL`` when set (offline machines), else with ``pip download`` from the
configured package index; tests that need it skip with the reason when neither works.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from genrekit.embeddings import weights as W
from genrekit.embeddings.weights import (
    WHEEL_NAME,
    WHEEL_SHA256,
    cache_dir,
    convert_wheel,
    fetch_musicnn,
    load_weights,
)
from genrekit.exceptions import DataError, FetchError

_SESSION: dict[str, object] = {}
_TMP = tempfile.TemporaryDirectory(prefix="genrekit-test-musicnn-")

# sha256 over (name, little-endian float32 bytes) of every variable, names sorted
_GOLDEN = {
    "msd_musicnn": "711c98c55c158c9b497ab49eef3ed8d42b989d3864cd611d5561d3ccb7639d47",
    "mtt_musicnn": "5d30fa395db6e231765a42257b187da2d40d7db09ab549b84e0659a97fc6071c",
}


def _digest(weights: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(weights):
        h.update(k.encode())
        h.update(np.asarray(weights[k], dtype="<f4").tobytes())
    return h.hexdigest()


def real_wheel() -> Path:
    """The real wheel, downloaded once per session (skips the calling test if impossible)."""
    if "wheel" not in _SESSION:
        env = os.environ.get("GENREKIT_MUSICNN_WHEEL")
        if env:
            _SESSION["wheel"] = Path(env) if Path(env).is_file() else f"{env} does not exist"
        else:
            dest = Path(_TMP.name) / "wheel"
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "musicnn==0.1.0", "-d", str(dest)]  # fmt: skip
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                ok = proc.returncode == 0 and (dest / WHEEL_NAME).is_file()
                reason = (proc.stderr.strip().splitlines() or ["?"])[-1]
            except (OSError, subprocess.TimeoutExpired) as exc:
                ok, reason = False, str(exc)
            _SESSION["wheel"] = dest / WHEEL_NAME if ok else f"package index unreachable: {reason}"
    value = _SESSION["wheel"]
    if not isinstance(value, Path):
        pytest.skip(f"musicnn==0.1.0 wheel unavailable ({value}); set GENREKIT_MUSICNN_WHEEL")
    return value


def real_weights_dir() -> Path:
    """The real weights converted once per session into a temporary folder."""
    if "weights" not in _SESSION:
        _SESSION["weights"] = convert_wheel(real_wheel(), Path(_TMP.name) / "weights")
    return _SESSION["weights"]  # type: ignore[return-value]


def _fake_wheel(path: Path, *, with_mtt: bool = True) -> Path:
    """A wheel laid out like musicnn's, with tiny made-up checkpoints."""
    from test_checkpoint import write_bundle

    rng = np.random.default_rng(7)
    tensors = {
        "dense/kernel": rng.standard_normal((4, 3)).astype(np.float32),
        "dense/kernel/Adam": np.ones((4, 3), np.float32),
        "dense/kernel/Adam_1": np.ones((4, 3), np.float32),
        "beta1_power": np.array(0.9, np.float32),
    }
    index, data = write_bundle(tensors)
    with zipfile.ZipFile(path, "w") as zf:
        for folder in ("MSD_musicnn", "MTT_musicnn") if with_mtt else ("MSD_musicnn",):
            zf.writestr(f"musicnn/{folder}/.index", index)
            zf.writestr(f"musicnn/{folder}/.data-00000-of-00001", data)
        zf.writestr("musicnn-0.1.0.dist-info/LICENSE.md", "ISC licence text")
    return path


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREKIT_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("GENREKIT_CACHE_DIR")
    assert cache_dir() == tmp_path / "x" / "genrekit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "genrekit"


def test_offline_fake_wheel_round_trip(tmp_path):
    wheel = _fake_wheel(tmp_path / WHEEL_NAME)
    out = convert_wheel(wheel, tmp_path / "out", sha256=None)
    with np.load(out / "msd_musicnn.npz") as npz:
        assert sorted(npz.files) == ["dense/kernel"]  # Adam slots and beta powers dropped
        assert npz["dense/kernel"].shape == (4, 3)
    assert "ISC licence text" in (out / "LICENSE-musicnn.txt").read_text()
    manifest = json.loads((out / "musicnn.json").read_text())
    assert manifest["variables"] == {"msd_musicnn": 1, "mtt_musicnn": 1}


def test_offline_wheel_checksum_and_layout_errors(tmp_path):
    wheel = _fake_wheel(tmp_path / WHEEL_NAME)
    with pytest.raises(FetchError, match=f"does not match the published {WHEEL_NAME}"):
        fetch_musicnn(wheel=wheel, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "msd_musicnn.npz").exists()
    partial = _fake_wheel(tmp_path / "partial.whl", with_mtt=False)
    with pytest.raises(DataError, match=r"has no checkpoint musicnn/MTT_musicnn/\.index"):
        convert_wheel(partial, tmp_path / "out", sha256=None)
    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a wheel"):
        convert_wheel(tmp_path / "junk.whl", tmp_path / "out", sha256=None)


def test_load_weights_without_fetch_says_how(tmp_path):
    with pytest.raises(DataError, match="genrekit fetch musicnn"):
        load_weights("msd_musicnn", out_dir=tmp_path, fetch=False)


def test_first_use_fetches_on_demand(monkeypatch, tmp_path):
    calls = []

    def fake_download(dest: Path) -> Path:
        calls.append(dest)
        return _fake_wheel(dest / WHEEL_NAME)

    monkeypatch.setattr(W, "_download_wheel", fake_download)
    monkeypatch.setattr(W, "WHEEL_SHA256", None)
    monkeypatch.setenv("GENREKIT_CACHE_DIR", str(tmp_path))
    weights = load_weights("mtt_musicnn")
    assert list(weights) == ["dense/kernel"] and len(calls) == 1
    assert (tmp_path / "musicnn" / "mtt_musicnn.npz").is_file()
    load_weights("msd_musicnn")
    assert len(calls) == 1  # cached now


def test_real_pip_download_and_conversion(tmp_path):
    """The real wheel through pip: checksum, 64 variables each, ~792k parameters, golden."""
    wheel = real_wheel()
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == WHEEL_SHA256
    out = fetch_musicnn(wheel=wheel, out_dir=tmp_path)
    for model, golden in _GOLDEN.items():
        weights = load_weights(model, out_dir=out, fetch=False)
        assert len(weights) == 64
        assert sum(v.size for v in weights.values()) == 792_079
        assert weights["conv2d/kernel"].shape == (7, 38, 1, 204)
        assert weights["conv2d_5/kernel"].shape == (7, 561, 1, 64)
        assert weights["dense/kernel"].shape == (1506, 200)
        assert _digest(weights) == golden
    notice = (out / "LICENSE-musicnn.txt").read_text()
    assert "Permission to use, copy, modify" in notice and "Jordi Pons" in notice


def test_real_wheel_corrupted_byte_is_caught(tmp_path):
    """A flipped byte in the real MSD checkpoint's data fails that tensor's CRC32C."""
    wheel = real_wheel()
    with zipfile.ZipFile(wheel) as zf:
        index = zf.read("musicnn/MSD_musicnn/.index")
        data = bytearray(zf.read("musicnn/MSD_musicnn/.data-00000-of-00001"))
    from genrekit.embeddings.checkpoint import read_checkpoint, read_index

    entry = read_index(index)["conv2d_5/kernel"]
    data[entry.offset + entry.size // 2] ^= 0x10
    with pytest.raises(DataError, match="'conv2d_5/kernel' fails its CRC32C check"):
        read_checkpoint(index, [bytes(data)], include=W.is_model_variable)


def test_cli_fetch_musicnn_offline(tmp_path, capsys):
    wheel = real_wheel()
    from genrekit.cli import main

    try:
        import genrekit.fetch  # noqa: F401
    except ImportError:
        pytest.skip("genrekit.fetch not available in this tree yet")
    code = main(["fetch", "musicnn", "--wheel", str(wheel), "-o", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "msd_musicnn.npz").is_file() and (tmp_path / "mtt_musicnn.npz").is_file()
