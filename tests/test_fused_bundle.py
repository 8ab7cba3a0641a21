"""Fused models as bundles: ``genrekit train CONFIG.toml --model fused`` + predict (issue 7 §4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from genrekit.constants import FEATURE_NAMES
from genrekit.exceptions import ModelError, ParameterError

GENRES = ("blues", "classical", "metal")
CLIPS = ("00000", "00001", "00002")


def _emb_cached() -> bool:
    from genrekit.embeddings.weights import weights_dir

    return (weights_dir() / "msd_musicnn.npz").is_file()


@pytest.fixture(scope="module")
def tables(gtzan_clips: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Kaggle 30 s + 3 s tables (and msd_musicnn embeddings when cached) of 9 real clips."""
    from genrekit.extract import extract

    root = tmp_path_factory.mktemp("fused")
    audio = root / "audio"
    for g in GENRES:
        (audio / g).mkdir(parents=True)
        for c in CLIPS:
            shutil.copy(gtzan_clips / g / f"{g}.{c}.wav", audio / g)
    emb = ("msd_musicnn",) if _emb_cached() else ()
    extract([audio], root / "tables", jobs=1, embeddings=emb, cache_dir=root / "cache",
            progress=False)
    return root


def _config(root: Path, name: str, rule: str, inputs: list[tuple[str, str, str]]) -> Path:
    text = [f'name = "{name}"', 'protocol = "track-cv"', "n_splits = 3", "seed = 1"]
    for inp, table, extra in inputs:
        text += ["[[inputs]]", f'name = "{inp}"', f'features = "{root / "tables" / table}"',
                 'models = ["logreg"]', extra]
    text += ["[fusion]", f'rule = "{rule}"']
    path = root / f"{name}.toml"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def test_mean_fused_bundle_equals_mean_of_member_bundles(tables: Path, capsys) -> None:
    from genrekit import load_model
    from genrekit.experiment import train
    from genrekit.predict import predict_cli

    cfg = _config(tables, "fm", "mean", [("k30", "features_30_sec.parquet", ""),
                                         ("k3", "features_3_sec.parquet", "")])
    out = tables / "fused_mean"
    assert train(cfg, model="fused", out_dir=out) == 0
    # The members alone, as ordinary bundles trained on the same tables.
    train(tables / "tables" / "features_30_sec.parquet", model="logreg", out_dir=tables / "b30")
    train(tables / "tables" / "features_3_sec.parquet", model="logreg", out_dir=tables / "b3")
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "fused" and meta["kind_info"]["rule"] == "mean"
    assert [m["name"] for m in meta["kind_info"]["members"]] == ["k30:logreg", "k3:logreg"]
    assert [i["level"] for i in meta["kind_info"]["inputs"]] == ["track", "segment"]

    clip = tables / "audio" / "metal" / "metal.00001.wav"
    fused = load_model(out).predict_file(clip)
    p = np.array(list(fused["probabilities"].values()))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    a = load_model(tables / "b30").predict_proba(clip)
    b = load_model(tables / "b3").predict_proba(clip)
    assert isinstance(a, dict) and isinstance(b, dict)
    want = {g: (a[g] + b[g]) / 2 for g in a}
    for g, v in want.items():
        assert fused["probabilities"][g] == pytest.approx(v, abs=1e-6)

    capsys.readouterr()
    assert predict_cli(out, [clip], as_json=True) == 0
    got = json.loads(capsys.readouterr().out)
    assert got[0]["genre"] == max(want, key=want.__getitem__)


