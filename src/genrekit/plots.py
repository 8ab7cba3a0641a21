"""Figures a practitioner draws by hand: data, models and their mistakes.

Every function takes its data as arrays, DataFrames or dicts (nothing here reads a file),
draws into ``ax`` (a new figure when ``ax`` is None) and returns the :class:`matplotlib.axes.Axes`
it drew on. Nothing calls ``plt.show()``; figures are made with :class:`matplotlib.figure.Figure`
directly, so no GUI backend is touched and nothing is registered with pyplot.

Examples
--------
>>> import numpy as np
>>> from genrekit.plots import plot_confusion
>>> ax = plot_confusion(np.array([[5, 1], [2, 7]]), ["blues", "rock"])
>>> ax.figure.savefig("confusion.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from genrekit.exceptions import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "DEFAULT_PAIRS",
    "PLANE_FEATURES",
    "new_axes",
    "genre_colors",
    "plot_class_balance",
    "plot_duplicates",
    "plot_feature_pair",
    "plot_correlation",
    "plot_pca_projection",
    "plot_kmeans_elbow",
    "plot_accuracy",
    "plot_confusion",
    "plot_class_report",
    "plot_roc",
    "plot_precision_recall",
    "plot_importance",
    "plot_validation_curve",
    "plot_prediction_plane",
    "plot_explained_variance",
]

#: The capstone's feature pairs for its scatter plots.
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (
    ("spectral_centroid_mean", "rolloff_mean"),
    ("mfcc1_mean", "mfcc2_mean"),
    ("chroma_stft_mean", "rms_mean"),
)
#: The capstone's plane of correct versus wrong predictions (x, y).
PLANE_FEATURES: tuple[str, str] = ("spectral_centroid_mean", "mfcc1_mean")

_CORRECT = "#2b83ba"
_WRONG = "#d7191c"
_LEAKY_HATCH = "//"


def new_axes(figsize: tuple[float, float] = (7.0, 4.5)) -> Axes:
    """A fresh Axes on its own Agg-backed figure (no pyplot state, no GUI).

    Parameters
    ----------
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _axes(ax: Axes | None, figsize: tuple[float, float] = (7.0, 4.5)) -> Axes:
    return new_axes(figsize) if ax is None else ax


def genre_colors(labels: Sequence[str]) -> dict[str, Any]:
    """A stable colour per label (tab10 for up to ten labels, tab20 beyond).

    Parameters
    ----------
    labels : sequence of str
        The class labels, in display order.

    Returns
    -------
    colors : dict
        ``{label: RGBA tuple}``.
    """
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


