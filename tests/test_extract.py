"""Batch extraction: inputs, tables, failures, cache, parallel and Dask runs, kill safety.

Most tests swap the feature analysis for a cheap deterministic stand-in with the same
contract as ``genrekit.features.kaggle.analyze_track`` (the real one is tested in the feature
tests), so these tests are about the batch machinery and stay within the CPU budget. One test
runs the real analysis on real GTZAN audio and checks it against the published Kaggle rows.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import REPO, shared_path
from genrekit.cli import main
from genrekit.constants import FEATURE_NAMES, SEGMENT_SAMPLES, SEGMENT_STRIDE, TABLE_COLUMNS
from genrekit.exceptions import DataError, DependencyError, ParameterError
from genrekit.extract import AudioItem, _names, collect_inputs, extract

SR = 22050
FakeAnalysis = namedtuple("FakeAnalysis", "track segments mel segment_mels")


def _fake_features(y: np.ndarray) -> dict[str, float]:
    base = np.array([np.mean(y), np.var(y), np.mean(np.abs(y)), float(len(y))])
    return {name: float(base[j % 4] * (j + 1)) for j, name in enumerate(FEATURE_NAMES)}


def _fake_mel(y: np.ndarray) -> np.ndarray:
    frames = 1 + len(y) // 512
    return np.full((128, frames), float(np.mean(np.abs(y))), dtype=np.float32) + np.arange(
        128, dtype=np.float32
    )[:, None]


def fake_analyze_track(y, *, sr=SR, pad_mode="reflect", mel=False):
    """Same contract as the real analyze_track, cheap values that depend on the signal."""
    assert sr == SR
    bounds = [
        (i * SEGMENT_STRIDE, i * SEGMENT_STRIDE + SEGMENT_SAMPLES)
        for i in range(max(0, (len(y) - SEGMENT_SAMPLES) // SEGMENT_STRIDE + 1))
    ]
    shift = 0.5 if pad_mode == "constant" else 0.0
    track = {k: v + shift for k, v in _fake_features(y).items()}
    segments = [_fake_features(y[a:b]) for a, b in bounds]
    if not mel:
        return FakeAnalysis(track, segments, None, None)
    return FakeAnalysis(
        track, segments, _fake_mel(y), np.stack([_fake_mel(y[a:b]) for a, b in bounds])
        if bounds else np.zeros((0, 128, 130), np.float32)
    )


@pytest.fixture
def calls(monkeypatch):
    """Use the stand-in analysis; the list collects the length of every analysed signal."""
    import genrekit.features.kaggle as kaggle

    seen: list[int] = []

    def counting(y, **kw):
        seen.append(len(y))
        return fake_analyze_track(y, **kw)

    monkeypatch.setattr(kaggle, "analyze_track", counting, raising=False)
    return seen


def _tone(seconds: float, freq: float, sr: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.repeat(y[:, None], channels, axis=1) if channels > 1 else y


def _genre_tree(root: Path, per_genre: int = 2, seconds: float = 6.2) -> Path:
    for g, genre in enumerate(("blues", "rock")):
        (root / genre).mkdir(parents=True)
        for k in range(per_genre):
            y = _tone(seconds, 220 * (g + 1) + 55 * k)
            sf.write(str(root / genre / f"{genre}.{k:05d}.wav"), y, SR, subtype="PCM_16")
    return root


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


# --------------------------------------------------------------------------- inputs


def test_collect_gtzan_layout_manifest_and_files(tmp_path):
    root = _genre_tree(tmp_path / "gtzan", per_genre=2, seconds=0.1)
    (root / "README.txt").write_text("not audio")
    (root / ".hidden").mkdir()
    sf.write(str(root / ".hidden" / "x.wav"), np.zeros(10), SR)
    sf.write(str(root / "loose.flac"), np.zeros(100), SR)
    items = collect_inputs([root])
    assert [(it.path.relative_to(root).as_posix(), it.label) for it in items] == [
        ("blues/blues.00000.wav", "blues"),
        ("blues/blues.00001.wav", "blues"),
        ("loose.flac", ""),
        ("rock/rock.00000.wav", "rock"),
        ("rock/rock.00001.wav", "rock"),
    ]

    manifest = tmp_path / "lists" / "m.csv"
    manifest.parent.mkdir()
    manifest.write_text(
        "\ufeffpath,label,group\r\n../gtzan/rock/rock.00001.wav,rock,artist A\r\n"
        f"{root / 'blues' / 'blues.00000.wav'},blues,artist B\r\n\r\n",
        encoding="utf-8",
    )
    got = collect_inputs([str(manifest), root / "blues" / "blues.00000.wav"])
    assert got == [
        AudioItem(manifest.parent / "../gtzan/rock/rock.00001.wav", "rock", "artist A"),
        AudioItem(root / "blues" / "blues.00000.wav", "blues", "artist B"),
    ]  # the file named again is kept once, with the manifest's label
    assert collect_inputs([tmp_path / "nope.wav"]) == [AudioItem(tmp_path / "nope.wav")]


def test_collect_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no audio files found \(looked for \.wav"):
        collect_inputs([tmp_path / "empty"])
    bad = tmp_path / "bad.csv"
    bad.write_text("file,genre\na.wav,blues\n")
    with pytest.raises(DataError, match=r"bad.csv: a manifest needs a header line with 'path'"):
        collect_inputs([bad])
    with pytest.raises(ParameterError, match="at least one INPUT"):
        collect_inputs([])


def test_names_are_unique_and_kaggle_style():
    paths = [Path("/d/a/song.wav"), Path("/d/b/song.wav"), Path("/d/blues/blues.00000.wav"),
             Path("/e/x.wav"), Path("/e/x.mp3")]
    assert _names(paths) == [
        ("a/song.wav", "a/song"),
        ("b/song.wav", "b/song"),
        ("blues.00000.wav", "blues.00000"),
        ("x.wav", "x.wav"),  # same folder, same stem: the extension tells them apart
        ("x.mp3", "x.mp3"),
    ]


# --------------------------------------------------------------------------- tables


def test_tables_follow_the_format(tmp_path, calls):
    root = _genre_tree(tmp_path / "in", per_genre=2, seconds=6.2)
    report = extract([root], tmp_path / "out", jobs=1, fmt="parquet", progress=False)
    assert (report.n_inputs, report.n_ok, report.n_failed, report.n_segments) == (4, 4, 0, 8)
    t30 = pd.read_parquet(tmp_path / "out" / "features_30_sec.parquet")
    t3 = pd.read_parquet(tmp_path / "out" / "features_3_sec.parquet")
    assert list(t30.columns) == list(TABLE_COLUMNS) == list(t3.columns)
    assert list(t30.track_id) == ["blues.00000", "blues.00001", "rock.00000", "rock.00001"]
    assert list(t30.filename) == [f"{t}.wav" for t in t30.track_id]
    assert (t30.segment == -1).all() and list(t30.length) == [int(6.2 * SR)] * 4
    assert list(t3.filename[:2]) == ["blues.00000.0.wav", "blues.00000.1.wav"]
    assert list(t3.segment) == [0, 1] * 4 and (t3.length == SEGMENT_SAMPLES).all()
    assert list(t3.label) == ["blues"] * 4 + ["rock"] * 4
    # values are what the analysis returned, for the file at 22050 Hz
    y = sf.read(str(root / "rock" / "rock.00001.wav"), dtype="float32")[0]
    expected = fake_analyze_track(y)
    row = t30.set_index("track_id").loc["rock.00001"]
    np.testing.assert_array_equal(row[list(FEATURE_NAMES)].to_numpy(float),
                                  [expected.track[k] for k in FEATURE_NAMES])
    seg = t3[(t3.track_id == "rock.00001") & (t3.segment == 1)].iloc[0]
    np.testing.assert_array_equal(seg[list(FEATURE_NAMES)].to_numpy(float),
                                  [expected.segments[1][k] for k in FEATURE_NAMES])
    meta = json.loads((tmp_path / "out" / "extract.json").read_text())
    assert meta["settings"]["pad_mode"] == "reflect" and meta["settings"]["n_fft"] == 2048
    assert meta["counts"] == {"inputs": 4, "ok": 4, "failed": 0, "short": 0, "segments": 8,
                              "cached": 0}
    assert (tmp_path / "out" / "failures.csv").read_text().strip() == "path,reason"
    assert "extracted 4 of 4 files" in report.summary()


def test_manifest_group_column_and_csv_format(tmp_path, calls):
    root = _genre_tree(tmp_path / "in", per_genre=1, seconds=3.5)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,group\nin/rock/rock.00000.wav,rock,g1\n"
                        "in/blues/blues.00000.wav,,g2\n")
    extract([manifest], tmp_path / "out", jobs=1, fmt="csv", progress=False)
    t3 = pd.read_csv(tmp_path / "out" / "features_3_sec.csv", keep_default_na=False)
    assert list(t3.columns) == [*TABLE_COLUMNS, "group"]
    assert list(zip(t3.track_id, t3.label, t3.group, strict=True)) == [
        ("blues.00000", "", "g2"), ("rock.00000", "rock", "g1")]
    t30 = pd.read_csv(tmp_path / "out" / "features_30_sec.csv")
    y = sf.read(str(root / "rock" / "rock.00000.wav"), dtype="float32")[0]
    # CSV keeps every float exactly (round-trip repr)
    assert t30.iloc[1]["mfcc20_var"] == fake_analyze_track(y).track["mfcc20_var"]


def _bad_batch(root: Path) -> dict[str, str]:
    """Good and bad files in one folder; returns {file name: expected reason regex}."""
    root.mkdir(parents=True)
    sf.write(str(root / "good1.wav"), _tone(3.2, 440), SR, subtype="PCM_16")
    sf.write(str(root / "good2.flac"), _tone(3.1, 330), SR)
    sf.write(str(root / "stereo8k.wav"), _tone(3.1, 300, sr=8000, channels=2), 8000)
    sf.write(str(root / "hi48k.wav"), _tone(3.05, 500, sr=48000), 48000, subtype="PCM_24")
    sf.write(str(root / "short.wav"), _tone(1.0, 600), SR)
    (root / "empty.wav").write_bytes(b"")
    (root / "text.wav").write_text("just some words\n" * 40)
    full = (root / "good1.wav").read_bytes()
    (root / "cut.wav").write_bytes(full[:30])
    y = _tone(0.5, 200).astype(np.float32)
    y[100:110] = np.nan
    sf.write(str(root / "nans.wav"), y, SR, subtype="FLOAT")
    (root / "folder.wav").mkdir()  # unreadable as a file (tests run as root: chmod won't do)
    os.symlink(root / "gone.wav", root / "dangling.wav")
    return {
        "cut.wav": "corrupt or truncated header",
        "dangling.wav": "broken symbolic link",
        "empty.wav": r"file is empty \(0 bytes\)",
        "folder.wav": "is a directory",
        "nans.wav": r"10 non-finite samples \(NaN or infinite\)",
        "text.wav": r"not an audio file \(format not recognised\)",
    }


def test_bad_files_in_a_batch_via_cli(tmp_path, calls, capsys):
    expected = _bad_batch(tmp_path / "in" / "mix")
    status = main(["extract", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--jobs", "1",
                   "--format", "csv"])
    assert status == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "extracted 5 of 11 files" in captured.out and "; 6 failed" in captured.out
    with open(tmp_path / "out" / "failures.csv", newline="") as fh:
        failures = {Path(r["path"]).name: r["reason"] for r in csv.DictReader(fh)}
    assert set(failures) == set(expected)
    for name, pattern in expected.items():
        assert re.search(pattern, failures[name]), (name, failures[name])
    t30 = pd.read_csv(tmp_path / "out" / "features_30_sec.csv")
    assert sorted(t30.track_id) == ["good1", "good2", "hi48k", "short", "stereo8k"]
    lengths = dict(zip(t30.track_id, t30.length, strict=True))
    assert lengths["stereo8k"] == int(np.ceil(int(3.1 * 8000) * SR / 8000))
    assert lengths["hi48k"] == int(np.ceil(int(3.05 * 48000) * SR / 48000))
    t3 = pd.read_csv(tmp_path / "out" / "features_3_sec.csv")
    assert sorted(set(t3.track_id)) == ["good1", "good2", "hi48k", "stereo8k"]
    short = list(csv.DictReader(open(tmp_path / "out" / "short_files.csv", newline="")))
    assert [(Path(r["path"]).name, float(r["seconds"])) for r in short] == [("short.wav", 1.0)]
    assert sorted(calls) == sorted(lengths.values())  # bad files never reached the analysis


# --------------------------------------------------------------------------- cache, parallel


def test_rerun_uses_the_cache(tmp_path, calls, monkeypatch):
    root = _genre_tree(tmp_path / "in", per_genre=2, seconds=3.2)
    first = extract([root], tmp_path / "out", jobs=1, progress=False)
    before = (tmp_path / "out" / "features_3_sec.parquet").read_bytes()
    assert len(calls) == 4 and first.n_cached == 0
    second = extract([root], tmp_path / "out", jobs=1, progress=False)
    assert len(calls) == 4 and second.n_cached == 4  # no feature computation at all
    assert (tmp_path / "out" / "features_3_sec.parquet").read_bytes() == before
    # a changed file, or changed settings, are recomputed
    sf.write(str(root / "rock" / "rock.00000.wav"), _tone(3.3, 990), SR)
    extract([root], tmp_path / "out", jobs=1, progress=False)
    assert len(calls) == 5
    extract([root], tmp_path / "out2", jobs=1, pad_mode="constant", cache_dir=tmp_path /
            "out" / ".cache", progress=False)
    assert len(calls) == 9
    # so is everything after the feature code changed (a development install, no new version)
    import genrekit.extract as ex

    real = ex._code_fingerprint
    monkeypatch.setattr(ex, "_code_fingerprint", lambda part: real(part) + "-edited")
    extract([root], tmp_path / "out", jobs=1, progress=False)
    assert len(calls) == 13
    t30 = pd.read_parquet(tmp_path / "out2" / "features_30_sec.parquet")
    assert json.loads((tmp_path / "out2" / "extract.json").read_text())["settings"][
        "pad_mode"] == "constant"
    assert len(t30) == 4


def test_process_pool_matches_one_job(tmp_path, calls):
    # the pool forks, so the workers see the stand-in analysis too
    root = _genre_tree(tmp_path / "in", per_genre=3, seconds=3.1)
    extract([root], tmp_path / "one", jobs=1, progress=False)
    extract([root], tmp_path / "two", jobs=2, progress=False)
    for name in ("features_30_sec.parquet", "features_3_sec.parquet", "failures.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_dask_local_cluster_matches_one_job(tmp_path, calls):
    distributed = pytest.importorskip("distributed")
    root = _genre_tree(tmp_path / "in", per_genre=2, seconds=3.1)
    (root / "rock" / "broken.wav").write_text("not audio")
    r1 = extract([root], tmp_path / "one", jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        rd = extract([root], tmp_path / "dask", scheduler=cluster.scheduler_address,
                     progress=False)
    assert r1.n_failed == rd.n_failed == 1 and rd.n_cached == 0
    for name in ("features_30_sec.parquet", "features_3_sec.parquet", "failures.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()


def test_missing_dask_is_one_line(tmp_path, calls, monkeypatch, capsys):
    root = _genre_tree(tmp_path / "in", per_genre=1, seconds=0.5)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(DependencyError, match=r"pip install 'genrekit\[dask\]'"):
        extract([root], tmp_path / "out", scheduler="tcp://127.0.0.1:1", progress=False)
    assert main(["extract", str(root), "-o", str(tmp_path / "o"), "--scheduler",
                 "tcp://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "genrekit[dask]" in err


_KILLED_RUN = """
import sys, time
from collections import namedtuple
import numpy as np
import genrekit.features.kaggle as kaggle
from genrekit.constants import FEATURE_NAMES
from genrekit.extract import extract

