"""Late fusion of the CNN on log-mel patches with a model on the 57 audio features.

:class:`FusionClassifier` takes the "features+mel" input (``np.hstack([features, mel])``: the
``n_features`` feature columns first, then the flattened log-mel patch) and combines the class
probabilities of a feature model (standardized logistic regression or LightGBM) and of
:class:`~genrekit.models.cnn.CNNClassifier`:

- ``method="weighted"`` (``fusion`` in the zoo): ``p = w * p_cnn + (1 - w) * p_features``, with
  ``w`` chosen on **out-of-fold predictions of the training data only** (an inner k-fold grouped
  by track), by track accuracy (mean probability per track) with the log-loss breaking ties;
- ``method="stack"`` (``fusion_stack``): a multinomial logistic regression on the log
  out-of-fold probabilities of both models (stacking).

Both base models are then refitted on all the training data. The test data of an outer
protocol is never seen while choosing the weight or fitting the stacker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from genrekit.constants import N_MELS
from genrekit.exceptions import ModelError, ParameterError

__all__ = ["FusionClassifier", "feature_model", "SPECS"]

_METHODS = ("weighted", "stack")
_EPS = 1e-7


def feature_model(name: str = "logreg", *, seed: int = 1, n_jobs: int = 1) -> Any:
    """The feature-side model of a fusion, by name.

    Parameters
    ----------
    name : {"logreg", "lightgbm"}
        ``"logreg"``: standardized multinomial logistic regression (the best honest feature
        model on 3 s segments in the README's track-grouped tables); ``"lightgbm"``: a
        LightGBM classifier with moderate settings.
    seed, n_jobs : int
        Random state and threads.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=2000))])
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=300, learning_rate=0.05, num_leaves=15, subsample=0.8,
            subsample_freq=1, colsample_bytree=0.7, random_state=seed, n_jobs=n_jobs, verbose=-1,
        )
    raise ParameterError(f"fusion: unknown feature model {name!r}; expected 'logreg' or 'lightgbm'")


