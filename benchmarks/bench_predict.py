"""How fast does a saved model answer? One 30 s track, warm and cold.

- warm: ``load_model`` once, then ``predict_file`` on a real 30 s GTZAN track (its ten 3 s
  segments: decode, features, model), best of ``--repeat`` runs. Goal: under 0.3 s.
- cold: a fresh ``genrekit predict MODEL TRACK`` process, as a user runs it (Python start,
  imports, bundle validation, prediction). Goal: under 3 s.

The models are a LightGBM pipeline (the capstone's model, 500 trees) and a scaled logistic
regression, fitted on the published Kaggle 3 s rows of the real clips and saved as bundles in
a temporary folder, or any bundle given with ``--model``. Both wall-clock and CPU seconds are
printed: on a shared machine the CPU time is the fairer number. Run from the repository root::

    python benchmarks/bench_predict.py [--model DIR] [--track FILE] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def _make_bundle(folder: Path, name: str) -> Path:
    import pandas as pd
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genrekit.bundle import save_bundle
    from genrekit.constants import FEATURE_NAMES

    df = pd.read_csv(SHARED / "kaggle" / "features_3_sec_clips.csv")
    model: object = (
        LGBMClassifier(n_estimators=500, n_jobs=1, verbose=-1, random_state=1)
        if name == "lightgbm" else LogisticRegression(max_iter=1000)
    )
    est = make_pipeline(StandardScaler(), model)
    est.fit(df[list(FEATURE_NAMES)].to_numpy(), df["label"].to_numpy())
    return save_bundle(
        folder / name,
        estimator=est,
        model_name=name,
        labels=list(est.classes_),
        feature_names=FEATURE_NAMES,
        level="segment",
        feature_settings={"sample_rate": 22050, "pad_mode": "reflect", "source": "kaggle"},
        protocol=None,
        metrics={},
        training_fingerprint=None,
    )


def _measure(model_dir: Path, track: Path, repeat: int) -> None:
    import resource

    from genrekit.bundle import load_model

    model = load_model(model_dir)
    model.predict_file(track)  # warm-up: imports, numba caches
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = model.predict_file(track, segments=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)

    exe = shutil.which("genrekit")
    cmd = [exe, "predict"] if exe else [sys.executable, "-m", "genrekit", "predict"]
    cmd += [str(model_dir), str(track)]
    subprocess.run(cmd, check=True, capture_output=True)  # OS file cache warm
    colds, cold_cpu = [], []
    for _ in range(max(2, repeat // 2)):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        colds.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cold_cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)

    print(f"{model.name} bundle ({model.metadata['kind']}, {model.level} level), "
          f"{track.name}, {len(result['segments'])} segments:")
    print(f"  warm predict_file: {min(walls):.3f} s wall, {min(cpus):.3f} s CPU "
          f"(best of {repeat})   goal < 0.3 s")
    print(f"  cold `genrekit predict`: {min(colds):.2f} s wall, {min(cold_cpu):.2f} s CPU "
          f"(best of {len(colds)})   goal < 3 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a bundle (default: fit a LightGBM and a logreg bundle)")
    parser.add_argument("--track", type=Path,
                        default=SHARED / "gtzan-clips" / "country" / "country.00000.wav",
                        help="a 30 s track (default: the one full-length real clip)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.track.exists():
        print(f"skipped: {args.track} not found (set GENREKIT_SHARED_DATA)")
        return 0
    print(f"CPUs available: {len(os.sched_getaffinity(0))}, load average "
          f"{os.getloadavg()[0]:.1f} (wall times grow with load; CPU times much less)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    try:
        dirs = [args.model] if args.model else [_make_bundle(tmp, n) for n in ("lightgbm", "logreg")]
        for d in dirs:
            _measure(d, args.track, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
