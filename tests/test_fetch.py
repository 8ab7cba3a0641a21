"""genrekit fetch gtzan|splits against a local HTTP server (127.0.0.1 only, no internet)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_path
from genrekit.cli import main
from genrekit.exceptions import FetchError, ParameterError
from genrekit.fetch import SPLIT_LISTS, data_dir, fetch


class _Server:
    """Serves ``files`` (path -> bytes) with HTTP Range support; records each request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut_next = 0  # answer this many requests with half the body, then hang up
        self.fail_next = 0  # answer this many requests with 503
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path)
                if server.fail_next:
                    server.fail_next -= 1
                    self.send_error(503, "Busy")
                    return
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(body):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if server.cut_next:
                    server.cut_next -= 1
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch) -> Iterator[_Server]:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("GENREKIT_FETCH_TIMEOUT", "5")
    monkeypatch.setenv("GENREKIT_FETCH_RETRIES", "2")
    monkeypatch.setattr("genrekit.fetch._BACKOFF_SECONDS", 0.01)
    srv = _Server()
    yield srv
    srv.close()


def _audio_bytes(fmt: str, seconds: float = 0.05) -> bytes:
    buf = io.BytesIO()
    y = 0.1 * np.sin(np.arange(int(22050 * seconds)) / 5.0)
    sf.write(buf, y, 22050, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def _gtzan_fixture() -> dict[str, bytes]:
    au = _audio_bytes("AU")
    return {
        "genres/blues/blues.00000.au": au,
        "genres/blues/blues.00001.au": au,
        "genres/rock/rock.00099.au": au,
        "genres/jazz/jazz.00054.wav": b"RIFF\x10\x00\x00\x00WAVEjunk",  # the corrupt one
        "genres/input.mf": b"playlist, not a track\n",
        "genres/bextract_single.mf": b"another playlist\n",
    }


def _serve_gtzan(server: _Server, monkeypatch, archive: bytes, sha: str | None = None) -> None:
    server.files["/genres.tar.gz"] = archive
    monkeypatch.setenv("GENREKIT_GTZAN_URL", server.url + "/genres.tar.gz")
    monkeypatch.setenv("GENREKIT_GTZAN_SHA256", sha or hashlib.sha256(archive).hexdigest())


def test_fetch_gtzan_full_download(tmp_path, server, monkeypatch, capsys):
    _serve_gtzan(server, monkeypatch, _tar(_gtzan_fixture()))
    dest = tmp_path / "gtzan"
    with pytest.warns(UserWarning, match=r"jazz/jazz\.00054\.wav: cannot decode"):
        assert main(["fetch", "gtzan", "-o", str(dest)]) == 0
    assert f"gtzan ready in {dest}" in capsys.readouterr().out
    tracks = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.*")
                    if not p.name.startswith(".") and p.suffix in (".au", ".wav"))
    assert tracks == ["blues/blues.00000.au", "blues/blues.00001.au", "jazz/jazz.00054.wav",
                      "rock/rock.00099.au"]
    issues = (dest / "known_issues.txt").read_text()
    assert "jazz/jazz.00054.wav: cannot decode" in issues and "Kaggle copy" in issues
    assert "the archive held 4 tracks; GTZAN has 1000" in issues
    assert not (dest / ".downloads").exists() and not list(dest.glob("*.mf"))
    # complete: a second call makes no request
    n = len(server.requests)
    assert fetch("gtzan", out_dir=dest) == dest
    assert len(server.requests) == n


def test_fetch_gtzan_resumes_a_partial_download(tmp_path, server, monkeypatch):
    archive = _tar(_gtzan_fixture())
    _serve_gtzan(server, monkeypatch, archive)
    dest = tmp_path / "gtzan"
    part = dest / ".downloads" / "genres.tar.gz.part"
    part.parent.mkdir(parents=True)
    half = len(archive) // 2
    part.write_bytes(archive[:half])
    with pytest.warns(UserWarning):
        fetch("gtzan", out_dir=dest)
    assert server.requests == [("/genres.tar.gz", f"bytes={half}-")]
    assert (dest / "rock" / "rock.00099.au").read_bytes() == _gtzan_fixture()[
        "genres/rock/rock.00099.au"]


def test_transient_errors_are_retried_and_resumed(tmp_path, server, monkeypatch):
    archive = _tar(_gtzan_fixture())
    _serve_gtzan(server, monkeypatch, archive)
    monkeypatch.setenv("GENREKIT_FETCH_RETRIES", "3")
    server.fail_next, server.cut_next = 1, 1  # a 503, then a connection cut half way
    with pytest.warns(UserWarning):
        dest = fetch("gtzan", out_dir=tmp_path / "g")
    half = len(archive) // 2
    assert server.requests == [("/genres.tar.gz", None), ("/genres.tar.gz", None),
                               ("/genres.tar.gz", f"bytes={half}-")]
    assert (dest / "blues" / "blues.00001.au").is_file()


