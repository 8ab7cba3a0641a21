"""Batch extraction: audio files in, Kaggle-compatible feature tables out.

:func:`extract` is what ``genrekit extract INPUT... -o OUT_DIR`` runs. It finds the audio
(:func:`collect_inputs`), decodes and analyses every file in parallel (a local process pool, or
a Dask cluster given ``scheduler="tcp://host:port"``), caches each file's result on disk, and
writes the tables described in ``docs/formats.md``:

- ``features_30_sec.{parquet,csv}`` and ``features_3_sec.*``: ``filename, length, <57>, label,
  track_id, segment`` (+ ``group``), sorted by ``track_id`` then ``segment``, so the output is
  the same for any number of workers;
- ``failures.csv`` (``path,reason``): every input that could not be used;
- ``short_files.csv`` (``path,seconds``): files shorter than one 3 s segment (30 s row only);
- ``extract.json``: the frozen settings, counts and failures;
- with ``mel=True``: ``mel_3_sec.npz`` and ``mel_30_sec/<track_id>.npy``;
- with ``embeddings=("msd_musicnn",)``: ``embeddings_msd_musicnn.{parquet,csv}``.

Resumable: a file's result is cached under ``cache_dir`` (default ``OUT_DIR/.cache``), keyed by
the file's content hash, the feature settings and genrekit's version, the moment it is
computed. Every file is written atomically (a temporary file in the same folder, then
``os.replace``), so a run killed at any moment leaves no half-written table, and the next run
only computes what is missing.

Examples
--------
>>> from genrekit.extract import extract
>>> report = extract(["gtzan/"], "features/", jobs=2)  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
extracted 1000 of 1000 files to features (9990 segments) in 61.2 s
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from genrekit._version import __version__
from genrekit.audio import audio_info, check_file, load_audio
from genrekit.constants import (
    AUDIO_EXTENSIONS,
    FAILURES_FILE,
    FEATURE_NAMES,
    HOP_LENGTH,
    HPSS_KERNEL,
    N_FFT,
    N_MELS,
    N_MFCC,
    PAD_MODES,
    SAMPLE_RATE,
    SEGMENT_SAMPLES,
    SEGMENT_STRIDE,
    TABLE_3S,
    TABLE_30S,
    TABLE_COLUMNS,
    WHOLE_TRACK_SEGMENT,
)
from genrekit.exceptions import (
    AudioError,
    DataError,
    DependencyError,
    GenreKitError,
    ParameterError,
)

__all__ = [
    "extract",
    "collect_inputs",
    "AudioItem",
    "ExtractSettings",
    "ExtractReport",
    "Failure",
    "EMBEDDING_MODELS",
    "FORMATS",
    "SHORT_FILES",
    "SETTINGS_FILE",
    "MEL_3S_FILE",
    "MEL_30S_DIR",
]

#: Table formats ``extract`` writes.
FORMATS = ("parquet", "csv")
#: Pretrained embedding models ``extract(embeddings=...)`` knows.
EMBEDDING_MODELS = ("msd_musicnn", "mtt_musicnn")
SHORT_FILES = "short_files.csv"
SETTINGS_FILE = "extract.json"
MEL_3S_FILE = "mel_3_sec.npz"
MEL_30S_DIR = "mel_30_sec"

_CACHE_FORMAT = 1  # bump when the layout of a cache entry changes
_TMP_MARK = ".genrekit-tmp-"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class AudioItem:
    """One audio file to extract, with its label and optional group.

    Attributes
    ----------
    path : Path
        The file (as given or found; not resolved, so messages show the user's path).
    label : str
        The genre: the folder name in GTZAN layout, the manifest's ``label``, or ``""``.
    group : str or None
        The manifest's ``group`` column (e.g. an artist), when it has one.
    """

    path: Path
    label: str = ""
    group: str | None = None


def _is_audio_name(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _scan_folder(folder: Path) -> list[AudioItem]:
    """Audio files directly in ``folder`` (no label) and below its subfolders (label = name)."""
    items: list[AudioItem] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            for path in sorted(entry.rglob("*")):
                # a folder named like audio is kept, so that it is reported, not skipped
                if _visible(path, folder) and _is_audio_name(path):
                    items.append(AudioItem(path, label=entry.name))
        elif _is_audio_name(entry):
            items.append(AudioItem(entry, label=""))
    if not items:
        raise DataError(
            f"{folder}: no audio files found (looked for {', '.join(AUDIO_EXTENSIONS)} "
            "directly inside and in genre subfolders)"
        )
    return items


def _read_manifest(path: Path) -> list[AudioItem]:
    """Rows of a ``path,label[,group]`` CSV; relative paths are relative to the manifest."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read manifest: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or "path" not in [h.strip().lower() for h in header]:
        raise DataError(
            f"{path}: a manifest needs a header line with 'path' (path,label[,group]), "
            f"got {','.join(header) if header else 'an empty file'!r}"
        )
    names = [h.strip().lower() for h in header]
    i_path = names.index("path")
    i_label = names.index("label") if "label" in names else None
    i_group = names.index("group") if "group" in names else None
    items: list[AudioItem] = []
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            row = row + [""] * (len(names) - len(row))
        cell = row[i_path].strip()
        if not cell:
            raise DataError(f"{path}, line {line_no}: empty 'path'")
        audio = Path(cell).expanduser()
        if not audio.is_absolute():
            audio = path.parent / audio
        label = row[i_label].strip() if i_label is not None else ""
        group = row[i_group].strip() if i_group is not None else None
        items.append(AudioItem(audio, label=label, group=group))
    if not items:
        raise DataError(f"{path}: the manifest lists no files")
    return items


def collect_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[AudioItem]:
    """The audio files named by ``genrekit extract``'s INPUT arguments, in a stable order.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike
        Each one is a folder in GTZAN layout (``<genre>/<file>``: label = the subfolder's
        name; files directly in the folder get an empty label; hidden entries are skipped),
        a manifest CSV (header ``path,label[,group]``; relative paths are resolved against
        the manifest's folder; a UTF-8 byte-order mark is accepted), or an audio file
        (empty label). A path that does not exist is kept, so that extraction reports it.

    Returns
    -------
    list of AudioItem
        Folders sorted by name; the same file named twice is kept once (the first time).

    Raises
    ------
    DataError
        When a folder holds no audio, or a manifest is malformed or empty.
    ParameterError
        When ``inputs`` is empty.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    paths = [Path(p) for p in inputs]
    if not paths:
        raise ParameterError("extract needs at least one INPUT (folder, manifest or audio file)")
    items: list[AudioItem] = []
    for p in paths:
        if p.is_dir():
            items.extend(_scan_folder(p))
        elif p.suffix.lower() == ".csv" and p.is_file():
            items.extend(_read_manifest(p))
        else:
            items.append(AudioItem(p))
    seen: set[str] = set()
    unique: list[AudioItem] = []
    for item in items:
        key = os.path.normcase(os.path.abspath(item.path))
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _names(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """Kaggle ``filename`` and ``track_id`` for each path, unique across the batch.

    The name is the file's name; where two files share a track id, their parent folders are
    prefixed until they differ (``a/song.wav``, ``b/song.wav``). Two files of one folder that
    differ only by extension keep the extension in their track id.
    """
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    depth = [1] * len(paths)

    def name(i: int) -> str:
        return "/".join(parts[i][-depth[i]:])

    def stem(text: str) -> str:
        head, _, tail = text.rpartition("/")
        s = tail.rsplit(".", 1)[0] if "." in tail.lstrip(".") else tail
        return f"{head}/{s}" if head else s

    while True:
        groups: dict[str, list[int]] = defaultdict(list)
        for i in range(len(paths)):
            groups[stem(name(i))].append(i)
        grew = False
        for members in groups.values():
            if len(members) > 1:
                for i in members:
                    # folders only help against a namesake in another folder
                    other_dir = any(parts[j][:-1] != parts[i][:-1] for j in members)
                    if other_dir and depth[i] < len(parts[i]):
                        depth[i] += 1
                        grew = True
        if not grew:
            break
    ids = [stem(name(i)) for i in range(len(paths))]
    counts: dict[str, int] = defaultdict(int)
    for tid in ids:
        counts[tid] += 1
    return [
        (name(i), name(i) if counts[ids[i]] > 1 else ids[i]) for i in range(len(paths))
    ]


def _segment_filename(filename: str, i: int) -> str:
    """``blues.00000.wav`` -> ``blues.00000.3.wav`` (Kaggle's 3 s row names)."""
    head, _, tail = filename.rpartition("/")
    if "." in tail.lstrip("."):
        base, ext = tail.rsplit(".", 1)
        tail = f"{base}.{i}.{ext}"
    else:
        tail = f"{tail}.{i}"
    return f"{head}/{tail}" if head else tail


# --------------------------------------------------------------------------- settings, report


@dataclass(frozen=True)
class ExtractSettings:
    """Everything that determines extracted values; written to ``extract.json``.

    Attributes
    ----------
    pad_mode : {"reflect", "constant"}
        STFT centring ("reflect" reproduces the Kaggle tables).
    mel : bool
        Also keep log-mel spectrograms.
    embeddings : tuple of str
        Pretrained embedding models to run.
    fmt : {"parquet", "csv"}
        Table format.
    """

    pad_mode: str
    mel: bool = False
    embeddings: tuple[str, ...] = ()
    fmt: str = "parquet"
    sample_rate: int = SAMPLE_RATE
    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    n_mfcc: int = N_MFCC
    hpss_kernel: int = HPSS_KERNEL
    segment_stride: int = SEGMENT_STRIDE
    segment_samples: int = SEGMENT_SAMPLES
    genrekit_version: str = __version__

    def cache_tag(self, part: str) -> str:
        """The part of a cache key that depends on settings (not on the file)."""
        keep = {
            "cache_format": _CACHE_FORMAT,
            "part": part,
            "version": self.genrekit_version,
            "sample_rate": self.sample_rate,
            "code": _code_fingerprint(part),
        }
        if part == "features":
            keep.update(
                pad_mode=self.pad_mode, mel=self.mel, n_fft=self.n_fft,
                hop_length=self.hop_length, n_mels=self.n_mels, n_mfcc=self.n_mfcc,
                hpss_kernel=self.hpss_kernel, segment_stride=self.segment_stride,
                segment_samples=self.segment_samples,
            )
        return json.dumps(keep, sort_keys=True)


def _code_fingerprint(part: str) -> str:
    """sha256 of the source that computes ``part``: editing the feature code (even without a
    version bump, as in a development install) invalidates the cached results."""
    import genrekit

    root = Path(genrekit.__file__).parent
    folder = "features" if part == "features" else "embeddings"
    files = [root / "audio.py", *sorted((root / folder).glob("*.py"))]
    h = hashlib.sha256()
    for f in files:
        try:
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        except OSError:  # e.g. a zipped install without sources: the version still counts
            h.update(f.name.encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Failure:
    """An input that could not be used: its path (as given) and the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class ExtractReport:
    """What one :func:`extract` run did.

    Attributes
    ----------
    out_dir : Path
    n_inputs, n_ok, n_failed, n_short, n_segments, n_cached : int
        Files found; files extracted; files that failed; files shorter than one segment
        (extracted, 30 s row only); rows of the 3 s table; files served from the cache.
    failures : tuple of Failure
    short_files : tuple of (str, float)
        Path and length in seconds.
    paths : dict[str, Path]
        Every file written, by role (``"features_30_sec"``, ``"failures"``, ...).
    seconds : float
        Wall-clock time of the run.
    """

    out_dir: Path
    n_inputs: int
    n_ok: int
    n_failed: int
    n_short: int
    n_segments: int
    n_cached: int
    failures: tuple[Failure, ...]
    short_files: tuple[tuple[str, float], ...]
    paths: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        text = (
            f"extracted {self.n_ok} of {self.n_inputs} file{'s' if self.n_inputs != 1 else ''}"
            f" to {self.out_dir} ({self.n_segments} segments"
        )
        if self.n_cached:
            text += f", {self.n_cached} from cache"
        text += f") in {self.seconds:.1f} s"
        if self.n_failed:
            text += f"; {self.n_failed} failed, see {self.paths.get('failures')}"
        if self.n_short:
            text += (
                f"; {self.n_short} shorter than {SEGMENT_SAMPLES / SAMPLE_RATE:.0f} s "
                f"(no 3 s rows), see {self.paths.get('short_files')}"
            )
        return text


# --------------------------------------------------------------------------- atomic files


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}-{os.urandom(4).hex()}")


def _atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through ``write(tmp)`` to a temporary file beside ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _remove_stale_tmp(folder: Path, *, recursive: bool = False) -> None:
    """Delete temporary files a killed run left behind (its process is gone)."""
    if not folder.is_dir():
        return
    pattern = f".*{_TMP_MARK}*"
    for tmp in folder.rglob(pattern) if recursive else folder.glob(pattern):
        match = re.search(re.escape(_TMP_MARK) + r"(\d+)-", tmp.name)
        pid = int(match.group(1)) if match else -1
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            alive = pid > 0
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- cache


class _Cache:
    """Per-file results as ``.npz`` files (loaded with ``allow_pickle=False``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # unreadable entry: recompute it
            return None

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]

        _atomic_write(self._path(key), write)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _key(digest: str, tag: str) -> str:
    return hashlib.sha256(f"{digest}\n{tag}".encode()).hexdigest()


# --------------------------------------------------------------------------- per-file work


@dataclass(frozen=True)
class _Task:
    index: int
    path: str
    features: bool
    pad_mode: str
    mel: bool
    embeddings: tuple[str, ...]


@dataclass
class _Outcome:
    index: int
    parts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    reason: str | None = None


def _as_matrix(rows: Any, n_cols: int) -> np.ndarray:
    """Feature rows (dicts keyed by FEATURE_NAMES, or an array) as float64 [n, 57]."""
    if isinstance(rows, np.ndarray):
        return np.asarray(rows, dtype=np.float64).reshape(-1, n_cols)
    out = np.empty((len(rows), n_cols), dtype=np.float64)
    for i, row in enumerate(rows):
        out[i] = [row[name] for name in FEATURE_NAMES] if isinstance(row, dict) else row
    return out


def _analyse(y: np.ndarray, task: _Task) -> dict[str, np.ndarray]:
    from genrekit.features.kaggle import analyze_track  # type: ignore[attr-defined]

    result = analyze_track(y, sr=SAMPLE_RATE, pad_mode=task.pad_mode, mel=task.mel)
    n = len(FEATURE_NAMES)
    arrays = {
        "length": np.asarray(len(y), dtype=np.int64),
        "track": _as_matrix([result.track], n)[0],
        "segments": _as_matrix(result.segments, n),
    }
    if task.mel:
        if result.mel is None or result.segment_mels is None:
            raise GenreKitError("the feature analysis returned no mel spectrogram")
        arrays["mel"] = np.asarray(result.mel, dtype=np.float32)
        seg = [np.asarray(m, dtype=np.float32) for m in result.segment_mels]
        arrays["segment_mels"] = (
            np.stack(seg) if seg else np.zeros((0, N_MELS, 0), dtype=np.float32)
        )
    return arrays


def _embed(y: np.ndarray, sr: int, model: str) -> dict[str, np.ndarray]:
    from genrekit.embeddings import embedding_rows

    rows = embedding_rows(y, sr, model=model)
    columns = [c for c in (rows[0].keys() if rows else ()) if c != "segment"]
    values = np.array([[row[c] for c in columns] for row in rows], dtype=np.float64)
    segments = np.array([int(row.get("segment", i)) for i, row in enumerate(rows)], np.int64)
    return {
        "columns": np.array(columns, dtype=str),
        "values": values.reshape(len(rows), len(columns)),
        "segment": segments,
    }


def _work(task: _Task) -> _Outcome:
    """Decode one file and compute what the task asks for; failures become a reason."""
    out = _Outcome(task.index)
    # One BLAS thread wherever this runs (inline, a pool, a threaded Dask worker): the
    # parallelism is across files, and a fixed thread count keeps results bit-identical.
    with _one_thread():
        return _work_in(task, out)


def _work_in(task: _Task, out: _Outcome) -> _Outcome:
    try:
        y = load_audio(task.path, sr=SAMPLE_RATE)
        if task.features:
            out.parts["features"] = _analyse(y, task)
        if task.embeddings:
            # the networks resample to their own rate: from the file's rate is closest to
            # how the published models were run
            native = audio_info(task.path).sample_rate
            y_native = y if native == SAMPLE_RATE else load_audio(task.path, sr=native)
            for model in task.embeddings:
                out.parts[f"emb:{model}"] = _embed(y_native, native, model)
    except AudioError as exc:
        out.reason = getattr(exc, "reason", str(exc))
    except GenreKitError as exc:
        out.reason = str(exc)
    except MemoryError:
        out.reason = "out of memory while analysing the file"
    except Exception as exc:  # a batch reports a bad file and goes on (issue: no traceback)
        out.reason = f"unexpected error: {type(exc).__name__}: {exc}"
        out.parts.clear()
    return out


def _limit_threads() -> None:
    """Worker initialiser: one BLAS/OpenMP thread per process, the pool is the parallelism."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def _one_thread() -> Any:
    """A context limiting BLAS/OpenMP pools to one thread (threadpoolctl comes with
    scikit-learn; without it, a no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def _warm_up(task: _Task) -> None:
    """Import and run the analysis once before forking, so no worker pays for it again
    (module imports, filter banks, numba's compiled code are inherited)."""
    y = np.random.default_rng(0).standard_normal(SEGMENT_STRIDE + N_FFT).astype(np.float32)
    _analyse(0.01 * y, task)


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _run_local(tasks: list[_Task], jobs: int, on_done: Callable[[_Outcome], None]) -> None:
    if jobs <= 1 or len(tasks) <= 1:
        # one worker means one core: multithreaded BLAS/FFT would only spin on contended cores
        for task in tasks:
            on_done(_work(task))
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    if multiprocessing.get_start_method() == "fork" and any(t.features for t in tasks):
        _warm_up(tasks[0])
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_limit_threads) as pool:
        pending = {pool.submit(_work, t) for t in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    on_done(fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _run_dask(tasks: list[_Task], address: str, on_done: Callable[[_Outcome], None]) -> None:
    try:
        import distributed
    except ImportError:
        raise DependencyError(
            "--scheduler needs Dask's distributed scheduler; install it with: "
            "pip install 'genrekit[dask]'"
        ) from None
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(
            f"cannot connect to the Dask scheduler at {address!r}: {exc}"
        ) from None
    try:
        futures = client.map(_work, tasks, pure=False)
        for fut in distributed.as_completed(futures):
            on_done(fut.result())
    finally:
        client.close()


# --------------------------------------------------------------------------- writing


def _write_table(df: Any, path: Path, fmt: str) -> Path:
    if fmt == "parquet":
        return _atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False, engine="pyarrow"))
    return _atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))


def _write_csv_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)

    return _atomic_write(path, write)


