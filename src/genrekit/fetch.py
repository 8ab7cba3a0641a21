"""Download the public GTZAN material: the audio archive and the standard split lists.

``genrekit fetch gtzan|splits|musicnn [-o DIR]`` runs :func:`fetch`.

- ``gtzan``: the original GTZAN archive ``genres.tar.gz`` (Tzanetakis & Cook 2002, as
  distributed by Marsyas), about 1.2 GB, checked against its published sha256 and md5, then
  unpacked into GTZAN layout (``DIR/<genre>/<genre>.000NN.au``). Every track is opened once
  after unpacking; the ones that do not decode (the Kaggle copy's ``jazz.00054.wav`` is the
  known case) are listed in ``DIR/known_issues.txt`` and warned about, not fatal.
- ``splits``: the fault-filtered train / valid / test lists of Kereliuk, Sturm & Larsen (2015),
  and the older stratified ones, as published in ``coreyker/dnn-mgr`` (``gtzan/*.txt``),
  each checked against its sha256.
- ``musicnn``: the pretrained musicnn weights (see :mod:`genrekit.embeddings.weights`).

Downloads resume: bytes arrive in ``<file>.part`` and an interrupted download continues with
an HTTP ``Range`` request; transient errors are retried with back-off; every request has a
bounded timeout. A file whose checksum does not match is deleted and reported with both
digests. Archive members are unpacked by name only into the GTZAN layout; an archive with an
absolute path, a ``..`` component or a link among its members is refused.

Where things go: ``-o DIR``, else ``$GENREKIT_DATA_DIR/<what>``, else
``$XDG_DATA_HOME/genrekit/<what>`` (``~/.local/share/genrekit/<what>``).

Environment overrides (mirrors, offline copies, tests):

``GENREKIT_GTZAN_URL``
    Where to get ``genres.tar.gz`` (``http(s)://`` or ``file://``; also a ``.zip`` in the
    Kaggle layout). The published checksums still apply unless
    ``GENREKIT_GTZAN_SHA256`` gives another digest (``none`` skips the check, with a warning).
``GENREKIT_SPLITS_URL``
    Base URL of the split lists (the file names are appended).
``GENREKIT_FETCH_TIMEOUT``, ``GENREKIT_FETCH_RETRIES``
    Seconds per network read (default 30) and attempts per source (default 4).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from genrekit._io import atomic_write_text
from genrekit._version import __version__
from genrekit.constants import GENRES
from genrekit.exceptions import AudioError, FetchError, ParameterError

__all__ = [
    "fetch",
    "data_dir",
    "Download",
    "gtzan_download",
    "SPLIT_LISTS",
    "SPLITS_BASE_URL",
    "KNOWN_ISSUES_FILE",
]

#: The GTZAN archive as distributed by Marsyas (UVic), and its Internet Archive copy.
#: Digests as published by torchaudio (sha256) and mirdata (md5) for this file.
_GTZAN_URLS = (
    "http://opihi.cs.uvic.ca/sound/genres.tar.gz",
    "https://web.archive.org/web/20220328223413id_/http://opihi.cs.uvic.ca/sound/genres.tar.gz",
)
_GTZAN_SHA256 = "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6"
_GTZAN_MD5 = "5b3d6dddb579ab49814ab86dba69e7c7"

#: Split lists of Kereliuk, Sturm & Larsen (2015) in coreyker/dnn-mgr, with their sha256.
SPLITS_BASE_URL = "https://raw.githubusercontent.com/coreyker/dnn-mgr/master/gtzan/"
SPLIT_LISTS = {
    "train_filtered.txt": "2b04966cef1486f1a7767b74271533fa23e220388db804a1937835e1fc4fa3fa",
    "valid_filtered.txt": "f8fbee7c52397a0e0f3a91dc54fedecb2e27f5bdc9a9daeab8cb10d077e26956",
    "test_filtered.txt": "09cafa6a89ce0a27f30ed250d56ecb4d03c22fffb5a693f96c7ae655ee02ac72",
    "train_stratified.txt": "e4d9be9546793e222b4d7915db0af8fb9683d980b10ac4f915453e62333c2368",
    "valid_stratified.txt": "60e0fd1ce2a16df77fae312b64153fd717716387094203e504e83bfd472b2a6c",
    "test_stratified.txt": "8fe4c4d159c61bebf64470b178d094773a051c67d675f1f61abc7957758e6821",
}

KNOWN_ISSUES_FILE = "known_issues.txt"
_MARKER = ".genrekit-fetch.json"
_DOWNLOADS = ".downloads"
_CHUNK = 1 << 20
_BACKOFF_SECONDS = 1.0

#: Tracks known to be faulty, with why (Sturm, "The GTZAN dataset: its contents, its faults,
#: their effects on evaluation, and the future use", 2013; and the Kaggle copy's corruption).
_KNOWN_FAULTS = {
    "jazz.00054": "corrupt in the Kaggle copy of GTZAN (it does not decode); the original "
    ".au in genres.tar.gz is usable",
}

_TRACK = re.compile(r"(?:^|/)(?P<genre>" + "|".join(GENRES) + r")/(?P<file>(?P=genre)\.\d{5}\.(?:au|wav))$")
_SPLIT_LINE = re.compile(r"^(?P<genre>" + "|".join(GENRES) + r")/(?P=genre)\.\d{5}\.(?:au|wav)$")


@dataclass(frozen=True)
class Download:
    """One file to download: where from (tried in order) and the digests it must have.

    Attributes
    ----------
    filename : str
        Name of the downloaded file.
    urls : tuple of str
        Sources, tried in order (``http://``, ``https://`` or ``file://``).
    sha256, md5 : str or None
        Expected hex digests; ``None`` skips that check.
    """

    filename: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None


def gtzan_download() -> Download:
    """The GTZAN archive download, with ``GENREKIT_GTZAN_URL`` / ``_SHA256`` applied."""
    url = os.environ.get("GENREKIT_GTZAN_URL")
    sha: str | None = os.environ.get("GENREKIT_GTZAN_SHA256") or None
    md5: str | None = None
    if sha is None:
        sha, md5 = _GTZAN_SHA256, _GTZAN_MD5
    elif sha.lower() == "none":
        sha = None
    name = "genres" + (".zip" if url and url.lower().endswith(".zip") else ".tar.gz")
    return Download(name, (url,) if url else _GTZAN_URLS, sha256=sha, md5=md5)


def data_dir() -> Path:
    """genrekit's data folder: ``$GENREKIT_DATA_DIR``, ``$XDG_DATA_HOME/genrekit`` or
    ``~/.local/share/genrekit``."""
    env = os.environ.get("GENREKIT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "genrekit"


# --------------------------------------------------------------------------- download


class _Permanent(Exception):
    """A failure that retrying the same source cannot fix (HTTP 4xx)."""


def _timeout() -> float:
    try:
        return float(os.environ.get("GENREKIT_FETCH_TIMEOUT", "30"))
    except ValueError:
        raise ParameterError("GENREKIT_FETCH_TIMEOUT must be a number of seconds") from None


def _retries() -> int:
    try:
        return max(1, int(os.environ.get("GENREKIT_FETCH_RETRIES", "4")))
    except ValueError:
        raise ParameterError("GENREKIT_FETCH_RETRIES must be an integer") from None


def _digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def _mismatch(item: Download, path: Path) -> str | None:
    """Why ``path`` is not ``item`` (which digest differs, both values), or ``None``."""
    if item.sha256 is None and item.md5 is None:
        return None
    sha, md5 = _digests(path)
    if item.sha256 is not None and sha != item.sha256.lower():
        return f"expected sha256 {item.sha256.lower()}, got {sha}"
    if item.md5 is not None and md5 != item.md5.lower():
        return f"expected md5 {item.md5.lower()}, got {md5}"
    return None


def _progress(total: int | None, initial: int, name: str):  # type: ignore[no-untyped-def]
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=name, disable=not sys.stderr.isatty(), file=sys.stderr, leave=False)


def _get(url: str, part: Path, timeout: float) -> None:
    """Fetch ``url`` into ``part``, continuing an existing partial file with ``Range``."""
    if url.startswith("file://") or "://" not in url:
        src = Path(urllib.request.url2pathname(url[7:] if url.startswith("file://") else url))
        if not src.is_file():
            raise _Permanent(f"{src}: no such file")
        shutil.copyfile(src, part)
        return
    if not url.startswith(("http://", "https://")):
        raise _Permanent(f"unsupported URL scheme in {url!r} (expected http, https or file)")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"genrekit/{__version__} (+fetch)"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return  # nothing left to send: the partial file is whole; the checksum decides
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise _Permanent(f"HTTP {exc.code} {exc.reason}") from None
        raise
    with response:
        status = getattr(response, "status", 200)
        mode = "ab"
        if offset and status == 206:
            start = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if not start or int(start.group(1)) != offset:
                part.unlink(missing_ok=True)  # a range we did not ask for: start over
                raise ConnectionError("server answered with an unexpected byte range")
        else:
            offset, mode = 0, "wb"  # the server ignored Range and sends everything
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        received = 0
        bar = _progress(None if expected is None else offset + expected, offset, part.name)
        try:
            with open(part, mode) as fh:
                while True:
                    block = response.read(_CHUNK)
                    if not block:
                        break
                    fh.write(block)
                    received += len(block)
                    bar.update(len(block))
        finally:
            bar.close()
        if expected is not None and received < expected:
            raise ConnectionError(f"connection closed after {received} of {expected} bytes")


def _download(item: Download, folder: Path) -> Path:
    """Download ``item`` into ``folder`` (resuming, retrying, verifying); returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / item.filename
    if dest.exists() and _mismatch(item, dest) is None:
        return dest
    part = dest.with_name(dest.name + ".part")
    timeout, attempts = _timeout(), _retries()
    problems: list[str] = []
    for url in item.urls:
        for attempt in range(attempts):
            try:
                _get(url, part, timeout)
                break
            except _Permanent as exc:
                problems.append(f"{url}: {exc}")
                break
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", None) or exc
                if attempt + 1 == attempts:
                    problems.append(f"{url}: {reason} (after {attempts} attempts)")
                else:
                    time.sleep(_BACKOFF_SECONDS * 2**attempt)
        else:
            continue
        if not part.exists():
            continue
        why = _mismatch(item, part)
        if why is not None:
            part.unlink(missing_ok=True)
            raise FetchError(
                f"{item.filename}: checksum mismatch: {why}; the download was deleted "
                f"(source: {url})"
            )
        os.replace(part, dest)
        return dest
    raise FetchError(f"{item.filename}: download failed: " + "; ".join(problems))


# --------------------------------------------------------------------------- unpack


def _unsafe(name: str) -> str | None:
    """Why an archive member name is unsafe to unpack, or ``None``."""
    if "\x00" in name:
        return "NUL byte in the name"
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in posix.parts:
        return "'..' in the path"
    return None


def _members(archive: Path) -> Iterator[tuple[str, IO[bytes] | None, str | None]]:
    """(name, file object or None, why unsafe) for each member of a tar or zip archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                why = _unsafe(info.filename)
                mode = (info.external_attr >> 16) & 0o170000
                if why is None and mode == 0o120000:
                    why = "symbolic link"
                if info.is_dir() or why is not None:
                    yield info.filename, None, why
                    continue
                with zf.open(info) as fh:
                    yield info.filename, fh, None
        return
    try:
        tar = tarfile.open(archive, "r:*")
    except tarfile.TarError as exc:
        raise FetchError(f"{archive.name}: not a tar or zip archive ({exc})") from None
    with tar:
        for member in tar:
            why = _unsafe(member.name)
            if why is None and (member.issym() or member.islnk()):
                why = f"link to {member.linkname!r}"
            elif why is None and (member.isdev() or member.isfifo()):
                why = "device or pipe"
            if why is not None or not member.isfile():
                yield member.name, None, why
                continue
            data = tar.extractfile(member)
            if data is not None:
                with data:
                    yield member.name, data, None


def _unpack_gtzan(archive: Path, dest: Path) -> list[Path]:
    """Unpack the tracks of a GTZAN archive into ``dest/<genre>/<file>``; nothing else."""
    staging = dest / f".unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    written: list[Path] = []
    try:
        for name, fh, why in _members(archive):
            if why is not None:
                raise FetchError(
                    f"{archive.name}: refusing to unpack member {name!r}: {why}; "
                    "nothing was unpacked"
                )
            match = _TRACK.search(name.replace("\\", "/"))
            if fh is None or match is None:
                continue  # folders, playlists (.mf) and anything else that is not a track
            target = staging / match["genre"] / match["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                shutil.copyfileobj(fh, out, _CHUNK)
            written.append(target.relative_to(staging))
        if not written:
            raise FetchError(
                f"{archive.name}: no GTZAN tracks (<genre>/<genre>.000NN.au|wav) in the archive"
            )
        for rel in written:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, dest / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(dest / rel for rel in written)


def _check_tracks(dest: Path, tracks: Sequence[Path]) -> list[str]:
    """Open every track; write ``known_issues.txt``; return the problem lines."""
    from genrekit.audio import audio_info

    problems: list[str] = []
    for path in tracks:
        rel = path.relative_to(dest).as_posix()
        try:
            info = audio_info(path)
            if info.frames == 0:
                raise AudioError(f"{path.name}: cannot decode: file is truncated (0 frames)")
        except AudioError as exc:
            known = _KNOWN_FAULTS.get(path.stem)
            problems.append(f"{rel}: {getattr(exc, 'reason', exc)}"
                            + (f" (known: {known})" if known else ""))
    if len(tracks) != 100 * len(GENRES):  # 100 tracks per genre
        problems.append(f"the archive held {len(tracks)} tracks; GTZAN has 1000")
    lines = [
        "# GTZAN tracks that could not be decoded after download (genrekit fetch gtzan).",
        "# genrekit extract reports these in failures.csv and goes on.",
        "# GTZAN also holds repeated, mislabelled and distorted excerpts (Sturm 2013): for",
        "# honest numbers use the fault-filtered split (genrekit fetch splits).",
        *(problems or ["none"]),
    ]
    text = "\n".join(lines) + "\n"
    atomic_write_text(dest / KNOWN_ISSUES_FILE, text)
    return problems


def _fetch_gtzan(dest: Path) -> Path:
    item = gtzan_download()
    marker = dest / _MARKER
    if marker.is_file():
        try:
            done = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            done = {}
        if done.get("sha256") == item.sha256 and all(
            (dest / rel).is_file() for rel in done.get("files", [])
        ):
            return dest
    if item.sha256 is None and item.md5 is None:
        warnings.warn(
            "GENREKIT_GTZAN_SHA256=none: the GTZAN archive is not checked against a checksum",
            stacklevel=3,
        )
    dest.mkdir(parents=True, exist_ok=True)
    downloads = dest / _DOWNLOADS
    archive = _download(item, downloads)
    tracks = _unpack_gtzan(archive, dest)
    problems = _check_tracks(dest, tracks)
    doc = {"source": list(item.urls), "sha256": item.sha256, "genrekit_version": __version__,
           "files": [t.relative_to(dest).as_posix() for t in tracks]}
    atomic_write_text(marker, json.dumps(doc, indent=1) + "\n")
    archive.unlink(missing_ok=True)
    shutil.rmtree(downloads, ignore_errors=True)
    if problems:
        warnings.warn(
            f"{len(problems)} GTZAN track(s) have problems, see {dest / KNOWN_ISSUES_FILE}: "
            + "; ".join(problems[:3]),
            stacklevel=3,
        )
    return dest


def _fetch_splits(dest: Path) -> Path:
    base = os.environ.get("GENREKIT_SPLITS_URL", SPLITS_BASE_URL)
    if not base.endswith("/"):
        base += "/"
    for name, sha in SPLIT_LISTS.items():
        path = _download(Download(name, (base + name,), sha256=sha), dest)
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        bad = [ln for ln in lines if not _SPLIT_LINE.match(ln)]
        if bad or not lines:
            path.unlink(missing_ok=True)
            raise FetchError(
                f"{name}: expected lines like 'blues/blues.00029.wav', got {bad[:1] or 'nothing'}"
            )
    return dest


def fetch(
    what: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    wheel: str | os.PathLike[str] | None = None,
) -> Path:
    """Download and unpack ``gtzan``, ``splits`` or ``musicnn``; returns the folder.

    Parameters
    ----------
    what : {"gtzan", "splits", "musicnn"}
        ``gtzan``: the GTZAN audio in GTZAN layout (``<genre>/<genre>.000NN.au``), with
        ``known_issues.txt``. ``splits``: ``{train,valid,test}_{filtered,stratified}.txt``.
        ``musicnn``: the pretrained musicnn weights.
    out_dir : path, optional
        Destination folder (default: ``data_dir() / what``; musicnn: genrekit's cache).
    wheel : path, optional
        ``musicnn`` only: a local ``musicnn-0.1.0`` wheel, for offline use.

    Returns
    -------
    Path
        The folder holding the result. Calling again when it is complete does nothing.

    Raises
    ------
    FetchError
        A download failed on every source, a checksum did not match (the file is deleted and
        both digests named), or the archive is unsafe or holds no GTZAN tracks.
    ParameterError
        An unknown ``what``, or ``wheel`` given for something other than musicnn.

    Examples
    --------
    >>> from genrekit.fetch import fetch
    >>> fetch("splits", out_dir="data/splits")  # doctest: +SKIP
    PosixPath('data/splits')
    """
    if what == "musicnn":
        from genrekit.embeddings.weights import fetch_musicnn

        return fetch_musicnn(out_dir=out_dir, wheel=wheel)
    if what not in ("gtzan", "splits"):
        raise ParameterError(f"fetch: expected gtzan, splits or musicnn, got {what!r}")
    if wheel is not None:
        raise ParameterError("--wheel applies to musicnn only")
    dest = Path(out_dir).expanduser() if out_dir is not None else data_dir() / what
    if what == "gtzan":
        return _fetch_gtzan(dest)
    return _fetch_splits(dest)