A = namedtuple("A", "track segments mel segment_mels")

def slow(y, **kw):
    time.sleep(0.4)
    return A({k: float(len(y)) for k in FEATURE_NAMES}, [], None, None)

kaggle.analyze_track = slow
extract([sys.argv[1]], sys.argv[2], jobs=1, progress=False)
"""


def test_killed_run_leaves_no_partial_table_and_resumes(tmp_path, calls):
    root = _genre_tree(tmp_path / "in", per_genre=4, seconds=0.3)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_KILLED_RUN), str(root),
                             str(out)], env=env)
    cache = out / ".cache"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(cache.rglob("*.npz"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(cache.rglob("*.npz")))
    assert 2 <= done < 8
    assert not list(out.glob("features_*"))  # killed before any table: none half-written
    assert all(p.name.startswith(".") for p in out.rglob("*") if ".genrekit-tmp-" in p.name)
    # what a kill in the middle of a write leaves: removed by the next run
    (cache / "ab").mkdir(exist_ok=True)
    (cache / "ab" / f".ab12.npz.genrekit-tmp-{proc.pid}-0bad").write_bytes(b"half")
    (out / f".features_3_sec.parquet.genrekit-tmp-{proc.pid}-0bad").write_bytes(b"half")
    # The re-run (with a different analysis, so cached entries are recognisable) completes.
    report = extract([root], out, jobs=1, progress=False)
    assert report.n_ok == 8 and report.n_cached == done and len(calls) == 8 - done
    t30 = pd.read_parquet(out / "features_30_sec.parquet")
    assert len(t30) == 8 and t30.track_id.is_unique
    assert not [p for p in out.rglob("*") if ".genrekit-tmp-" in p.name]


# --------------------------------------------------------------------------- mel, embeddings


def test_mel_outputs(tmp_path, calls):
    root = _genre_tree(tmp_path / "in", per_genre=1, seconds=6.1)
    sf.write(str(root / "blues" / "tiny.wav"), _tone(1.0, 300), SR)
    extract([root], tmp_path / "out", jobs=1, mel=True, progress=False)
    t3 = pd.read_parquet(tmp_path / "out" / "features_3_sec.parquet")
    with np.load(tmp_path / "out" / "mel_3_sec.npz", allow_pickle=False) as data:
        mel, tid, seg = data["mel"], data["track_id"], data["segment"]
    assert mel.shape == (len(t3), 128, 130) and mel.dtype == np.float32
    assert list(tid) == list(t3.track_id) and list(seg) == list(t3.segment)
    y = sf.read(str(root / "rock" / "rock.00000.wav"), dtype="float32")[0]
    np.testing.assert_array_equal(mel[3], _fake_mel(y[SEGMENT_STRIDE:SEGMENT_STRIDE +
                                                       SEGMENT_SAMPLES]))
    whole = np.load(tmp_path / "out" / "mel_30_sec" / "tiny.npy")
    assert whole.shape == (128, 1 + SR // 512)


def test_embeddings_table(tmp_path, calls, monkeypatch):
    import genrekit.embeddings as emb

    def fake_rows(y, sr, *, model):
        n = max(1, len(y) // sr)
        return [{"segment": i, "tag_rock": 0.1 * i, "tag_jazz": float(len(y)),
                 **{f"emb_{k}": float(k + i) for k in range(3)}} for i in range(n)]

    monkeypatch.setattr(emb, "embedding_rows", fake_rows, raising=False)
    monkeypatch.setattr(emb, "load_weights", lambda model, **kw: None, raising=False)
    root = _genre_tree(tmp_path / "in", per_genre=1, seconds=2.0)
    extract([root], tmp_path / "out", jobs=1, embeddings=("msd_musicnn",), progress=False)
    table = pd.read_parquet(tmp_path / "out" / "embeddings_msd_musicnn.parquet")
    assert list(table.columns) == ["filename", "track_id", "segment", "label", "tag_rock",
                                   "tag_jazz", "emb_0", "emb_1", "emb_2"]
    assert list(zip(table.track_id, table.segment, strict=True)) == [
        ("blues.00000", 0), ("blues.00000", 1), ("rock.00000", 0), ("rock.00000", 1)]
    assert table.tag_jazz.iloc[0] == 2 * SR and table.emb_2.iloc[1] == 3.0
    monkeypatch.delattr(emb, "embedding_rows")
    with pytest.raises(DependencyError, match="embedding_rows"):
        extract([root], tmp_path / "o2", embeddings=("msd_musicnn",), progress=False)


def test_bad_parameters(tmp_path):
    with pytest.raises(ParameterError, match="fmt must be one of parquet, csv, got 'xls'"):
        extract([tmp_path], tmp_path / "o", fmt="xls")
    with pytest.raises(ParameterError, match="pad_mode must be one of reflect, constant"):
        extract([tmp_path], tmp_path / "o", pad_mode="edge")
    with pytest.raises(ParameterError, match="jobs must be a positive integer, got 0"):
        extract([tmp_path], tmp_path / "o", jobs=0)
    with pytest.raises(ParameterError, match="unknown embedding model 'vggish'"):
        extract([tmp_path], tmp_path / "o", embeddings=("vggish",))
    sf.write(str(tmp_path / "a.wav"), np.zeros(100), SR)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="output folder .*file: cannot create it"):
        extract(iter([tmp_path / "a.wav"]), tmp_path / "file", jobs=1)


# --------------------------------------------------------------------------- real audio


def test_real_clip_matches_published_kaggle_rows(tmp_path):
    kaggle = pytest.importorskip("genrekit.features.kaggle")
    if not hasattr(kaggle, "analyze_track"):
        pytest.skip("the fast feature analysis (analyze_track) is not in this build yet")
    clip = shared_path("gtzan-clips", "blues", "blues.00000.wav")
    published = pd.read_csv(shared_path("kaggle", "features_3_sec_blues.00000-00001.csv"))
    extract([clip], tmp_path / "out", jobs=1, progress=False)
    t3 = pd.read_parquet(tmp_path / "out" / "features_3_sec.parquet")
    assert list(t3.filename) == [f"blues.00000.{i}.wav" for i in range(len(t3))]
    ref = published.set_index("filename").loc[list(t3.filename)]
    cols = [c for c in FEATURE_NAMES if c != "tempo"]
    ours, theirs = t3[cols].to_numpy(float), ref[cols].to_numpy(float)
    scale = np.abs(theirs).max(axis=0)
    assert np.all(np.abs(ours - theirs) <= 1e-4 * np.abs(theirs) + 1e-6 * scale)


def test_real_features_identical_for_one_job_pool_and_dask(tmp_path):
    kaggle = pytest.importorskip("genrekit.features.kaggle")
    if not hasattr(kaggle, "analyze_track"):
        pytest.skip("the fast feature analysis (analyze_track) is not in this build yet")
    distributed = pytest.importorskip("distributed")
    clips = shared_path("gtzan-clips")
    inputs = [clips / "disco" / "disco.00002.wav", clips / "metal" / "metal.00004.wav"]
    extract(inputs, tmp_path / "one", jobs=1, progress=False)
    extract(inputs, tmp_path / "two", jobs=2, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        extract(inputs, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    for name in ("features_30_sec.parquet", "features_3_sec.parquet"):
        one = (tmp_path / "one" / name).read_bytes()
        assert one == (tmp_path / "two" / name).read_bytes() == (tmp_path / "dask" / name
                                                                 ).read_bytes()
    assert len(pd.read_parquet(tmp_path / "one" / "features_3_sec.parquet")) >= 10
