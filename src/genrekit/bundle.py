"""Model bundles: a fitted model saved with everything needed to trust and use it later.

A bundle is a folder::

    MODEL_DIR/
        model.json        # what the model is: labels, features, level, protocol, metrics, ...
        model.sklearn.json  # scaled logistic regression as plain JSON arrays, or
        model.skops       # other scikit-learn estimators, through skops (never pickle), or
        model.txt         # LightGBM's own text model (+ preprocess.skops for scaler steps), or
        model.pt          # a torch state dict (the CNN), loaded with ``weights_only=True``

``model.json`` names every other file with its sha256, so a bundle that was edited, has a
file missing, or has an extra file (a ``.pkl`` dropped in, say) is refused before anything is
deserialized. Nothing is ever unpickled: skops loads only types on a fixed allow-list written
in this module (never taken from the file), LightGBM parses its text format, and torch is
told to accept tensors only.

How a fitted estimator is stored is decided by a small registry of *kinds* ("lightgbm",
"sklearn-json", "skops", and "torch" when :mod:`genrekit.models.cnn` registers it); see
:func:`register_kind`. The JSON forms exist because importing skops costs seconds (it imports
all of scikit-learn), which a one-song ``genrekit predict`` should not pay.

Examples
--------
>>> model = genrekit.load_model("genrekit-demo/model")          # doctest: +SKIP
>>> model.predict("song.mp3")                                   # doctest: +SKIP
'disco'
>>> model.predict_proba("song.mp3")["disco"]                    # doctest: +SKIP
0.83
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from genrekit._version import __version__
from genrekit.exceptions import ModelError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "BUNDLE_FORMAT",
    "MODEL_JSON",
    "LEVELS",
    "Predictor",
    "GenreModel",
    "save_bundle",
    "load_model",
    "read_metadata",
    "register_kind",
    "kinds",
    "trusted_skops_type",
]

#: Version of the bundle layout this genrekit writes and reads. Bump on any change an older
#: reader would misread; readers refuse a newer one.
BUNDLE_FORMAT = 1
MODEL_JSON = "model.json"
#: What a model was trained on: whole-track rows (30 s table) or 3 s segment rows.
LEVELS = ("track", "segment")
_MAGIC = "genrekit-model"

_REQUIRED_KEYS: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "bundle_format": int,
    "genrekit_version": str,
    "model_name": str,
    "kind": str,
    "labels": list,
    "feature_names": list,
    "level": str,
    "feature_settings": dict,
    "protocol": (str, type(None)),
    "metrics": dict,
    "training_fingerprint": (str, dict, type(None)),
    "files": dict,
    "kind_info": dict,
}

#: File name endings of serialisation formats that execute code when loaded; never accepted.
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".cloudpickle", ".sav", ".p")


class Predictor(Protocol):
    """What a kind's loader returns: class probabilities for rows of model inputs."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        ...


@dataclass(frozen=True)
class _Kind:
    name: str
    suffixes: tuple[str, ...]
    claims: Callable[[Any], bool]
    save: Callable[[Any, Path, Sequence[str]], dict[str, Any]]
    load: Callable[[Path, Mapping[str, Any]], Predictor]
    priority: int


_KINDS: dict[str, _Kind] = {}


def register_kind(
    name: str,
    *,
    suffixes: Sequence[str],
    claims: Callable[[Any], bool],
    save: Callable[[Any, Path, Sequence[str]], dict[str, Any]],
    load: Callable[[Path, Mapping[str, Any]], Predictor],
    priority: int = 0,
) -> None:
    """Teach bundles a new way to store a fitted estimator.

    Parameters
    ----------
    name : str
        The kind's name, stored in ``model.json`` (``"torch"`` for the CNN).
    suffixes : sequence of str
        File endings this kind writes (``(".pt",)``); a bundle file with any other ending is
        refused. Pickle endings are refused whatever a kind says.
    claims : callable
        ``claims(estimator) -> bool``: whether this kind stores ``estimator``. Kinds are asked
        in decreasing ``priority``; "skops" (priority -100) takes what nobody else claims.
    save : callable
        ``save(estimator, folder, feature_names) -> kind_info``: write the model files into
        ``folder`` and return JSON-able facts the loader needs.
    load : callable
        ``load(folder, kind_info) -> predictor`` with ``predict_proba(X) -> (n, n_labels)``.
        Must not execute code from the files (no pickle).
    priority : int
        Higher is asked first.
    """
    bad = [s for s in suffixes if s.lower() in _PICKLE_SUFFIXES]
    if bad:
        raise ParameterError(f"bundle kind {name!r}: pickle suffixes are not allowed: {bad}")
    _KINDS[name] = _Kind(name, tuple(s.lower() for s in suffixes), claims, save, load, priority)


