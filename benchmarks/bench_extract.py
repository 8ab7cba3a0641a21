"""Time the librosa Kaggle recipe against genrekit on one real 30 s track plus its ten 3 s
segments, in one process pinned to one core, and check the two agree.

    python benchmarks/bench_extract.py [--repeat N] [--track PATH]

The track defaults to ``country/country.00000.wav`` (the one full-length clip) under
``$GENREKIT_SHARED_DATA/gtzan-clips`` (default ``../shared/data`` next to the repository).
Each side is warmed up once (numba compiles or loads its cache, librosa fills its own
caches), then timed ``--repeat`` times; the best time is reported, since the minimum is the
least disturbed by other work on a shared machine. The first-ever genrekit call (numba
compilation, before its on-disk cache exists) is reported separately when measurable.
"""

from __future__ import annotations

import os

# One core, one thread everywhere: set before numpy / numba / BLAS are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_TRACK = SHARED / "gtzan-clips" / "country" / "country.00000.wav"


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity on this platform)"


def _best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _max_error(a: list[dict[str, float]], b: list[dict[str, float]]) -> tuple[float, str]:
    """Largest relative difference ``|a - b| / |b|`` over every column of every row."""
    worst, where = 0.0, "-"
    for i, (fa, fb) in enumerate(zip(a, b, strict=True)):
        for key, ref in fb.items():
            diff = abs(fa[key] - ref)
            err = diff / abs(ref) if ref != 0 else (0.0 if diff == 0 else float("inf"))
            if err > worst:
                worst, where = err, f"{key}, {'track' if i == 0 else f'segment {i - 1}'}"
    return worst, where


def _read_rows(path: Path) -> dict[str, dict[str, float]]:
    import csv

    from genrekit.constants import FEATURE_NAMES

    with path.open(newline="", encoding="utf-8-sig") as fh:
        return {r["filename"]: {k: float(r[k]) for k in FEATURE_NAMES} for r in csv.DictReader(fh)}


def _worst_by_column(pairs: list[tuple[dict[str, float], dict[str, float]]], skip: tuple[str, ...]
                     ) -> tuple[float, str, float]:
    """(worst |a-b|/|b|, its column, worst |a-b| / (1e-4 |b| + 1e-7))."""
    worst, col, ratio = 0.0, "-", 0.0
    for got, ref in pairs:
        for k, r in ref.items():
            if k in skip:
                continue
            d = abs(got[k] - r)
            rel = d / abs(r) if r else (0.0 if d == 0 else float("inf"))
            if rel > worst:
                worst, col = rel, k
            ratio = max(ratio, d / (1e-4 * abs(r) + 1e-7))
    return worst, col, ratio