def _ordered_labels(values: Sequence[str] | np.ndarray, labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        return list(labels)
    return sorted({str(v) for v in values})


# --------------------------------------------------------------------------- data


def plot_class_balance(
    labels: npt.ArrayLike,
    *,
    order: Sequence[str] | None = None,
    unit: str = "rows",
    ax: Axes | None = None,
) -> Axes:
    """Bar chart of how many rows (or tracks) each class has.

    Parameters
    ----------
    labels : array-like of str [shape=(n,)]
        One label per row.
    order : sequence of str, optional
        Classes in display order (default: sorted); classes absent from ``labels`` get 0.
    unit : str
        What a row is, for the axis label ("rows", "tracks", "segments").
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        One bar per class, height = count.
    """
    values = np.asarray(labels).astype(str)
    classes = _ordered_labels(values, order)
    counts = np.array([(values == c).sum() for c in classes])
    ax = _axes(ax)
    colors = genre_colors(classes)
    bars = ax.bar(classes, counts, color=[colors[c] for c in classes])
    ax.bar_label(bars, fontsize=8)
    if len(counts):
        ax.axhline(counts.mean(), color="0.3", lw=1, ls="--", label=f"mean {counts.mean():.1f}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_ylabel(f"number of {unit}")
    ax.set_title(f"Class balance ({values.size} {unit})")
    ax.tick_params(axis="x", rotation=45)
    return ax


def plot_duplicates(
    pairs: Sequence[Sequence[str]],
    *,
    label_of: Mapping[str, str] | None = None,
    n_rows: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Exact duplicate feature rows, counted per pair of genres.

    Parameters
    ----------
    pairs : sequence of (str, str)
        Filenames of rows whose features are identical (as in ``duplicates.json``).
    label_of : mapping str -> str, optional
        Genre of each filename; by default the part before the first dot
        (``"metal.00058.3.wav"`` -> ``"metal"``, GTZAN naming).
    n_rows : int, optional
        Rows examined, for the title.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        One horizontal bar per genre pair (``"blues"`` within a genre, ``"metal / rock"``
        across genres, drawn in red); an explanatory text when there are none.
    """
    ax = _axes(ax)
    counts: dict[str, int] = {}
    cross: set[str] = set()
    for pair in pairs:
        if len(pair) != 2:
            raise ParameterError(f"duplicate pairs: expected pairs of 2 filenames, got {pair!r}")
        genres = sorted(
            (label_of or {}).get(str(f), str(f).split(".", 1)[0].split("/")[-1]) for f in pair
        )
        key = genres[0] if genres[0] == genres[1] else f"{genres[0]} / {genres[1]}"
        if genres[0] != genres[1]:
            cross.add(key)
        counts[key] = counts.get(key, 0) + 1
    total = f" of {n_rows} rows" if n_rows is not None else ""
    if not counts:
        ax.text(0.5, 0.5, f"No exact duplicate feature rows{total}.", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    keys = sorted(counts, key=lambda k: (-counts[k], k))[::-1]
    colors = [_WRONG if k in cross else "0.45" for k in keys]
    bars = ax.barh(keys, [counts[k] for k in keys], color=colors)
    ax.bar_label(bars, fontsize=8, padding=2)
    ax.set_xlabel("duplicate pairs (identical on every feature)")
    ax.set_title(f"{len(pairs)} duplicate pairs{total}; {len(cross)} genre pair(s) across genres (red)")
    return ax


def plot_feature_pair(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    label: str = "label",
    order: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Scatter of two features, one colour per genre.

    Parameters
    ----------
    data : pandas.DataFrame [shape=(n, ...)]
        Must hold the columns ``x``, ``y`` and ``label``.
    x, y : str
        Feature columns.
    label : str
        Class column.
    order : sequence of str, optional
        Classes in legend order.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        One PathCollection per class, in ``order``.
    """
    for col in (x, y, label):
        if col not in data.columns:
            raise ParameterError(f"feature pair plot: expected a column {col!r}, got {list(data.columns)[:8]}...")
    ax = _axes(ax, (5.5, 4.5))
    labels = data[label].astype(str).to_numpy()
    classes = _ordered_labels(labels, order)
    colors = genre_colors(classes)
    for c in classes:
        m = labels == c
        ax.scatter(data[x].to_numpy()[m], data[y].to_numpy()[m], s=6, alpha=0.6,
                   color=colors[c], label=c, linewidths=0)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{y} vs {x}")
    ax.legend(fontsize=7, markerscale=2, ncols=2, loc="best", framealpha=0.8)
    return ax


def plot_correlation(data: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Pearson correlation heatmap of the feature columns.

    Parameters
    ----------
    data : pandas.DataFrame [shape=(n, d)]
        Numeric feature columns only.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds one image, the ``(d, d)`` correlation matrix, colour scale -1..1.
    """
    corr = data.corr(numeric_only=True)
    ax = _axes(ax, (10.0, 9.0))
    image = ax.imshow(corr.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    names = list(corr.columns)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(names)), names, fontsize=6)
    ax.figure.colorbar(image, ax=ax, shrink=0.7, label="Pearson correlation")
    ax.set_title(f"Feature correlation ({len(names)} features, {len(data)} rows)")
    return ax


def plot_pca_projection(
    coords: np.ndarray,
    labels: npt.ArrayLike,
    *,
    explained: npt.ArrayLike | None = None,
    order: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Rows projected on their first two principal components, coloured by genre.

    Parameters
    ----------
    coords : np.ndarray [shape=(n, 2)]
        The projection (see :func:`genrekit.diagnostics.project_pca`).
    labels : array-like of str [shape=(n,)]
    explained : (float, float), optional
        Explained-variance ratio of the two components, for the axis labels.
    order : sequence of str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ParameterError(f"PCA projection: expected coords of shape (n, 2), got {coords.shape}")
    values = np.asarray(labels).astype(str)
    ax = _axes(ax, (6.0, 5.0))
    classes = _ordered_labels(values, order)
    colors = genre_colors(classes)
    for c in classes:
        m = values == c
        ax.scatter(coords[m, 0], coords[m, 1], s=6, alpha=0.6, color=colors[c], label=c,
                   linewidths=0)
    ev = list(np.asarray(explained, dtype=float)) if explained is not None else None
    ax.set_xlabel("PC1" + (f" ({ev[0]:.1%} of variance)" if ev else ""))
    ax.set_ylabel("PC2" + (f" ({ev[1]:.1%} of variance)" if ev else ""))
    ax.set_title("2-D PCA projection of the standardized features")
    ax.legend(fontsize=7, markerscale=2, ncols=2, framealpha=0.8)
    return ax


def plot_kmeans_elbow(
    ks: Sequence[int],
    inertia: Sequence[float],
    silhouette: Sequence[float | None] | None = None,
    *,
    mark: int | None = 10,
    ax: Axes | None = None,
) -> Axes:
    """k-means inertia (left axis) and silhouette (right axis) versus the number of clusters.

    Parameters
    ----------
    ks : sequence of int [shape=(m,)]
    inertia : sequence of float [shape=(m,)]
    silhouette : sequence of float or None [shape=(m,)], optional
        None (or NaN) where undefined (k = 1).
    mark : int, optional
        A k to mark with a vertical line (the number of genres).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        The inertia axes; the silhouette line is on its twin (``ax.right_ax``).
    """
    ks_a = np.asarray(ks, dtype=float)
    inertia_a = np.asarray(inertia, dtype=float)
    if ks_a.shape != inertia_a.shape:
        raise ParameterError(f"k-means elbow: ks and inertia differ in length: {ks_a.shape} vs {inertia_a.shape}")
    ax = _axes(ax)
    ax.plot(ks_a, inertia_a, "o-", color="#1f77b4", ms=3, label="inertia")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("inertia (within-cluster sum of squares)", color="#1f77b4")
    handles = ax.get_lines()[:]
    if silhouette is not None:
        sil = np.array([np.nan if s is None else s for s in silhouette], dtype=float)
        right = ax.twinx()
        handles += right.plot(ks_a, sil, "s-", color="#ff7f0e", ms=3, label="silhouette")
        right.set_ylabel("silhouette score", color="#ff7f0e")
        ax.right_ax = right  # type: ignore[attr-defined]
    if mark is not None:
        handles.append(ax.axvline(mark, color="0.3", ls="--", lw=1, label=f"k = {mark}"))
    ax.legend(handles=handles, fontsize=8, loc="upper center")
    ax.set_title("k-means elbow")
    return ax


# --------------------------------------------------------------------------- models


def plot_accuracy(
    scores: pd.DataFrame,
    *,
    errors: pd.DataFrame | None = None,
    chance: float | None = None,
    leaky: Sequence[str] = (),
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars of accuracy: one group per model, one bar per column of ``scores``.

    Parameters
    ----------
    scores : pandas.DataFrame [shape=(n_models, n_series)]
        Accuracies in [0, 1]; index = model names, columns = what was measured
        (e.g. ``"seed (leaky): test"``, ``"track-cv: CV track"``); NaN bars are left out.
    errors : pandas.DataFrame, optional
        Same shape: error-bar half-lengths (e.g. CV standard deviation).
    chance : float, optional
        The chance baseline (most frequent class), drawn as a horizontal line.
    leaky : sequence of str
        Columns measured under a leaky protocol: hatched, and marked in the legend.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        ``ax.containers`` holds one BarContainer per column, bars in ``scores.index`` order.
    """
    if scores.empty:
        raise ParameterError("accuracy plot: expected at least one model and one score, got none")
    n_models, n_series = scores.shape
    ax = _axes(ax, (max(7.0, 0.9 * n_models * max(1, n_series) ** 0.5 + 3), 4.8))
    width = 0.8 / n_series
    x = np.arange(n_models)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for j, col in enumerate(scores.columns):
        values = scores[col].to_numpy(dtype=float)
        err = None if errors is None or col not in errors else errors[col].to_numpy(dtype=float)
        is_leaky = col in leaky
        bars = ax.bar(x - 0.4 + width * (j + 0.5), np.nan_to_num(values, nan=0.0), width,
                      yerr=None if err is None else np.nan_to_num(err, nan=0.0),
                      color=cmap(j % 10), alpha=0.55 if is_leaky else 0.95,
                      hatch=_LEAKY_HATCH if is_leaky else None, edgecolor="0.2", linewidth=0.5,
                      label=f"{col}  (leaky)" if is_leaky and "leaky" not in col else str(col),
                      capsize=2)
        for bar, v in zip(bars, values, strict=True):
            if np.isnan(v):
                bar.set_visible(False)
        # value above the bar and its error bar, so the two never overlap
        tops = values + (0.0 if err is None else np.nan_to_num(err, nan=0.0))
        for bar, v, top in zip(bars, values, tops, strict=True):
            if not np.isnan(v):
                ax.text(bar.get_x() + bar.get_width() / 2, top + 0.01, f"{v:.2f}", rotation=90,
                        ha="center", va="bottom", fontsize=7)
    if chance is not None:
        ax.axhline(chance, color="black", ls="--", lw=1, label=f"chance baseline {chance:.2f}")
    ax.set_xticks(x, [str(i) for i in scores.index], rotation=30, ha="right")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy per model")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def plot_confusion(
    cm: np.ndarray,
    labels: Sequence[str],
    *,
    normalize: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Confusion matrix, true genre in rows, predicted in columns.

    Parameters
    ----------
    cm : np.ndarray [shape=(k, k)]
        Counts (``sklearn.metrics.confusion_matrix`` layout).
    labels : sequence of str [shape=(k,)]
    normalize : bool
        Show each row divided by its total (recall on the diagonal).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds one image of the plotted matrix (counts or row fractions).
    """
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(labels):
        raise ParameterError(
            f"confusion matrix: expected a square ({len(labels)}, {len(labels)}) matrix, got {cm.shape}"
        )
    ax = _axes(ax, (6.5, 5.5))
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        shown = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
        vmax = 1.0
    else:
        shown = cm
        vmax = max(float(cm.max()), 1.0)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            v = shown[i, j]
            text = f"{v:.2f}" if normalize else f"{int(round(v))}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * vmax else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    ax.figure.colorbar(image, ax=ax, shrink=0.8,
                       label="fraction of the true genre" if normalize else "count")
    ax.set_title("Confusion matrix" + (" (row-normalised)" if normalize else " (counts)"))
    return ax


def plot_class_report(report: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Per-class precision, recall and F1 as an annotated table-heatmap.

    Parameters
    ----------
    report : pandas.DataFrame [shape=(k, >=3)]
        Index = classes; columns ``precision``, ``recall``, ``f1`` (and optionally
        ``support``, shown as text).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds one image of the ``(k, 3)`` score matrix.
    """
    cols = ["precision", "recall", "f1"]
    missing = [c for c in cols if c not in report.columns]
    if missing:
        raise ParameterError(f"class report: expected columns {cols}, missing {missing}")
    values = report[cols].to_numpy(dtype=float)
    ax = _axes(ax, (5.0, 0.35 * len(report) + 1.6))
    ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8)
    xt = cols + (["support"] if "support" in report.columns else [])
    if "support" in report.columns:
        for i, s in enumerate(report["support"].to_numpy()):
            ax.text(3, i, f"{int(s)}", ha="center", va="center", fontsize=8)
        ax.set_xlim(-0.5, 3.5)
    ax.set_xticks(range(len(xt)), xt)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(report)), [str(i) for i in report.index])
    ax.set_title("Per-class precision, recall and F1")
    return ax


def _one_vs_rest_check(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> None:
    if proba.ndim != 2 or proba.shape != (len(y_true), len(labels)):
        raise ParameterError(
            f"one-vs-rest curves: expected probabilities of shape ({len(y_true)}, {len(labels)}), "
            f"got {proba.shape}"
        )


def plot_roc(
    y_true: npt.ArrayLike,
    proba: np.ndarray,
    labels: Sequence[str],
    *,
    ax: Axes | None = None,
) -> Axes:
    """One-vs-rest ROC curve per class, with its area under the curve in the legend.

    Parameters
    ----------
    y_true : array-like of str [shape=(n,)]
    proba : np.ndarray [shape=(n, k)]
        Class probabilities, columns in ``labels`` order.
    labels : sequence of str [shape=(k,)]
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        One line per class that occurs in ``y_true`` (label ``"<genre> (AUC 0.93)"``).
    """
    from sklearn.metrics import auc, roc_curve

    y = np.asarray(y_true).astype(str)
    proba = np.asarray(proba, dtype=float)
    _one_vs_rest_check(y, proba, labels)
    ax = _axes(ax, (6.0, 5.0))
    colors = genre_colors(list(labels))
    aucs = []
    for k, c in enumerate(labels):
        pos = y == c
        if pos.all() or not pos.any():
            continue
        fpr, tpr, _ = roc_curve(pos, proba[:, k])
        area = auc(fpr, tpr)
        aucs.append(area)
        ax.plot(fpr, tpr, color=colors[c], lw=1.3, label=f"{c} (AUC {area:.2f})")
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    mean = f", macro AUC {np.mean(aucs):.2f}" if aucs else ""
    ax.set_title(f"One-vs-rest ROC{mean}")
    ax.legend(fontsize=7, loc="lower right")
    return ax


def plot_precision_recall(
    y_true: npt.ArrayLike,
    proba: np.ndarray,
    labels: Sequence[str],
    *,
    ax: Axes | None = None,
) -> Axes:
    """One-vs-rest precision-recall curve per class, average precision in the legend.

    Parameters
    ----------
    y_true : array-like of str [shape=(n,)]
    proba : np.ndarray [shape=(n, k)]
        Class probabilities, columns in ``labels`` order.
    labels : sequence of str [shape=(k,)]
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        One line per class that occurs in ``y_true`` (label ``"<genre> (AP 0.81)"``).
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y = np.asarray(y_true).astype(str)
    proba = np.asarray(proba, dtype=float)
    _one_vs_rest_check(y, proba, labels)
    ax = _axes(ax, (6.0, 5.0))
    colors = genre_colors(list(labels))
    aps = []
    for k, c in enumerate(labels):
        pos = y == c
        if pos.all() or not pos.any():
            continue
        precision, recall, _ = precision_recall_curve(pos, proba[:, k])
        ap = average_precision_score(pos, proba[:, k])
        aps.append(ap)
        ax.plot(recall, precision, color=colors[c], lw=1.3, drawstyle="steps-post",
                label=f"{c} (AP {ap:.2f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    mean = f", mean AP {np.mean(aps):.2f}" if aps else ""
    ax.set_title(f"One-vs-rest precision-recall{mean}")
    ax.legend(fontsize=7, loc="lower left")
    return ax


def plot_importance(
    values: Mapping[str, float],
    *,
    errors: Mapping[str, float] | None = None,
    top: int | None = 20,
    xlabel: str = "importance",
    title: str = "Feature importance",
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars of per-feature values, largest at the top.

    Parameters
    ----------
    values : mapping str -> float
        A value per feature (gain, accuracy drop, mean |coefficient|).
    errors : mapping str -> float, optional
        Error-bar half-lengths (e.g. standard deviation over permutation repeats).
    top : int, optional
        Show only the ``top`` largest (None: all).
    xlabel, title : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        One BarContainer; bars from bottom to top in increasing value.
    """
    if not values:
        raise ParameterError("importance plot: expected at least one feature value, got none")
    items = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    if top is not None:
        items = items[:top]
    items = items[::-1]
    names = [k for k, _ in items]
    ax = _axes(ax, (6.5, 0.22 * len(items) + 1.4))
    err = None if errors is None else [float(errors.get(k, 0.0)) for k in names]
    ax.barh(names, [v for _, v in items], xerr=err, color="#4c72b0", capsize=2)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


def plot_validation_curve(
    values: Sequence[float],
    cv: Sequence[float],
    *,
    train: Sequence[float] | None = None,
    cv_std: Sequence[float] | None = None,
    param: str = "parameter",
    chance: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Training and cross-validated accuracy versus one hyper-parameter.

    Parameters
    ----------
    values : sequence of float [shape=(m,)]
        The parameter values (e.g. ``max_depth`` 1..20, ``n_neighbors`` 1..30).
    cv : sequence of float [shape=(m,)]
        Mean cross-validated accuracy.
    train : sequence of float [shape=(m,)], optional
        Mean training accuracy.
    cv_std : sequence of float [shape=(m,)], optional
        Standard deviation across folds, drawn as a band.
    param : str
        Parameter name for the x axis.
    chance : float, optional
        Chance baseline line.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        Lines labelled ``"cross-validation"`` (and ``"train"``); the best CV value is marked.
    """
    x = np.asarray(values, dtype=float)
    cv_a = np.asarray(cv, dtype=float)
    if x.shape != cv_a.shape:
        raise ParameterError(f"validation curve: values and cv differ in length: {x.shape} vs {cv_a.shape}")
    ax = _axes(ax, (6.0, 4.2))
    if train is not None:
        ax.plot(x, np.asarray(train, dtype=float), "o-", ms=3, color="#d62728", label="train")
    ax.plot(x, cv_a, "o-", ms=3, color="#1f77b4", label="cross-validation")
    if cv_std is not None:
        s = np.asarray(cv_std, dtype=float)
        ax.fill_between(x, cv_a - s, cv_a + s, color="#1f77b4", alpha=0.15, lw=0)
    best = int(np.nanargmax(cv_a))
    ax.plot([x[best]], [cv_a[best]], "*", ms=12, color="#1f77b4",
            label=f"best CV {cv_a[best]:.3f} at {param} = {x[best]:g}")
    if chance is not None:
        ax.axhline(chance, color="black", ls="--", lw=1, label=f"chance {chance:.2f}")
    ax.set_xlabel(param)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    return ax


def plot_prediction_plane(
    x: np.ndarray,
    y: np.ndarray,
    correct: np.ndarray,
    *,
    xlabel: str = PLANE_FEATURES[0],
    ylabel: str = PLANE_FEATURES[1],
    title: str = "Correct and wrong predictions",
    ax: Axes | None = None,
) -> Axes:
    """Rows on a plane of two features, blue where predicted right, red where wrong.

    Parameters
    ----------
    x, y : np.ndarray [shape=(n,)]
        Feature values (the capstone: ``spectral_centroid_mean`` and ``mfcc1_mean``).
    correct : np.ndarray of bool [shape=(n,)]
    xlabel, ylabel, title : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        Two PathCollections: correct rows (label ``"correct (n)"``), then wrong ones.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    if not (x.shape == y.shape == ok.shape):
        raise ParameterError(f"prediction plane: x, y and correct differ in shape: {x.shape}, {y.shape}, {ok.shape}")
    ax = _axes(ax, (6.0, 4.8))
    ax.scatter(x[ok], y[ok], s=6, alpha=0.45, color=_CORRECT, linewidths=0,
               label=f"correct ({ok.sum()})")
    ax.scatter(x[~ok], y[~ok], s=9, alpha=0.8, color=_WRONG, linewidths=0,
               label=f"wrong ({(~ok).sum()})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, markerscale=2)
    return ax


def plot_explained_variance(ratio: Sequence[float], *, ax: Axes | None = None) -> Axes:
    """Explained variance per principal component (bars) and cumulative (line).

    Parameters
    ----------
    ratio : sequence of float [shape=(m,)]
        ``PCA.explained_variance_ratio_``.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ax : matplotlib.axes.Axes
        One BarContainer (per component) and a line ``"cumulative"``.
    """
    r = np.asarray(ratio, dtype=float)
    if r.ndim != 1 or r.size == 0:
        raise ParameterError(f"explained variance: expected a non-empty 1-D ratio, got shape {r.shape}")
    ax = _axes(ax, (6.5, 4.2))
    k = np.arange(1, r.size + 1)
    ax.bar(k, r, color="#4c72b0", label="per component")
    ax.plot(k, np.cumsum(r), "o-", ms=3, color="#dd8452", label="cumulative")
    ax.set_xlabel("principal component")
    ax.set_ylabel("fraction of variance explained")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"PCA: {r.size} components explain {r.sum():.1%} of the variance")
    ax.legend(fontsize=8)
    return ax
