"""Seconds per 30 s track of the musicnn forward pass on one core: fast path vs plain port.

Runs :class:`genrekit.embeddings.musicnn.MusicnnModel` on the one full-length real clip
(``../shared/data/gtzan-clips/country/country.00000.wav``, 30.08 s; white noise of 30 s when
the shared data is absent) with the process pinned to one CPU and BLAS limited to one
thread. It reports, best of ``--repeat`` runs, wall and CPU seconds of:

- ``resample``: 22050 -> 16000 Hz with soxr (and the resampy ``kaiser_best`` port);
- ``log_mel``: the input representation;
- ``fast``: :meth:`MusicnnModel.taggram_from_mel` (DFT timbral convolutions over the whole
  track, block-Toeplitz temporal convolutions, one reduction per channel);
- ``reference``: :meth:`MusicnnModel.taggram_reference`, the plain per-patch port;

and the largest difference between the two. On a shared machine the wall time is inflated;
the CPU time is the number to read (the machine's load average is printed).

Usage::

    python benchmarks/bench_musicnn.py [--audio FILE] [--model msd_musicnn] [--repeat 3]
                                       [--weights-dir DIR] [--hop 61]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "measure"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_AUDIO = (
    Path(os.environ.get("GENREKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "gtzan-clips" / "country" / "country.00000.wav"
)  # fmt: skip


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds of ``repeat`` calls, and the last result."""
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO)
    parser.add_argument("--model", default="msd_musicnn", choices=("msd_musicnn", "mtt_musicnn"))
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hop", type=int, default=61)
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)

    from genrekit.embeddings import get_model
    from genrekit.embeddings.musicnn import log_mel, resample_to_16k

    if args.audio.is_file():
        import soundfile as sf

        y, sr = sf.read(args.audio, dtype="float32")
        y = y.mean(axis=1) if y.ndim == 2 else y
        source = str(args.audio)
    else:
        sr = 22050
        y = (0.1 * np.random.default_rng(0).standard_normal(30 * sr)).astype(np.float32)
        source = f"white noise, 30 s at {sr} Hz ({args.audio} not found)"
    model = get_model(args.model, weights_dir=args.weights_dir)
    print(f"audio: {source} ({len(y) / sr:.2f} s)")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; 1 core, 1 BLAS thread")

    rows = []
    w, c, y16 = measure(lambda: resample_to_16k(y, sr), args.repeat)
    rows.append(("resample (soxr HQ)", w, c))
    w, c, _ = measure(lambda: resample_to_16k(y, sr, resampler="kaiser_best"), 1)
    rows.append(("resample (kaiser_best port)", w, c))
    w, c, mel = measure(lambda: log_mel(y16), args.repeat)
    rows.append(("log_mel", w, c))
    w, c, (tags, emb) = measure(lambda: model.taggram_from_mel(mel, hop=args.hop), args.repeat)
    rows.append(("forward, fast path", w, c))
    fast_cpu = c
    w, c, (tags_ref, emb_ref) = measure(lambda: model.taggram_reference(y16, hop=args.hop), 1)
    rows.append(("forward, plain port", w, c))
    seconds = len(y) / sr
    print(f"{len(tags)} patches of 3 s, hop {args.hop} frames\n")
    print(f"{'stage':30s} {'wall s':>8s} {'CPU s':>8s} {'CPU s per 30 s':>15s}")
    for name, w, c in rows:
        print(f"{name:30s} {w:8.3f} {c:8.3f} {c * 30 / seconds:15.3f}")
    print(
        f"\nfast vs plain: max |tags| diff {np.abs(tags - tags_ref).max():.2e}, "
        f"max |embedding| diff {np.abs(emb - emb_ref).max():.2e}; "
        f"speed-up {rows[-1][2] / fast_cpu:.1f}x (CPU)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
