"""One self-contained HTML report from an experiment results folder.

:func:`build_report` reads a results folder (``docs/formats.md``, "Experiment results"),
computes or reuses its diagnostics (:mod:`genrekit.diagnostics`), draws every figure with
:mod:`genrekit.plots` and writes one HTML file whose figures are embedded as base64 PNG: no
external files, scripts, fonts or URLs, so it opens offline and prints cleanly. The figures are
also saved as PNG and SVG in ``<report stem>_figures/`` beside the HTML, with a
``figures.json`` manifest.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genrekit._version import __version__
from genrekit.diagnostics import (
    DiagnosticsSettings,
    RunResults,
    always_wrong_tracks,
    best_model,
    compute_diagnostics,
    confused_pairs,
    feature_columns,
        load_results,
    model_predictions,
    project_pca,
    track_predictions,
)
from genrekit.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["DPI", "PROTOCOL_DESCRIPTIONS", "build_report"]

#: Resolution of the PNG figures (pixels per inch of the matplotlib figure size).
DPI = 110
#: One line per protocol, for the text above figures.
PROTOCOL_DESCRIPTIONS = {
    "seed": "the capstone's own protocol: a random stratified 80/20 split of rows "
    "(random_state=1) with 5-fold CV on the train part. LEAKY for segment tables: pieces of one "
    "song sit on both sides of the split, so these numbers overstate accuracy",
    "track-cv": "stratified k-fold cross-validation grouped by track: no track has rows on both "
    "sides of a split",
    "artist-cv": "k-fold cross-validation grouped by artist (Sturm's index): no artist on both "
    "sides of a split",
    "fault-filtered": "the standard fault-filtered GTZAN split (Kereliuk, Sturm & Larsen 2015): "
    "no artist shared between train, validation and test; test touched once",
}

_CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #2b5d9c; --warn: #a33; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: var(--ink); margin: 0; line-height: 1.45; background: #fafbfc; }
main { max-width: 1120px; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; background: #fff; }
h1 { font-size: 1.7rem; margin: 0.2rem 0 0.4rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid var(--line); padding-bottom: 0.2rem;
     margin-top: 2.4rem; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 0.3rem; }
p.caption { color: var(--muted); margin: 0.2rem 0 0.5rem; max-width: 60rem; }
.meta { color: var(--muted); font-size: 0.92rem; }
.banner { border-left: 5px solid var(--warn); background: #fbeeee; padding: 0.6rem 0.9rem;
          margin: 1rem 0; }
.note { border-left: 4px solid var(--line); padding: 0.3rem 0.8rem; color: var(--muted);
        margin: 0.6rem 0; }
figure { margin: 0.4rem 0 1.2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; font-size: 0.86rem; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.5rem; text-align: right;
         vertical-align: top; }
th { background: #f0f2f6; white-space: nowrap; }
td.text, th.text { text-align: left; }
tr.chance td { font-style: italic; color: var(--muted); }
pre { background: #f5f6f8; border: 1px solid var(--line); padding: 0.6rem; overflow-x: auto;
      font-size: 0.8rem; white-space: pre-wrap; }
nav ol { columns: 2; font-size: 0.92rem; }
a { color: var(--accent); }
@media print {
  body { background: #fff; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-before: page; }
  figure, table, .banner { break-inside: avoid; }
  figure img { border: none; max-height: 24cm; width: auto; }
  a { color: inherit; text-decoration: none; }
}
"""


@dataclass
class _Figure:
    name: str
    title: str
    caption: str
    draw: Callable[[], Figure]


@dataclass
class _Section:
    key: str
    title: str
    items: list[Any] = field(default_factory=list)  # _Figure | str (HTML)
    notes: list[str] = field(default_factory=list)  # what was left out, and why

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.items.append(f'<p class="note">{html.escape(text)}</p>')

    def html(self, text: str) -> None:
        self.items.append(text)

    def figure(self, name: str, title: str, caption: str, draw: Callable[[], Figure]) -> None:
        self.items.append(_Figure(name, title, caption, draw))


# --------------------------------------------------------------------------- helpers