def _feature_frame(meta: list[dict[str, Any]], matrix: np.ndarray, with_group: bool) -> Any:
    import pandas as pd

    n = len(meta)
    data: dict[str, Any] = {
        "filename": pd.Series([m["filename"] for m in meta], dtype=object),
        "length": np.array([m["length"] for m in meta], dtype=np.int64),
    }
    for j, name in enumerate(FEATURE_NAMES):
        data[name] = matrix[:, j] if n else np.zeros(0)
    data["label"] = pd.Series([m["label"] for m in meta], dtype=object)
    data["track_id"] = pd.Series([m["track_id"] for m in meta], dtype=object)
    data["segment"] = np.array([m["segment"] for m in meta], dtype=np.int64)
    columns = list(TABLE_COLUMNS)
    if with_group:
        data["group"] = pd.Series([m["group"] for m in meta], dtype=object)
        columns.append("group")
    return pd.DataFrame(data, columns=columns)


def _write_npz_stream(path: Path, name: str, shape: tuple[int, ...], blocks: Iterable[np.ndarray],
                      extra: dict[str, np.ndarray]) -> Path:
    """An ``.npz`` whose big array is streamed block by block (no full copy in memory)."""

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                          "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_2_0(fh, header)
                for block in blocks:
                    fh.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
            for key, arr in extra.items():
                with zf.open(f"{key}.npy", "w") as fh:
                    np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)

    return _atomic_write(path, write)