def _parity() -> int:
    """Parity figures for docs/features.md: every real clip (whole and each segment) vs the
    librosa recipe, and the published Kaggle rows."""
    import numpy as np
    import soundfile as sf

    from genrekit.features.kaggle import analyze_track, kaggle_features, segment_features
    from genrekit.features.reference import librosa_kaggle_features

    clips = SHARED / "gtzan-clips"
    pairs = []
    for path in sorted(clips.glob("*/*.wav")):
        y, _ = sf.read(str(path), dtype="float32")
        res = analyze_track(y)
        pairs.append((res.track, librosa_kaggle_features(y)))
        for i, seg in enumerate(res.segments):
            a = i * 66150
            pairs.append((seg, librosa_kaggle_features(y[a:a + 66149])))
    worst, col, ratio = _worst_by_column(pairs, ("tempo",))
    tempo_eq = sum(g["tempo"] == r["tempo"] for g, r in pairs)
    print(f"vs librosa recipe: {len(pairs)} signals; worst relative error {worst:.2e} "
          f"({col}); worst error / (1e-4 rel + 1e-7 abs) = {ratio:.3f}; "
          f"tempo equal {tempo_eq}/{len(pairs)}")

    kaggle = SHARED / "kaggle"
    rows30 = _read_rows(kaggle / "features_30_sec.csv")
    y, _ = sf.read(str(clips / "country" / "country.00000.wav"), dtype="float32")
    row = rows30["country.00000.wav"]
    for mode in ("reflect", "constant"):
        got = kaggle_features(y, pad_mode=mode)
        rel = {k: abs(got[k] - row[k]) / abs(row[k]) for k in row if row[k] != 0}
        top = max(rel, key=rel.__getitem__)
        print(f"country.00000 30 s row, pad_mode={mode}: median relative error "
              f"{np.median(list(rel.values())):.1e}, worst {rel[top]:.2e} ({top}); tempo "
              f"{got['tempo']:.2f} vs {row['tempo']:.2f}")
    rows3 = _read_rows(kaggle / "features_3_sec_clips.csv")
    scale = {k: max(abs(r[k]) for r in rows3.values()) for k in row}
    pairs3 = []
    cache: dict[str, list[dict[str, float]]] = {}
    for name, r in rows3.items():
        track, seg, _ = name.rsplit(".", 2)
        if track not in cache:
            y, _ = sf.read(str(clips / track.split(".")[0] / f"{track}.wav"), dtype="float32")
            cache[track] = segment_features(y)
        pairs3.append((cache[track][int(seg)], r))
    worst, col, _ = _worst_by_column(pairs3, ("tempo",))
    tol = max(abs(g[k] - r[k]) / (1e-4 * abs(r[k]) + 1e-6 * scale[k])
              for g, r in pairs3 for k in r if k != "tempo")
    tempo_eq = sum(g["tempo"] == r["tempo"] for g, r in pairs3)
    print(f"vs published 3 s rows: {len(pairs3)} rows; worst relative error {worst:.2e} "
          f"({col}); worst error / (1e-4 rel + 1e-6 x column max) = {tol:.3f}; tempo equal "
          f"{tempo_eq}/{len(pairs3)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", type=Path, default=DEFAULT_TRACK)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--parity", action="store_true",
                        help="instead of timing, measure parity on every real clip (vs the "
                             "librosa recipe) and on the published Kaggle rows")
    args = parser.parse_args(argv)
    if args.parity:
        return _parity()
    if not args.track.exists():
        print(f"track not found: {args.track} (set GENREKIT_SHARED_DATA)", file=sys.stderr)
        return 2
    pinned = _pin_one_core()

    import numpy as np
    import soundfile as sf

    y, sr = sf.read(str(args.track), dtype="float32")
    if y.ndim != 1 or sr != 22050:
        print(f"{args.track}: expected mono 22050 Hz audio", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    from genrekit.features.kaggle import analyze_track, segment_bounds
    from genrekit.features.reference import librosa_kaggle_features
    t_import = time.perf_counter() - t0

    t0 = time.perf_counter()
    analyze_track(y[:66149])  # numba: compile, or load the on-disk cache
    t_first = time.perf_counter() - t0

    def reference() -> list[dict[str, float]]:
        rows = [librosa_kaggle_features(y, sr=sr)]
        rows += [librosa_kaggle_features(y[a:b], sr=sr) for a, b in segment_bounds(len(y))]
        return rows

    def genrekit() -> list[dict[str, float]]:
        res = analyze_track(y, sr=sr)
        return [res.track, *res.segments]

    reference()
    genrekit()
    # Interleave the two so that both see the same background load.
    t_ref, t_gk = float("inf"), float("inf")
    rows_ref = rows_gk = None
    for _ in range(args.repeat):
        tr, rows_ref = _best(reference, 1)
        tg, rows_gk = _best(genrekit, 3)
        t_ref, t_gk = min(t_ref, tr), min(t_gk, tg)
    assert rows_ref is not None and rows_gk is not None
    worst, where = _max_error(rows_gk, rows_ref)  # type: ignore[arg-type]
    tempo_equal = all(a["tempo"] == b["tempo"] for a, b in zip(rows_gk, rows_ref, strict=True))  # type: ignore[arg-type]

    n_seg = len(rows_gk) - 1  # type: ignore[arg-type]
    print(f"track: {args.track.name}, {len(y) / sr:.2f} s + {n_seg} segments; {pinned}; "
          f"best of {args.repeat}")
    print(f"librosa recipe : {t_ref * 1e3:8.1f} ms")
    print(f"genrekit       : {t_gk * 1e3:8.1f} ms")
    print(f"speed-up       : {t_ref / t_gk:8.1f}x")
    print(f"max parity error vs librosa: {worst:.2e} relative (at {where}); "
          f"tempo equal: {tempo_equal}")
    print(f"genrekit import {t_import:.2f} s; first call (numba compile or cache load) "
          f"{t_first:.2f} s; numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