def _aligned(proba: np.ndarray, model_classes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probabilities ``[n, len(model_classes)]`` as columns of ``classes`` (absent ones 0)."""
    out = np.zeros((len(proba), len(classes)))
    out[:, np.searchsorted(classes, model_classes)] = proba
    return out


def _track_mean(proba: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean probability per group and the index of each group's first row."""
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    sums = np.zeros((len(first), proba.shape[1]))
    np.add.at(sums, inverse, proba)
    return sums / np.bincount(inverse)[:, None], first


class FusionClassifier(ClassifierMixin, BaseEstimator):
    """Late fusion of a feature model and a log-mel CNN, tuned on inner validation folds.

    Parameters
    ----------
    n_features : int
        Leading columns of ``X`` that are audio features (57 Kaggle features); the rest is
        the flattened log-mel patch.
    n_mels : int
        Mel bands of the patch.
    features : str or estimator
        Feature model: ``"logreg"``, ``"lightgbm"`` (see :func:`feature_model`) or an
        unfitted classifier with ``predict_proba`` (cloned).
    cnn : CNNClassifier or None
        The spectrogram model (cloned); None: ``CNNClassifier(n_mels=n_mels,
        random_state=random_state)``.
    method : {"weighted", "stack"}
        Weighted mean of probabilities, or a logistic-regression stacker.
    weights : sequence of float or None
        Candidate CNN weights for ``"weighted"``; None: 0, 0.05, ..., 1.
    cv : int
        Inner folds (grouped by track when ``groups`` is given) for the out-of-fold
        probabilities the weight or the stacker is fitted on.
    random_state : int or None
        Seed of the inner folds and of both models.

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_classes,)]
    feature_model_, cnn_ : fitted estimators
    weight_ : float
        CNN weight chosen (``"weighted"``).
    weight_scores_ : dict
        Out-of-fold ``{weight: [track accuracy, log loss]}`` of every candidate.
    stacker_ : LogisticRegression
        The fitted stacker (``"stack"``).
    oof_accuracy_ : dict
        Out-of-fold track accuracy of ``features``, ``cnn`` and ``fusion``.
    """

    def __init__(
        self,
        *,
        n_features: int = 57,
        n_mels: int = N_MELS,
        features: Any = "logreg",
        cnn: Any = None,
        method: str = "weighted",
        weights: Any = None,
        cv: int = 3,
        random_state: Any = 0,
    ) -> None:
        self.n_features = n_features
        self.n_mels = n_mels
        self.features = features
        self.cnn = cnn
        self.method = method
        self.weights = weights
        self.cv = cv
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if X.shape[1] <= self.n_features or (X.shape[1] - self.n_features) % self.n_mels:
            raise ParameterError(
                f"FusionClassifier: expected {self.n_features} feature columns followed by "
                f"n_mels={self.n_mels} bands times frames, got {X.shape[1]} columns"
            )
        return X[:, : self.n_features], X[:, self.n_features :]

    def _base_models(self, seed: int) -> tuple[Any, Any]:
        if isinstance(self.features, str):
            feat = feature_model(self.features, seed=seed)
        else:
            feat = clone(self.features)
        if self.cnn is None:
            from genrekit.models.cnn import CNNClassifier

            cnn = CNNClassifier(n_mels=self.n_mels, random_state=seed)
        else:
            cnn = clone(self.cnn)
        return feat, cnn

    def _combine(self, p_feat: np.ndarray, p_cnn: np.ndarray) -> np.ndarray:
        if self.method == "weighted":
            return self.weight_ * p_cnn + (1.0 - self.weight_) * p_feat
        stacked = self.stacker_.predict_proba(self._stack_input(p_feat, p_cnn))
        return _aligned(stacked, self.stacker_.classes_, np.arange(len(self.classes_)))

    @staticmethod
    def _stack_input(p_feat: np.ndarray, p_cnn: np.ndarray) -> np.ndarray:
        return np.hstack([np.log(p_feat + _EPS), np.log(p_cnn + _EPS)])

    def _check_params(self) -> None:
        if self.method not in _METHODS:
            raise ParameterError(
                f"FusionClassifier: method must be one of {', '.join(_METHODS)}, got {self.method!r}"
            )
        if isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise ParameterError(f"FusionClassifier: cv must be an integer >= 2, got {self.cv!r}")
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=float)
            if w.ndim != 1 or not len(w) or np.any((w < 0) | (w > 1)):
                raise ParameterError(
                    f"FusionClassifier: weights must be a non-empty list of numbers in [0, 1], "
                    f"got {self.weights!r}"
                )

    # ------------------------------------------------------------------ public API

    def fit(self, X: Any, y: Any, groups: Any = None) -> FusionClassifier:
        """Fit both models, choosing the fusion on inner out-of-fold predictions.

        Parameters
        ----------
        X : array-like [shape=(n_rows, n_features + n_mels * frames)]
            Features, then the flattened log-mel patch.
        y : array-like [shape=(n_rows,)]
        groups : array-like [shape=(n_rows,)] or None
            Track of each row: inner folds keep tracks whole, the weight is chosen by track
            accuracy, and the CNN's early stopping holds out whole tracks.

        Returns
        -------
        self
        """
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        x_feat, x_mel = self._split(X)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        groups_arr = np.arange(len(y)) if groups is None else np.asarray(groups)
        if groups_arr.shape != (len(y),):
            raise ParameterError(
                f"FusionClassifier.fit: groups must have one entry per row ({len(y)}), "
                f"got shape {groups_arr.shape}"
            )
        n_splits = min(int(self.cv), len(np.unique(groups_arr)))
        if groups is None:
            splitter: Any = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        else:
            splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)

        oof_feat = np.zeros((len(y), n_classes))
        oof_cnn = np.zeros((len(y), n_classes))
        for train, valid in splitter.split(x_feat, y_idx, None if groups is None else groups_arr):
            feat, cnn = self._base_models(seed)
            feat.fit(x_feat[train], y_idx[train])
            oof_feat[valid] = _aligned(feat.predict_proba(x_feat[valid]), feat.classes_, np.arange(n_classes))
            cnn.fit(x_mel[train], y_idx[train], groups=None if groups is None else groups_arr[train])
            oof_cnn[valid] = _aligned(cnn.predict_proba(x_mel[valid]), cnn.classes_, np.arange(n_classes))

        def track_scores(p: np.ndarray) -> tuple[float, float]:
            mean, first = _track_mean(p, groups_arr)
            acc = float(np.mean(mean.argmax(1) == y_idx[first]))
            loss = float(-np.mean(np.log(p[np.arange(len(y)), y_idx] + _EPS)))
            return acc, loss

        self.oof_accuracy_ = {"features": track_scores(oof_feat)[0], "cnn": track_scores(oof_cnn)[0]}
        if self.method == "weighted":
            candidates = np.linspace(0, 1, 21) if self.weights is None else np.asarray(self.weights, float)
            self.weight_scores_ = {float(w): list(track_scores(w * oof_cnn + (1 - w) * oof_feat))
                                   for w in candidates}
            # best track accuracy, then lowest log loss, then the weight nearest an even mix
            self.weight_ = max(self.weight_scores_, key=lambda w: (
                self.weight_scores_[w][0], -self.weight_scores_[w][1], -abs(w - 0.5)))
            self.oof_accuracy_["fusion"] = self.weight_scores_[self.weight_][0]
        else:
            from sklearn.linear_model import LogisticRegression

            self.stacker_ = LogisticRegression(C=1.0, max_iter=2000)
            self.stacker_.fit(self._stack_input(oof_feat, oof_cnn), y_idx)
            self.weight_ = float("nan")
            stacked = _aligned(self.stacker_.predict_proba(self._stack_input(oof_feat, oof_cnn)),
                               self.stacker_.classes_, np.arange(n_classes))
            # in-sample for the stacker (it saw these rows): an optimistic diagnostic only
            self.oof_accuracy_["fusion"] = track_scores(stacked)[0]

        self.feature_model_, self.cnn_ = self._base_models(seed)
        self.feature_model_.fit(x_feat, y_idx)
        self.cnn_.fit(x_mel, y_idx, groups=None if groups is None else groups_arr)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Fused class probabilities, ``[shape=(n_rows, n_classes)]`` in ``classes_`` order."""
        check_is_fitted(self, "cnn_")
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        x_feat, x_mel = self._split(X)
        n_classes = len(self.classes_)
        p_feat = _aligned(self.feature_model_.predict_proba(x_feat), self.feature_model_.classes_,
                          np.arange(n_classes))
        p_cnn = _aligned(self.cnn_.predict_proba(x_mel), self.cnn_.classes_, np.arange(n_classes))
        return self._combine(p_feat, p_cnn)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per row, ``[shape=(n_rows,)]``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # ------------------------------------------------------------------ bundles

    def _save_bundle(self, folder: Path, feature_names: Any) -> dict[str, Any]:
        """Write the fitted fusion into a bundle folder (the "torch" kind calls this)."""
        from genrekit import bundle
        from genrekit.models.cnn import save_torch_model

        check_is_fitted(self, "cnn_")
        names = list(feature_names)[: self.n_features]
        kind = next(k for k in sorted(bundle._KINDS.values(), key=lambda k: -k.priority)
                    if k.name in ("lightgbm", "skops") and k.claims(self.feature_model_))
        info: dict[str, Any] = {
            "estimator": "FusionClassifier",
            "method": self.method,
            "n_features": int(self.n_features),
            "n_mels": int(self.n_mels),
            "n_features_in": int(self.n_features_in_),
            "classes": self.classes_.tolist(),
            "weight": None if self.method == "stack" else float(self.weight_),
            "oof_accuracy": self.oof_accuracy_,
            "features_kind": kind.name,
            "features_info": dict(kind.save(self.feature_model_, folder, names)),
            "cnn_file": "cnn.pt",
            "cnn": save_torch_model(self.cnn_, folder / "cnn.pt"),
        }
        if self.method == "stack":
            info["stacker"] = {
                "coef": self.stacker_.coef_.tolist(),
                "intercept": self.stacker_.intercept_.tolist(),
                "classes": self.stacker_.classes_.tolist(),
            }
        return info

    @classmethod
    def _load_bundle(cls, folder: Path, info: dict[str, Any]) -> FusionClassifier:
        """Rebuild a fitted fusion from :meth:`_save_bundle`'s folder and facts."""
        from genrekit import bundle
        from genrekit.models.cnn import load_torch_model

        try:
            model = cls(n_features=int(info["n_features"]), n_mels=int(info["n_mels"]),
                        method=str(info["method"]))
            names = list(info.get("feature_names", []))[: model.n_features]
            sub = bundle._KINDS[info["features_kind"]].load(folder, {**info["features_info"],
                                                                     "feature_names": names})
            model.cnn_ = load_torch_model(folder / str(info["cnn_file"]), info["cnn"])
            model.classes_ = np.asarray(info["classes"])
            model.n_features_in_ = int(info["n_features_in"])
            model.oof_accuracy_ = dict(info.get("oof_accuracy", {}))
            if model.method == "stack":
                from sklearn.linear_model import LogisticRegression

                stacker = LogisticRegression()
                stacker.coef_ = np.asarray(info["stacker"]["coef"], dtype=float)
                stacker.intercept_ = np.asarray(info["stacker"]["intercept"], dtype=float)
                stacker.classes_ = np.asarray(info["stacker"]["classes"])
                model.stacker_ = stacker
                model.weight_ = float("nan")
            else:
                model.weight_ = float(info["weight"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{folder}: malformed fusion bundle: {exc}") from exc
        model.feature_model_ = _ProbaOnly(sub, len(model.classes_))
        return model


class _ProbaOnly:
    """A loaded bundle predictor seen as a fitted classifier over class indices."""

    def __init__(self, predictor: Any, n_classes: int) -> None:
        self.predictor = predictor
        self.classes_ = np.arange(n_classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.predictor.predict_proba(np.asarray(X, dtype=np.float64)))


def _factory(method: str) -> Any:
    def factory(*, seed: int = 1, n_jobs: int = 1) -> FusionClassifier:
        return FusionClassifier(method=method, random_state=seed)

    return factory


def _specs() -> list[Any]:
    from genrekit.models import ModelSpec

    return [
        ModelSpec(
            name="fusion",
            description="late fusion: CNN on log-mel + standardized logistic regression on the "
            "57 features, weight chosen on inner track-grouped folds",
            input="features+mel",
            factory=_factory("weighted"),
            needs_extra="cnn",
            tags=("spectrogram", "fusion"),
        ),
        ModelSpec(
            name="fusion_stack",
            description="stacking: logistic regression on out-of-fold probabilities of the CNN "
            "and the feature logistic regression",
            input="features+mel",
            factory=_factory("stack"),
            needs_extra="cnn",
            tags=("spectrogram", "fusion"),
        ),
    ]


#: The zoo entries this module contributes (read by :func:`genrekit.models.model_specs`).
SPECS = _specs()
