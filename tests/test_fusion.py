"""Late fusion of the CNN and a feature model: weights chosen on inner folds only, stacking,
bundles."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genrekit.exceptions import ParameterError  # noqa: E402
from genrekit.models.cnn import CNNClassifier  # noqa: E402
from genrekit.models.fusion import FusionClassifier, _track_mean  # noqa: E402

N_FEAT, N_MELS, N_FRAMES = 4, 8, 12


def _tiny_cnn():
    return CNNClassifier(n_mels=N_MELS, channels=(2, 4), max_epochs=2, batch_size=16,
                         crop_frames=None, n_threads=1, verbose=False)


def _data(rng, informative_features=True, n_tracks=24, per_track=3):
    """Rows of [features | mel]; labels by track; features separate the classes (or not),
    the mel half is pure noise."""
    labels = np.array(["x", "y", "z"])[np.arange(n_tracks) % 3]
    y = np.repeat(labels, per_track)
    groups = np.repeat([f"t{i}" for i in range(n_tracks)], per_track)
    codes = np.searchsorted(["x", "y", "z"], y)
    feats = rng.normal(size=(len(y), N_FEAT))
    if informative_features:
        feats[:, :3] += 4.0 * np.eye(3)[codes]
    mel = rng.normal(-50, 10, size=(len(y), N_MELS * N_FRAMES))
    return np.hstack([feats, mel]).astype(np.float32), y, groups


def test_weight_is_chosen_on_inner_folds_and_favours_the_informative_model(rng):
    X, y, groups = _data(rng)
    fusion = FusionClassifier(n_features=N_FEAT, n_mels=N_MELS, cnn=_tiny_cnn(), cv=3,
                              weights=[0.0, 0.25, 0.5, 0.75, 1.0]).fit(X, y, groups=groups)
    assert set(fusion.weight_scores_) == {0.0, 0.25, 0.5, 0.75, 1.0}
    # the CNN only sees noise: out of fold it is near chance, the features are near perfect
    assert fusion.oof_accuracy_["features"] >= 0.9
    assert fusion.oof_accuracy_["cnn"] <= 0.7
    assert fusion.weight_ <= 0.25
    proba = fusion.predict_proba(X)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    expected = (fusion.weight_ * fusion.cnn_.predict_proba(X[:, N_FEAT:])
                + (1 - fusion.weight_) * fusion.feature_model_.predict_proba(X[:, :N_FEAT]))
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    assert list(fusion.classes_) == ["x", "y", "z"]
    assert np.mean(fusion.predict(X) == y) >= 0.9


def test_inner_folds_keep_tracks_whole(rng, monkeypatch):
    from sklearn.model_selection import StratifiedGroupKFold

    X, y, groups = _data(rng)
    seen = []
    real_split = StratifiedGroupKFold.split

    def spy(self, X_, y_, g):
        for train, valid in real_split(self, X_, y_, g):
            seen.append(not set(g[train]) & set(g[valid]))
            yield train, valid

    monkeypatch.setattr(StratifiedGroupKFold, "split", spy)
    FusionClassifier(n_features=N_FEAT, n_mels=N_MELS, cnn=_tiny_cnn(), cv=2).fit(X, y, groups=groups)
    assert seen and all(seen)


def test_stacking(rng):
    X, y, groups = _data(rng)
    fusion = FusionClassifier(n_features=N_FEAT, n_mels=N_MELS, cnn=_tiny_cnn(), cv=2,
                              method="stack").fit(X, y, groups=groups)
    assert fusion.stacker_.coef_.shape == (3, 6)
    proba = fusion.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean(fusion.predict(X) == y) >= 0.9


@pytest.mark.parametrize("method", ["weighted", "stack"])
def test_bundle_round_trip(rng, tmp_path, method):
    from genrekit.bundle import load_model, read_metadata, save_bundle

    X, y, groups = _data(rng)
    fusion = FusionClassifier(n_features=N_FEAT, n_mels=N_MELS, cnn=_tiny_cnn(), cv=2,
                              method=method, features="lightgbm").fit(X, y, groups=groups)
    names = [f"f{i}" for i in range(N_FEAT)] + [f"mel_{i}" for i in range(N_MELS * N_FRAMES)]
    save_bundle(tmp_path / "m", estimator=fusion, model_name="fusion", labels=["x", "y", "z"],
                feature_names=names, level="segment", feature_settings={"feature_set": "kaggle57+mel"},
                protocol=None, metrics={}, training_fingerprint=None)
    meta = read_metadata(tmp_path / "m")
    assert meta["kind"] == "torch" and "cnn.pt" in meta["files"] and "model.txt" in meta["files"]
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_rows(X), fusion.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_track_mean():
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 0.8]])
    mean, first = _track_mean(proba, np.array(["b", "a", "b"]))
    np.testing.assert_allclose(mean, [[0.0, 1.0], [0.6, 0.4]])
    np.testing.assert_array_equal(first, [1, 0])


def test_errors(rng):
    X, y, groups = _data(rng)
    with pytest.raises(ParameterError, match="method must be one of weighted, stack"):
        FusionClassifier(method="vote").fit(X, y)
    with pytest.raises(ParameterError, match="expected 4 feature columns followed by n_mels=8"):
        FusionClassifier(n_features=N_FEAT, n_mels=N_MELS).fit(X[:, :21], y)
    with pytest.raises(ParameterError, match="weights must be a non-empty list"):
        FusionClassifier(weights=[1.5]).fit(X, y)
    with pytest.raises(ParameterError, match="unknown feature model 'svm'"):
        FusionClassifier(n_features=N_FEAT, n_mels=N_MELS, features="svm").fit(X, y)


def test_zoo_declares_features_plus_mel():
    from genrekit.models import get_model

    for name, method in (("fusion", "weighted"), ("fusion_stack", "stack")):
        spec = get_model(name)
        assert spec.input == "features+mel"
        assert spec.build(seed=3).method == method


def test_fusion_bundle_predicts_a_real_song(rng, tmp_path, gtzan_clips):
    from genrekit.bundle import load_model, save_bundle
    from genrekit.constants import FEATURE_NAMES

    n_mel = 128 * 130
    X = np.hstack([rng.normal(size=(18, 57)), rng.normal(-40, 15, size=(18, n_mel))]).astype(np.float32)
    y = np.repeat(["jazz", "rock", "pop"], 6)
    groups = np.repeat(np.arange(9), 2)
    cnn = CNNClassifier(channels=(2, 4), max_epochs=1, n_threads=1, verbose=False)
    fusion = FusionClassifier(cnn=cnn, cv=2).fit(X, y, groups=groups)
    names = list(FEATURE_NAMES) + [f"mel_{i}" for i in range(n_mel)]
    save_bundle(tmp_path / "f", estimator=fusion, model_name="fusion", labels=list(fusion.classes_),
                feature_names=names, level="segment",
                feature_settings={"feature_set": "kaggle57+logmel", "sample_rate": 22050},
                protocol=None, metrics={}, training_fingerprint=None)
    result = load_model(tmp_path / "f").predict_file(gtzan_clips / "jazz" / "jazz.00001.wav")
    assert set(result["probabilities"]) == {"jazz", "rock", "pop"}
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-6