# --------------------------------------------------------------------------- extract


def _check_embeddings(embeddings: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(embeddings))
    for name in names:
        if name not in EMBEDDING_MODELS:
            raise ParameterError(
                f"unknown embedding model {name!r}; expected one of {', '.join(EMBEDDING_MODELS)}"
            )
    if names:
        try:
            from genrekit.embeddings import embedding_rows  # noqa: F401
        except ImportError:
            raise DependencyError(
                "embeddings need genrekit.embeddings.embedding_rows, which this installation "
                "lacks; reinstall genrekit (pip install --upgrade genrekit)"
            ) from None
    return names


def _prepare_embeddings(models: Sequence[str]) -> None:
    """Fetch/convert the weights once here, not in every worker at the same time."""
    import genrekit.embeddings as emb

    load = getattr(emb, "load_weights", None)
    for model in models:
        if load is not None:
            load(model)


def extract(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    fmt: str = "parquet",
    mel: bool = False,
    embeddings: Sequence[str] = (),
    pad_mode: str = "reflect",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> ExtractReport:
    """Extract the Kaggle feature tables (and optionally mel spectrograms and embeddings).

    Parameters
    ----------
    inputs : iterable of path
        Folders in GTZAN layout, manifest CSVs and/or audio files (see
        :func:`collect_inputs`).
    out_dir : path
        Output folder (created). Tables written by an earlier run are replaced.
    jobs : int, optional
        Worker processes (default: every core this process may use). ``1`` runs in this
        process.
    scheduler : str, optional
        A Dask scheduler address (``"tcp://host:port"``): the same per-file tasks run on that
        cluster instead of local processes. The cluster's workers must see the input files.
    fmt : {"parquet", "csv"}
        Table format.
    mel : bool
        Also write ``mel_3_sec.npz`` and ``mel_30_sec/<track_id>.npy`` (log-mel, dB).
    embeddings : sequence of {"msd_musicnn", "mtt_musicnn"}
        Also write ``embeddings_<name>.<fmt>``, one row per patch.
    pad_mode : {"reflect", "constant"}
        STFT centring ("reflect" reproduces the Kaggle tables).
    cache_dir : path, optional
        Per-file result cache (default ``out_dir/.cache``); shared safely between runs.
    progress : bool, optional
        Show a progress bar on stderr (default: only when stderr is a terminal).

    Returns
    -------
    ExtractReport
        Counts, failures, short files and the paths written. ``report.n_failed`` is non-zero
        when some input could not be used; everything else was still extracted and saved.

    Raises
    ------
    ParameterError
        Bad ``fmt``, ``pad_mode``, ``jobs``, embedding name, or an unreachable scheduler.
    DataError
        An input folder without audio, or a malformed manifest.
    DependencyError
        ``scheduler`` without Dask installed, or embeddings without their module.
    """
    start = time.perf_counter()
    if fmt not in FORMATS:
        raise ParameterError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if pad_mode not in PAD_MODES:
        raise ParameterError(f"pad_mode must be one of {', '.join(PAD_MODES)}, got {pad_mode!r}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ParameterError(f"jobs must be a positive integer, got {jobs!r}")
    if isinstance(embeddings, str):
        embeddings = (embeddings,)
    models = _check_embeddings(embeddings)
    settings = ExtractSettings(pad_mode=pad_mode, mel=bool(mel), embeddings=models, fmt=fmt)

    inputs = _as_list(inputs)
    items = collect_inputs(inputs)
    names = _names([it.path for it in items])
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"output folder {out}: cannot create it ({exc.strerror or exc})"
                             ) from None
    cache = _Cache(Path(cache_dir) if cache_dir is not None else out / ".cache")
    _remove_stale_tmp(out)
    _remove_stale_tmp(out / MEL_30S_DIR, recursive=True)
    _remove_stale_tmp(cache.root, recursive=True)

    parts_needed = ["features", *(f"emb:{m}" for m in models)]
    tags = {p: settings.cache_tag(p) for p in parts_needed}
    keys: dict[int, dict[str, str]] = {}
    failures: dict[int, str] = {}
    tasks: list[_Task] = []
    n_cached = 0
    for i, item in enumerate(items):
        try:
            check_file(item.path)
            digest = _file_digest(item.path)
        except AudioError as exc:
            failures[i] = getattr(exc, "reason", str(exc))
            continue
        except OSError as exc:
            failures[i] = f"cannot open: {exc.strerror or exc}"
            continue
        keys[i] = {p: _key(digest, tags[p]) for p in parts_needed}
        missing = [p for p in parts_needed if not cache.has(keys[i][p])]
        if not missing:
            n_cached += 1
            continue
        tasks.append(
            _Task(
                index=i,
                path=str(item.path),
                features="features" in missing,
                pad_mode=pad_mode,
                mel=bool(mel),
                embeddings=tuple(m for m in models if f"emb:{m}" in missing),
            )
        )

    _prepare_embeddings([m for m in models if any(m in t.embeddings for t in tasks)])
    show = sys.stderr.isatty() if progress is None else bool(progress)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), initial=len(items) - len(tasks), disable=not show,
               unit="file", desc="extract", file=sys.stderr, dynamic_ncols=True)

    def on_done(outcome: _Outcome) -> None:
        if outcome.reason is not None:
            failures[outcome.index] = outcome.reason
        else:
            for part, arrays in outcome.parts.items():
                cache.put(keys[outcome.index][part], arrays)
        bar.update(1)

    try:
        if scheduler:
            _run_dask(tasks, scheduler, on_done)
        else:
            _run_local(tasks, jobs or _default_jobs(), on_done)
    finally:
        bar.close()

    paths, short, n_segments = _write_outputs(out, items, names, keys, failures, cache,
                                              settings)
    ok = [i for i in range(len(items)) if i not in failures]
    report = ExtractReport(
        out_dir=out,
        n_inputs=len(items),
        n_ok=len(ok),
        n_failed=len(failures),
        n_short=len(short),
        n_segments=n_segments,
        n_cached=n_cached,
        failures=tuple(Failure(str(items[i].path), failures[i]) for i in sorted(failures)),
        short_files=tuple(short),
        paths=paths,
        seconds=time.perf_counter() - start,
    )
    paths["settings"] = _write_settings(out, settings, report, inputs=[str(p) for p in inputs],
                                        jobs=jobs, scheduler=scheduler)
    return report