def kinds() -> tuple[str, ...]:
    """Names of the registered storage kinds, most specific first."""
    return tuple(k.name for k in sorted(_KINDS.values(), key=lambda k: -k.priority))


#: Kinds registered by optional modules, imported only when a bundle of that kind is loaded
#: (saving needs no import: the estimator's own module registered its kind already).
_PLUGINS = {"torch": "genrekit.models.cnn", "fused": "genrekit.fused"}


def _ensure_plugin(kind: str) -> None:
    module = _PLUGINS.get(kind)
    if kind not in _KINDS and module is not None:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


# --------------------------------------------------------------------------- skops


#: Types skops may construct beyond its defaults. Fixed here, never read from a file.
#: Every scikit-learn *class* and genrekit's own estimator classes are trusted too
#: (see :func:`trusted_skops_type`); functions are trusted only when listed.
_TRUSTED_EXTRA = frozenset(
    {
        "collections.OrderedDict",
        "collections.defaultdict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        "numpy.random.mtrand.RandomState",
        "builtins.slice",
    }
)


def trusted_skops_type(name: str) -> bool:
    """Whether skops may construct the type called ``name`` when loading a bundle.

    The policy is fixed in code: the types in ``_TRUSTED_EXTRA``; any class defined in
    scikit-learn (estimators, trees, bunches); and genrekit classes that are scikit-learn
    estimators. Functions (``numpy.log1p``, ``os.system``) and classes from anywhere else are
    refused.
    """
    if name in _TRUSTED_EXTRA:
        return True
    module, _, qual = name.rpartition(".")
    root = module.split(".")[0]
    if root not in ("sklearn", "genrekit") or not qual:
        return False
    try:
        obj: Any = importlib.import_module(module)
    except ImportError:
        return False
    obj = getattr(obj, qual, None)
    if not isinstance(obj, type):
        return False
    if root == "sklearn":
        return True
    from sklearn.base import BaseEstimator

    return issubclass(obj, BaseEstimator)


def _skops_dump(obj: Any, path: Path) -> None:
    import skops.io as sio

    try:
        sio.dump(obj, path)
    except Exception as exc:  # skops raises many types for unsupported objects
        raise ModelError(
            f"cannot save {type(obj).__name__} with skops: {type(exc).__name__}: {exc}"
        ) from exc


def _skops_load(path: Path) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelError(f"{path}: not a readable skops file: {exc}") from exc
    refused = [t for t in untrusted if not trusted_skops_type(t)]
    if refused:
        raise ModelError(
            f"{path}: refuses to load types outside genrekit's allow-list: {', '.join(refused)}"
        )
    try:
        return sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(f"{path}: cannot load skops file: {type(exc).__name__}: {exc}") from exc