def test_stacking_and_concat_bundles(tables: Path) -> None:
    from genrekit import load_model
    from genrekit.experiment import train
    from genrekit.fused import _FusedPredictor

    ins = [("k30", "features_30_sec.parquet", ""), ("k3", "features_3_sec.parquet", "")]
    clip = tables / "audio" / "classical" / "classical.00002.wav"
    for rule in ("stacking", "concat"):
        out = tables / f"fused_{rule}"
        assert train(_config(tables, f"f{rule}", rule, ins), model="fused", out_dir=out) == 0
        model = load_model(out)
        pred = model._predictor
        assert isinstance(pred, _FusedPredictor) and pred.combiner is not None
        r = model.predict_file(clip)
        p = np.array(list(r["probabilities"].values()))
        assert p.sum() == pytest.approx(1.0, abs=1e-9)
        # The same rule applied by hand to the table rows of this clip.
        import pandas as pd

        t30 = pd.read_parquet(tables / "tables" / "features_30_sec.parquet")
        t3 = pd.read_parquet(tables / "tables" / "features_3_sec.parquet")
        cols = list(FEATURE_NAMES)
        r30 = t30[t30["filename"] == clip.name][cols].to_numpy(float)
        r3 = t3[t3["filename"].str.startswith("classical.00002")][cols].to_numpy(float)
        (_, m30), (_, m3) = pred.members
        if rule == "stacking":
            z = np.hstack([m30.predict_proba(r30).mean(0), m3.predict_proba(r3).mean(0)])
        else:
            z = np.concatenate([r30[0], r3.mean(0), r3.std(0)])
        want = pred.combiner[1].predict_proba(z[None, :])[0]
        np.testing.assert_allclose(p, want, atol=1e-4)


def test_tampered_member_and_wrong_model_refused(tables: Path) -> None:
    from genrekit import load_model
    from genrekit.experiment import train

    cfg = _config(tables, "ft", "mean", [("k30", "features_30_sec.parquet", "")])
    with pytest.raises(ParameterError, match="--model fused"):
        train(cfg, model="logreg", out_dir=tables / "nope")
    with pytest.raises(ParameterError, match="names its own protocol"):
        train(cfg, model="fused", out_dir=tables / "nope", protocol="seed")
    out = tables / "fused_tamper"
    train(cfg, model="fused", out_dir=out)
    member = next(out.glob("m0-*"))
    member.write_bytes(member.read_bytes() + b" ")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        load_model(out)
    member.unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(out)


def test_embedding_member(tables: Path) -> None:
    if not _emb_cached():
        pytest.skip("msd_musicnn weights are not cached (genrekit fetch musicnn); tests never "
                    "download")
    from genrekit import load_model
    from genrekit.experiment import train

    cfg = _config(tables, "fe", "mean", [
        ("k30", "features_30_sec.parquet", ""),
        ("tags", "embeddings_msd_musicnn.parquet", 'columns = "tag_*"')])
    out = tables / "fused_emb"
    assert train(cfg, model="fused", out_dir=out) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind_info"]["inputs"][1]["feature_settings"]["feature_set"] == "musicnn"
    clip = tables / "audio" / "blues" / "blues.00000.wav"
    r = load_model(out).predict_file(clip)
    a = load_model(tables / "b30").predict_proba(clip) if (tables / "b30").exists() else None
    p = np.array(list(r["probabilities"].values()))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    # The tag member alone, as an embedding bundle trained on the same patch rows.
    import pandas as pd

    emb = pd.read_parquet(tables / "tables" / "embeddings_msd_musicnn.parquet")
    tag_only = tables / "tables_tags" / "embeddings_msd_musicnn.parquet"
    tag_only.parent.mkdir(exist_ok=True)
    emb[[c for c in emb.columns if not c.startswith("emb_")]].to_parquet(tag_only)
    train(tag_only, model="logreg", out_dir=tables / "btags")
    b = load_model(tables / "btags").predict_proba(clip)
    if a is None:
        train(tables / "tables" / "features_30_sec.parquet", model="logreg",
              out_dir=tables / "b30")
        a = load_model(tables / "b30").predict_proba(clip)
    assert isinstance(a, dict) and isinstance(b, dict)
    for g in a:
        assert r["probabilities"][g] == pytest.approx((a[g] + b[g]) / 2, abs=1e-6)
