"""The command line's contract: instant --help, usage errors exit 2 with one line, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import REPO
from genrekit import __version__
from genrekit.cli import EXIT_OK, EXIT_USAGE, build_parser, main

HEAVY = ("numpy", "scipy", "pandas", "sklearn", "lightgbm", "torch", "matplotlib", "librosa",
         "numba", "soundfile", "pyarrow", "dask", "distributed")

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from genrekit.cli import main
code = main({argv!r})
elapsed = time.perf_counter() - t0
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "seconds": elapsed, "heavy": heavy}}), file=sys.stderr)
"""


def _probe(argv: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=argv, heavy=HEAVY)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["extract", "--help"], ["fetch", "--help"],
                                  ["predict", "--help"], ["--version"]])
def test_help_imports_nothing_heavy(argv):
    result = _probe(argv)
    assert result["code"] == EXIT_OK
    assert result["heavy"] == []
    # "well under a second" on an idle machine; generous here because CI machines are shared
    assert result["seconds"] < 2.0


def test_python_dash_m_and_version():
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "genrekit", "--version"], capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"genrekit {__version__}"
    assert time.perf_counter() - t0 < 5.0


def test_every_design_command_is_there():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) >= {"demo", "synth", "extract", "models", "experiment", "train",
                                "report", "predict", "fetch"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["extract", "in"], "the following arguments are required: -o/--output"),
        (["extract", "in", "-o", "out", "--jobs", "0"], "expected a positive integer, got '0'"),
        (["extract", "in", "-o", "out", "--format", "xls"], "invalid choice: 'xls'"),
        (["fetch", "mnist"], "invalid choice: 'mnist'"),
        (["synth", "-o", "d", "--seconds", "-1"], "expected a positive number, got '-1'"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys):
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_parameter_error_from_library_is_usage(tmp_path, capsys):
    # a bad manifest header is a data problem (1); an empty folder as well; a ParameterError
    # raised by the library (here: --wheel for a non-musicnn fetch) is a usage error (2)
    assert main(["fetch", "splits", "--wheel", "x.whl", "-o", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "genrekit fetch: error: --wheel applies to musicnn only\n"
    (tmp_path / "empty").mkdir()
    assert main(["extract", str(tmp_path / "empty"), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("genrekit extract: error: ") and err.count("\n") == 1
    assert "no audio files found" in err
