"""How fast does a saved model answer? One 30 s track, warm and cold.

- warm: ``load_model`` once, then ``predict_file`` on a real 30 s GTZAN track (its ten 3 s
  segments: decode, features, model), best of ``--repeat`` runs. Goal: under 0.3 s.
- cold: a fresh ``genrekit predict MODEL TRACK`` process, as a user runs it (Python start,
  imports, bundle validation, prediction). Goal: under 3 s.

The model is a LightGBM pipeline (the capstone's model, 500 trees) fitted on the published
Kaggle 3 s rows of the real clips and saved as a bundle in a temporary folder, or any bundle
given with ``--model``. Run from the repository root::

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


def _make_bundle(folder: Path) -> Path:
    import pandas as pd
    from lightgbm import LGBMClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genrekit.bundle import save_bundle
    from genrekit.constants import FEATURE_NAMES

    df = pd.read_csv(SHARED / "kaggle" / "features_3_sec_clips.csv")
    est = make_pipeline(
        StandardScaler(), LGBMClassifier(n_estimators=500, n_jobs=1, verbose=-1, random_state=1)
    )
    est.fit(df[list(FEATURE_NAMES)].to_numpy(), df["label"].to_numpy())
    return save_bundle(
        folder / "model",
        estimator=est,
        model_name="lightgbm",
        labels=list(est.classes_),
        feature_names=FEATURE_NAMES,
        level="segment",
        feature_settings={"sample_rate": 22050, "pad_mode": "reflect", "source": "kaggle"},
        protocol=None,
        metrics={},
        training_fingerprint=None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a bundle (default: fit one)")
    parser.add_argument("--track", type=Path,
                        default=SHARED / "gtzan-clips" / "country" / "country.00000.wav",
                        help="a 30 s track (default: the one full-length real clip)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.track.exists():
        print(f"skipped: {args.track} not found (set GENREKIT_SHARED_DATA)")
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    try:
        model_dir = args.model or _make_bundle(tmp)
        from genrekit.bundle import load_model

        model = load_model(model_dir)
        model.predict_file(args.track)  # warm-up: imports, numba compilation, caches
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = model.predict_file(args.track, segments=True)
            times.append(time.perf_counter() - t0)
        warm = min(times)
        n_seg = len(result["segments"])

        exe = shutil.which("genrekit") or sys.executable
        cmd = [exe, "predict", str(model_dir), str(args.track)]
        if exe == sys.executable:
            cmd[1:1] = ["-m", "genrekit"]
        subprocess.run(cmd, check=True, capture_output=True)  # OS file cache warm
        colds = []
        for _ in range(max(1, args.repeat // 2)):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            colds.append(time.perf_counter() - t0)
        cold = min(colds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"model: {model.name} ({model.level} level), track: {args.track.name} "
          f"({n_seg} segments), CPUs available: {len(os.sched_getaffinity(0))}")
    print(f"warm predict_file, one 30 s track: {warm:.3f} s (best of {args.repeat}; "
          f"median {sorted(times)[len(times) // 2]:.3f} s)  goal < 0.3 s")
    print(f"cold `genrekit predict` process:   {cold:.2f} s (best of {len(colds)})  goal < 3 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
