"""Model bundles: round trips, and every way a bundle must be refused."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import genrekit
from genrekit.bundle import BUNDLE_FORMAT, load_model, read_metadata, save_bundle
from genrekit.constants import FEATURE_NAMES
from genrekit.exceptions import ModelError, ParameterError

LABELS = ["blues", "disco", "metal"]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    y = np.repeat(LABELS, 30)
    X = rng.normal(size=(len(y), len(FEATURE_NAMES))) + (np.searchsorted(LABELS, y)[:, None])
    return X, y


def _save(est, out: Path, **kw) -> Path:  # type: ignore[no-untyped-def]
    args = dict(
        estimator=est,
        model_name="logreg",
        labels=LABELS,
        feature_names=FEATURE_NAMES,
        level="segment",
        feature_settings={"sample_rate": 22050, "pad_mode": "reflect"},
        protocol="track-cv",
        metrics={"cv_mean": np.float64(0.75), "test_accuracy": float("nan")},
        training_fingerprint="0" * 64,
    )
    args.update(kw)
    return save_bundle(out, **args)


@pytest.fixture(scope="module")
def sk_bundle(data, tmp_path_factory) -> tuple[Path, object]:  # type: ignore[no-untyped-def]
    X, y = data
    est = make_pipeline(StandardScaler(), KNeighborsClassifier(7)).fit(X, y)
    return _save(est, tmp_path_factory.mktemp("b") / "model"), est


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _edit_json(folder: Path, **changes) -> None:  # type: ignore[no-untyped-def]
    meta = json.loads((folder / "model.json").read_text())
    for k, v in changes.items():
        if v is None:
            del meta[k]
        else:
            meta[k] = v
    (folder / "model.json").write_text(json.dumps(meta))


def test_sklearn_round_trip_is_exact(data, sk_bundle) -> None:  # type: ignore[no-untyped-def]
    X, _ = data
    path, est = sk_bundle
    model = genrekit.load_model(path)
    assert model.labels == tuple(LABELS)
    assert np.array_equal(model.predict_rows(X), est.predict_proba(X))
    meta = model.metadata
    assert meta["bundle_format"] == BUNDLE_FORMAT
    assert meta["genrekit_version"] == genrekit.__version__
    assert meta["kind"] == "skops" and meta["level"] == "segment"
    assert meta["feature_names"] == list(FEATURE_NAMES)
    assert meta["feature_settings"]["feature_set"] == "kaggle57"
    assert meta["metrics"] == {"cv_mean": 0.75, "test_accuracy": None}  # NaN -> null
    (name, digest), = meta["files"].items()
    assert digest == hashlib.sha256((path / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("frame", [False, True])
def test_scaled_logreg_is_plain_json_and_exact(data, tmp_path, frame) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    X, y = data
    fit_X = pd.DataFrame(X, columns=FEATURE_NAMES) if frame else X
    est = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)).fit(fit_X, y)
    path = _save(est, tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.sklearn.json"]
    model = load_model(path)
    assert model.metadata["kind"] == "sklearn-json"
    if frame:  # sklearn multiplies a DataFrame's column-major copy: last-ulp differences
        np.testing.assert_allclose(model.predict_rows(X), est.predict_proba(fit_X), rtol=1e-12)
    else:
        assert np.array_equal(model.predict_rows(X), est.predict_proba(fit_X))
    assert "sklearn" not in type(model._predictor).__module__  # numpy only: fast cold start
    binary = LogisticRegression().fit(X, (y == "blues"))  # binary: rebuilt scikit-learn object
    bpath = _save(binary, tmp_path / "bin", labels=["False", "True"])
    assert np.array_equal(load_model(bpath).predict_rows(X), binary.predict_proba(X))
    doc = json.loads((path / "model.sklearn.json").read_text())
    doc["steps"][1]["class"] = "FunctionTransformer"  # not on the allow-list
    (path / "model.sklearn.json").write_text(json.dumps(doc))
    meta = json.loads((path / "model.json").read_text())
    meta["files"]["model.sklearn.json"] = hashlib.sha256(
        (path / "model.sklearn.json").read_bytes()).hexdigest()
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="'FunctionTransformer' is not on genrekit's allow-list"):
        load_model(path)


@pytest.mark.parametrize("pipeline", [True, False])
def test_lightgbm_round_trip_is_exact(data, tmp_path, pipeline) -> None:  # type: ignore[no-untyped-def]
    X, y = data
    lgbm = LGBMClassifier(n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1, random_state=0)
    est = make_pipeline(StandardScaler(), lgbm) if pipeline else lgbm
    est.fit(X, y)
    path = _save(est, tmp_path / "m", model_name="lightgbm")
    files = sorted(p.name for p in path.iterdir())
    assert files == (["model.json", "model.txt", "preprocess.json"] if pipeline
                     else ["model.json", "model.txt"])
    model = load_model(path)
    assert model.metadata["kind"] == "lightgbm"
    assert np.array_equal(model.predict_rows(X), est.predict_proba(X))


def test_lightgbm_after_other_steps_uses_skops(data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sklearn.decomposition import PCA

    X, y = data
    est = make_pipeline(StandardScaler(), PCA(n_components=5, random_state=0),
                        LGBMClassifier(n_estimators=10, n_jobs=1, verbose=-1, random_state=0)).fit(X, y)
    path = _save(est, tmp_path / "m", model_name="pca_lightgbm")
    assert (path / "preprocess.skops").is_file()
    assert np.array_equal(load_model(path).predict_rows(X), est.predict_proba(X))


def test_tampered_model_file_is_refused(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    blob = bytearray((bad / "model.skops").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (bad / "model.skops").write_bytes(bytes(blob))
    with pytest.raises(ModelError, match=r"model\.skops: sha256 mismatch"):
        load_model(bad)


def test_bundle_from_the_future_is_refused(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    _edit_json(bad, bundle_format=BUNDLE_FORMAT + 1)
    with pytest.raises(ModelError, match=r"bundle_format 2 was written by a newer genrekit"):
        load_model(bad)


def test_other_major_version_is_refused(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    _edit_json(bad, genrekit_version="7.0.0")
    with pytest.raises(ModelError, match=r"made by genrekit 7\.0\.0, incompatible"):
        load_model(bad)


def test_pickle_file_is_refused(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    (bad / "model.pkl").write_bytes(pickle.dumps({"boom": 1}))
    with pytest.raises(ModelError, match=r"model\.pkl: pickle file in a model bundle"):
        load_model(bad)


def test_pickle_under_another_name_is_refused(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    (bad / "weights.bin").write_bytes(pickle.dumps([1, 2, 3], protocol=4))
    with pytest.raises(ModelError, match=r"weights\.bin: pickle file"):
        load_model(bad)


def test_unexpected_file_is_refused(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    (bad / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match=r"notes\.txt: unexpected file"):
        load_model(bad)


def test_missing_model_file_is_refused(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    (bad / "model.skops").unlink()
    with pytest.raises(ModelError, match=r"model\.skops: model file listed in model\.json is missing"):
        load_model(bad)


@pytest.mark.parametrize("key", ["labels", "files", "bundle_format", "level"])
def test_missing_keys_are_refused(sk_bundle, tmp_path, key) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    _edit_json(bad, **{key: None})
    with pytest.raises(ModelError, match=rf"missing keys: {key}"):
        read_metadata(bad)


def test_model_file_must_be_listed(sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = _copy(sk_bundle[0], tmp_path / "b")
    (bad / "model.skops").unlink()
    _edit_json(bad, files={})
    with pytest.raises(ModelError, match=r"the model file model\.skops is not listed"):
        load_model(bad)


def test_not_a_bundle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match=r"model\.json is missing"):
        load_model(tmp_path)
    with pytest.raises(ModelError, match="no model bundle here"):
        load_model(tmp_path / "nope")
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(tmp_path)


def test_types_outside_the_allow_list_are_refused(data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = data
    # A function the allow-list does not name (os.getcwd): skops would call whatever it is
    # handed; genrekit refuses it even though the file's hash is intact.
    est = make_pipeline(FunctionTransformer(lambda x: x), LogisticRegression(max_iter=200))
    est.steps[0][1].func = os.getcwd
    est.steps[1][1].fit(X, y)
    est.steps[0][1].fit(X)
    path = _save(est, tmp_path / "m")
    with pytest.raises(ModelError, match=r"outside genrekit's allow-list: (posix|nt)\.getcwd"):
        load_model(path)


def test_save_never_overwrites_unless_told(data, sk_bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = data
    est = LogisticRegression(max_iter=300).fit(X, y)
    out = _copy(sk_bundle[0], tmp_path / "b")
    with pytest.raises(ParameterError, match="already exists and is not empty"):
        _save(est, out)
    _save(est, out, overwrite=True, model_name="plain")
    assert load_model(out).name == "plain"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_save_validates_labels(data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = data
    est = LogisticRegression(max_iter=300).fit(X, y)
    with pytest.raises(ParameterError, match="class order"):
        _save(est, tmp_path / "m", labels=["metal", "disco", "blues"])
    with pytest.raises(ParameterError, match="level must be one of"):
        _save(est, tmp_path / "m", level="album")


def test_predict_api_on_signals(sk_bundle) -> None:  # type: ignore[no-untyped-def]
    model = load_model(sk_bundle[0])
    t = np.arange(22050 * 4) / 22050
    y = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    probs = model.predict_proba(y)
    assert isinstance(probs, dict) and list(probs) == LABELS
    assert sum(probs.values()) == pytest.approx(1.0)
    assert model.predict([y, y]) == [max(probs, key=probs.__getitem__)] * 2
