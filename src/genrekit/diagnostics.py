"""What the report draws that needs fitting, computed once per results folder and cached.

:func:`compute_diagnostics` reads an experiment's results folder (``docs/formats.md``,
"Experiment results"), fits what the figures need (validation curves, permutation importance,
k-means elbow) and collects what the fitted models already know (LightGBM gain,
logistic-regression coefficients, PCA explained variance), then writes ``diagnostics.json``
beside the results and reuses it while the results are unchanged.

The other public functions are pure computations on a loaded run: the best model, track-level
predictions, the most confused genre pairs, tracks no model gets right.

Models are loaded with ``skops`` and an explicit list of trusted type prefixes, or as LightGBM
text models; nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrekit._io import atomic_write_text
from genrekit._version import __version__
from genrekit.exceptions import DataError, ModelError, ParameterError

__all__ = [
    "DIAGNOSTICS_FILE",
    "TRUSTED_TYPE_PREFIXES",
    "META_COLUMNS",
    "DiagnosticsSettings",
    "RunResults",
    "load_results",
    "load_fitted_model",
    "feature_columns",
    "headline_metric",
    "best_model",
    "find_model",
    "model_predictions",
    "track_predictions",
    "confused_pairs",
    "always_wrong_tracks",
    "project_pca",
    "compute_diagnostics",
]

DIAGNOSTICS_FILE = "diagnostics.json"
#: Type prefixes a results folder's ``.skops`` models may contain; anything else is refused.
TRUSTED_TYPE_PREFIXES = (
    "sklearn.",
    "numpy.",
    "scipy.",
    "lightgbm.",
    "genrekit.",
    "collections.OrderedDict",
    "collections.defaultdict",
    "builtins.",
)
#: Columns of ``data.parquet`` that are not model inputs.
META_COLUMNS = ("track_id", "segment", "label", "filename", "artist", "group", "length", "row")
_DIAG_FORMAT = 1


@dataclass(frozen=True)
class DiagnosticsSettings:
    """How the diagnostics are computed (written into ``diagnostics.json``).

    Parameters
    ----------
    max_rows : int
        Rows used for validation curves and k-means (whole tracks sampled, stratified by genre,
        when the table is larger).
    max_depths : tuple of int
        Decision-tree ``max_depth`` values.
    neighbors : tuple of int
        kNN ``n_neighbors`` values.
    kmeans_ks : tuple of int
        Cluster counts for the elbow.
    n_splits : int
        Folds of the track-grouped cross-validation.
    n_repeats : int
        Permutations per feature.
    permutation_rows : int
        Held-out rows scored per permutation (sampled when more).
    seed : int
        Seed for sampling, splitting and k-means.
    n_threads : int
        BLAS / OpenMP threads while fitting. The fits are many and small, where extra threads
        cost more than they give (and spin badly on a busy machine), so 1 by default.
    """

    max_rows: int = 3000
    max_depths: tuple[int, ...] = tuple(range(1, 21))
    neighbors: tuple[int, ...] = tuple(range(1, 31))
    kmeans_ks: tuple[int, ...] = tuple(range(1, 31))
    n_splits: int = 5
    n_repeats: int = 5
    permutation_rows: int = 1000
    seed: int = 0
    n_threads: int = 1


@dataclass(frozen=True)
class RunResults:
    """An experiment results folder, loaded.

    Attributes
    ----------
    path : Path
    results : dict
        ``results.json``.
    data : pandas.DataFrame or None
        ``data.parquet`` (the rows the models saw).
    predictions : pandas.DataFrame or None
        ``predictions.parquet``.
    duplicates : dict or None
        ``duplicates.json``.
    config : dict or None
        ``config.json``.
    """

    path: Path
    results: dict[str, Any]
    data: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    duplicates: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def labels(self) -> list[str]:
        """Genre labels in the order of the ``prob_<genre>`` columns."""
        labels = self.results.get("labels")
        if labels:
            return [str(x) for x in labels]
        if self.data is not None:
            return sorted(self.data["label"].astype(str).unique())
        return []

    @property
    def protocol(self) -> str:
        return str(self.results.get("protocol", "unknown"))

    @property
    def leaky(self) -> bool:
        return bool(self.results.get("leaky", self.protocol == "seed"))

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        """Per-model results, skipped models included."""
        return dict(self.results.get("models", {}))

    @property
    def fitted_names(self) -> list[str]:
        """Models that were evaluated (not skipped)."""
        return [k for k, v in self.models.items() if not v.get("skipped")]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON: {exc}") from None


def load_results(results_dir: str | os.PathLike[str]) -> RunResults:
    """Load an experiment results folder.

    Parameters
    ----------
    results_dir : path
        A folder written by ``genrekit experiment`` (``results.json`` at least).

    Returns
    -------
    run : RunResults
        Optional files that are absent are None, with a line in ``run.notes``.

    Raises
    ------
    DataError
        When the folder or ``results.json`` is missing or malformed.
    """
    path = Path(results_dir)
    if not path.is_dir():
        raise DataError(f"{path}: expected an experiment results folder, found no such folder")
    rj = path / "results.json"
    if not rj.is_file():
        raise DataError(f"{path}: expected results.json in an experiment results folder, not found")
    results = _read_json(rj)
    if not isinstance(results, dict) or not isinstance(results.get("models"), dict):
        raise DataError(f"{rj}: expected an object with a 'models' mapping, got {type(results).__name__}")
    notes: list[str] = []
    data = predictions = None
    if (path / "data.parquet").is_file():
        data = pd.read_parquet(path / "data.parquet")
        if "label" not in data.columns:
            raise DataError(f"{path / 'data.parquet'}: expected a 'label' column, got {list(data.columns)[:6]}...")
        data["label"] = data["label"].astype(str)
    else:
        notes.append("data.parquet is absent: data figures and fitted diagnostics are omitted.")
    if (path / "predictions.parquet").is_file():
        predictions = pd.read_parquet(path / "predictions.parquet")
        for col in ("label", "pred"):
            if col in predictions.columns:
                predictions[col] = predictions[col].astype(str)
    else:
        notes.append("predictions.parquet is absent: confusion, ROC and error figures are omitted.")
    duplicates = _read_json(path / "duplicates.json") if (path / "duplicates.json").is_file() else None
    config = _read_json(path / "config.json") if (path / "config.json").is_file() else None
    return RunResults(path=path, results=results, data=data, predictions=predictions,
                      duplicates=duplicates, config=config, notes=tuple(notes))


def feature_columns(data: pd.DataFrame) -> list[str]:
    """The model-input columns of ``data.parquet``: numeric columns that are not metadata.

    Parameters
    ----------
    data : pandas.DataFrame

    Returns
    -------
    columns : list of str
    """
    return [
        c for c in data.columns
        if c not in META_COLUMNS and not str(c).startswith("prob_")
        and pd.api.types.is_numeric_dtype(data[c])
    ]


# --------------------------------------------------------------------------- models


def load_fitted_model(results_dir: str | os.PathLike[str], name: str) -> Any:
    """Load ``models/<name>.skops`` (trusted types only) or ``models/<name>.txt`` (LightGBM).

    Parameters
    ----------
    results_dir : path
    name : str
        Model name as in ``results.json``.

    Returns
    -------
    model : estimator or lightgbm.Booster

    Raises
    ------
    ModelError
        When no model file exists, or a ``.skops`` file holds a type outside
        :data:`TRUSTED_TYPE_PREFIXES`.
    """
    base = Path(results_dir) / "models"
    skops_path = base / f"{name}.skops"
    txt_path = base / f"{name}.txt"
    if skops_path.is_file():
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=skops_path)
        refused = [t for t in untrusted if not t.startswith(TRUSTED_TYPE_PREFIXES)]
        if refused:
            raise ModelError(
                f"{skops_path}: refusing to load types outside the trusted list "
                f"{TRUSTED_TYPE_PREFIXES}: {refused}"
            )
        return sio.load(skops_path, trusted=untrusted)
    if txt_path.is_file():
        import lightgbm

        try:
            return lightgbm.Booster(model_file=str(txt_path))
        except lightgbm.basic.LightGBMError as exc:
            raise ModelError(f"{txt_path}: not a LightGBM text model: {exc}") from None
    raise ModelError(f"{base}: expected {name}.skops or {name}.txt, found neither")


def _walk(model: Any) -> Iterable[Any]:
    """The model and every estimator nested in it (pipelines, searches, ensembles)."""
    yield model
    for attr in ("best_estimator_", "estimator_", "base_estimator_"):
        inner = getattr(model, attr, None)
        if inner is not None and inner is not model:
            yield from _walk(inner)
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        for _, step in steps:
            if step is not None and step != "passthrough":
                yield from _walk(step)


def _final_estimator(model: Any) -> Any:
    for attr in ("best_estimator_",):
        if getattr(model, attr, None) is not None:
            model = getattr(model, attr)
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        return _final_estimator(steps[-1][1])
    return model


def _booster(model: Any) -> Any | None:
    try:
        import lightgbm
    except ImportError:  # pragma: no cover - lightgbm is a dependency
        return None
    for m in _walk(model):
        if isinstance(m, lightgbm.Booster):
            return m
        if isinstance(m, lightgbm.LGBMModel):
            return m.booster_
    return None


def _is_logreg(model: Any) -> bool:
    from sklearn.linear_model import LogisticRegression

    return isinstance(_final_estimator(model), LogisticRegression)


def find_model(
    names: Sequence[str], models: Mapping[str, Any], kind: str
) -> str | None:
    """The name of the run's model of one kind, preferring the zoo's usual name.

    Parameters
    ----------
    names : sequence of str
        Candidate names, in the run's order.
    models : mapping name -> fitted model
    kind : {"lightgbm", "logreg", "decision_tree", "knn"}

    Returns
    -------
    name : str or None
    """
    preferred = {"lightgbm": ("lightgbm",), "logreg": ("logreg", "logistic_regression")}
    for p in preferred.get(kind, ()):
        if p in models:
            return p
    for name in names:
        model = models.get(name)
        if model is None:
            continue
        if kind == "lightgbm" and _booster(model) is not None:
            return name
        if kind == "logreg" and _is_logreg(model):
            return name
    return None


class _BoosterClassifier:
    """A LightGBM Booster as far as ``permutation_importance`` needs (predict by label)."""

    def __init__(self, booster: Any, labels: Sequence[str]) -> None:
        self.booster = booster
        self.classes_ = np.asarray(labels)

    def fit(self, X: Any, y: Any) -> _BoosterClassifier:  # pragma: no cover - protocol only
        return self

    def predict(self, X: Any) -> np.ndarray:
        proba = np.asarray(self.booster.predict(np.asarray(X, dtype=float)))
        return self.classes_[proba.argmax(axis=1)]


def _accuracy(estimator: Any, X: Any, y: np.ndarray) -> float:
    """Accuracy scorer that needs only ``predict`` (works for a bare LightGBM Booster too)."""
    return float(np.mean(np.asarray(estimator.predict(X)) == np.asarray(y)))


def _refit(model: Any, X: pd.DataFrame, y: np.ndarray, labels: Sequence[str], seed: int) -> Any:
    """A fresh fit of ``model``'s configuration on (X, y)."""
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        keep = ("objective", "num_class", "learning_rate", "num_leaves", "max_depth",
                "min_data_in_leaf", "lambda_l1", "lambda_l2", "feature_fraction",
                "bagging_fraction", "bagging_freq", "min_gain_to_split", "boosting")
        params = {k: v for k, v in model.params.items() if k in keep}
        params.update(verbosity=-1, seed=seed, num_threads=1)
        rounds = int(model.params.get("num_iterations", model.num_trees() // max(1, len(labels))))
        code = {c: i for i, c in enumerate(labels)}
        booster = lightgbm.train(params, lightgbm.Dataset(X.to_numpy(dtype=float), label=[code[v] for v in y]),
                                 num_boost_round=rounds)
        return _BoosterClassifier(booster, labels)
    from sklearn.base import clone

    named = getattr(model, "feature_names_in_", None) is not None
    # A fitted search is refitted as its chosen configuration, not searched again.
    config = getattr(model, "best_estimator_", None)
    if config is None:
        config = model
    return clone(config).fit(X if named else X.to_numpy(dtype=float), y)


def _as_classifier(model: Any, labels: Sequence[str]) -> Any:
    import lightgbm

    return _BoosterClassifier(model, labels) if isinstance(model, lightgbm.Booster) else model


def _model_features(model: Any, data: pd.DataFrame) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    booster = _booster(model)
    if booster is not None:
        fn = [str(n) for n in booster.feature_name()]
        if all(n in data.columns for n in fn):
            return fn
        cols = feature_columns(data)
        if len(cols) == len(fn):
            return cols
    return feature_columns(data)


# --------------------------------------------------------------------------- metrics


def headline_metric(run: RunResults) -> tuple[str, str]:
    """The key and a readable name of the accuracy a run is judged by.

    Held-out test accuracy when the protocol has a test set (track level for segment tables),
    otherwise the cross-validated mean (track level for segment tables).

    Parameters
    ----------
    run : RunResults

    Returns
    -------
    key, name : str, str
        e.g. ``("cv_track_mean", "CV track accuracy")``.
    """
    fitted = [run.models[n] for n in run.fitted_names]

    def has(key: str) -> bool:
        return any(m.get(key) is not None for m in fitted)

    if has("test_track_accuracy") and run.results.get("level", "segment") == "segment" and not run.leaky:
        return "test_track_accuracy", "test track accuracy"
    if has("test_accuracy"):
        return "test_accuracy", "test accuracy"
    if has("cv_track_mean") and not run.leaky:
        return "cv_track_mean", "CV track accuracy"
    return "cv_mean", "CV accuracy"


def best_model(run: RunResults) -> str | None:
    """The model a practitioner would pick: highest CV mean (track level where known).

    Chosen on cross-validation, not on the test set, so the test number stays honest.

    Parameters
    ----------
    run : RunResults

    Returns
    -------
    name : str or None
        None when no model was evaluated.
    """
    best, best_score = None, -np.inf
    for name in run.fitted_names:
        m = run.models[name]
        score = next((m[k] for k in ("cv_track_mean", "cv_mean", "test_track_accuracy",
                                     "test_accuracy") if m.get(k) is not None), None)
        if score is not None and float(score) > best_score:
            best, best_score = name, float(score)
    return best


def model_predictions(run: RunResults, name: str) -> tuple[pd.DataFrame, str]:
    """The held-out predictions of one model: the test set when there is one, else out-of-fold.

    Parameters
    ----------
    run : RunResults
    name : str

    Returns
    -------
    rows : pandas.DataFrame
        Rows of ``predictions.parquet`` for the model and split.
    split : str
        ``"test"`` or ``"cv"``.
    """
    if run.predictions is None:
        raise DataError(f"{run.path}: predictions.parquet is absent; no predictions for {name!r}")
    p = run.predictions[run.predictions["model"] == name]
    if p.empty:
        raise DataError(f"{run.path}: no predictions for model {name!r} in predictions.parquet")
    split = "test" if (p["split"] == "test").any() else "cv"
    return p[p["split"] == split].reset_index(drop=True), split


def track_predictions(rows: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Track-level predictions: the mean of segment probabilities per track.

    Parameters
    ----------
    rows : pandas.DataFrame
        Prediction rows with ``track_id``, ``label`` and ``prob_<genre>`` columns.
    labels : sequence of str

    Returns
    -------
    tracks : pandas.DataFrame
        One row per track: ``track_id``, ``label``, ``pred``, ``prob_<genre>``.
    """
    cols = [f"prob_{g}" for g in labels]
    missing = [c for c in cols if c not in rows.columns]
    if missing:
        raise DataError(f"predictions: expected probability columns {cols}, missing {missing}")
    grouped = rows.groupby("track_id", sort=True)
    out = grouped[cols].mean()
    out.insert(0, "label", grouped["label"].first())
    out.insert(1, "pred", np.asarray(labels)[out[cols].to_numpy().argmax(axis=1)])
    return out.reset_index()


def confused_pairs(rows: pd.DataFrame, *, top: int = 10, max_tracks: int = 8) -> pd.DataFrame:
    """The most frequent (true, predicted) mistakes, with the tracks involved.

    Parameters
    ----------
    rows : pandas.DataFrame
        Prediction rows (``label``, ``pred``, ``track_id``).
    top : int
        Pairs to keep.
    max_tracks : int
        Tracks listed per pair (the most frequently wrong first).

    Returns
    -------
    pairs : pandas.DataFrame
        ``true``, ``predicted``, ``count``, ``share`` (of the true genre's rows), ``tracks``
        (``"blues.00081 (7)"``: the track and how many of its rows went this way).
    """
    wrong = rows[rows["label"] != rows["pred"]]
    totals = rows["label"].value_counts().to_dict()
    records = []
    for (true, pred), g in wrong.groupby(["label", "pred"], sort=False):
        per_track = g["track_id"].value_counts()
        tracks = ", ".join(f"{t} ({n})" for t, n in per_track.head(max_tracks).items())
        if len(per_track) > max_tracks:
            tracks += f", +{len(per_track) - max_tracks} more"
        records.append({"true": true, "predicted": pred, "count": len(g),
                        "share": len(g) / totals[true], "tracks": tracks})
    out = pd.DataFrame(records, columns=["true", "predicted", "count", "share", "tracks"])
    return out.sort_values(["count", "true"], ascending=[False, True]).head(top).reset_index(drop=True)


def always_wrong_tracks(run: RunResults) -> pd.DataFrame:
    """Tracks that every evaluated model gets wrong (track-level mean-probability vote).

    Parameters
    ----------
    run : RunResults

    Returns
    -------
    tracks : pandas.DataFrame
        ``track_id``, ``label``, then one column per model with its predicted genre.
    """
    per_model = {}
    for name in run.fitted_names:
        try:
            rows, _ = model_predictions(run, name)
            per_model[name] = track_predictions(rows, run.labels).set_index("track_id")
        except DataError:
            continue
    if not per_model:
        return pd.DataFrame(columns=["track_id", "label"])
    common = sorted(set.intersection(*(set(t.index) for t in per_model.values())))
    first = next(iter(per_model.values()))
    table = pd.DataFrame({"track_id": common, "label": first.loc[common, "label"].to_numpy()})
    for name, t in per_model.items():
        table[name] = t.loc[common, "pred"].to_numpy()
    wrong = np.ones(len(table), dtype=bool)
    for name in per_model:
        wrong &= table[name].to_numpy() != table["label"].to_numpy()
    return table[wrong].reset_index(drop=True)


def project_pca(X: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Standardize, then project on the first principal components.

    Parameters
    ----------
    X : np.ndarray [shape=(n, d)]
    n_components : int

    Returns
    -------
    coords : np.ndarray [shape=(n, n_components)]
    ratio : np.ndarray [shape=(n_components,)]
        Explained-variance ratio of each component.
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < n_components or X.shape[1] < n_components:
        raise ParameterError(f"PCA projection: expected at least {n_components} rows and columns, got {X.shape}")
    pca = PCA(n_components=n_components, random_state=0)
    coords = pca.fit_transform(StandardScaler().fit_transform(X))
    return coords, pca.explained_variance_ratio_


# --------------------------------------------------------------------------- diagnostics


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    for name in ("results.json", "data.parquet", "predictions.parquet"):
        f = path / name
        if f.is_file():
            h.update(name.encode())
            h.update(f.read_bytes())
    models = path / "models"
    if models.is_dir():
        for f in sorted(models.iterdir()):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}".encode())
    return h.hexdigest()


def _sample_tracks(data: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """Whole tracks, the same share of each genre, until at most ``max_rows`` rows."""
    if len(data) <= max_rows:
        return data
    rng = np.random.default_rng(seed)
    keep = max_rows / len(data)
    chosen: list[Any] = []
    for _, g in data.groupby("label", sort=True):
        tracks = g["track_id"].unique()
        n = max(2, int(round(len(tracks) * keep)))
        chosen.extend(rng.choice(tracks, size=min(n, len(tracks)), replace=False))
    return data[data["track_id"].isin(set(chosen))]


def _group_cv(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> Any:
    from sklearn.model_selection import StratifiedGroupKFold

    per_class = pd.Series(groups).groupby(y).nunique()
    k = int(min(n_splits, per_class.min()))
    if k < 2:
        raise DataError(
            f"track-grouped CV: expected at least 2 tracks per genre, got {per_class.min()} "
            f"for {per_class.idxmin()!r}"
        )
    return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)


def _validation_curves(data: pd.DataFrame, s: DiagnosticsSettings) -> dict[str, Any]:
    from sklearn.model_selection import validation_curve
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    cols = feature_columns(data)
    X = data[cols].to_numpy(dtype=float)
    y = data["label"].to_numpy()
    groups = data["track_id"].to_numpy()
    cv = _group_cv(y, groups, s.n_splits, s.seed)
    out: dict[str, Any] = {}
    train, test = validation_curve(
        DecisionTreeClassifier(random_state=s.seed), X, y, param_name="max_depth",
        param_range=list(s.max_depths), groups=groups, cv=cv, scoring="accuracy", n_jobs=1,
    )
    out["decision_tree"] = {
        "param": "max_depth", "values": list(s.max_depths),
        "train": train.mean(axis=1).tolist(), "cv": test.mean(axis=1).tolist(),
        "cv_std": test.std(axis=1).tolist(), "n_splits": cv.get_n_splits(),
    }
    min_train = min(len(tr) for tr, _ in cv.split(X, y, groups))
    ks = [k for k in s.neighbors if k <= min_train]
    train, test = validation_curve(
        make_pipeline(StandardScaler(), KNeighborsClassifier()), X, y,
        param_name="kneighborsclassifier__n_neighbors", param_range=ks, groups=groups, cv=cv,
        scoring="accuracy", n_jobs=1,
    )
    out["knn"] = {
        "param": "n_neighbors", "values": ks,
        "train": train.mean(axis=1).tolist(), "cv": test.mean(axis=1).tolist(),
        "cv_std": test.std(axis=1).tolist(), "n_splits": cv.get_n_splits(),
    }
    return out


def _kmeans_elbow(data: pd.DataFrame, s: DiagnosticsSettings) -> dict[str, Any]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(data[feature_columns(data)].to_numpy(dtype=float))
    ks = [k for k in s.kmeans_ks if k <= len(X) - 1]
    inertia, silhouette = [], []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=3, random_state=s.seed).fit(X)
        inertia.append(float(km.inertia_))
        silhouette.append(
            float(silhouette_score(X, km.labels_, sample_size=min(len(X), 2000), random_state=s.seed))
            if k >= 2 else None
        )
    return {"k": ks, "inertia": inertia, "silhouette": silhouette, "standardized": True}


def _permutation(
    run: RunResults, name: str, model: Any, s: DiagnosticsSettings
) -> dict[str, Any]:
    """Permutation importance of one model on data it was not fitted on."""
    from sklearn.inspection import permutation_importance

    data = run.data
    if data is None:
        raise DataError(f"{run.path}: data.parquet is needed for permutation importance")
    cols = _model_features(model, data)
    labels = run.labels
    source = "test"
    held = None
    if run.predictions is not None:
        p = run.predictions[(run.predictions["model"] == name) & (run.predictions["split"] == "test")]
        if not p.empty and "row" in p.columns:
            held = data.iloc[np.unique(p["row"].to_numpy())]
    if held is not None:
        estimator = _as_classifier(model, labels)
    else:
        # The saved model saw every row (CV protocols): refit its configuration on the
        # training side of one track-grouped fold and score on the held-out tracks.
        source = "refit"
        y = data["label"].to_numpy()
        cv = _group_cv(y, data["track_id"].to_numpy(), s.n_splits, s.seed)
        tr, te = next(cv.split(data, y, data["track_id"].to_numpy()))
        estimator = _refit(model, data.iloc[tr][cols], y[tr], labels, s.seed)
        held = data.iloc[te]
    if len(held) > s.permutation_rows:
        held = held.sample(s.permutation_rows, random_state=s.seed)
    # A model fitted on a bare array is scored on one (no feature-name mismatch warnings).
    named = getattr(model, "feature_names_in_", None) is not None
    X_held: Any = held[cols] if named else held[cols].to_numpy(dtype=float)
    result = permutation_importance(
        estimator, X_held, held["label"].to_numpy(), scoring=_accuracy,
        n_repeats=s.n_repeats, random_state=s.seed, n_jobs=1,
    )
    return {
        "importance": {c: [float(m), float(sd)] for c, m, sd in
                       zip(cols, result.importances_mean, result.importances_std, strict=True)},
        "held_out": source, "n_rows": int(len(held)),
    }


def _write_json_atomic(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=1, allow_nan=False))


def compute_diagnostics(
    results_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    settings: DiagnosticsSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compute (or reuse) ``diagnostics.json`` for an experiment results folder.

    Parameters
    ----------
    results_dir : path
        A folder written by ``genrekit experiment``.
    overwrite : bool
        Recompute even when a cached ``diagnostics.json`` matches the results.
    settings : DiagnosticsSettings, optional
    progress : callable, optional
        Called with a short description before each step.

    Returns
    -------
    diagnostics : dict
        ``validation_curves`` (``decision_tree`` over ``max_depth``, ``knn`` over
        ``n_neighbors``: ``param``, ``values``, ``train``, ``cv``, ``cv_std``),
        ``feature_importance`` (LightGBM gain per feature) with ``feature_importance_model``,
        ``permutation_importance`` (``{model: {"importance": {feature: [mean, std]},
        "held_out": "test"|"refit", "n_rows": n}}``), ``logreg_coefficients`` (mean |coef| across
        genres, sorted descending) with ``logreg_model``, ``pca_explained_variance``
        (``{model: [ratio, ...]}``), ``kmeans_elbow`` (``k``, ``inertia``, ``silhouette``),
        ``sample`` (rows used for curves and k-means) and ``notes`` (why anything is absent).
        Each part is absent (with a note) when it does not apply to the run.

    Examples
    --------
    >>> diag = compute_diagnostics("results/track-cv")  # doctest: +SKIP
    >>> diag["validation_curves"]["knn"]["cv"][:3]  # doctest: +SKIP
    """
    s = settings or DiagnosticsSettings()
    run = load_results(results_dir)
    path = run.path / DIAGNOSTICS_FILE
    source = _fingerprint(run.path)
    settings_json = json.loads(json.dumps(asdict(s)))
    if path.is_file() and not overwrite:
        cached = _read_json(path)
        if (isinstance(cached, dict) and cached.get("source") == source
                and cached.get("settings") == settings_json
                and cached.get("format") == _DIAG_FORMAT):
            return cached

    # Import the compiled libraries first: threadpoolctl limits only those already loaded.
    import lightgbm  # noqa: F401
    import sklearn.cluster  # noqa: F401
    import sklearn.neighbors  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=s.n_threads):
        diag = _compute(run, s, source, settings_json, progress)
    _write_json_atomic(path, diag)
    return diag


def _compute(
    run: RunResults, s: DiagnosticsSettings, source: str, settings_json: dict[str, Any],
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    def step(text: str) -> None:
        if progress is not None:
            progress(text)

    notes: dict[str, str] = {}
    diag: dict[str, Any] = {"format": _DIAG_FORMAT, "genrekit_version": __version__,
                            "settings": settings_json, "source": source, "notes": notes}
    models: dict[str, Any] = {}
    for name in run.fitted_names:
        try:
            models[name] = load_fitted_model(run.path, name)
        except ModelError as exc:
            notes[f"model:{name}"] = str(exc)

    if run.data is None or "track_id" not in run.data.columns:
        notes["data"] = "data.parquet with track_id is needed for validation curves and k-means"
    else:
        sample = _sample_tracks(run.data, s.max_rows, s.seed)
        diag["sample"] = {"rows": int(len(sample)), "of": int(len(run.data)),
                          "tracks": int(sample["track_id"].nunique())}
        step("validation curves")
        try:
            diag["validation_curves"] = _validation_curves(sample, s)
        except DataError as exc:
            notes["validation_curves"] = str(exc)
        step("k-means elbow")
        diag["kmeans_elbow"] = _kmeans_elbow(sample, s)

    lgb_name = find_model(run.fitted_names, models, "lightgbm")
    if lgb_name is None:
        notes["feature_importance"] = "no LightGBM model in this run"
    else:
        booster = _booster(models[lgb_name])
        if booster is None:  # pragma: no cover - find_model found one
            raise ModelError(f"{lgb_name}: no LightGBM booster inside the model")
        cols = _model_features(models[lgb_name], run.data) if run.data is not None else booster.feature_name()
        gain = booster.feature_importance(importance_type="gain")
        diag["feature_importance"] = {c: float(g) for c, g in zip(cols, gain, strict=True)}
        diag["feature_importance_model"] = lgb_name

    perm: dict[str, Any] = {}
    best = best_model(run)
    targets = [n for n in dict.fromkeys([best, lgb_name]) if n is not None and n in models]
    if run.data is None:
        notes["permutation_importance"] = "data.parquet is needed for permutation importance"
    else:
        for name in targets:
            step(f"permutation importance: {name}")
            try:
                perm[name] = _permutation(run, name, models[name], s)
            except (DataError, ValueError, KeyError, TypeError) as exc:
                notes[f"permutation_importance:{name}"] = f"{type(exc).__name__}: {exc}"
        if perm:
            diag["permutation_importance"] = perm

    # Coefficients are read per feature only where the model's inputs are the features
    # (scaling aside): not after PCA or polynomial expansion.
    lr_names = [n for n in dict.fromkeys([find_model(run.fitted_names, models, "logreg"),
                                          *run.fitted_names])
                if n is not None and n in models and _is_logreg(models[n])]
    why = "no logistic-regression model in this run"
    for lr_name in lr_names:
        coef = np.abs(np.asarray(_final_estimator(models[lr_name]).coef_)).mean(axis=0)
        cols = _model_features(models[lr_name], run.data) if run.data is not None else []
        if len(cols) != coef.size:
            why = (f"{lr_name}: its coefficients act on {coef.size} transformed inputs, "
                   f"not the {len(cols)} features")
            continue
        order = np.argsort(-coef, kind="stable")
        diag["logreg_coefficients"] = {cols[i]: float(coef[i]) for i in order}
        diag["logreg_model"] = lr_name
        break
    else:
        notes["logreg_coefficients"] = why

    from sklearn.decomposition import PCA

    pca = {}
    for name, model in models.items():
        for m in _walk(model):
            if isinstance(m, PCA) and hasattr(m, "explained_variance_ratio_"):
                pca[name] = [float(v) for v in m.explained_variance_ratio_]
                break
    if pca:
        diag["pca_explained_variance"] = pca
    else:
        notes["pca_explained_variance"] = "no model in this run uses PCA"
    return diag
