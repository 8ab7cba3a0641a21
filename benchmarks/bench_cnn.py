"""Seconds per epoch of the CNN on the real clips, and the projection to the full GTZAN.

Trains :class:`genrekit.models.cnn.CNNClassifier` (the zoo's ``cnn`` settings) for a few
epochs on the log-mel patches of ``../shared/data/gtzan-clips`` (100 tracks, 542 whole 3 s
segments) and reports wall and CPU seconds per epoch. The projection to the full GTZAN
(1000 tracks x 10 segments; 85% of them trained on, the rest held out for early stopping)
scales the per-patch cost linearly, which holds because an epoch is a fixed number of
equal-sized batches. The machine's load average is printed too: on a shared machine the
wall time is inflated and the CPU time is the number to read.

Usage::

    python benchmarks/bench_cnn.py [--clips DIR | --mel-npz mel_3_sec.npz] [--epochs 3]
                                   [--threads 1] [--max-epochs 30]

With ``--track-cv EXTRACT_DIR`` it instead evaluates zoo models side by side under the
``track-cv`` protocol (5-fold stratified CV grouped by track, ``random_state=1``, the folds of
``genrekit experiment``) on the output of ``genrekit extract AUDIO -o EXTRACT_DIR --mel``:
feature models on the 57 columns, image models and the CNN on the log-mel patches, fusion on
both. Models whose ``fit`` takes ``groups`` get the track ids of the training rows (the CNN's
early-stopping split and the fusion's inner folds keep tracks whole). It prints segment and
track accuracy per fold, their mean and spread, and writes them as JSON (``--out``)::

    python benchmarks/bench_cnn.py --track-cv EXTRACT_DIR --models logreg lightgbm cnn fusion
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["load_clip_mels", "main"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO.parent / "shared" / "data")) / "gtzan-clips"
FULL_GTZAN_PATCHES = 1000 * 10


def load_clip_mels(clips: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-mel patches ``[n, 128 * 130]``, labels and track ids of every whole 3 s segment,
    computed with genrekit's feature pass (the same STFT as the features)."""
    from genrekit.audio import load_audio
    from genrekit.features.kaggle import analyze_track

    X, y, groups = [], [], []
    for path in sorted(clips.glob("*/*.wav")):
        analysis = analyze_track(load_audio(path), mel=True)
        for patch in analysis.segment_mels or []:
            X.append(np.asarray(patch, dtype=np.float32).ravel())
            y.append(path.parent.name)
            groups.append(path.stem)
    return np.asarray(X), np.asarray(y), np.asarray(groups)


def _fit_accepts_groups(estimator: object) -> bool:
    import inspect

    return "groups" in inspect.signature(estimator.fit).parameters  # type: ignore[attr-defined]


