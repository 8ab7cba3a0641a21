"""``genrekit demo`` end to end, at the quick size, then the CLI on its model."""

from __future__ import annotations

import json

import pytest

from conftest import shared_path
from genrekit.bundle import load_model
from genrekit.cli import main
from genrekit.constants import GENRES
from genrekit.demo import QUICK_SETTINGS, run_demo
from genrekit.exceptions import ParameterError


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "demo"
    assert run_demo(out_dir=out, jobs=1, quick=True) == 0
    printed = capsys.readouterr().out
    for stage in range(1, 7):
        assert f"[{stage}/6]" in printed
    assert "NOT real" in printed and str(out / "model") in printed

    data = sorted(p.relative_to(out / "data").as_posix() for p in (out / "data").rglob("*.wav"))
    assert len(data) == QUICK_SETTINGS.per_genre * len(GENRES)
    results = json.loads((out / "results" / "results.json").read_text())
    assert results["protocol"] == "track-cv"
    assert set(results["models"]) == set(QUICK_SETTINGS.models)
    assert (out / "results" / "report.html").stat().st_size > 10_000

    model = load_model(out / "model")
    assert model.labels == GENRES and model.level == "segment"
    assert model.metadata["protocol"] == "track-cv"
    assert model.metadata["metrics"]["cv_mean"] is not None
    best = max(results["models"], key=lambda m: results["models"][m]["cv_track_mean"])
    assert model.name == best

    # the demo's model answers on real music too (the "done means")
    clip = shared_path("gtzan-clips", "jazz", "jazz.00003.wav")
    assert main(["predict", str(out / "model"), str(clip), "--json"]) == 0
    (answer,) = json.loads(capsys.readouterr().out)
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)

    # re-running into the demo's own folder works; a user's folder is refused
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(ParameterError, match="not a genrekit demo folder"):
        run_demo(out_dir=tmp_path / "mine", quick=True)