def _as_list(inputs: Iterable[Any]) -> list[Any]:
    if isinstance(inputs, (str, os.PathLike)):
        return [inputs]
    return list(inputs)


def _write_outputs(out: Path, items: list[AudioItem], names: list[tuple[str, str]],
                   keys: dict[int, dict[str, str]], failures: dict[int, str], cache: _Cache,
                   settings: ExtractSettings,
                   ) -> tuple[dict[str, Path], list[tuple[str, float]], int]:
    """Read every extracted file's result from the cache and write the tables."""
    # Results that vanished from the cache (deleted under us) count as failures.
    order = sorted((i for i in range(len(items)) if i not in failures),
                   key=lambda i: names[i][1])
    with_group = any(it.group is not None for it in items)
    feats: dict[int, dict[str, np.ndarray]] = {}
    for i in order:
        entry = cache.get(keys[i]["features"])
        if entry is None:
            failures[i] = "result missing from the cache (was it deleted during the run?)"
            continue
        if settings.mel:
            # keep the big arrays out of memory; re-read them when writing the mel files
            entry = {k: v for k, v in entry.items() if k not in ("mel", "segment_mels")}
        feats[i] = entry
    order = [i for i in order if i in feats]

    meta30: list[dict[str, Any]] = []
    meta3: list[dict[str, Any]] = []
    rows30: list[np.ndarray] = []
    rows3: list[np.ndarray] = []
    short: list[tuple[str, float]] = []
    for i in order:
        filename, track_id = names[i]
        item, entry = items[i], feats[i]
        common = {"label": item.label, "track_id": track_id, "group": item.group or ""}
        length = int(entry["length"])
        meta30.append({"filename": filename, "length": length,
                       "segment": WHOLE_TRACK_SEGMENT, **common})
        rows30.append(entry["track"])
        segs = entry["segments"]
        if len(segs) == 0:
            short.append((str(item.path), round(length / SAMPLE_RATE, 3)))
        for s in range(len(segs)):
            meta3.append({"filename": _segment_filename(filename, s),
                          "length": SEGMENT_SAMPLES, "segment": s, **common})
        rows3.append(segs)

    n_feat = len(FEATURE_NAMES)
    m30 = np.vstack(rows30) if rows30 else np.zeros((0, n_feat))
    m3 = np.vstack(rows3) if rows3 else np.zeros((0, n_feat))
    paths: dict[str, Path] = {}
    ext = settings.fmt
    paths[TABLE_30S] = _write_table(_feature_frame(meta30, m30, with_group),
                                    out / f"{TABLE_30S}.{ext}", ext)
    paths[TABLE_3S] = _write_table(_feature_frame(meta3, m3, with_group),
                                   out / f"{TABLE_3S}.{ext}", ext)
    paths["failures"] = _write_csv_rows(
        out / FAILURES_FILE, ("path", "reason"),
        ((str(items[i].path), failures[i]) for i in sorted(failures)),
    )
    paths["short_files"] = _write_csv_rows(out / SHORT_FILES, ("path", "seconds"), short)

    if settings.mel:
        paths.update(_write_mels(out, order, names, keys, cache))
    for model in settings.embeddings:
        paths[f"embeddings_{model}"] = _write_embeddings(
            out, model, order, items, names, keys, cache, with_group, ext)
    return paths, short, len(meta3)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, np.asarray(array), allow_pickle=False)


