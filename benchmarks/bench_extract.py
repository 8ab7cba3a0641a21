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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", type=Path, default=DEFAULT_TRACK)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
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