def track_cv(extract_dir: Path, models: list[str], *, threads: int, seed: int = 1,
             n_splits: int = 5, out: Path | None = None) -> dict[str, dict[str, object]]:
    """Evaluate zoo ``models`` with track-grouped CV on an ``extract --mel`` output folder."""
    import json

    import pandas as pd
    from sklearn.model_selection import StratifiedGroupKFold

    from genrekit.constants import FEATURE_NAMES
    from genrekit.models import get_model
    from genrekit.models.cnn import CNNClassifier

    table_path = next(p for p in (extract_dir / "features_3_sec.parquet",
                                  extract_dir / "features_3_sec.csv") if p.exists())
    table = (pd.read_parquet(table_path) if table_path.suffix == ".parquet"
             else pd.read_csv(table_path))
    table = table.sort_values(["track_id", "segment"]).reset_index(drop=True)
    with np.load(extract_dir / "mel_3_sec.npz") as z:
        pos = {(str(t), int(s)): i for i, (t, s) in enumerate(zip(z["track_id"], z["segment"], strict=True))}
        rows = [pos[(str(t), int(s))] for t, s in zip(table["track_id"], table["segment"], strict=True)]
        mel = z["mel"][rows].reshape(len(rows), -1)
    feats = table[list(FEATURE_NAMES)].to_numpy(np.float32)
    y = table["label"].astype(str).to_numpy()
    tracks = table["track_id"].astype(str).to_numpy()
    inputs = {"features": feats, "mel": mel, "features+mel": np.hstack([feats, mel])}
    folds = list(StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(feats, y, tracks))
    print(f"{len(y)} segments of {len(set(tracks))} tracks, {len(folds)} track-grouped folds; "
          f"chance {pd.Series(y).value_counts(normalize=True).max():.3f}", flush=True)
    results: dict[str, dict[str, object]] = {}
    for name in models:
        spec = get_model(name)
        X = inputs[spec.input]
        seg_scores, track_scores, seconds = [], [], []
        for train, test in folds:
            est = spec.build(seed=seed, n_jobs=1)
            if isinstance(est, CNNClassifier):
                est.set_params(n_threads=threads)
            elif "cnn" in est.get_params(deep=False):
                est.set_params(cnn=CNNClassifier(random_state=seed, n_threads=threads))
            t0 = time.perf_counter()
            if _fit_accepts_groups(est):
                est.fit(X[train], y[train], groups=tracks[train])
            else:
                est.fit(X[train], y[train])
            proba = est.predict_proba(X[test])
            seconds.append(time.perf_counter() - t0)
            classes = np.asarray(est.classes_).astype(str)
            seg_scores.append(float(np.mean(classes[proba.argmax(1)] == y[test])))
            frame = pd.DataFrame(proba).groupby(tracks[test]).mean()
            truth = pd.Series(y[test]).groupby(tracks[test]).first()
            track_scores.append(float(np.mean(classes[frame.to_numpy().argmax(1)] == truth.loc[frame.index].to_numpy())))
        results[name] = {
            "input": spec.input, "track_accuracy": track_scores, "segment_accuracy": seg_scores,
            "track_mean": float(np.mean(track_scores)), "track_std": float(np.std(track_scores)),
            "segment_mean": float(np.mean(seg_scores)), "fit_seconds": float(np.sum(seconds)),
        }
        print(f"{name:20s} [{spec.input}] track {np.mean(track_scores):.3f} +- {np.std(track_scores):.3f} "
              f"(folds {', '.join(f'{s:.2f}' for s in track_scores)}; min {min(track_scores):.2f} "
              f"max {max(track_scores):.2f}), segment {np.mean(seg_scores):.3f}, "
              f"{np.sum(seconds):.0f} s", flush=True)
        if out is not None:
            out.write_text(json.dumps({"protocol": "track-cv", "n_splits": len(folds), "seed": seed,
                                       "n_rows": len(y), "n_tracks": len(set(tracks)),
                                       "models": results}, indent=2))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track-cv", type=Path, default=None, metavar="EXTRACT_DIR",
                        help="evaluate --models under track-cv on an `extract --mel` output")
    parser.add_argument("--models", nargs="+", default=["logreg", "lightgbm", "img_pca_logreg",
                                                        "hog9_pca_logreg", "cnn", "fusion"])
    parser.add_argument("--out", type=Path, default=None, help="JSON results (with --track-cv)")
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--mel-npz", type=Path, default=None,
                        help="reuse an `extract --mel` output (mel_3_sec.npz) instead of computing")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to time")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: see docs/spectrogram.md for why)")
    parser.add_argument("--max-epochs", type=int, default=30,
                        help="epochs of a full training, for the projection")
    args = parser.parse_args(argv)
    if args.track_cv is not None:
        track_cv(args.track_cv, args.models, threads=args.threads, out=args.out)
        return 0

    from genrekit.models.cnn import CNNClassifier

    t0 = time.perf_counter()
    if args.mel_npz is not None:
        with np.load(args.mel_npz) as z:
            X = z["mel"].reshape(len(z["mel"]), -1)
            groups = z["track_id"].astype(str)
        y = np.array([g.split(".")[0] for g in groups])
    else:
        if not args.clips.is_dir():
            print(f"clips not found at {args.clips} (set GENREKIT_SHARED_DATA)", file=sys.stderr)
            return 2
        X, y, groups = load_clip_mels(args.clips)
    print(f"log-mel patches: {X.shape} from {len(set(groups))} tracks "
          f"({time.perf_counter() - t0:.1f} s to load)")

    clf = CNNClassifier(max_epochs=args.epochs, patience=args.epochs + 1, n_threads=args.threads,
                        random_state=0, verbose=False)
    load_before = os.getloadavg()[0]
    clf.fit(X, y, groups=groups)
    load_after = os.getloadavg()[0]
    n_params = sum(int(p.numel()) for p in clf.net_.parameters())
    hist = clf.history_
    timed = hist[1:] if len(hist) > 1 else hist  # the first epoch pays one-off warm-up
    wall = statistics.median(h["seconds"] for h in timed)
    cpu = statistics.median(h["cpu_seconds"] for h in timed)
    n_train = hist[0]["n_train"]
    full_train = int(FULL_GTZAN_PATCHES * (1 - clf.validation_fraction))
    scale = full_train / n_train
    print(f"network: {n_params} weights, channels {clf.channels}, {args.threads} torch threads")
    print(f"load average during the run: {load_before:.1f} -> {load_after:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"clips: {n_train} training patches per epoch: {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"per epoch ({1000 * cpu / n_train:.2f} ms CPU per patch)")
    print(f"full GTZAN ({full_train} training patches): {wall * scale:.1f} s wall, "
          f"{cpu * scale:.1f} s CPU per epoch")
    for label, secs in (("wall, as measured here", wall * scale),
                        ("CPU time (the wall time of 1 thread on an idle core)", cpu * scale)):
        print(f"  {args.max_epochs} epochs, {label}: {args.max_epochs * secs / 60:.1f} min "
              f"({'under' if args.max_epochs * secs < 1200 else 'OVER'} the 20 min goal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
