"""The capstone's image route, reproducible: log-mel spectrograms as coloured images, then
pixels or HOG descriptors -> PCA -> a classic classifier.

The capstone drew each mel spectrogram with ``librosa.display.specshow`` (a colour map over
the dB values, low frequencies at the bottom), saved the figures, cropped their white borders
and read the pixels back. :class:`MelImage` renders the same picture without a figure: each
patch is scaled to [0, 1] by its own minimum and maximum (what ``imshow``/``specshow`` do by
default), flipped so that row 0 is the highest band, looked up in a 256-entry matplotlib colour
map and optionally block-averaged (``downsample``). The result is the cropped figure at one
pixel per mel bin and frame, so it depends on no screen resolution or DPI.
:class:`HOGFeatures` computes scikit-image's histogram of oriented gradients on those images
(the capstone's 9x9 and 12x12 pixel cells).

Both are scikit-learn transformers on the "mel" input (flattened log-mel patches,
``[n, n_mels * frames]``), and the zoo names below chain them with PCA and a classifier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from genrekit.constants import N_MELS
from genrekit.exceptions import ParameterError

__all__ = ["render_images", "MelImage", "HOGFeatures", "SPECS"]

#: Share of the variance PCA keeps in the image pipelines. The capstone kept 0.99999999 (all
#: but numerically null components, 783 of 800 training rows); 0.99 keeps the models the same
#: in kind while dropping the noise floor, and is much cheaper on the full GTZAN.
_PCA_VARIANCE = 0.99


def render_images(
    X: np.ndarray, *, n_mels: int = N_MELS, cmap: str = "magma", downsample: int = 1
) -> np.ndarray:
    """Render flattened log-mel patches as RGB images, as ``specshow`` draws them.

    Parameters
    ----------
    X : np.ndarray [shape=(n, n_mels * frames)]
        Flattened log-mel patches (any units; each is scaled by its own range).
    n_mels : int
        Mel bands per patch.
    cmap : str
        A matplotlib colour map name (librosa's default for dB spectrograms is ``"magma"``).
    downsample : int
        Block-average ``downsample x downsample`` pixels (trailing rows/columns that do not
        fill a block are cropped).

    Returns
    -------
    np.ndarray [shape=(n, n_mels // downsample, frames // downsample, 3), dtype=float32]
        RGB in [0, 1]; row 0 is the highest mel band.

    Examples
    --------
    >>> img = render_images(np.linspace(-80, 0, 2 * 8 * 6).reshape(2, 48), n_mels=8)
    >>> img.shape
    (2, 8, 6, 3)
    """
    import matplotlib

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] % n_mels:
        raise ParameterError(
            f"render_images: expected rows of n_mels={n_mels} bands times frames, got shape {X.shape}"
        )
    if downsample < 1:
        raise ParameterError(f"render_images: downsample must be >= 1, got {downsample!r}")
    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ParameterError(f"render_images: unknown matplotlib colour map {cmap!r}") from None
    patches = X.reshape(len(X), n_mels, -1)[:, ::-1, :]
    lo = patches.min(axis=(1, 2), keepdims=True)
    span = patches.max(axis=(1, 2), keepdims=True) - lo
    norm = np.divide(patches - lo, span, out=np.zeros_like(patches), where=span > 0)
    # matplotlib's own lookup: index floor(x * N), with x == 1 going to the last entry
    lut = colormap(np.arange(colormap.N))[:, :3].astype(np.float32)
    images = lut[np.minimum((norm * colormap.N).astype(np.intp), colormap.N - 1)]
    if downsample > 1:
        n, h, w, c = images.shape
        h2, w2 = h // downsample, w // downsample
        if h2 == 0 or w2 == 0:
            raise ParameterError(
                f"render_images: downsample={downsample} is larger than a {h}x{w} image"
            )
        images = (
            images[:, : h2 * downsample, : w2 * downsample]
            .reshape(n, h2, downsample, w2, downsample, c)
            .mean(axis=(2, 4), dtype=np.float32)
        )
    return np.ascontiguousarray(images, dtype=np.float32)


class _MelRender(TransformerMixin, BaseEstimator):
    """Shared fit/validation of the mel-image transformers."""

    n_mels: int
    cmap: str
    downsample: int

    def _validate_params(self) -> None:
        if isinstance(self.n_mels, bool) or not isinstance(self.n_mels, (int, np.integer)) or self.n_mels < 1:
            raise ParameterError(f"{type(self).__name__}: n_mels must be a positive integer, got {self.n_mels!r}")
        if isinstance(self.downsample, bool) or not isinstance(self.downsample, (int, np.integer)) or self.downsample < 1:
            raise ParameterError(
                f"{type(self).__name__}: downsample must be a positive integer, got {self.downsample!r}"
            )

    def fit(self, X: Any, y: Any = None) -> Any:
        """Check the input shape; nothing is learned.

        Parameters
        ----------
        X : array-like [shape=(n, n_mels * frames)]
        y : ignored
        """
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if X.shape[1] % self.n_mels:
            raise ParameterError(
                f"{type(self).__name__}: each row must hold n_mels={self.n_mels} bands times a "
                f"number of frames, got {X.shape[1]} columns"
            )
        self.n_frames_ = X.shape[1] // self.n_mels
        return self

    def _images(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_frames_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return render_images(X, n_mels=self.n_mels, cmap=self.cmap, downsample=self.downsample)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float32"]  # images are always float32
        return tags


class MelImage(_MelRender):
    """Log-mel patches -> flattened RGB pixels of their spectrogram image.

    Parameters
    ----------
    n_mels : int
        Mel bands per patch.
    cmap : str
        Matplotlib colour map.
    downsample : int
        Block-average factor (2 turns a 128x130 patch into a 64x65 image).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(3, 8 * 10))
    >>> MelImage(n_mels=8).fit_transform(X).shape
    (3, 240)
    """

    def __init__(self, *, n_mels: int = N_MELS, cmap: str = "magma", downsample: int = 2) -> None:
        self.n_mels = n_mels
        self.cmap = cmap
        self.downsample = downsample

    def transform(self, X: Any) -> np.ndarray:
        """``[n, n_mels * frames]`` -> ``[n, height * width * 3]`` float32 pixels in [0, 1]."""
        images = self._images(X)
        return images.reshape(len(images), -1)


class HOGFeatures(_MelRender):
    """Log-mel patches -> HOG descriptors of their spectrogram image (scikit-image).

    Parameters
    ----------
    n_mels : int
        Mel bands per patch.
    pixels_per_cell : int
        Side of the square HOG cell (the capstone used 9 and 12).
    cells_per_block : int
        Side of the normalisation block, in cells.
    orientations : int
        Gradient orientation bins.
    cmap : str
        Matplotlib colour map of the rendered image.
    downsample : int
        Block-average factor applied before HOG.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(2, 32 * 40))
    >>> HOGFeatures(n_mels=32, pixels_per_cell=8).fit_transform(X).shape
    (2, 432)
    """

    def __init__(
        self,
        *,
        n_mels: int = N_MELS,
        pixels_per_cell: int = 9,
        cells_per_block: int = 2,
        orientations: int = 9,
        cmap: str = "magma",
        downsample: int = 1,
    ) -> None:
        self.n_mels = n_mels
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.orientations = orientations
        self.cmap = cmap
        self.downsample = downsample

    def transform(self, X: Any) -> np.ndarray:
        """``[n, n_mels * frames]`` -> ``[n, n_hog]`` float32 HOG descriptors."""
        from skimage.feature import hog

        images = self._images(X)
        _, h, w, _ = images.shape
        cells = (h // self.pixels_per_cell, w // self.pixels_per_cell)
        if min(cells) < self.cells_per_block:
            raise ParameterError(
                f"HOGFeatures: a {h}x{w} image holds {cells[0]}x{cells[1]} cells of "
                f"{self.pixels_per_cell} pixels, fewer than one block of {self.cells_per_block}"
            )
        out = [
            hog(
                img,
                orientations=self.orientations,
                pixels_per_cell=(self.pixels_per_cell, self.pixels_per_cell),
                cells_per_block=(self.cells_per_block, self.cells_per_block),
                channel_axis=-1,
                feature_vector=True,
            )
            for img in images
        ]
        return np.asarray(out, dtype=np.float32).reshape(len(images), -1)


# --------------------------------------------------------------------------- the zoo


def _head(kind: str, seed: int, n_jobs: int) -> list[tuple[str, Any]]:
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    pca = ("pca", PCA(n_components=_PCA_VARIANCE, random_state=seed))
    if kind == "logreg":
        return [pca, ("scale", StandardScaler()), ("model", LogisticRegression(max_iter=2000, C=0.1))]
    if kind == "tree":
        from sklearn.tree import DecisionTreeClassifier

        return [pca, ("model", DecisionTreeClassifier(random_state=seed))]
    if kind == "forest":
        from sklearn.ensemble import RandomForestClassifier

        return [pca, ("model", RandomForestClassifier(n_estimators=500, n_jobs=n_jobs, random_state=seed))]
    if kind == "svm":
        from sklearn.svm import SVC

        # no scaling after PCA: standardizing would blow the noise components up to the
        # weight of the leading ones (measured: 0.18 segment accuracy instead of 0.4x)
        return [pca, ("model", SVC(C=10.0, probability=True, random_state=seed))]
    if kind == "lightgbm":
        from lightgbm import LGBMClassifier

        return [pca, ("model", LGBMClassifier(
            n_estimators=300, learning_rate=0.05, num_leaves=15, subsample=0.8, subsample_freq=1,
            colsample_bytree=0.5, random_state=seed, n_jobs=n_jobs, verbose=-1,
        ))]
    raise ParameterError(f"image model head: unknown kind {kind!r}")  # pragma: no cover


def _image_pipeline(kind: str) -> Any:
    def factory(*, seed: int = 1, n_jobs: int = 1) -> Any:
        from sklearn.pipeline import Pipeline

        return Pipeline([("image", MelImage()), *_head(kind, seed, n_jobs)])

    return factory


def _hog_pipeline(cell: int, kind: str) -> Any:
    def factory(*, seed: int = 1, n_jobs: int = 1) -> Any:
        from sklearn.pipeline import Pipeline

        return Pipeline([("hog", HOGFeatures(pixels_per_cell=cell)), *_head(kind, seed, n_jobs)])

    return factory


_DESCRIPTIONS = {
    "logreg": "standardized logistic regression (C=0.1)",
    "tree": "decision tree",
    "forest": "random forest (500 trees)",
    "svm": "RBF SVM (C=10, unscaled components)",
    "lightgbm": "LightGBM (300 trees)",
}


def _specs() -> list[Any]:
    from genrekit.models import ModelSpec

    specs = [
        ModelSpec(
            name=f"img_pca_{kind}",
            description=f"capstone image route: magma spectrogram pixels (64x65 RGB) -> "
            f"PCA {_PCA_VARIANCE} -> {_DESCRIPTIONS[kind]}",
            input="mel",
            factory=_image_pipeline(kind),
            tags=("capstone", "image"),
        )
        for kind in ("logreg", "tree", "forest", "svm")
    ]
    for cell in (9, 12):
        for kind in ("logreg", "lightgbm"):
            specs.append(
                ModelSpec(
                    name=f"hog{cell}_pca_{kind}",
                    description=f"capstone HOG route: HOG of the spectrogram image "
                    f"({cell}x{cell} cells) -> PCA {_PCA_VARIANCE} -> {_DESCRIPTIONS[kind]}",
                    input="mel",
                    factory=_hog_pipeline(cell, kind),
                    needs_extra="image",
                    tags=("capstone", "image"),
                )
            )
    return specs


#: The zoo entries this module contributes (read by :func:`genrekit.models.model_specs`).
SPECS = _specs()