def _figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (7.0, 4.5)) -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _protocol_text(run: RunResults) -> str:
    desc = PROTOCOL_DESCRIPTIONS.get(run.protocol)
    return f"protocol <b>{html.escape(run.protocol)}</b>" + (f" ({html.escape(desc)})" if desc else "")


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _table(frame: pd.DataFrame, *, text_cols: Sequence[str] = (), max_rows: int | None = None) -> str:
    """A small HTML table; values escaped, text columns left-aligned."""
    extra = ""
    if max_rows is not None and len(frame) > max_rows:
        extra = f'<p class="note">… and {len(frame) - max_rows} more rows (all in the CSV beside the figures).</p>'
        frame = frame.head(max_rows)
    head = "".join(
        f'<th class="{"text" if c in text_cols else ""}">{html.escape(str(c))}</th>' for c in frame.columns
    )
    rows = []
    for _, r in frame.iterrows():
        cells = "".join(
            f'<td class="{"text" if c in text_cols else ""}">{_fmt(r[c])}</td>' for c in frame.columns
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{extra}"


def _results_table(run: RunResults) -> str:
    """The run's table: only the measures the protocol produced, the chance baseline last."""
    measures = [("train", "train_accuracy"), ("CV mean", "cv_mean"), ("CV std", "cv_std"),
                ("CV track", "cv_track_mean"), ("test", "test_accuracy"),
                ("test track", "test_track_accuracy"), ("fit s", "fit_seconds")]
    fitted = [run.models[n] for n in run.fitted_names]
    measures = [(c, k) for c, k in measures if any(m.get(k) is not None for m in fitted)]
    accuracy_keys = {"cv_mean", "cv_track_mean", "test_accuracy", "test_track_accuracy"}
    rows = []
    for name, m in run.models.items():
        if m.get("skipped"):
            rows.append(f'<tr><td class="text">{html.escape(name)}</td>'
                        f'<td class="text" colspan="{len(measures) + 2}">skipped: '
                        f'{html.escape(str(m["skipped"]))}</td></tr>')
            continue
        params = ", ".join(f"{k}={v}" for k, v in (m.get("params") or {}).items())
        cells = "".join(f'<td class="text">{_fmt(v)}</td>'
                        for v in (name, m.get("description", ""), params))
        cells += "".join(f"<td>{_fmt(m.get(k), 1 if k == 'fit_seconds' else 3)}</td>"
                         for _, k in measures)
        rows.append(f"<tr>{cells}</tr>")
    chance = run.results.get("chance_accuracy")
    rows.append('<tr class="chance"><td class="text">chance baseline</td>'
                '<td class="text" colspan="2">most frequent class</td>'
                + "".join(f"<td>{_fmt(chance)}</td>" if k in accuracy_keys else "<td></td>"
                          for _, k in measures) + "</tr>")
    head = "".join(f'<th class="text">{c}</th>' for c in ("model", "description", "parameters"))
    head += "".join(f"<th>{c}</th>" for c, _ in measures)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _settings_table(settings: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        if isinstance(v, list) and len(v) > 3 and all(isinstance(x, int) for x in v) and \
                v == list(range(v[0], v[-1] + 1)):
            return f"{v[0]}..{v[-1]}"
        return json.dumps(v)

    rows = "".join(f'<tr><td class="text">{html.escape(k)}</td><td class="text">{html.escape(show(v))}</td></tr>'
                   for k, v in settings.items())
    return f"<table><thead><tr><th class=\"text\">setting</th><th class=\"text\">value</th></tr></thead><tbody>{rows}</tbody></table>"


def _run_label(run: RunResults) -> str:
    return f"{run.protocol} (leaky)" if run.leaky else run.protocol


def _accuracy_frame(run: RunResults) -> tuple[pd.DataFrame, pd.DataFrame]:
    series = {"train": "train_accuracy", "CV mean": "cv_mean", "CV track": "cv_track_mean",
              "test": "test_accuracy", "test track": "test_track_accuracy"}
    names = run.fitted_names
    scores = pd.DataFrame(
        {label: [run.models[n].get(key) for n in names] for label, key in series.items()},
        index=names, dtype=float,
    ).dropna(axis=1, how="all")
    errors = pd.DataFrame(index=names)
    if "CV mean" in scores:
        errors["CV mean"] = [run.models[n].get("cv_std") for n in names]
    return scores, errors.astype(float)


def _save(fig: Figure, folder: Path, name: str) -> tuple[bytes, dict[str, Any]]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    png = buf.getvalue()
    (folder / f"{name}.png").write_bytes(png)
    fig.savefig(folder / f"{name}.svg", format="svg")
    w, h = fig.get_size_inches() * DPI
    return png, {"png": f"{name}.png", "svg": f"{name}.svg",
                 "width": int(round(w)), "height": int(round(h))}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _progress_enabled(progress: bool | None) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


# --------------------------------------------------------------------------- sections


def _data_section(run: RunResults, diag: dict[str, Any]) -> _Section:
    from genrekit import plots

    sec = _Section("data", "The data")
    data = run.data
    labels = run.labels
    if data is None:
        sec.note("data.parquet is absent from the results folder: data figures are omitted.")
        return sec
    n_tracks = data["track_id"].nunique() if "track_id" in data else None
    # several rows per track = a segment table
    unit = "segments" if n_tracks is not None and n_tracks < len(data) else "tracks"
    sec.html(f'<p class="caption">{len(data)} rows ({unit}) of '
             f'{n_tracks if n_tracks is not None else "?"} tracks, {len(feature_columns(data))} '
             f'features, as the models saw them (after duplicate removal) — '
             f'from <code>{html.escape(str(run.results.get("features", "?")))}</code>.</p>')

    def balance() -> Figure:
        ncols = 2 if unit == "segments" else 1
        fig, axes = _figure(1, ncols, (11.0 if ncols == 2 else 7.0, 4.2))
        plots.plot_class_balance(data["label"], order=labels, unit=unit, ax=axes[0, 0])
        if ncols == 2:
            per_track = data.drop_duplicates("track_id")["label"]
            plots.plot_class_balance(per_track, order=labels, unit="tracks", ax=axes[0, 1])
        return fig

    sec.figure("class_balance", "Class balance",
               "Rows per genre in the table the models saw" +
               (" (left: segments, right: tracks)." if unit == "segments" else ".") +
               f" Chance baseline (most frequent class): {_fmt(run.results.get('chance_accuracy'))}.",
               balance)

    dup = run.duplicates
    if dup is None:
        sec.note("duplicates.json is absent: the duplicate-row figure is omitted.")
    else:
        def duplicates() -> Figure:
            n_keys = len({tuple(sorted(str(f).split(".", 1)[0] for f in p)) for p in dup.get("pairs", [])})
            fig, axes = _figure(1, 1, (7.0, 1.6 + 0.32 * max(n_keys, 2)))
            plots.plot_duplicates(dup.get("pairs", []), n_rows=dup.get("n_rows"), ax=axes[0, 0])
            return fig

        sec.figure("duplicates", "Duplicate rows",
                   f"Exact duplicate feature rows in the input ({dup.get('n_duplicate_rows', 0)} of "
                   f"{dup.get('n_rows', '?')} rows), counted per genre pair; "
                   f"{'dropped before modelling' if dup.get('dropped') else 'kept (not dropped)'}. "
                   "Duplicates across genres are mislabelled or repeated recordings.", duplicates)

    pairs = [p for p in plots.DEFAULT_PAIRS if p[0] in data and p[1] in data]
    if pairs:
        def pairplots() -> Figure:
            fig, axes = _figure(1, len(pairs), (5.0 * len(pairs), 4.6))
            for ax, (x, y) in zip(axes[0], pairs, strict=True):
                plots.plot_feature_pair(data, x, y, order=labels, ax=ax)
            return fig

        sec.figure("feature_pairs", "Feature pairs by genre",
                   "The capstone's feature pairs, every row coloured by its genre "
                   "(all rows the models saw).", pairplots)
    else:
        sec.note("None of the capstone's feature pairs are columns of this table: pair plots omitted.")

    cols = feature_columns(data)

    def correlation() -> Figure:
        fig, axes = _figure(1, 1, (10.5, 9.5))
        plots.plot_correlation(data[cols], ax=axes[0, 0])
        return fig

    sec.figure("correlation", "Feature correlation",
               f"Pearson correlation between the {len(cols)} feature columns over all {len(data)} rows.",
               correlation)

    if len(cols) >= 2 and len(data) >= 2:
        def pca2d() -> Figure:
            coords, ratio = project_pca(data[cols].to_numpy(dtype=float))
            fig, axes = _figure(1, 1, (7.0, 5.5))
            plots.plot_pca_projection(coords, data["label"], explained=ratio, order=labels, ax=axes[0, 0])
            return fig

        sec.figure("pca_projection", "2-D PCA projection",
                   "All rows, standardized, projected on their first two principal components "
                   "(unsupervised: the genres are only the colours).", pca2d)

    elbow = diag.get("kmeans_elbow")
    if elbow:
        sample = diag.get("sample", {})

        def kmeans() -> Figure:
            fig, axes = _figure(1, 1, (7.5, 4.5))
            plots.plot_kmeans_elbow(elbow["k"], elbow["inertia"], elbow["silhouette"],
                                    mark=len(labels) or None, ax=axes[0, 0])
            return fig

        sec.figure("kmeans_elbow", "k-means elbow",
                   f"k-means (3 initialisations) on the standardized features of "
                   f"{sample.get('rows', '?')} of {sample.get('of', '?')} rows"
                   f"{' (whole tracks sampled per genre)' if sample.get('rows') != sample.get('of') else ''}"
                   f", k = {elbow['k'][0]}..{elbow['k'][-1]}; the dashed line marks k = {len(labels)}, "
                   "the number of genres. Silhouette on up to 2000 rows.", kmeans)
    return sec


def _model_section(run: RunResults, compare: Sequence[RunResults], diag: dict[str, Any]) -> _Section:
    from genrekit import plots

    sec = _Section("models", "The models")
    chance = run.results.get("chance_accuracy")
    labels = run.labels
    ptext = _protocol_text(run)
    scores, errors = _accuracy_frame(run)
    if not scores.empty:
        leaky_cols = [c for c in scores.columns if c != "train"] if run.leaky else []

        def accuracy() -> Figure:
            fig, axes = _figure(1, 1, (max(8.0, 1.1 * len(scores) + 4), 4.8))
            plots.plot_accuracy(scores, errors=errors, chance=chance, leaky=leaky_cols, ax=axes[0, 0])
            axes[0, 0].set_title(f"Accuracy per model — {_run_label(run)}")
            return fig

        sec.figure("accuracy", "Accuracy of every model",
                   f"Every evaluated model under {ptext}. CV bars carry the standard deviation across "
                   "folds; \"track\" = mean segment probability per track. The dashed line is the "
                   "chance baseline." + (" Hatched bars are leaky." if run.leaky else ""), accuracy)

    if compare:
        runs = [run, *compare]
        table: dict[str, dict[str, Any]] = {}
        leaky: list[str] = []
        for r in runs:
            for level, keys in (("segments", ("test_accuracy", "cv_mean")),
                                ("tracks", ("test_track_accuracy", "cv_track_mean"))):
                key = next((k for k in keys if any(r.models[n].get(k) is not None
                                                   for n in r.fitted_names)), None)
                if key is None:
                    continue
                col = f"{r.protocol}: {'test' if key.startswith('test') else 'CV'}, {level}"
                if r.leaky:
                    leaky.append(col)
                table[col] = {n: r.models[n].get(key) for n in r.fitted_names}
        comp = pd.DataFrame(table, dtype=float)

        def comparison() -> Figure:
            fig, axes = _figure(1, 1, (max(8.0, 1.1 * len(comp) + 4), 4.8))
            plots.plot_accuracy(comp, chance=chance, leaky=leaky, ax=axes[0, 0])
            axes[0, 0].set_title("The same models under each protocol")
            return fig

        sec.figure("protocol_comparison", "Leaky versus honest protocols",
                   "Each model's accuracy in each results folder, on segments and on tracks (mean "
                   "segment probability per track); the test set where the protocol has one, else "
                   "the CV mean: "
                   + "; ".join(f"{html.escape(_run_label(r))} from <code>{html.escape(str(r.path))}</code>"
                               for r in runs)
                   + ". A leaky protocol (hatched) lets segments of one song sit in train and test.",
                   comparison)

    best = best_model(run)
    rows = split = None
    if best is None:
        sec.note("No model was evaluated: per-model figures are omitted.")
    elif run.predictions is None:
        sec.note("predictions.parquet is absent: confusion, ROC and error figures are omitted.")
    else:
        try:
            rows, split = model_predictions(run, best)
        except DataError as exc:
            sec.note(str(exc))
    if rows is not None and best is not None:
        where = ("held-out test rows" if split == "test" else "out-of-fold rows (each predicted by the "
                 "fold model that did not see its track)" if not run.leaky else "out-of-fold rows")
        key = "cv_track_mean" if run.models[best].get("cv_track_mean") is not None else "cv_mean"
        src = (f"Best model <b>{html.escape(best)}</b> (highest {key.replace('_', ' ')}, "
               f"{_fmt(run.models[best].get(key))}), {len(rows)} {where}, {ptext}.")
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

        cm = confusion_matrix(rows["label"], rows["pred"], labels=labels)

        def confusion() -> Figure:
            fig, axes = _figure(1, 2, (13.0, 5.6))
            plots.plot_confusion(cm, labels, ax=axes[0, 0])
            plots.plot_confusion(cm, labels, normalize=True, ax=axes[0, 1])
            return fig

        sec.figure("confusion", "Confusion matrix", src + " Left: counts; right: each row divided "
                   "by its total (the diagonal is per-genre recall).", confusion)

        try:
            tracks = track_predictions(rows, labels)
        except DataError as exc:
            sec.note(f"Track-level confusion omitted: {exc}")
            tracks = rows.iloc[:0]
        if 0 < len(tracks) < len(rows):
            cm_t = confusion_matrix(tracks["label"], tracks["pred"], labels=labels)

            def confusion_tracks() -> Figure:
                fig, axes = _figure(1, 2, (13.0, 5.6))
                plots.plot_confusion(cm_t, labels, ax=axes[0, 0])
                plots.plot_confusion(cm_t, labels, normalize=True, ax=axes[0, 1])
                axes[0, 0].set_title("Confusion matrix by track (counts)")
                axes[0, 1].set_title("Confusion matrix by track (row-normalised)")
                return fig

            sec.figure("confusion_tracks", "Confusion matrix by track",
                       f"The same predictions voted per track (mean segment probability): "
                       f"{len(tracks)} tracks, track accuracy "
                       f"{(tracks['label'] == tracks['pred']).mean():.3f}.", confusion_tracks)

        p, r, f, support = precision_recall_fscore_support(
            rows["label"], rows["pred"], labels=labels, zero_division=0)
        report = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": support}, index=labels)

        def class_report() -> Figure:
            fig, axes = _figure(1, 1, (5.0, 0.28 * len(labels) + 1.2))
            plots.plot_class_report(report, ax=axes[0, 0])
            return fig

        sec.figure("class_report", "Per-class precision, recall and F1", src, class_report)
        sec.html(_table(report.reset_index(names="genre"), text_cols=("genre",)))

        prob_cols = [f"prob_{g}" for g in labels]
        if not set(prob_cols) <= set(rows.columns):
            sec.note(f"ROC and precision-recall omitted: {best} has no probability columns.")
        else:
            proba = rows[prob_cols].to_numpy(dtype=float)

            def curves() -> Figure:
                fig, axes = _figure(1, 2, (12.5, 5.2))
                plots.plot_roc(rows["label"], proba, labels, ax=axes[0, 0])
                plots.plot_precision_recall(rows["label"], proba, labels, ax=axes[0, 1])
                return fig

            sec.figure("roc_pr", "One-vs-rest ROC and precision-recall",
                       src + " Each genre against the rest, scored by its predicted probability.",
                       curves)

    gain = diag.get("feature_importance")
    if gain:
        lgb = diag.get("feature_importance_model", "lightgbm")

        def gain_fig() -> Figure:
            fig, axes = _figure(1, 1, (7.0, 6.0))
            plots.plot_importance(gain, top=20, xlabel="total gain", ax=axes[0, 0],
                                  title=f"LightGBM gain importance ({lgb}), top 20")
            return fig

        sec.figure("lightgbm_gain", "LightGBM feature importance (gain)",
                   f"Total split gain per feature of the fitted <b>{html.escape(lgb)}</b> model "
                   f"as saved by the run ({ptext}).", gain_fig)
    else:
        sec.note(f"LightGBM gain importance omitted: {diag.get('notes', {}).get('feature_importance', 'not computed')}.")

    perm = diag.get("permutation_importance") or {}
    if perm:
        names = list(perm)

        def perm_fig() -> Figure:
            fig, axes = _figure(1, len(names), (6.5 * len(names), 6.0))
            for ax, n in zip(axes[0], names, strict=True):
                imp = perm[n]["importance"]
                plots.plot_importance({k: v[0] for k, v in imp.items()},
                                      errors={k: v[1] for k, v in imp.items()}, top=20,
                                      xlabel="drop in accuracy when shuffled", ax=ax,
                                      title=f"Permutation importance: {n}")
            return fig

        held = "; ".join(
            f"{html.escape(n)}: {perm[n]['n_rows']} "
            + ("held-out test rows of the saved model" if perm[n]["held_out"] == "test" else
               "rows of held-out tracks, scored by a refit of the same configuration on the other "
               "tracks of one track-grouped fold")
            for n in names)
        sec.figure("permutation_importance", "Permutation importance",
                   f"Mean drop in accuracy when one feature is shuffled "
                   f"({diag.get('settings', {}).get('n_repeats', '?')} repeats, bars show the standard "
                   f"deviation), top 20. {held}.", perm_fig)
    else:
        why = "; ".join(v for k, v in diag.get("notes", {}).items() if k.startswith("permutation"))
        sec.note(f"Permutation importance omitted: {why or 'no evaluated model to score'}.")

    coef = diag.get("logreg_coefficients")
    if coef:
        lr = diag.get("logreg_model", "logreg")

        def coef_fig() -> Figure:
            fig, axes = _figure(1, 1, (7.0, 0.2 * min(len(coef), 60) + 1.8))
            plots.plot_importance(coef, top=None, xlabel="mean |coefficient| across genres",
                                  title=f"Logistic regression ({lr}) coefficients", ax=axes[0, 0])
            return fig

        sec.figure("logreg_coefficients", "Logistic-regression coefficients",
                   f"Mean absolute coefficient across the {len(labels)} genres of the fitted "
                   f"<b>{html.escape(lr)}</b> model, sorted; on standardized inputs where the pipeline "
                   "scales, so sizes compare across features.", coef_fig)
    else:
        sec.note(f"Logistic-regression coefficients omitted: {diag.get('notes', {}).get('logreg_coefficients', 'not computed')}.")

    curves_d = diag.get("validation_curves")
    if curves_d:
        sample = diag.get("sample", {})

        def validation() -> Figure:
            fig, axes = _figure(1, 2, (12.5, 4.6))
            t = curves_d["decision_tree"]
            plots.plot_validation_curve(t["values"], t["cv"], train=t["train"], cv_std=t["cv_std"],
                                        param="max_depth", chance=chance, ax=axes[0, 0])
            axes[0, 0].set_title("Decision tree: accuracy vs max_depth")
            k = curves_d["knn"]
            plots.plot_validation_curve(k["values"], k["cv"], train=k["train"], cv_std=k["cv_std"],
                                        param="n_neighbors (k)", chance=chance, ax=axes[0, 1])
            axes[0, 1].set_title("kNN (standardized): accuracy vs k")
            return fig

        sub = (f"{sample.get('rows')} of {sample.get('of')} rows (whole tracks sampled per genre)"
               if sample.get("rows") != sample.get("of") else f"all {sample.get('rows')} rows")
        sec.figure("validation_curves", "Decision tree depth and kNN k",
                   f"Train and cross-validated accuracy, {curves_d['decision_tree']['n_splits']}-fold "
                   f"stratified CV grouped by track (whatever the run's protocol), on {sub}; "
                   "row-level accuracy. The band is ±1 standard deviation across folds.", validation)
    else:
        sec.note(f"Validation curves omitted: {diag.get('notes', {}).get('validation_curves') or diag.get('notes', {}).get('data', 'not computed')}.")

    if rows is not None and run.data is not None and "row" in rows.columns:
        x_name, y_name = plots.PLANE_FEATURES
        lr_name = diag.get("logreg_model")
        planes: list[tuple[str, pd.DataFrame]] = [(str(best), rows)]
        if lr_name and lr_name != best:
            try:
                planes.append((lr_name, model_predictions(run, lr_name)[0]))
            except DataError:
                pass
        if x_name in run.data and y_name in run.data:
            data = run.data

            def plane() -> Figure:
                fig, axes = _figure(1, len(planes), (6.2 * len(planes), 4.9))
                for ax, (n, pr) in zip(axes[0], planes, strict=True):
                    idx = pr["row"].to_numpy()
                    plots.plot_prediction_plane(
                        data[x_name].to_numpy()[idx], data[y_name].to_numpy()[idx],
                        (pr["label"] == pr["pred"]).to_numpy(), ax=ax,
                        title=f"{n}: accuracy {(pr['label'] == pr['pred']).mean():.3f}")
                return fig

            sec.figure("prediction_plane", "Correct and wrong predictions",
                       f"The capstone's plane ({y_name} against {x_name}): each "
                       f"{'held-out test' if split == 'test' else 'out-of-fold (CV)'} row of "
                       + " and ".join(f"<b>{html.escape(n)}</b>" for n, _ in planes)
                       + f", blue where the predicted genre is right, red where wrong ({ptext}).",
                       plane)
        else:
            sec.note(f"The prediction plane needs {x_name} and {y_name}: omitted.")

    pca = diag.get("pca_explained_variance")
    if pca:
        for n, ratio in pca.items():
            def pca_fig(ratio: list[float] = ratio) -> Figure:
                fig, axes = _figure(1, 1, (7.0, 4.3))
                plots.plot_explained_variance(ratio, ax=axes[0, 0])
                return fig

            sec.figure(f"pca_variance_{n}", f"PCA explained variance ({n})",
                       f"Explained-variance ratio of the PCA step inside the fitted <b>{html.escape(n)}</b> "
                       "pipeline (fitted on the run's training data).", pca_fig)
    else:
        sec.note("PCA explained variance omitted: no model in this run uses PCA.")
    return sec


def _errors_section(run: RunResults, figures_dir: Path) -> _Section:
    sec = _Section("errors", "Misclassification analysis")
    best = best_model(run)
    if best is None or run.predictions is None:
        sec.note("No predictions in this run: misclassification tables omitted.")
        return sec
    rows, split = model_predictions(run, best)
    pairs = confused_pairs(rows, top=10)
    sec.html(f'<h3>Most confused genre pairs ({html.escape(best)})</h3><p class="caption">'
             f"The ten most frequent (true, predicted) mistakes among {len(rows)} {split} rows of the "
             f"best model, {_protocol_text(run)}. share = fraction of the true genre's rows; tracks "
             "list how many of each track's rows went this way.</p>")
    if pairs.empty:
        sec.note("No mistakes.")
    else:
        sec.html(_table(pairs, text_cols=("true", "predicted", "tracks")))
    wrong = always_wrong_tracks(run)
    n_models = len(run.fitted_names)
    wrong.to_csv(figures_dir / "tracks_wrong_under_every_model.csv", index=False)
    pairs.to_csv(figures_dir / "most_confused_pairs.csv", index=False)
    sec.html(f'<h3>Tracks wrong under every model</h3><p class="caption">{len(wrong)} tracks whose '
             f"track-level prediction (mean segment probability) is wrong for all {n_models} "
             f"evaluated models ({split} predictions, {_protocol_text(run)}); "
             "the columns give each model's predicted genre. Candidates for mislabelled, "
             "ambiguous or distorted recordings.</p>")
    if wrong.empty:
        sec.note("Every track is right under at least one model.")
    else:
        sec.html(_table(wrong, text_cols=tuple(wrong.columns), max_rows=40))
    return sec


def _track_level_note(run: RunResults) -> str:
    if run.predictions is None:
        return ""
    best = best_model(run)
    if best is None:
        return ""
    try:
        rows, _ = model_predictions(run, best)
        tracks = track_predictions(rows, run.labels)
    except DataError:
        return ""
    if len(tracks) == len(rows):
        return ""
    return (f"Track-level accuracy of {html.escape(best)} on these predictions: "
            f"{(tracks['label'] == tracks['pred']).mean():.3f} over {len(tracks)} tracks.")


# --------------------------------------------------------------------------- assembly


def _render(
    run: RunResults, compare: Sequence[RunResults], sections: list[_Section],
    figures: dict[str, str], diag: dict[str, Any], notes: list[str],
) -> str:
    esc = html.escape
    title = f"genrekit report — {run.path.name}"
    header = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">Results folder <code>{esc(str(run.path))}</code> · '
        f"{_protocol_text(run)} · features <code>{esc(str(run.results.get('features', '?')))}</code> · "
        f"{run.results.get('n_rows', '?')} rows, {run.results.get('n_tracks', '?')} tracks · "
        f"chance baseline {_fmt(run.results.get('chance_accuracy'))} · results written by genrekit "
        f"{esc(str(run.results.get('genrekit_version', '?')))}, report by genrekit {esc(__version__)} "
        f"on {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
    ]
    if run.leaky:
        header.append('<p class="banner"><b>Leaky protocol.</b> These numbers come from '
                      f"{esc(PROTOCOL_DESCRIPTIONS.get('seed', run.protocol))}. Compare with an honest "
                      "protocol (track-cv, artist-cv, fault-filtered) before trusting them.</p>")
    toc = ['<nav><h2 style="margin-top:1rem">Contents</h2><ol>',
           '<li><a href="#results">Results</a></li>']
    for sec in sections:
        toc.append(f'<li><a href="#{sec.key}">{esc(sec.title)}</a></li>')
    toc.append('<li><a href="#config">Configuration</a></li></ol></nav>')
    body = [
        '<section id="results"><h2>Results</h2>',
        f'<p class="caption">Every model of the run under {_protocol_text(run)}. Train = accuracy on '
        "the data it was fitted on; CV = mean over folds; track = mean segment probability per "
        "track; test = the held-out set, where the protocol has one. The chance baseline is the "
        f"most frequent class. {_track_level_note(run)}</p>",
        _results_table(run),
    ]
    for other in compare:
        body.append(f"<h3>Compared run: {esc(_run_label(other))}</h3>"
                    f'<p class="caption"><code>{esc(str(other.path))}</code>, {_protocol_text(other)}.</p>')
        body.append(_results_table(other))
    body.append("</section>")
    for sec in sections:
        body.append(f'<section id="{sec.key}"><h2>{esc(sec.title)}</h2>')
        for item in sec.items:
            if isinstance(item, _Figure):
                data = figures.get(item.name)
                if data is None:
                    continue
                body.append(
                    f'<figure id="fig-{item.name}"><h3>{esc(item.title)}</h3>'
                    f'<p class="caption">{item.caption}</p>'
                    f'<img alt="{esc(item.title)}" src="data:image/png;base64,{data}"></figure>'
                )
            else:
                body.append(item)
        body.append("</section>")
    cfg = run.config if run.config is not None else run.results.get("config", {})
    body.append('<section id="config"><h2>Configuration</h2>'
                '<p class="caption">The run\'s configuration as recorded in the results folder '
                "(config.json), and the settings of the report's own fitted diagnostics "
                "(diagnostics.json).</p>"
                f"<h3>Run</h3><pre>{esc(json.dumps(cfg, indent=2, default=str))}</pre>"
                "<h3>Diagnostics</h3>" + _settings_table(diag.get("settings", {})))
    if notes:
        body.append("<h3>Omitted or degraded</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    body.append(f'<p class="meta">genrekit {esc(__version__)}</p></section>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
        + "".join(header) + "".join(toc) + "\n".join(body) + "</main></body></html>\n"
    )


def build_report(
    results_dir: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    compare: Sequence[str | os.PathLike[str]] = (),
    settings: DiagnosticsSettings | None = None,
) -> Path:
    """Write one self-contained HTML report for an experiment results folder.

    Parameters
    ----------
    results_dir : path
        A folder written by ``genrekit experiment`` (``docs/formats.md``).
    output : path, optional
        The HTML file (default ``RESULTS_DIR/report.html``). Figures go to
        ``<output stem>_figures/`` beside it as PNG and SVG, with ``figures.json``.
    overwrite : bool
        Replace an existing report and its figures folder.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    compare : sequence of path
        Other results folders of the same models under other protocols (e.g. the leaky
        ``seed`` run next to ``track-cv``): drawn side by side in one accuracy figure.
    settings : DiagnosticsSettings, optional
        How the fitted diagnostics are computed (default settings when None).

    Returns
    -------
    path : Path
        The HTML file written.

    Raises
    ------
    ParameterError
        When the report (or its figures folder) exists and ``overwrite`` is False.
    DataError
        When a results folder is missing or malformed.

    Examples
    --------
    >>> build_report("results/track-cv", compare=["results/seed"])  # doctest: +SKIP
    PosixPath('results/track-cv/report.html')
    """
    run = load_results(results_dir)
    others = [load_results(c) for c in compare]
    out = Path(output) if output is not None else run.path / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"report output: expected a .html file name, got {str(out)!r}")
    figures_dir = out.with_name(f"{out.stem}_figures")
    if not overwrite:
        for p in (out, figures_dir):
            if p.exists():
                raise ParameterError(
                    f"{p}: already exists; refusing to overwrite the report (pass overwrite=True, "
                    "or --overwrite on the command line)"
                )
    out.parent.mkdir(parents=True, exist_ok=True)

    from tqdm.auto import tqdm

    show = _progress_enabled(progress)
    with tqdm(total=None, desc="diagnostics", disable=not show, file=sys.stderr, leave=False) as bar:
        def step(text: str) -> None:
            bar.set_postfix_str(text)
            bar.update(1)

        diag = compute_diagnostics(run.path, settings=settings, progress=step)

    # run-level notes and models that could not be loaded; each section adds its own
    notes = list(run.notes) + [v for k, v in diag.get("notes", {}).items() if k.startswith("model:")]
    tmp_figs = Path(tempfile.mkdtemp(prefix=f".{out.stem}_figures.", dir=out.parent))
    try:
        sections = [_data_section(run, diag), _model_section(run, others, diag),
                    _errors_section(run, tmp_figs)]
        for sec in sections:
            notes += sec.notes
        todo = [item for sec in sections for item in sec.items if isinstance(item, _Figure)]
        embedded: dict[str, str] = {}
        manifest: list[dict[str, Any]] = []
        with tqdm(todo, desc="drawing figures", unit="fig", disable=not show, file=sys.stderr) as bar:
            for item in bar:
                bar.set_postfix_str(item.name)
                fig = item.draw()
                png, entry = _save(fig, tmp_figs, item.name)
                embedded[item.name] = base64.b64encode(png).decode("ascii")
                manifest.append({"name": item.name, "title": item.title, **entry})
        (tmp_figs / "figures.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        page = _render(run, others, sections, embedded, diag, notes)
        os.chmod(tmp_figs, 0o777 & ~_umask())
        if figures_dir.exists():
            shutil.rmtree(figures_dir)
        os.replace(tmp_figs, figures_dir)
    except BaseException:
        shutil.rmtree(tmp_figs, ignore_errors=True)
        raise
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