def _write_mels(out: Path, order: list[int], names: list[tuple[str, str]],
                keys: dict[int, dict[str, str]], cache: _Cache) -> dict[str, Path]:
    shapes: list[tuple[int, ...]] = []
    track_ids: list[str] = []
    segments: list[int] = []
    mel_dir = out / MEL_30S_DIR
    for i in order:
        entry = cache.get(keys[i]["features"]) or {}
        seg = entry["segment_mels"]
        shapes.append(seg.shape)
        track_ids += [names[i][1]] * len(seg)
        segments += list(range(len(seg)))
        _atomic_write(mel_dir / f"{names[i][1]}.npy", partial(_save_npy, array=entry["mel"]))
    frames = {s[2] for s in shapes if s[0]}
    if len(frames) > 1:
        raise GenreKitError(f"3 s mel patches differ in frame count: {sorted(frames)}")
    n_frames = frames.pop() if frames else 0

    def blocks() -> Iterable[np.ndarray]:
        for i in order:
            entry = cache.get(keys[i]["features"]) or {}
            if len(entry["segment_mels"]):
                yield entry["segment_mels"]

    path = _write_npz_stream(
        out / MEL_3S_FILE, "mel", (len(track_ids), N_MELS, n_frames), blocks(),
        {"track_id": np.array(track_ids, dtype=str), "segment": np.array(segments, np.int64)},
    )
    return {"mel_3_sec": path, "mel_30_sec": mel_dir}


