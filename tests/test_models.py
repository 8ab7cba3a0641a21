"""The model registry and the zoo: names, specs, builds, grids and the spectrogram hook."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.exceptions import ParameterError
from genrekit.models import (
    INPUT_KINDS,
    ModelSpec,
    available_models,
    get_model,
    model_specs,
    resolve_models,
)

CAPSTONE = [
    "logreg", "logreg_none", "logreg_l2", "logreg_l1", "decision_tree", "decision_tree_grid",
    "bagging", "random_forest", "random_forest_grid", "knn", "knn_grid", "lightgbm",
    "lightgbm_grid", "svm_rbf", "poly_logreg", "soft_voting",
]


def test_available_models_lists_the_zoo_in_order():
    models = available_models()
    assert list(models)[:4] == ["logreg", "logreg_none", "logreg_l2", "logreg_l1"]
    for name in CAPSTONE:
        assert name in models and models[name]
    assert all(isinstance(d, str) and "\n" not in d for d in models.values())


def test_specs_are_valid():
    for spec in model_specs().values():
        assert spec.input in INPUT_KINDS
    with pytest.raises(ParameterError, match="input must be one of features, mel"):
        ModelSpec("x", "y", "audio", lambda seed, n_jobs: None)


def test_resolve_models_and_errors():
    assert [s.name for s in resolve_models(["knn", "logreg"])] == ["knn", "logreg"]
    quick = {s.name for s in resolve_models("quick")}
    assert "random_forest_grid" not in quick and "lightgbm_grid" not in quick
    assert "random_forest_grid" in {s.name for s in resolve_models("all")}
    with pytest.raises(ParameterError, match="unknown name 'svm'; expected one of logreg"):
        resolve_models(["svm"])
    with pytest.raises(ParameterError, match="'knn' is listed twice"):
        resolve_models(["knn", "knn"])
    with pytest.raises(ParameterError, match="non-empty list"):
        resolve_models([])


def test_grids_match_the_capstone():
    rf = get_model("random_forest_grid").build(seed=3)
    assert max(rf.param_grid["model__n_estimators"]) == 1500
    assert "model__max_depth" in rf.param_grid
    lgb = get_model("lightgbm_grid").build(seed=3)
    assert set(lgb.param_grid) == {f"model__{k}" for k in (
        "num_leaves", "max_depth", "learning_rate", "n_estimators", "class_weight")}
    tree = get_model("decision_tree_grid").build(seed=3)
    assert set(tree.param_grid) == {f"model__{k}" for k in (
        "criterion", "max_depth", "splitter", "class_weight")}
    assert get_model("knn").build().named_steps["model"].n_neighbors == 3


def test_build_sets_seed_and_protocol_cv():
    from sklearn.model_selection import GroupKFold

    cv = GroupKFold(3)
    grid = get_model("logreg_l2").build(seed=7, cv=cv)
    assert grid.cv is cv
    assert grid.estimator.named_steps["model"].random_state == 7
    assert get_model("lightgbm").build(seed=7).named_steps["model"].random_state == 7
    assert "scale" in get_model("svm_rbf").build().named_steps


def test_every_feature_model_fits_and_predicts_probabilities(rng):
    """Every cheap zoo model learns a separable toy problem (grids with a tiny cv)."""
    X = np.vstack([rng.normal(loc=c * 3.0, size=(30, 57)) for c in range(3)])
    y = np.repeat(["a", "b", "c"], 30)
    for spec in resolve_models("quick"):
        if spec.input != "features":
            continue
        est = spec.build(seed=0, cv=2)
        if spec.name in ("soft_voting", "poly_logreg", "bagging", "random_forest"):
            continue  # covered on real data by the experiment tests; slow here
        est.fit(X, y)
        proba = est.predict_proba(X)
        assert proba.shape == (90, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        assert np.mean(est.predict(X) == y) > 0.9, spec.name