def test_checksum_mismatch_names_file_and_both_digests(tmp_path, server, monkeypatch):
    archive = _tar(_gtzan_fixture())
    wrong = "0" * 64
    _serve_gtzan(server, monkeypatch, archive, sha=wrong)
    actual = hashlib.sha256(archive).hexdigest()
    dest = tmp_path / "gtzan"
    with pytest.raises(FetchError, match=rf"genres\.tar\.gz: checksum mismatch: expected "
                       rf"sha256 {wrong}, got {actual}; the download was deleted"):
        fetch("gtzan", out_dir=dest)
    assert not list((dest / ".downloads").iterdir())
    assert not (dest / "blues").exists()


def test_unsafe_archive_members_are_refused(tmp_path, server, monkeypatch):
    members = _gtzan_fixture()
    members["genres/../../evil.au"] = b"x"
    _serve_gtzan(server, monkeypatch, _tar(members))
    dest = tmp_path / "deep" / "gtzan"
    with pytest.raises(FetchError, match=r"refusing to unpack member 'genres/\.\./\.\./evil\.au': "
                       r"'\.\.' in the path; nothing was unpacked"):
        fetch("gtzan", out_dir=dest)
    assert not (tmp_path / "evil.au").exists() and not (tmp_path / "deep" / "evil.au").exists()
    assert not (dest / "blues").exists()

    _serve_gtzan(server, monkeypatch, _tar({"genres/blues/blues.00000.au": b"x"},
                                           links={"genres/rock/rock.00000.au": "/etc/passwd"}))
    with pytest.raises(FetchError, match=r"'genres/rock/rock\.00000\.au': link to '/etc/passwd'"):
        fetch("gtzan", out_dir=tmp_path / "g2")


def test_kaggle_style_zip_is_unpacked(tmp_path, server, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Data/genres_original/pop/pop.00003.wav", _audio_bytes("WAV"))
        zf.writestr("Data/features_30_sec.csv", "filename,label\n")
    server.files["/gtzan.zip"] = buf.getvalue()
    monkeypatch.setenv("GENREKIT_GTZAN_URL", server.url + "/gtzan.zip")
    monkeypatch.setenv("GENREKIT_GTZAN_SHA256", hashlib.sha256(buf.getvalue()).hexdigest())
    with pytest.warns(UserWarning, match="held 1 tracks"):
        dest = fetch("gtzan", out_dir=tmp_path / "k")
    assert [p.name for p in dest.rglob("*.wav")] == ["pop.00003.wav"]


def test_http_404_is_a_clear_error(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("GENREKIT_GTZAN_URL", server.url + "/missing.tar.gz")
    with pytest.raises(FetchError, match=r"genres\.tar\.gz: download failed: http://127\.0\.0\.1:"
                       r"\d+/missing\.tar\.gz: HTTP 404 Not Found"):
        fetch("gtzan", out_dir=tmp_path / "g")
    assert len(server.requests) == 1  # a 404 is not retried
    assert main(["fetch", "gtzan", "-o", str(tmp_path / "g")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("genrekit fetch: error: genres.tar.gz: download failed")
    assert "Traceback" not in err


def test_fetch_splits(tmp_path, server, monkeypatch):
    folder = shared_path("splits")
    for name in SPLIT_LISTS:
        server.files[f"/lists/{name}"] = (folder / name).read_bytes()
    monkeypatch.setenv("GENREKIT_SPLITS_URL", server.url + "/lists")
    monkeypatch.setenv("GENREKIT_DATA_DIR", str(tmp_path / "data"))
    dest = fetch("splits")
    assert dest == tmp_path / "data" / "splits"
    for name in SPLIT_LISTS:
        assert (dest / name).read_bytes() == (folder / name).read_bytes()
    assert len((dest / "test_filtered.txt").read_text().split()) == 290
    # a tampered list is refused, named, and removed
    (dest / "valid_filtered.txt").unlink()
    server.files["/lists/valid_filtered.txt"] = b"blues/blues.00001.wav\n"
    with pytest.raises(FetchError, match=r"valid_filtered\.txt: checksum mismatch: expected "
                       r"sha256 f8fbee7c"):
        fetch("splits")
    assert not (dest / "valid_filtered.txt").exists()
    assert not (dest / "valid_filtered.txt.part").exists()


def test_data_dir_and_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.delenv("GENREKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "genrekit"
    monkeypatch.setenv("GENREKIT_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"
    with pytest.raises(ParameterError, match="expected gtzan, splits or musicnn, got 'mnist'"):
        fetch("mnist")
    with pytest.raises(ParameterError, match="--wheel applies to musicnn only"):
        fetch("splits", wheel=Path("x.whl"))


def test_musicnn_is_delegated(tmp_path, monkeypatch):
    import genrekit.embeddings.weights as weights

    seen = {}

    def fake(*, out_dir=None, wheel=None):
        seen.update(out_dir=out_dir, wheel=wheel)
        return tmp_path / "w"

    monkeypatch.setattr(weights, "fetch_musicnn", fake)
    assert fetch("musicnn", out_dir=tmp_path, wheel=tmp_path / "m.whl") == tmp_path / "w"
    assert seen == {"out_dir": tmp_path, "wheel": tmp_path / "m.whl"}
