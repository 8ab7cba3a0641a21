"""The model registry: every name ``genrekit models`` lists, and how to build it.

A :class:`ModelSpec` names a model, says what input it takes and builds an *unfitted*
scikit-learn estimator (a ``Pipeline``, or a ``GridSearchCV`` over one). The classic zoo on
the 57 Kaggle features lives in :mod:`genrekit.models.zoo`; spectrogram models (CNN, image
features, fusion) live in ``models/cnn.py``, ``models/image.py`` and ``models/fusion.py``,
each exposing ``SPECS: list[ModelSpec]``. Those are imported lazily and skipped when the
module or its optional dependency is missing, so listing the zoo never loads torch.

Inputs
------
``"features"``
    ``X`` is the 57 feature columns, float64 ``[n_rows, 57]``.
``"mel"``
    ``X`` is flattened 3 s log-mel patches, float32 ``[n_rows, 128 * frames]``, from
    ``extract --mel``'s ``mel_3_sec.npz``, aligned with the 3 s table's rows.
``"features+mel"``
    ``np.hstack([features, mel])``: the 57 features first, then the flattened patch.

Examples
--------
>>> from genrekit.models import available_models, get_model
>>> "logreg" in available_models()
True
>>> est = get_model("logreg").build(seed=1)  # an unfitted Pipeline
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genrekit.exceptions import DependencyError, ParameterError

__all__ = [
    "INPUT_KINDS",
    "ModelSpec",
    "model_specs",
    "available_models",
    "get_model",
    "resolve_models",
]

#: What a model's ``X`` is (see the module docstring).
INPUT_KINDS = ("features", "mel", "features+mel")

# Modules that contribute SPECS, in listing order. Missing ones are skipped.
_SPEC_MODULES = (
    "genrekit.models.zoo",
    "genrekit.models.cnn",
    "genrekit.models.image",
    "genrekit.models.fusion",
)


@dataclass(frozen=True)
class ModelSpec:
    """How to build one named model.

    Attributes
    ----------
    name : str
        The name users type (``logreg``, ``lightgbm_grid``, ...).
    description : str
        One line for ``genrekit models``.
    input : str
        ``"features"``, ``"mel"`` or ``"features+mel"`` (:data:`INPUT_KINDS`).
    factory : callable
        ``factory(seed=int, n_jobs=int) -> estimator``: an unfitted scikit-learn estimator
        or ``GridSearchCV`` with ``predict_proba``. A ``GridSearchCV`` gets its ``cv``
        from the protocol when fitted (see :meth:`build`).
    needs_extra : str or None
        The optional dependency group (``"cnn"``, ``"image"``) the model needs.
    heavy : bool
        True for the expensive grids (``models = "quick"`` leaves them out).
    tags : tuple of str
        Free-form tags (``"capstone"``, ``"grid"``, ``"ensemble"``).
    """

    name: str
    description: str
    input: str
    factory: Callable[..., Any] = field(repr=False)
    needs_extra: str | None = None
    heavy: bool = False
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.input not in INPUT_KINDS:
            raise ParameterError(
                f"model {self.name}: input must be one of {', '.join(INPUT_KINDS)}, "
                f"got {self.input!r}"
            )

    def build(self, *, seed: int = 1, n_jobs: int = 1, cv: Any = None) -> Any:
        """An unfitted estimator; a grid search gets ``cv`` (the protocol's splitter).

        Raises
        ------
        DependencyError
            The model's optional dependency is not installed.
        """
        est = self.factory(seed=seed, n_jobs=n_jobs)
        if cv is not None and hasattr(est, "param_grid") and hasattr(est, "cv"):
            est.set_params(cv=cv)
        return est


def model_specs() -> dict[str, ModelSpec]:
    """Every available model spec by name, in listing order.

    Spectrogram models whose module or optional dependency is missing are left out.
    """
    specs: dict[str, ModelSpec] = {}
    for module_name in _SPEC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only the optional spectrogram modules (not written yet, or their extra not
            # installed) may be absent; a missing genrekit module inside them is a bug.
            missing = exc.name or ""
            if module_name == "genrekit.models.zoo" or (
                missing.startswith("genrekit") and missing != module_name
            ):
                raise
            continue
        except DependencyError:
            continue
        for spec in getattr(module, "SPECS", ()):
            specs.setdefault(spec.name, spec)
    return specs


def available_models() -> dict[str, str]:
    """Model names and one-line descriptions, in listing order (``genrekit models``).

    Examples
    --------
    >>> list(available_models())[:2]
    ['logreg', 'logreg_none']
    """
    out = {}
    for name, spec in model_specs().items():
        desc = spec.description
        if spec.input != "features":
            desc = f"{desc} [input: {spec.input}]"
        out[name] = desc
    return out


def get_model(name: str) -> ModelSpec:
    """The spec of one model name.

    Raises
    ------
    ParameterError
        Unknown name (the message lists the known ones).
    """
    specs = model_specs()
    if name not in specs:
        raise ParameterError(
            f"model: unknown name {name!r}; expected one of {', '.join(specs)} "
            "(see `genrekit models`)"
        )
    return specs[name]


def resolve_models(models: str | list[str] | tuple[str, ...]) -> list[ModelSpec]:
    """Turn a config's ``models`` value into specs.

    Parameters
    ----------
    models : str or list of str
        ``"all"`` (every model), ``"quick"`` (all but the heavy grids), one name, or a list
        of names.

    Raises
    ------
    ParameterError
        An unknown name, a repeated name or an empty list.
    """
    specs = model_specs()
    if isinstance(models, str):
        if models == "all":
            return list(specs.values())
        if models == "quick":
            return [s for s in specs.values() if not s.heavy]
        models = [models]
    names = list(models)
    if not names:
        raise ParameterError("models: expected \"all\", \"quick\" or a non-empty list of names")
    seen: set[str] = set()
    out = []
    for name in names:
        if not isinstance(name, str):
            raise ParameterError(f"models: expected model names, got {name!r}")
        if name in seen:
            raise ParameterError(f"models: {name!r} is listed twice")
        seen.add(name)
        out.append(get_model(name))
    return out
