"""Evaluation protocols: which rows train, which rows test, and how tuning folds are cut.

Each protocol is a name users type in a config:

``seed``
    The capstone's own: a stratified random 80/20 split of rows (``random_state=1``) and
    5-fold stratified CV on the train part. On a segment table, segments of one track land
    on both sides, so the result is flagged ``leaky``; it is kept to reproduce the capstone.
``track-cv``
    Stratified k-fold grouped by track (no track on both sides); no held-out test set.
``artist-cv``
    Stratified k-fold grouped by artist (Sturm's index; tracks without an artist are their
    own group); no held-out test set.
``fault-filtered``
    The standard train / valid / test lists (Kereliuk, Sturm & Larsen 2015). Models are tuned
    and fitted on train + valid (by default with k-fold grouped by artist when an artist index
    is given, else by track; or, with ``tune_on="valid"``, by fitting on train and scoring on
    valid) and the test list is scored once.

Examples
--------
>>> from genrekit.protocols import make_protocol
>>> split = make_protocol("track-cv", df)  # doctest: +SKIP
>>> for tr, va in split.cv.split(X[split.train], y[split.train], split.cv_groups): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genrekit.datasets import artist_groups, table_level
from genrekit.exceptions import DataError, ParameterError

__all__ = [
    "PROTOCOLS",
    "TUNE_ON",
    "ProtocolSplit",
    "PredefinedFolds",
    "make_protocol",
    "describe_protocol",
]

#: Protocol names and what each means, in the order ``genrekit`` lists them.
PROTOCOLS: dict[str, str] = {
    "seed": "the capstone's stratified random 80/20 split of rows (random_state=1), "
    "5-fold CV on train; leaky on segment tables",
    "track-cv": "stratified k-fold grouped by track: no track on both sides",
    "artist-cv": "stratified k-fold grouped by artist (Sturm's index)",
    "fault-filtered": "the standard train/valid/test lists; tune on train+valid, test once",
}
#: How ``fault-filtered`` tunes: k-fold on train+valid, fit on train and score on valid, or
#: k-fold on train alone (valid unused: for tables without valid tracks).
TUNE_ON = ("train+valid", "valid", "train")


class PredefinedFolds:
    """A splitter with fixed folds (``(train_idx, test_idx)`` pairs), usable as ``cv=``.

    scikit-learn's ``PredefinedSplit`` cannot leave rows out of every fold's training
    part; this one can, which is what "fit on train, score on valid" needs.
    """

    def __init__(self, folds: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.folds = folds

    def split(
        self, X: Any = None, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for train, test in self.folds:
            yield np.asarray(train), np.asarray(test)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return len(self.folds)

    def __repr__(self) -> str:
        return f"PredefinedFolds(n_splits={len(self.folds)})"


@dataclass(frozen=True)
class ProtocolSplit:
    """Where each row goes under a protocol.

    Attributes
    ----------
    name : str
        The protocol's name (a key of :data:`PROTOCOLS`).
    train : np.ndarray [shape=(n_train,)]
        Positional row indices the final model is fitted on (tuning happens inside them).
    test : np.ndarray [shape=(n_test,)] or None
        Positional row indices scored once, or ``None`` when the protocol has no test set.
    cv : splitter
        Cross-validation splitter over the *train rows* (indices relative to ``train``),
        with ``split(X, y, groups)``; pass it as ``GridSearchCV(cv=...)``.
    cv_groups : np.ndarray [shape=(n_train,)] or None
        The groups to hand to ``cv.split`` / ``GridSearchCV.fit(groups=...)``.
    leaky : bool
        True when rows of one track can be on both sides of a split (``seed`` on segments).
    level : str
        ``"segment"`` or ``"track"``: what one row is.
    excluded : int
        Rows the protocol does not use (``fault-filtered``: tracks in no list).
    notes : tuple of str
        Human-readable remarks about the split (shown in results).
    """

    name: str
    train: np.ndarray
    test: np.ndarray | None
    cv: Any
    cv_groups: np.ndarray | None
    leaky: bool
    level: str
    excluded: int = 0
    notes: tuple[str, ...] = ()


def describe_protocol(name: str) -> str:
    """The one-line description of a protocol name."""
    return PROTOCOLS[_check_name(name)]


def _check_name(name: str) -> str:
    if name not in PROTOCOLS:
        raise ParameterError(
            f"protocol: expected one of {', '.join(PROTOCOLS)}, got {name!r}"
        )
    return name


def _n_splits_for(y: np.ndarray, groups: np.ndarray | None, n_splits: int, what: str) -> int:
    n_groups = len(np.unique(groups)) if groups is not None else len(y)
    if n_groups < 2:
        raise DataError(f"{what}: need at least 2 groups for cross-validation, got {n_groups}")
    return min(n_splits, n_groups)


def make_protocol(
    name: str,
    df: pd.DataFrame,
    *,
    seed: int = 1,
    n_splits: int = 5,
    test_size: float = 0.2,
    splits: dict[str, list[str]] | None = None,
    artists: dict[str, str | None] | None = None,
    tune_on: str = "train+valid",
) -> ProtocolSplit:
    """Cut a table into train / test rows and tuning folds under a named protocol.

    Parameters
    ----------
    name : str
        ``"seed"``, ``"track-cv"``, ``"artist-cv"`` or ``"fault-filtered"``.
    df : pd.DataFrame [shape=(n_rows, ...)]
        A table from :func:`genrekit.datasets.read_table` (needs ``label`` and ``track_id``).
    seed : int
        ``random_state`` of the split and of shuffled group folds (the capstone used 1).
    n_splits : int
        Folds of the cross-validation (5 in the capstone).
    test_size : float
        Test fraction of ``seed``.
    splits : dict, optional
        ``{"train": [...], "valid": [...], "test": [...]}`` track ids, from
        :func:`genrekit.datasets.read_split_lists`; required for ``fault-filtered``.
    artists : dict, optional
        ``track_id -> artist`` from :func:`genrekit.datasets.read_artist_index`; required for
        ``artist-cv``, optional for ``fault-filtered`` (then its tuning folds group artists).
    tune_on : str
        ``fault-filtered`` only: ``"train+valid"`` (k-fold grouped CV on train + valid) or
        ``"valid"`` (fit on train, score on valid; one fold), or ``"train"`` (k-fold on the
        train list alone, fit on it; valid unused).

    Returns
    -------
    ProtocolSplit

    Raises
    ------
    ParameterError
        Unknown protocol, bad ``n_splits`` / ``test_size`` / ``tune_on``, or a missing
        ``splits`` / ``artists`` argument.
    DataError
        The table and the split lists share no track, or too few groups for the folds.
    """
    from sklearn.model_selection import (
        StratifiedGroupKFold,
        StratifiedKFold,
        train_test_split,
    )

    _check_name(name)
    if n_splits < 2:
        raise ParameterError(f"n_splits: expected an integer >= 2, got {n_splits}")
    if not 0.0 < test_size < 1.0:
        raise ParameterError(f"test_size: expected a fraction in (0, 1), got {test_size}")
    if tune_on not in TUNE_ON:
        raise ParameterError(f"tune_on: expected one of {', '.join(TUNE_ON)}, got {tune_on!r}")
    y = df["label"].astype(str).to_numpy()
    tracks = df["track_id"].astype(str).to_numpy()
    level = table_level(df)
    n = len(df)
    notes: list[str] = []

    if name == "seed":
        idx = np.arange(n)
        # Row order as train_test_split returns it (shuffled), like the capstone's X_train:
        # its cross_val_score(cv=5) cut unshuffled stratified folds from that order.
        train, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
        k = _n_splits_for(y[train], None, n_splits, "seed")
        leaky = level == "segment"
        if leaky:
            notes.append(
                "LEAKY: rows are 3 s segments split at random, so segments of one track are "
                "in both train and test; accuracy is inflated (kept to reproduce the capstone)"
            )
        return ProtocolSplit(name, train, test, StratifiedKFold(k), None, leaky, level,
                             notes=tuple(notes))

    if name in ("track-cv", "artist-cv"):
        if name == "artist-cv":
            if artists is None:
                raise ParameterError(
                    "artist-cv needs Sturm's artist index: set artists = \"path/to/GTZANindex.txt\""
                )
            groups = artist_groups(tracks, artists)
            unknown = sum(1 for t in np.unique(tracks) if not artists.get(t))
            if unknown:
                notes.append(f"{unknown} tracks without an artist are each their own group")
        else:
            groups = tracks.astype(object)
        k = _n_splits_for(y, groups, n_splits, name)
        group_cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        return ProtocolSplit(name, np.arange(n), None, group_cv, groups, False, level,
                             notes=tuple(notes))

    # fault-filtered
    if splits is None:
        raise ParameterError(
            "fault-filtered needs the split lists: set splits = \"path/to/splits\" "
            "(a folder with train_filtered.txt, valid_filtered.txt, test_filtered.txt)"
        )
    where = {t: part for part, ids in splits.items() for t in ids}
    part = np.array([where.get(t, "") for t in tracks], dtype=object)
    tr = np.flatnonzero(part == "train")
    va = np.flatnonzero(part == "valid")
    te = np.flatnonzero(part == "test")
    if tr.size == 0 or te.size == 0 or (tune_on == "valid" and va.size == 0):
        raise DataError(
            "fault-filtered: the table's tracks do not match the split lists "
            f"(train rows {tr.size}, valid rows {va.size}, test rows {te.size}); expected "
            "track ids like 'blues.00029' in both"
        )
    excluded = int(n - tr.size - va.size - te.size)
    if excluded:
        notes.append(f"{excluded} rows of tracks in no split list are not used")
    fit_rows = np.sort(np.concatenate([tr, va]))
    if tune_on == "train":
        fit_rows = tr
        if va.size:
            notes.append(f"tune_on = train: {va.size} rows of the valid list are not used")
            excluded += int(va.size)
    if tune_on == "valid":
        pos = {r: i for i, r in enumerate(fit_rows)}
        fold = (np.array([pos[r] for r in tr]), np.array([pos[r] for r in va]))
        cv: Any = PredefinedFolds([fold])
        fit_groups: np.ndarray | None = None
        notes.append("tuned by fitting on the train list and scoring on the valid list")
    else:
        if artists is not None:
            fit_groups = artist_groups(tracks[fit_rows], artists)
            notes.append(f"tuning folds on {tune_on} are grouped by artist")
        else:
            fit_groups = tracks[fit_rows].astype(object)
            notes.append(f"tuning folds on {tune_on} are grouped by track")
        k = _n_splits_for(y[fit_rows], fit_groups, n_splits, name)
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return ProtocolSplit(name, fit_rows, te, cv, fit_groups, False, level, excluded=excluded,
                         notes=tuple(notes))
