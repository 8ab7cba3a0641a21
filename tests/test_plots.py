"""Plot functions: ax=None gives a fresh Axes, a given ax is drawn into, and what is drawn
matches the data passed in (bar heights, matrix cells, curve points, legend AUCs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba

from genrekit import plots
from genrekit.exceptions import ParameterError

GENRES = ["blues", "jazz", "rock"]


def _frame(rng: np.random.Generator, n: int = 60) -> pd.DataFrame:
    labels = np.array(GENRES)[rng.integers(0, 3, n)]
    base = {g: i for i, g in enumerate(GENRES)}
    shift = np.array([base[g] for g in labels], dtype=float)
    return pd.DataFrame({
        "spectral_centroid_mean": 1000 + 500 * shift + rng.normal(0, 50, n),
        "rolloff_mean": 2000 + 900 * shift + rng.normal(0, 80, n),
        "mfcc1_mean": -300 + 60 * shift + rng.normal(0, 10, n),
        "mfcc2_mean": 100 - 20 * shift + rng.normal(0, 5, n),
        "chroma_stft_mean": 0.3 + 0.05 * shift + rng.normal(0, 0.01, n),
        "rms_mean": 0.1 + 0.02 * shift + rng.normal(0, 0.005, n),
        "label": labels,
    })


def test_backend_is_not_interactive() -> None:
    ax = plots.new_axes()
    assert type(ax.figure.canvas).__name__ == "FigureCanvasAgg"
    import matplotlib.pyplot as plt

    assert ax.figure not in map(plt.figure, plt.get_fignums())  # nothing registered with pyplot


def test_class_balance_heights_match_counts(rng: np.random.Generator) -> None:
    labels = np.array(GENRES)[rng.integers(0, 3, 50)]
    ax = plots.plot_class_balance(labels, order=[*GENRES, "pop"])
    assert isinstance(ax, Axes)
    heights = [b.get_height() for b in ax.containers[0]]
    assert heights == [int((labels == g).sum()) for g in GENRES] + [0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [*GENRES, "pop"]


def test_given_axes_are_drawn_into(rng: np.random.Generator) -> None:
    ax = plots.new_axes()
    out = plots.plot_class_balance(["rock", "rock", "jazz"], ax=ax)
    assert out is ax
    out = plots.plot_prediction_plane(np.arange(3.0), np.arange(3.0), np.array([1, 0, 1], bool),
                                      ax=plots.new_axes())
    assert out is not ax


def test_duplicates_counts_pairs_per_genre_and_flags_cross_genre() -> None:
    pairs = [["metal.00058.wav", "rock.00016.wav"], ["jazz.00001.3.wav", "jazz.00002.3.wav"],
             ["jazz.00005.1.wav", "jazz.00006.1.wav"]]
    ax = plots.plot_duplicates(pairs, n_rows=100)
    bars = {t.get_text(): b for t, b in zip(ax.get_yticklabels(), ax.containers[0], strict=True)}
    assert bars["jazz"].get_width() == 2
    assert bars["metal / rock"].get_width() == 1
    assert bars["metal / rock"].get_facecolor() == to_rgba("#d7191c")
    assert "3 duplicate pairs of 100 rows" in ax.get_title()
    empty = plots.plot_duplicates([], n_rows=10)
    assert "No exact duplicate" in empty.texts[0].get_text()
    with pytest.raises(ParameterError, match="pairs of 2 filenames"):
        plots.plot_duplicates([["a.wav"]])


def test_feature_pair_scatter_one_collection_per_genre(rng: np.random.Generator) -> None:
    df = _frame(rng)
    ax = plots.plot_feature_pair(df, "mfcc1_mean", "mfcc2_mean", order=GENRES)
    assert len(ax.collections) == 3
    for coll, g in zip(ax.collections, GENRES, strict=True):
        np.testing.assert_allclose(coll.get_offsets(),
                                   df.loc[df.label == g, ["mfcc1_mean", "mfcc2_mean"]].to_numpy())
    with pytest.raises(ParameterError, match="expected a column 'nope'"):
        plots.plot_feature_pair(df, "nope", "mfcc2_mean")
    assert all(x in df.columns and y in df.columns for x, y in plots.DEFAULT_PAIRS)


def test_correlation_image_is_the_correlation_matrix(rng: np.random.Generator) -> None:
    df = _frame(rng).drop(columns="label")
    ax = plots.plot_correlation(df)
    np.testing.assert_allclose(ax.images[0].get_array(), df.corr().to_numpy())
    assert ax.images[0].get_clim() == (-1, 1)


def test_pca_projection_points_and_axis_labels(rng: np.random.Generator) -> None:
    coords = rng.normal(size=(30, 2))
    labels = np.array(GENRES * 10)
    ax = plots.plot_pca_projection(coords, labels, explained=(0.4, 0.2), order=GENRES)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), coords[labels == "blues"])
    assert "40.0%" in ax.get_xlabel() and "20.0%" in ax.get_ylabel()
    with pytest.raises(ParameterError, match=r"shape \(n, 2\)"):
        plots.plot_pca_projection(np.zeros((3, 3)), ["a", "b", "c"])


def test_kmeans_elbow_lines_and_mark() -> None:
    ks = list(range(1, 6))
    inertia = [50.0, 30.0, 20.0, 15.0, 12.0]
    sil = [None, 0.3, 0.25, 0.2, 0.22]
    ax = plots.plot_kmeans_elbow(ks, inertia, sil, mark=3)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), inertia)
    right = ax.right_ax  # type: ignore[attr-defined]
    y = np.asarray(right.lines[0].get_ydata(), dtype=float)
    assert np.isnan(y[0]) and np.allclose(y[1:], sil[1:])
    assert ax.lines[1].get_xdata()[0] == 3
    with pytest.raises(ParameterError, match="differ in length"):
        plots.plot_kmeans_elbow([1, 2], [1.0])


def test_accuracy_bars_heights_chance_and_leaky_hatch() -> None:
    scores = pd.DataFrame({"seed: test": [0.9, 0.94], "track-cv: CV": [0.55, np.nan]},
                          index=["logreg", "lightgbm"])
    ax = plots.plot_accuracy(scores, chance=0.1, leaky=["seed: test"])
    seed, honest = ax.containers[0], ax.containers[1]
    assert [b.get_height() for b in seed] == pytest.approx([0.9, 0.94])
    assert honest[0].get_height() == pytest.approx(0.55)
    assert not honest[1].get_visible()  # NaN: no bar
    assert sorted(t.get_text() for t in ax.texts) == ["0.55", "0.90", "0.94"]
    assert seed[0].get_hatch() == "//" and honest[0].get_hatch() is None
    chance = [ln for ln in ax.lines if ln.get_label().startswith("chance")]
    assert chance and chance[0].get_ydata()[0] == pytest.approx(0.1)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "seed: test  (leaky)" in legend
    with pytest.raises(ParameterError, match="at least one model"):
        plots.plot_accuracy(pd.DataFrame())


def test_confusion_counts_and_row_normalised() -> None:
    cm = np.array([[8, 2, 0], [1, 5, 4], [0, 0, 10]])
    ax = plots.plot_confusion(cm, GENRES)
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    assert [t.get_text() for t in ax.texts[:3]] == ["8", "2", "0"]
    axn = plots.plot_confusion(cm, GENRES, normalize=True)
    shown = np.asarray(axn.images[0].get_array())
    np.testing.assert_allclose(shown.sum(axis=1), 1.0)
    np.testing.assert_allclose(shown[1], [0.1, 0.5, 0.4])
    assert "row-normalised" in axn.get_title()
    with pytest.raises(ParameterError, match=r"square \(3, 3\)"):
        plots.plot_confusion(np.ones((2, 3)), GENRES)


def test_class_report_cells() -> None:
    report = pd.DataFrame({"precision": [0.5, 1.0], "recall": [0.25, 0.75], "f1": [0.3, 0.8],
                           "support": [4, 8]}, index=["blues", "rock"])
    ax = plots.plot_class_report(report)
    np.testing.assert_allclose(ax.images[0].get_array(), report[["precision", "recall", "f1"]])
    assert "8" in [t.get_text() for t in ax.texts]
    with pytest.raises(ParameterError, match="missing"):
        plots.plot_class_report(report.drop(columns="f1"))


def test_roc_and_pr_auc_match_sklearn(rng: np.random.Generator) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.array(GENRES)[rng.integers(0, 3, 90)]
    proba = rng.dirichlet(np.ones(3), size=90)
    proba[np.arange(90), [GENRES.index(g) for g in y]] += 0.3
    proba /= proba.sum(axis=1, keepdims=True)
    ax = plots.plot_roc(y, proba, GENRES)
    for k, g in enumerate(GENRES):
        assert f"{g} (AUC {roc_auc_score(y == g, proba[:, k]):.2f})" == ax.lines[k].get_label()
    ax = plots.plot_precision_recall(y, proba, GENRES)
    for k, g in enumerate(GENRES):
        assert f"(AP {average_precision_score(y == g, proba[:, k]):.2f})" in ax.lines[k].get_label()
    with pytest.raises(ParameterError, match=r"shape \(90, 3\)"):
        plots.plot_roc(y, proba[:, :2], GENRES)


def test_importance_sorted_top_and_errors() -> None:
    values = {"a": 0.1, "b": 0.5, "c": 0.3, "d": 0.05}
    ax = plots.plot_importance(values, errors={"b": 0.02}, top=3)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["a", "c", "b"]  # bottom to top: increasing
    assert [r.get_width() for r in ax.patches] == pytest.approx([0.1, 0.3, 0.5])
    with pytest.raises(ParameterError, match="at least one feature"):
        plots.plot_importance({})


def test_validation_curve_lines_and_best_marker() -> None:
    depth = list(range(1, 6))
    train = [0.3, 0.5, 0.7, 0.9, 1.0]
    cv = [0.28, 0.45, 0.52, 0.5, 0.49]
    ax = plots.plot_validation_curve(depth, cv, train=train, cv_std=[0.01] * 5, param="max_depth")
    lines = {ln.get_label(): ln for ln in ax.lines}
    np.testing.assert_allclose(lines["train"].get_ydata(), train)
    np.testing.assert_allclose(lines["cross-validation"].get_ydata(), cv)
    best = [label for label in lines if label.startswith("best CV")]
    assert best == ["best CV 0.520 at max_depth = 3"]


def test_prediction_plane_splits_correct_and_wrong(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=20), rng.normal(size=20)
    ok = rng.random(20) > 0.3
    ax = plots.plot_prediction_plane(x, y, ok)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.c_[x[ok], y[ok]])
    np.testing.assert_allclose(ax.collections[1].get_offsets(), np.c_[x[~ok], y[~ok]])
    assert ax.collections[1].get_label() == f"wrong ({(~ok).sum()})"
    assert ax.get_xlabel() == "spectral_centroid_mean" and ax.get_ylabel() == "mfcc1_mean"
    with pytest.raises(ParameterError, match="differ in shape"):
        plots.plot_prediction_plane(x, y[:3], ok)


def test_explained_variance_bars_and_cumulative() -> None:
    ratio = [0.5, 0.3, 0.1]
    ax = plots.plot_explained_variance(ratio)
    assert [p.get_height() for p in ax.patches] == pytest.approx(ratio)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.5, 0.8, 0.9])
    assert "90.0%" in ax.get_title()
    with pytest.raises(ParameterError, match="non-empty 1-D"):
        plots.plot_explained_variance([])