def _write_embeddings(out: Path, model: str, order: list[int], items: list[AudioItem],
                      names: list[tuple[str, str]], keys: dict[int, dict[str, str]],
                      cache: _Cache, with_group: bool, ext: str) -> Path:
    import pandas as pd

    frames = []
    columns: list[str] | None = None
    for i in order:
        entry = cache.get(keys[i][f"emb:{model}"])
        if entry is None:
            continue
        cols = [str(c) for c in entry["columns"]]
        columns = columns or cols
        n = len(entry["segment"])
        head = {
            "filename": [names[i][0]] * n,
            "track_id": [names[i][1]] * n,
            "segment": entry["segment"],
            "label": [items[i].label] * n,
        }
        if with_group:
            head["group"] = [items[i].group or ""] * n
        df = pd.DataFrame(head)
        body = pd.DataFrame(entry["values"], columns=cols)
        frames.append(pd.concat([df, body], axis=1))
    if frames:
        table = pd.concat(frames, ignore_index=True)
        table = table.sort_values(["track_id", "segment"], kind="stable").reset_index(drop=True)
    else:
        table = pd.DataFrame(columns=["filename", "track_id", "segment", "label"])
    return _write_table(table, out / f"embeddings_{model}.{ext}", ext)


def _write_settings(out: Path, settings: ExtractSettings, report: ExtractReport, *,
                    inputs: list[str], jobs: int | None, scheduler: str | None) -> Path:
    doc = {
        "genrekit_version": __version__,
        "settings": dataclasses.asdict(settings),
        "inputs": inputs,
        "run": {"jobs": jobs, "scheduler": scheduler, "seconds": round(report.seconds, 3)},
        "counts": {
            "inputs": report.n_inputs, "ok": report.n_ok, "failed": report.n_failed,
            "short": report.n_short, "segments": report.n_segments, "cached": report.n_cached,
        },
        "failures": [dataclasses.asdict(f) for f in report.failures],
        "short_files": [{"path": p, "seconds": s} for p, s in report.short_files],
        "outputs": {k: str(v) for k, v in report.paths.items()},
    }
    text = json.dumps(doc, indent=2) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return _atomic_write(out / SETTINGS_FILE, write)
