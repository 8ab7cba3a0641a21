"""Protocols: no track (or artist) on both sides, split lists respected, the capstone's split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from genrekit.constants import FEATURE_NAMES
from genrekit.datasets import (
    artist_groups,
    drop_duplicates,
    read_artist_index,
    read_split_lists,
    read_table,
)
from genrekit.exceptions import DataError, ParameterError
from genrekit.protocols import PROTOCOLS, make_protocol


@pytest.fixture(scope="module")
def slice3():
    return read_table(shared_path("kaggle", "features_3_sec_tracks00075-00099.csv"))


def _tracks_of(df: pd.DataFrame, rows: np.ndarray) -> set[str]:
    return set(df["track_id"].to_numpy()[rows])


def test_protocol_names():
    assert list(PROTOCOLS) == ["seed", "track-cv", "artist-cv", "fault-filtered"]
    with pytest.raises(ParameterError, match="protocol: expected one of seed, track-cv"):
        make_protocol("random", pd.DataFrame({"label": [], "track_id": [], "segment": []}))


def test_seed_is_leaky_on_segments(slice3):
    split = make_protocol("seed", slice3, seed=1)
    assert split.leaky and split.level == "segment" and split.cv_groups is None
    assert split.train.size == 2000 and split.test.size == 500
    assert not set(split.train) & set(split.test)
    # The leak the protocol is flagged for: many test tracks also have segments in train.
    shared = _tracks_of(slice3, split.train) & _tracks_of(slice3, split.test)
    assert len(shared) > 200
    assert any("LEAKY" in n for n in split.notes)
    again = make_protocol("seed", slice3, seed=1)
    np.testing.assert_array_equal(split.test, again.test)


def test_track_cv_keeps_tracks_together(slice3):
    split = make_protocol("track-cv", slice3, seed=1)
    assert not split.leaky and split.test is None and split.train.size == len(slice3)
    y = slice3["label"].to_numpy()
    folds = list(split.cv.split(slice3, y, split.cv_groups))
    assert len(folds) == 5
    seen = []
    for a, b in folds:
        assert not _tracks_of(slice3, a) & _tracks_of(slice3, b)
        seen.append(b)
    assert np.sort(np.concatenate(seen)).tolist() == list(range(len(slice3)))


def test_artist_cv_keeps_artists_together(slice3):
    artists = read_artist_index(shared_path("sturm", "GTZANindex.txt"))
    split = make_protocol("artist-cv", slice3, seed=1, artists=artists)
    groups = artist_groups(slice3["track_id"], artists)
    y = slice3["label"].to_numpy()
    for a, b in split.cv.split(slice3, y, split.cv_groups):
        assert not set(groups[a]) & set(groups[b])
        assert not _tracks_of(slice3, a) & _tracks_of(slice3, b)
    with pytest.raises(ParameterError, match="artist-cv needs Sturm's artist index"):
        make_protocol("artist-cv", slice3)


def test_fault_filtered_respects_lists():
    df = read_table(shared_path("kaggle", "features_30_sec.csv"))
    lists = read_split_lists(shared_path("splits"))
    artists = read_artist_index(shared_path("sturm", "GTZANindex.txt"))
    split = make_protocol("fault-filtered", df, splits=lists, artists=artists)
    train_tracks = _tracks_of(df, split.train)
    assert train_tracks == set(lists["train"]) | set(lists["valid"])
    assert _tracks_of(df, split.test) == set(lists["test"])
    assert split.excluded == 70
    y = df["label"].to_numpy()[split.train]
    groups = split.cv_groups
    for a, b in split.cv.split(split.train, y, groups):
        assert not set(groups[a]) & set(groups[b])
    # Tuning on valid only: one fold, fit on the train list, score on the valid list.
    v = make_protocol("fault-filtered", df, splits=lists, tune_on="valid")
    ((a, b),) = list(v.cv.split(v.train, y, v.cv_groups))
    assert _tracks_of(df, v.train[a]) == set(lists["train"])
    assert _tracks_of(df, v.train[b]) == set(lists["valid"])
    with pytest.raises(ParameterError, match="fault-filtered needs the split lists"):
        make_protocol("fault-filtered", df)
    with pytest.raises(DataError, match="do not match the split lists"):
        make_protocol("fault-filtered", df, splits={"train": ["x"], "valid": [], "test": ["y"]})


def test_seed_reproduces_capstone_logreg():
    """The capstone's 0.7122: converged logistic regression, scaled, seed split of 9857 rows."""
    from genrekit.models import get_model

    df, _ = drop_duplicates(read_table(shared_path("kaggle", "features_3_sec.csv")))
    split = make_protocol("seed", df, seed=1)
    X = df[list(FEATURE_NAMES)].to_numpy()
    y = df["label"].to_numpy()
    model = get_model("logreg").build(seed=1).fit(X[split.train], y[split.train])
    acc = float(np.mean(model.predict(X[split.test]) == y[split.test]))
    assert split.test.size == 1972
    assert acc == pytest.approx(0.7120, abs=6e-4)  # 1404 / 1972


def test_predefined_folds_drive_a_grid_search(rng):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    from genrekit.protocols import PredefinedFolds

    X = rng.normal(size=(40, 3))
    y = np.repeat(["a", "b"], 20)
    folds = PredefinedFolds([(np.arange(0, 40, 2), np.arange(1, 40, 2))])
    assert folds.get_n_splits() == 1 and "n_splits=1" in repr(folds)
    grid = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=folds).fit(X, y)
    assert len(grid.cv_results_["split0_test_score"]) == 2
