"""``genrekit demo``: the whole pipeline on built-in synthetic music, no download needed.

Stages, each printed as it starts::

    [1/6] synth        DIR/data/           synthetic tracks in GTZAN layout (NOT real music)
    [2/6] extract      DIR/features/       the Kaggle 57-feature tables (30 s and 3 s)
    [3/6] experiment   DIR/results/        a few zoo models, track-grouped CV (track-cv)
    [4/6] report       DIR/results/report.html
    [5/6] train        DIR/model/          the best model, fitted on everything, as a bundle
    [6/6] predict      DIR/new-songs/      unseen synthetic songs (another seed) predicted

Re-running into the same folder reuses the extraction cache and replaces the demo's own
outputs; any other non-empty folder is refused, so the demo never overwrites user files.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrekit.constants import GENRES, TABLE_3S
from genrekit.exceptions import GenreKitError, ParameterError

__all__ = ["DemoSettings", "run_demo", "DEFAULT_SETTINGS", "QUICK_SETTINGS"]

_MARKER = ".genrekit-demo"


@dataclass(frozen=True)
class DemoSettings:
    """How big the demo is.

    Parameters
    ----------
    per_genre : int
        Synthetic training tracks per style.
    seconds : float
        Length of every synthetic track.
    models : tuple of str
        Zoo models the experiment compares (the best is trained into the bundle).
    n_splits : int
        Folds of the track-grouped cross-validation.
    n_new : int
        Unseen songs (from another seed, one style each) predicted at the end.
    seed : int
        Seed of the training data; the new songs use ``seed + 1``.
    quick_report : bool
        Cheaper report diagnostics (fewer curve points and permutations).
    """

    per_genre: int = 10
    seconds: float = 15.0
    models: tuple[str, ...] = ("logreg", "knn", "svm_rbf", "random_forest", "lightgbm")
    n_splits: int = 5
    n_new: int = 10
    seed: int = 0
    quick_report: bool = True


DEFAULT_SETTINGS = DemoSettings()
#: A small demo for tests: same stages, minutes become seconds.
QUICK_SETTINGS = DemoSettings(
    per_genre=4, seconds=6.5, models=("logreg", "lightgbm"), n_splits=3, n_new=3
)


def _stage(i: int, text: str) -> float:
    print(f"[{i}/6] {text}", flush=True)
    return time.perf_counter()


def _done(t0: float) -> None:
    print(f"      done in {time.perf_counter() - t0:.1f} s", flush=True)


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / _MARKER).exists():
        raise ParameterError(
            f"{out}: exists, is not empty and is not a genrekit demo folder; "
            "choose another with -o"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / _MARKER).write_text("made by `genrekit demo`; safe to delete\n")
    for sub in ("results", "model"):  # the demo's own outputs from an earlier run
        if (out / sub).exists():
            shutil.rmtree(out / sub)


def _synth(out: Path, *, per_genre: int, seconds: float, seed: int,
           genres: tuple[str, ...] = GENRES) -> list[Path]:
    from genrekit.synth import write_dataset

    return write_dataset(out, per_genre=per_genre, seconds=seconds, seed=seed, genres=genres)


def _config_text(features: Path, settings: DemoSettings, jobs: int) -> str:
    models = ", ".join(f'"{m}"' for m in settings.models)
    return (
        "# Written by `genrekit demo`. Synthetic data: the accuracies say nothing about real\n"
        "# genre classification; they show the pipeline working end to end.\n"
        'name = "demo"\n'
        f"features = {_toml_str(features)}\n"
        'protocol = "track-cv"\n'
        f"n_splits = {settings.n_splits}\n"
        f"models = [{models}]\n"
        f"seed = {settings.seed + 1}\n"
        f"n_jobs = {jobs}\n"
    )


def _toml_str(path: Path) -> str:
    return '"' + str(path.resolve()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _best_model(results: dict[str, Any], fallback: str) -> tuple[str, float | None]:
    best, score = fallback, None
    for name, rec in results.get("models", {}).items():
        if rec.get("skipped") or rec.get("failed"):
            continue
        value = rec.get("cv_track_mean")
        if value is None:
            value = rec.get("cv_mean")
        if value is not None and (score is None or value > score):
            best, score = name, float(value)
    return best, score


def run_demo(
    *,
    out_dir: str | os.PathLike[str],
    jobs: int | None = None,
    quick: bool = False,
    settings: DemoSettings | None = None,
) -> int:
    """Run the whole pipeline on synthetic music and print where everything is.

    Parameters
    ----------
    out_dir : path
        Demo folder (created). An existing non-empty folder is used only if an earlier demo
        made it.
    jobs : int, optional
        Worker processes for extraction and model fitting (default: every core).
    quick : bool
        Use :data:`QUICK_SETTINGS` (a tiny demo, for tests).
    settings : DemoSettings, optional
        Explicit sizes (overrides ``quick``).

    Returns
    -------
    int
        0 when every stage succeeded, 1 when some stage reported failures (the others still
        ran).
    """
    from genrekit.extract import extract

    s = settings or (QUICK_SETTINGS if quick else DEFAULT_SETTINGS)
    out = Path(out_dir)
    _prepare(out)
    if jobs is not None:
        n_jobs = jobs
    elif hasattr(os, "sched_getaffinity"):
        n_jobs = len(os.sched_getaffinity(0))
    else:
        n_jobs = os.cpu_count() or 1
    status = 0
    start = time.perf_counter()
    print(
        "genrekit demo: synthetic music (procedurally generated, NOT real recordings) "
        f"-> features -> models -> report -> model bundle -> predictions, in {out}/",
        flush=True,
    )

    n = s.per_genre * len(GENRES)
    t0 = _stage(1, f"synth: {n} synthetic tracks of {s.seconds:g} s in {out / 'data'}")
    _synth(out / "data", per_genre=s.per_genre, seconds=s.seconds, seed=s.seed)
    _done(t0)

    t0 = _stage(2, f"extract: Kaggle features of every track and 3 s segment -> {out / 'features'}")
    report = extract([out / "data"], out / "features", jobs=n_jobs, progress=None)
    print("      " + report.summary())
    status |= 1 if report.n_failed else 0
    _done(t0)

    from genrekit.experiment import run_experiment

    features = _table_path(out / "features")
    config = out / "experiment.toml"
    # One thread for the models: the demo's table is tiny, and LightGBM's OpenMP threads
    # spin-wait badly when the cores are shared (measured: 2.5 s -> 175 s for one fit).
    config.write_text(_config_text(features, s, 1), encoding="utf-8")
    t0 = _stage(3, f"experiment: {', '.join(s.models)} under track-cv ({config})")
    with warnings.catch_warnings():  # library deprecation notices are not for demo users
        warnings.simplefilter("ignore", FutureWarning)
        status |= run_experiment(config, out_dir=out / "results")
    _done(t0)

    import json

    results = json.loads((out / "results" / "results.json").read_text(encoding="utf-8"))
    html = out / "results" / "report.html"
    t0 = _stage(4, f"report: {html}")
    try:
        _report(out / "results", html, quick=s.quick_report)
    except GenreKitError as exc:  # a figure failing must not hide the model and predictions
        print(f"genrekit demo: report failed: {exc}", file=sys.stderr)
        status = 1
    _done(t0)

    from genrekit.experiment import train

    best, score = _best_model(results, "lightgbm" if "lightgbm" in s.models else s.models[0])
    shown = f"{score:.2f}" if score is not None else "n/a"
    t0 = _stage(5, f"train: {best} (best track-cv track accuracy, {shown}) on all "
                   f"{results.get('n_rows', '?')} rows -> {out / 'model'}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        status |= train(features, model=best, out_dir=out / "model", protocol="track-cv",
                        jobs=n_jobs)
    _done(t0)

    from genrekit.bundle import load_model
    from genrekit.predict import format_table, predict_files

    new_genres = tuple(GENRES[i * len(GENRES) // s.n_new] for i in range(s.n_new))
    t0 = _stage(6, f"predict: {s.n_new} new synthetic songs (seed {s.seed + 1}, never seen in "
                   f"training) -> {out / 'new-songs'}")
    songs = _synth(out / "new-songs", per_genre=1, seconds=s.seconds, seed=s.seed + 1,
                   genres=new_genres)
    model = load_model(out / "model")
    answers, failures = predict_files(model, songs)
    print(format_table(answers))
    right = sum(a["genre"] == Path(a["path"]).parent.name for a in answers)
    print(f"      {right} of {len(answers)} new songs predicted as the style they were made in")
    status |= 1 if failures else 0
    _done(t0)

    print(
        f"\ngenrekit demo finished in {time.perf_counter() - start:.0f} s. Everything is in "
        f"{out}/:\n"
        f"  data/            synthetic tracks (see data/README.txt: not real music)\n"
        f"  features/        {features.name} and the 30 s table, failures.csv, extract.json\n"
        f"  experiment.toml  the experiment config\n"
        f"  results/         results.md, results.json, predictions; report.html (open it)\n"
        f"  model/           the trained {best} bundle (model.json says what it is)\n"
        f"  new-songs/       the songs predicted above\n"
        f"Next: genrekit predict {out / 'model'} YOUR_SONG.mp3   (or --json, --segments)"
    )
    return status


def _table_path(folder: Path) -> Path:
    for ext in (".parquet", ".csv"):
        path = folder / f"{TABLE_3S}{ext}"
        if path.exists():
            return path
    raise GenreKitError(f"{folder}: extraction wrote no {TABLE_3S} table")


def _report(results: Path, html: Path, *, quick: bool) -> None:
    from genrekit.report import build_report

    kwargs: dict[str, Any] = {}
    if quick:
        from genrekit.diagnostics import DiagnosticsSettings

        kwargs["settings"] = DiagnosticsSettings(
            max_rows=1000,
            max_depths=(1, 2, 4, 8, 16),
            neighbors=(1, 3, 5, 9, 15),
            kmeans_ks=(2, 5, 10, 15, 20),
            n_splits=3,
            n_repeats=2,
            permutation_rows=300,
        )
    build_report(results, output=html, overwrite=True, **kwargs)
