"""The ``genrekit`` command line: a thin layer over the library.

Each subcommand parses its arguments, then calls one public library function with keyword
arguments. Heavy libraries (numpy, scikit-learn, LightGBM, torch, matplotlib) are imported
only inside the handlers, after parsing, so ``genrekit --help`` answers at once.

Exit status: 0 when everything asked for was done, 1 when some input failed (the rest is
still done and reported), 2 for bad usage. A :class:`~genrekit.exceptions.GenreKitError`
becomes one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from genrekit._version import __version__
from genrekit.constants import DEFAULT_FORMAT, DEFAULT_PAD_MODE, PAD_MODES
from genrekit.exceptions import GenreKitError, ParameterError

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2



def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


# --------------------------------------------------------------------------- handlers


def _cmd_demo(args: argparse.Namespace) -> int:
    from genrekit.demo import run_demo

    return run_demo(out_dir=args.output, jobs=args.jobs)


def _cmd_synth(args: argparse.Namespace) -> int:
    from genrekit.synth import write_dataset

    paths = write_dataset(
        args.output, per_genre=args.per_genre, seconds=args.seconds, seed=args.seed
    )
    print(f"wrote {len(paths)} synthetic tracks to {args.output}")
    return EXIT_OK


def _cmd_extract(args: argparse.Namespace) -> int:
    from genrekit.extract import extract

    report = extract(
        args.inputs,
        args.output,
        jobs=args.jobs,
        scheduler=args.scheduler,
        fmt=args.format,
        mel=args.mel,
        embeddings=tuple(args.embeddings or ()),
        pad_mode=args.pad_mode,
        cache_dir=args.cache_dir,
        progress=None,  # auto: a bar on a terminal
    )
    print(report.summary())
    return EXIT_FAILED if report.n_failed else EXIT_OK


def _cmd_models(args: argparse.Namespace) -> int:
    from genrekit.models import available_models

    models = available_models()
    width = max(len(name) for name in models)
    for name, description in models.items():
        print(f"{name:<{width}}  {description}")
    return EXIT_OK


def _cmd_experiment(args: argparse.Namespace) -> int:
    from genrekit.experiment import run_experiment

    return run_experiment(args.config, out_dir=args.output, scheduler=args.scheduler)


def _cmd_train(args: argparse.Namespace) -> int:
    from genrekit.experiment import train

    return train(
        args.source,
        model=args.model,
        out_dir=args.output,
        protocol=args.protocol,
        jobs=args.jobs,
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from genrekit.report import build_report

    path = build_report(args.results_dir, output=args.output, overwrite=args.overwrite,
                        compare=tuple(args.compare or ()))
    print(f"report written to {path}")
    return EXIT_OK


def _cmd_predict(args: argparse.Namespace) -> int:
    from genrekit.predict import predict_cli

    return predict_cli(
        args.model_dir, args.audio, as_json=args.json, segments=args.segments
    )


def _cmd_fetch(args: argparse.Namespace) -> int:
    from genrekit.fetch import fetch

    path = fetch(args.what, out_dir=args.output, wheel=args.wheel)
    print(f"{args.what} ready in {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genrekit",
        description="Music genre classification you can trust: Kaggle-exact GTZAN features, "
        "honest evaluation protocols, reports and saved models.",
    )
    parser.add_argument("--version", action="version", version=f"genrekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "demo",
        help="synthetic data -> extract -> train -> evaluate -> report -> model, end to end",
    )
    p.add_argument("-o", "--output", type=Path, default=Path("genrekit-demo"),
                   help="output folder (default: ./genrekit-demo)")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="worker processes (default: all cores)")
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser("synth", help="write procedurally generated demo music in GTZAN layout")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--per-genre", type=_positive_int, default=10, help="tracks per genre")
    p.add_argument("--seconds", type=_positive_float, default=30.0, help="track length")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="random seed")
    p.set_defaults(handler=_cmd_synth)

    p = sub.add_parser(
        "extract",
        help="audio -> Kaggle-compatible feature tables (features_30_sec, features_3_sec)",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a folder in GTZAN layout (<genre>/<file>), a manifest CSV "
                   "(path,label[,group]) or audio files")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (tcp://host:port) to run on a cluster")
    p.add_argument("--format", choices=("parquet", "csv"), default=DEFAULT_FORMAT,
                   help=f"table format (default: {DEFAULT_FORMAT})")
    p.add_argument("--pad-mode", choices=PAD_MODES, default=DEFAULT_PAD_MODE,
                   help="STFT centring: reflect reproduces the Kaggle tables (default); "
                   "constant is librosa >= 0.9's zero padding")
    p.add_argument("--mel", action="store_true",
                   help="also write log-mel spectrograms (for the CNN and image models)")
    p.add_argument("--embeddings", action="append", choices=("msd_musicnn", "mtt_musicnn"),
                   help="also write pretrained musicnn embeddings (repeatable)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="per-file result cache (default: OUT_DIR/.cache)")
    p.set_defaults(handler=_cmd_extract)

    p = sub.add_parser("models", help="list the model zoo: names and one-line descriptions")
    p.set_defaults(handler=_cmd_models)

    p = sub.add_parser("experiment", help="run the models of a TOML config under a protocol")
    p.add_argument("config", type=Path, metavar="CONFIG.toml")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="results folder (default: results/<config name>)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address for grid searches")
    p.set_defaults(handler=_cmd_experiment)

    p = sub.add_parser("train", help="fit one model on all the data and save a model bundle")
    p.add_argument("source", type=Path, metavar="FEATURES|AUDIO_DIR")
    p.add_argument("--model", required=True, help="a zoo name (see `genrekit models`)")
    p.add_argument("-o", "--output", type=Path, required=True, help="bundle folder")
    p.add_argument("--protocol", default=None,
                   help="evaluate under this protocol first and store its metrics")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="worker processes for audio extraction")
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser("report", help="one self-contained HTML report from a results folder")
    p.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="HTML file (default: RESULTS_DIR/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("--compare", action="append", type=Path, metavar="OTHER_RESULTS_DIR",
                   help="another run of the same models under another protocol (e.g. the leaky "
                   "seed run), drawn side by side (repeatable)")
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser("predict", help="predict the genre of audio files with a saved model")
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    p.add_argument("audio", nargs="+", metavar="AUDIO")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--segments", action="store_true", help="add the per-segment timeline")
    p.set_defaults(handler=_cmd_predict)

    p = sub.add_parser("fetch", help="download GTZAN, its split lists or musicnn weights")
    p.add_argument("what", choices=("gtzan", "splits", "musicnn"))
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="destination (default: genrekit's data or cache folder)")
    p.add_argument("--wheel", type=Path, default=None,
                   help="musicnn only: a local musicnn-0.1.0 wheel, for offline use")
    p.set_defaults(handler=_cmd_fetch)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 some input failed, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        return int(args.handler(args))
    except ParameterError as exc:
        print(f"genrekit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GenreKitError as exc:
        print(f"genrekit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"genrekit {args.command}: interrupted", file=sys.stderr)
        return 130