def _final_estimator(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def _with_names(est: Any, X: np.ndarray, feature_names: Sequence[str]) -> Any:
    """``X`` as a DataFrame when ``est`` was fitted on one (avoids sklearn's name warning)."""
    names = getattr(est, "feature_names_in_", None)
    if names is None:
        return X
    import pandas as pd

    columns = list(names) if len(names) == X.shape[1] else list(feature_names)
    return pd.DataFrame(X, columns=columns)


class _SklearnPredictor:
    def __init__(self, estimator: Any, feature_names: Sequence[str]) -> None:
        self.estimator = estimator
        self.feature_names = list(feature_names)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(
            self.estimator.predict_proba(_with_names(self.estimator, X, self.feature_names)),
            dtype=np.float64,
        )


def _save_skops(estimator: Any, folder: Path, feature_names: Sequence[str]) -> dict[str, Any]:
    if not hasattr(estimator, "predict_proba"):
        raise ModelError(
            f"{type(estimator).__name__} has no predict_proba: a bundle needs class probabilities"
        )
    _skops_dump(estimator, folder / "model.skops")
    return {"file": "model.skops", "estimator": type(estimator).__name__}


def _load_skops(folder: Path, info: Mapping[str, Any]) -> Predictor:
    estimator = _skops_load(folder / "model.skops")
    if not hasattr(estimator, "predict_proba"):
        raise ModelError(f"{folder / 'model.skops'}: the stored object has no predict_proba")
    return _SklearnPredictor(estimator, info.get("feature_names", []))


# --------------------------------------------------------------------------- lightgbm


def _is_lightgbm(estimator: Any) -> bool:
    final = _final_estimator(estimator)
    return type(final).__module__.startswith("lightgbm") and hasattr(final, "booster_")


class _LightGBMPredictor:
    def __init__(self, preprocess: Any, booster: Any, n_classes: int, names: Sequence[str]):
        self.preprocess = preprocess
        self.booster = booster
        self.n_classes = n_classes
        self.feature_names = list(names)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        if isinstance(self.preprocess, _JsonScaler):
            X = self.preprocess.transform(X)
        elif self.preprocess is not None:
            X = self.preprocess.transform(_with_names(self.preprocess, X, self.feature_names))
        p = np.asarray(self.booster.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64)
        if p.ndim == 1:  # binary objective: probability of the second class
            p = np.column_stack([1.0 - p, p])
        return p


def _scaler_json(steps: list[tuple[str, Any]]) -> dict[str, Any] | None:
    """A lone fitted StandardScaler as plain JSON (exact: floats round-trip through repr)."""
    if len(steps) != 1 or type(steps[0][1]).__name__ != "StandardScaler":
        return None
    sc = steps[0][1]
    if type(sc).__module__.split(".")[0] != "sklearn":
        return None
    return {
        "type": "StandardScaler",
        "mean": None if sc.mean_ is None else [float(v) for v in sc.mean_],
        "scale": None if sc.scale_ is None else [float(v) for v in sc.scale_],
    }


class _JsonScaler:
    """StandardScaler.transform, with the same float64 operations (so bit-identical)."""

    def __init__(self, mean: Any, scale: Any) -> None:
        import numpy as np

        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def transform(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        X = np.array(X, dtype=np.float64, copy=True)
        if self.mean is not None:
            X -= self.mean
        if self.scale is not None:
            X /= self.scale
        return X


def _save_lightgbm(estimator: Any, folder: Path, feature_names: Sequence[str]) -> dict[str, Any]:
    steps = getattr(estimator, "steps", None)
    final = _final_estimator(estimator)
    info: dict[str, Any] = {"file": "model.txt", "estimator": type(final).__name__}
    if steps and len(steps) > 1:
        pre = list(steps[:-1])
        info["preprocess_steps"] = [name for name, _ in pre]
        scaler = _scaler_json(pre)
        if scaler is not None:  # plain JSON: loads without skops (fast cold start)
            (folder / "preprocess.json").write_text(json.dumps(scaler), encoding="utf-8")
            info["preprocess"] = "preprocess.json"
        else:
            from sklearn.pipeline import Pipeline

            _skops_dump(Pipeline(pre), folder / "preprocess.skops")
            info["preprocess"] = "preprocess.skops"
    (folder / "model.txt").write_text(final.booster_.model_to_string(), encoding="utf-8")
    info["n_classes"] = int(len(final.classes_))
    return info


def _load_lightgbm(folder: Path, info: Mapping[str, Any]) -> Predictor:
    import lightgbm as lgb

    preprocess: Any = None
    pre = str(info.get("preprocess") or "")
    if pre.endswith(".json"):
        try:
            spec = json.loads((folder / pre).read_text(encoding="utf-8"))
            if spec.get("type") != "StandardScaler":
                raise ValueError(f"unknown preprocessing type {spec.get('type')!r}")
            preprocess = _JsonScaler(spec["mean"], spec["scale"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{folder / pre}: invalid preprocessing description: {exc}") from exc
    elif pre:
        preprocess = _skops_load(folder / pre)
    try:
        booster = lgb.Booster(model_str=(folder / "model.txt").read_text(encoding="utf-8"))
    except Exception as exc:
        raise ModelError(f"{folder / 'model.txt'}: not a LightGBM text model: {exc}") from exc
    return _LightGBMPredictor(
        preprocess, booster, int(info.get("n_classes", 0)), info.get("feature_names", [])
    )


# --------------------------------------------------------------------------- sklearn-json

#: Estimators whose fitted state is a few arrays, stored as plain JSON (no skops import on
#: load, which costs seconds because skops imports all of scikit-learn). Fixed here.
_JSON_CLASSES = {
    "StandardScaler": "sklearn.preprocessing",
    "LogisticRegression": "sklearn.linear_model",
}


def _json_state(est: Any) -> dict[str, Any] | None:
    """``{class, params, state}`` of an allow-listed estimator, or None when not exact."""
    import numpy as np

    cls = type(est).__name__
    if _JSON_CLASSES.get(cls) is None or not type(est).__module__.startswith("sklearn."):
        return None
    params = est.get_params(deep=False)
    state: dict[str, Any] = {}
    for key, value in vars(est).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "fiub" and not (
                value.dtype.kind in "OU" and all(isinstance(v, str) for v in value.ravel())
            ):
                return None
            kind = value.dtype.str if value.dtype.kind in "fiub" else "str"
            state[key] = {"dtype": kind, "shape": list(value.shape),
                          "data": [v.item() if hasattr(v, "item") else v for v in value.ravel()]}
        elif isinstance(value, (bool, int, float, str)) or value is None:
            state[key] = {"value": value}
        elif isinstance(value, np.generic):
            state[key] = {"value": value.item(), "dtype": value.dtype.str}
        else:
            return None
    try:
        json.dumps([params, state], allow_nan=False)
    except (TypeError, ValueError):
        return None
    return {"class": cls, "params": params, "state": state}


def _json_steps(estimator: Any) -> list[tuple[str, Any]] | None:
    steps = getattr(estimator, "steps", None)
    if steps is None:
        steps = [("model", estimator)]
    elif type(estimator).__name__ != "Pipeline":
        return None
    if not hasattr(steps[-1][1], "predict_proba"):
        return None
    return list(steps)


def _is_json_able(estimator: Any) -> bool:
    steps = _json_steps(estimator)
    return steps is not None and all(_json_state(est) is not None for _, est in steps)


def _save_json(estimator: Any, folder: Path, feature_names: Sequence[str]) -> dict[str, Any]:
    steps = _json_steps(estimator)
    assert steps is not None  # claims() checked it
    doc = {"steps": [{"name": name, **(_json_state(est) or {})} for name, est in steps]}
    (folder / "model.sklearn.json").write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
    return {"file": "model.sklearn.json", "estimator": type(estimator).__name__,
            "steps": [type(est).__name__ for _, est in steps]}


class _NumpyLinear:
    """Scalers + multiclass LogisticRegression.predict_proba with scikit-learn's own float64
    operations (centre, scale, ``X @ coef.T + intercept``, max-shifted softmax), so the
    probabilities are bit-identical without importing scikit-learn (seconds on a cold start).
    """

    def __init__(self, scalers: list[_JsonScaler], coef: np.ndarray, intercept: np.ndarray):
        self.scalers, self.coef, self.intercept = scalers, coef, intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        for sc in self.scalers:
            X = sc.transform(X)
        scores = np.asarray(X, dtype=np.float64) @ self.coef.T + self.intercept
        scores -= scores.max(axis=1).reshape((-1, 1))
        np.exp(scores, scores)
        scores /= scores.sum(axis=1).reshape((-1, 1))
        return scores


def _array(spec: Mapping[str, Any]) -> Any:
    import numpy as np

    if "data" in spec:
        dtype = object if spec["dtype"] == "str" else np.dtype(spec["dtype"])
        return np.array(spec["data"], dtype=dtype).reshape(spec["shape"])
    if "dtype" in spec:
        return np.dtype(spec["dtype"]).type(spec["value"])
    return spec["value"]


def _numpy_linear(doc: Mapping[str, Any]) -> _NumpyLinear | None:
    *pre, last = doc["steps"]
    if last["class"] != "LogisticRegression" or any(s["class"] != "StandardScaler" for s in pre):
        return None
    coef, intercept = _array(last["state"]["coef_"]), _array(last["state"]["intercept_"])
    if coef.ndim != 2 or coef.shape[0] < 3:  # binary uses expit; leave it to scikit-learn
        return None
    scalers = []
    for s in pre:
        st, params = s["state"], s["params"]
        mean = _array(st["mean_"]) if params.get("with_mean", True) else None
        scale = _array(st["scale_"]) if params.get("with_std", True) else None
        scalers.append(_JsonScaler(mean, scale))
    return _NumpyLinear(scalers, coef, intercept)


def _load_json(folder: Path, info: Mapping[str, Any]) -> Predictor:
    path = folder / "model.sklearn.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for step in doc["steps"]:
            if step["class"] not in _JSON_CLASSES:
                raise ValueError(f"class {step['class']!r} is not on genrekit's allow-list")
        fast = _numpy_linear(doc)
        if fast is not None:
            return fast
        steps = []
        for step in doc["steps"]:
            module = _JSON_CLASSES.get(step["class"])
            if module is None:
                raise ValueError(f"class {step['class']!r} is not on genrekit's allow-list")
            est = getattr(importlib.import_module(module), step["class"])(**step["params"])
            for key, spec in step["state"].items():
                setattr(est, key, _array(spec))
            steps.append((str(step["name"]), est))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: invalid model description: {exc}") from exc
    if len(steps) == 1:
        return _SklearnPredictor(steps[0][1], info.get("feature_names", []))
    from sklearn.pipeline import Pipeline

    return _SklearnPredictor(Pipeline(steps), info.get("feature_names", []))


register_kind(
    "sklearn-json",
    suffixes=(".json",),
    claims=_is_json_able,
    save=_save_json,
    load=_load_json,
    priority=5,
)
register_kind(
    "lightgbm",
    suffixes=(".txt", ".json", ".skops"),
    claims=_is_lightgbm,
    save=_save_lightgbm,
    load=_load_lightgbm,
    priority=10,
)
register_kind(
    "skops",
    suffixes=(".skops",),
    claims=lambda est: True,
    save=_save_skops,
    load=_load_skops,
    priority=-100,
)


# --------------------------------------------------------------------------- metadata


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays to Python, NaN/inf to None, paths to str."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _jsonable(dataclasses.asdict(value))
    return str(value)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_labels(labels: Sequence[Any], estimator: Any) -> list[str]:
    names = [str(x) for x in labels]
    if not names or len(set(names)) != len(names):
        raise ParameterError(f"labels must be unique and non-empty, got {names}")
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        classes = getattr(_final_estimator(estimator), "classes_", None)
    if classes is not None:
        classes = [str(c) for c in classes]
        if len(classes) != len(names):
            raise ParameterError(
                f"labels has {len(names)} entries but the estimator has {len(classes)} classes"
            )
        if all(not c.lstrip("-").isdigit() for c in classes) and classes != names:
            raise ParameterError(
                f"labels must be in the estimator's class order {classes}, got {names}"
            )
    return names


def save_bundle(
    out_dir: str | os.PathLike[str],
    *,
    estimator: Any,
    model_name: str,
    labels: Sequence[str],
    feature_names: Sequence[str],
    level: str,
    feature_settings: Mapping[str, Any],
    protocol: str | None,
    metrics: Mapping[str, Any],
    training_fingerprint: str | Mapping[str, Any] | None,
    overwrite: bool = False,
) -> Path:
    """Save a fitted estimator as a model bundle folder.

    Parameters
    ----------
    out_dir : path
        Bundle folder to create. Must not exist (or be empty) unless ``overwrite``.
    estimator : fitted classifier
        Anything with ``predict_proba`` whose columns follow ``labels``: a scikit-learn
        estimator or pipeline (stored with skops), a LightGBM classifier or a pipeline ending
        in one (LightGBM text model, preceding steps with skops), or a kind registered with
        :func:`register_kind`. A fitted ``GridSearchCV`` is stored as its ``best_estimator_``.
    model_name : str
        The zoo name (``"lightgbm"``).
    labels : sequence of str [shape=(n_labels,)]
        Genre names in the order of the estimator's probability columns.
    feature_names : sequence of str [shape=(n_features,)]
        Input columns in the order the estimator expects them.
    level : {"track", "segment"}
        Trained on whole-track rows (30 s table) or on 3 s segment rows.
    feature_settings : mapping
        How the inputs are computed (``feature_set``, sample rate, FFT, hop, pad mode...);
        ``predict`` recomputes them the same way. ``feature_set`` defaults to ``"kaggle57"``.
    protocol : str or None
        The protocol the metrics come from (``"track-cv"``), or None.
    metrics : mapping
        Evaluation numbers (``cv_mean``, ``cv_track_mean``...), JSON-able.
    training_fingerprint : str or mapping or None
        Identifies the training data (hash of the table, row and track counts).
    overwrite : bool
        Replace an existing bundle folder.

    Returns
    -------
    Path
        The bundle folder.
    """
    out = Path(out_dir)
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {LEVELS}, got {level!r}")
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ParameterError(f"{out}: already exists and is not empty (use overwrite=True)")
    if hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    names = _check_labels(labels, estimator)
    feature_names = [str(f) for f in feature_names]
    settings = dict(_jsonable(dict(feature_settings)))
    settings.setdefault("feature_set", "kaggle57")

    kind = next(
        k for k in sorted(_KINDS.values(), key=lambda k: -k.priority) if k.claims(estimator)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        info = dict(kind.save(estimator, tmp, feature_names))
        files = {}
        for f in sorted(tmp.iterdir()):
            if f.suffix.lower() not in kind.suffixes:
                raise ModelError(f"bundle kind {kind.name!r} wrote an unexpected file {f.name}")
            files[f.name] = _sha256(f)
        meta = {
            "format": _MAGIC,
            "bundle_format": BUNDLE_FORMAT,
            "genrekit_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "model_name": str(model_name),
            "kind": kind.name,
            "labels": names,
            "feature_names": feature_names,
            "level": level,
            "feature_settings": settings,
            "protocol": protocol,
            "metrics": _jsonable(dict(metrics)),
            "training_fingerprint": _jsonable(training_fingerprint),
            "files": files,
            "kind_info": _jsonable(info),
        }
        (tmp / MODEL_JSON).write_text(
            json.dumps(meta, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- loading


def _version_major(version: str) -> int | None:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a bundle's ``model.json`` and its files, without loading the model.

    Raises
    ------
    ModelError
        Missing folder or ``model.json``; malformed or missing keys; a bundle format or
        genrekit major version this genrekit cannot read; a pickle file, an unexpected or a
        missing file; a file whose sha256 differs from the recorded one.
    """
    folder = Path(path)
    if folder.name == MODEL_JSON and folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise ModelError(f"{folder}: no model bundle here (expected a folder with {MODEL_JSON})")
    meta_path = folder / MODEL_JSON
    if not meta_path.is_file():
        raise ModelError(f"{folder}: not a model bundle: {MODEL_JSON} is missing")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{meta_path}: not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != _MAGIC:
        raise ModelError(f"{meta_path}: not a genrekit model description (format != {_MAGIC!r})")
    missing = [k for k in _REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelError(f"{meta_path}: missing keys: {', '.join(missing)}")
    for key, typ in _REQUIRED_KEYS.items():
        if not isinstance(meta[key], typ) or (typ is int and isinstance(meta[key], bool)):
            raise ModelError(
                f"{meta_path}: {key!r} has the wrong type ({type(meta[key]).__name__})"
            )

    fmt = meta["bundle_format"]
    if fmt > BUNDLE_FORMAT:
        raise ModelError(
            f"{folder}: bundle_format {fmt} was written by a newer genrekit "
            f"({meta['genrekit_version']}); this genrekit {__version__} reads bundle_format "
            f"<= {BUNDLE_FORMAT}: upgrade genrekit"
        )
    if fmt < 1:
        raise ModelError(f"{folder}: unknown bundle_format {fmt}")
    theirs, ours = _version_major(meta["genrekit_version"]), _version_major(__version__)
    if theirs is None or theirs != ours:
        raise ModelError(
            f"{folder}: made by genrekit {meta['genrekit_version']}, incompatible with this "
            f"genrekit {__version__} (major version differs)"
        )
    labels = meta["labels"]
    if not labels or not all(isinstance(x, str) for x in labels) or len(set(labels)) != len(
        labels
    ):
        raise ModelError(f"{meta_path}: labels must be unique strings, got {labels}")
    if meta["level"] not in LEVELS:
        raise ModelError(f"{meta_path}: level must be one of {LEVELS}, got {meta['level']!r}")
    if not all(isinstance(x, str) for x in meta["feature_names"]):
        raise ModelError(f"{meta_path}: feature_names must be strings")

    _ensure_plugin(meta["kind"])
    kind = _KINDS.get(meta["kind"])
    if kind is None:
        hint = " (install genrekit[cnn])" if meta["kind"] == "torch" else ""
        raise ModelError(
            f"{folder}: unknown model kind {meta['kind']!r}; this genrekit reads "
            f"{', '.join(sorted(_KINDS))}{hint}"
        )
    _check_files(folder, meta["files"], kind)
    needed = [meta["kind_info"].get("file"), meta["kind_info"].get("preprocess")]
    unlisted = [str(f) for f in needed if f and f not in meta["files"]]
    if unlisted or not meta["files"]:
        raise ModelError(
            f"{meta_path}: the model file {', '.join(unlisted) or '(none)'} is not listed "
            "in 'files' with its sha256"
        )
    return meta


def _check_files(folder: Path, files: Mapping[str, Any], kind: _Kind) -> None:
    for entry in sorted(folder.iterdir()):
        if entry.name == MODEL_JSON:
            continue
        if entry.suffix.lower() in _PICKLE_SUFFIXES or _looks_pickled(entry):
            raise ModelError(
                f"{entry}: pickle file in a model bundle; genrekit never unpickles "
                "(it can run arbitrary code): remove it or re-save the model with genrekit"
            )
        if not entry.is_file():
            raise ModelError(f"{entry}: unexpected entry in a model bundle (not a file)")
        if entry.name not in files:
            raise ModelError(f"{entry}: unexpected file in a model bundle (not in {MODEL_JSON})")
    for name, digest in files.items():
        path = folder / name
        if Path(name).name != name or name == MODEL_JSON:
            raise ModelError(f"{folder / MODEL_JSON}: invalid model file name {name!r}")
        if path.suffix.lower() not in kind.suffixes:
            raise ModelError(
                f"{path}: file type {path.suffix!r} not allowed for a {kind.name!r} model "
                f"(expected {', '.join(kind.suffixes)})"
            )
        if not path.is_file():
            raise ModelError(f"{path}: model file listed in {MODEL_JSON} is missing")
        actual = _sha256(path)
        if actual != digest:
            raise ModelError(
                f"{path}: sha256 mismatch (the file was modified or damaged): "
                f"expected {digest}, got {actual}"
            )


def _looks_pickled(path: Path) -> bool:
    """A pickle stream starts with the PROTO opcode (0x80) and a protocol number 2-5."""
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def load_model(path: str | os.PathLike[str]) -> GenreModel:
    """Load and validate a model bundle.

    Parameters
    ----------
    path : path
        The bundle folder (or its ``model.json``).

    Returns
    -------
    GenreModel

    Raises
    ------
    ModelError
        See :func:`read_metadata`; also when the model file cannot be parsed, holds types
        outside the allow-list, or disagrees with the labels.
    """
    folder = Path(path)
    if folder.name == MODEL_JSON:
        folder = folder.parent
    meta = read_metadata(folder)
    kind = _KINDS[meta["kind"]]
    info = dict(meta["kind_info"])
    info.setdefault("feature_names", meta["feature_names"])
    predictor = kind.load(folder, info)
    return GenreModel(folder, meta, predictor)


class GenreModel:
    """A loaded model bundle: genre predictions for audio files, signals or feature rows.

    Attributes
    ----------
    labels : tuple of str
        Genre names, in the order of probability columns.
    metadata : dict
        The bundle's ``model.json``.
    level : {"track", "segment"}
        The rows the model was trained on; see :func:`genrekit.predict.predict_signal` for
        how a whole song is cut and aggregated.
    """

    def __init__(self, path: Path, metadata: Mapping[str, Any], predictor: Predictor) -> None:
        self.path = Path(path)
        self.metadata = dict(metadata)
        self.labels = tuple(metadata["labels"])
        self.feature_names = tuple(metadata["feature_names"])
        self.level = str(metadata["level"])
        self.feature_settings = dict(metadata["feature_settings"])
        self.name = str(metadata["model_name"])
        self._predictor = predictor

    def __repr__(self) -> str:
        return (
            f"GenreModel({self.name!r}, level={self.level!r}, labels={len(self.labels)}, "
            f"path={str(self.path)!r})"
        )

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities of model-input rows.

        Parameters
        ----------
        X : np.ndarray [shape=(n, n_features)]
            Rows in the order of ``feature_names``.

        Returns
        -------
        np.ndarray [shape=(n, n_labels)]
            Rows sum to 1; columns follow ``labels``.
        """
        import numpy as np

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or (self.feature_names and X.shape[1] != len(self.feature_names)):
            raise ParameterError(
                f"expected rows of {len(self.feature_names)} features, got shape {X.shape}"
            )
        p = self._predictor.predict_proba(X)
        if p.shape != (len(X), len(self.labels)):
            raise ModelError(
                f"{self.path}: model returned probabilities of shape {p.shape}, expected "
                f"({len(X)}, {len(self.labels)})"
            )
        return p

    def predict_file(self, path: str | os.PathLike[str], segments: bool = False) -> dict[str, Any]:
        """Predict one audio file: ``{"path", "genre", "probabilities", "segments"}``.

        ``segments`` is the per-window timeline (``index, start, end, genre,
        probabilities``; seconds) when asked for, else an empty list.
        """
        from genrekit.predict import predict_path

        return predict_path(self, path, segments=segments)

    def _one(self, item: Any) -> dict[str, float]:
        import numpy as np

        from genrekit.predict import predict_signal

        if isinstance(item, np.ndarray):
            return predict_signal(self, item)["probabilities"]
        return self.predict_file(item)["probabilities"]

    def predict_proba(
        self, audio_or_paths: Any
    ) -> dict[str, float] | list[dict[str, float]]:
        """Genre probabilities of a file, a 22050 Hz mono signal, or a list of them.

        Returns a ``{genre: probability}`` dict for one input, a list of dicts for a list.
        """
        if _is_many(audio_or_paths):
            return [self._one(x) for x in audio_or_paths]
        return self._one(audio_or_paths)

    def predict(self, audio_or_paths: Any) -> str | list[str]:
        """The most probable genre of a file, a 22050 Hz mono signal, or each of a list."""
        probs = self.predict_proba(audio_or_paths)
        if isinstance(probs, list):
            return [max(p, key=p.__getitem__) for p in probs]
        return max(probs, key=probs.__getitem__)


def _is_many(x: Any) -> bool:
    if isinstance(x, (str, bytes, os.PathLike)):
        return False
    if type(x).__name__ == "ndarray":  # one signal
        return False
    return isinstance(x, Iterable)
