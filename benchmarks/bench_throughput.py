"""Batch extraction throughput: tracks per second over the real clips.

Runs ``genrekit.extract`` on the 100 real GTZAN clips (``gtzan-clips/``, 15-30 s each) plus
the 44.1 kHz ballroom recording, from a cold cache, and prints tracks/s, audio seconds per
wall second, and the time per track. Then it runs again on the warm cache (what a resumed
run costs).

    python benchmarks/bench_throughput.py --jobs 2
    python benchmarks/bench_throughput.py --jobs 1 --mel

The shared data is ``$GENREKIT_SHARED_DATA`` or ``../shared/data`` beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from genrekit.extract import extract

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--mel", action="store_true", help="also write log-mel spectrograms")
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    clips = DATA / "gtzan-clips"
    ballroom = DATA / "other" / "ballroom-waltz-Media-105901.wav"
    if not clips.is_dir() or not ballroom.is_file():
        print(f"shared data not found at {DATA} (set GENREKIT_SHARED_DATA)", file=sys.stderr)
        return 2
    inputs = [clips, ballroom]
    files = sorted(clips.rglob("*.wav")) + [ballroom]
    audio_seconds = sum(sf.info(str(f)).duration for f in files)

    with tempfile.TemporaryDirectory(prefix="genrekit-bench-") as tmp:
        out = Path(tmp) / "out"
        t0, c0 = time.perf_counter(), _cpu_seconds()
        cold = extract(inputs, out, jobs=args.jobs, mel=args.mel, fmt=args.format,
                       progress=False)
        cold_s, cold_cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        t0 = time.perf_counter()
        warm = extract(inputs, out, jobs=args.jobs, mel=args.mel, fmt=args.format,
                       progress=False)
        warm_s = time.perf_counter() - t0

    result = {
        "tracks": cold.n_inputs,
        "ok": cold.n_ok,
        "segments": cold.n_segments,
        "audio_seconds": round(audio_seconds, 1),
        "jobs": args.jobs,
        "cpu_count": os.cpu_count(),
        "mel": args.mel,
        "cold_seconds": round(cold_s, 2),
        "tracks_per_second": round(cold.n_inputs / cold_s, 2),
        "audio_seconds_per_second": round(audio_seconds / cold_s, 1),
        "seconds_per_track": round(cold_s / cold.n_inputs, 3),
        "cpu_seconds": round(cold_cpu, 1),
        "cpu_seconds_per_track": round(cold_cpu / cold.n_inputs, 3),
        # what the same work gives on `jobs` otherwise idle cores (CPU-bound, no contention)
        "idle_tracks_per_second_estimate": round(cold.n_inputs * args.jobs / cold_cpu, 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "warm_seconds": round(warm_s, 2),
        "warm_cached": warm.n_cached,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['tracks']} tracks ({result['audio_seconds']:.0f} s of audio, "
              f"{result['segments']} segments), jobs={args.jobs}, mel={args.mel}")
        print(f"cold cache: {cold_s:.1f} s = {result['tracks_per_second']:.2f} tracks/s "
              f"({result['seconds_per_track']:.3f} s/track, "
              f"{result['audio_seconds_per_second']:.0f}x real time)")
        print(f"CPU: {cold_cpu:.1f} s = {result['cpu_seconds_per_track']:.3f} s/track; on "
              f"{args.jobs} idle cores that is about "
              f"{result['idle_tracks_per_second_estimate']:.2f} tracks/s "
              f"(load average now {result['load_average_1min']})")
        print(f"warm cache: {warm_s:.2f} s ({warm.n_cached} of {warm.n_inputs} from cache)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
