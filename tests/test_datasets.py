"""Reading Kaggle and genrekit tables, duplicates, the artist index and split lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from genrekit.constants import FEATURE_NAMES, TABLE_COLUMNS
from genrekit.datasets import (
    artist_groups,
    drop_duplicates,
    find_duplicates,
    read_artist_index,
    read_split_lists,
    read_table,
    table_level,
    track_id_from_filename,
)
from genrekit.exceptions import DataError


def _kaggle_frame(names: list[str], labels: list[str], length: int, rng) -> pd.DataFrame:
    feats = rng.normal(size=(len(names), len(FEATURE_NAMES)))
    df = pd.DataFrame(feats, columns=list(FEATURE_NAMES))
    df.insert(0, "length", length)
    df.insert(0, "filename", names)
    df["label"] = labels
    return df


def test_track_id_from_filename():
    assert track_id_from_filename("blues.00012.3.wav") == ("blues.00012", 3)
    assert track_id_from_filename("blues.00012.wav") == ("blues.00012", -1)
    assert track_id_from_filename("rock.00016.au") == ("rock.00016", -1)
    assert track_id_from_filename("jazz.00054.9.au") == ("jazz.00054", 9)
    assert track_id_from_filename("my song.3.wav", segmented=True) == ("my song", 3)
    assert track_id_from_filename("my song.3.wav") == ("my song.3", -1)
    with pytest.raises(DataError, match="expected a segment name"):
        track_id_from_filename("song.wav", segmented=True)


@pytest.mark.parametrize("ext", [".wav", ".au"])
@pytest.mark.parametrize("bom,newline", [(False, "\n"), (True, "\r\n")])
def test_read_kaggle_3sec_variants(tmp_path, rng, ext, bom, newline):
    names = [f"blues.00012.{i}{ext}" for i in range(3)] + [f"rock.00001.0{ext}"]
    df = _kaggle_frame(names, ["blues"] * 3 + ["rock"], 66149, rng)
    text = df.to_csv(index=False, lineterminator=newline, float_format="%.17g")
    path = tmp_path / "features_3_sec.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    out = read_table(path)
    assert list(out.columns) == list(TABLE_COLUMNS)
    assert out["track_id"].tolist() == ["blues.00012"] * 3 + ["rock.00001"]
    assert out["segment"].tolist() == [0, 1, 2, 0]
    assert out["label"].tolist() == ["blues"] * 3 + ["rock"]
    np.testing.assert_allclose(out[list(FEATURE_NAMES)].to_numpy(),
                               df[list(FEATURE_NAMES)].to_numpy(), rtol=0, atol=0)
    assert table_level(out) == "segment"


def test_read_kaggle_30sec_and_non_gtzan_segments(tmp_path, rng):
    df = _kaggle_frame(["pop.00003.wav", "pop.00004.au"], ["pop", "pop"], 661794, rng)
    df.to_csv(tmp_path / "t30.csv", index=False)
    out = read_table(tmp_path / "t30.csv")
    assert out["track_id"].tolist() == ["pop.00003", "pop.00004"]
    assert out["segment"].tolist() == [-1, -1]
    assert table_level(out) == "track"
    # A 3 s table (length 66149) with non-GTZAN names: the last number is the segment.
    df = _kaggle_frame(["my.song.0.wav", "my.song.1.wav"], ["x", "x"], 66149, rng)
    df.to_csv(tmp_path / "t3.csv", index=False)
    out = read_table(tmp_path / "t3.csv")
    assert out["track_id"].tolist() == ["my.song", "my.song"]
    assert out["segment"].tolist() == [0, 1]


def test_read_genrekit_parquet_keeps_ids(tmp_path, rng):
    df = _kaggle_frame(["a/song.wav", "b/song.wav"], ["", "rock"], 1000, rng)
    df["track_id"] = ["a/song", "b/song"]
    df["segment"] = [-1, -1]
    df["group"] = ["g1", "g2"]
    df.to_parquet(tmp_path / "features_30_sec.parquet", index=False)
    out = read_table(tmp_path / "features_30_sec.parquet")
    assert list(out.columns) == [*TABLE_COLUMNS, "group"]
    assert out["track_id"].tolist() == ["a/song", "b/song"]
    assert out["label"].tolist() == ["", "rock"]


def test_read_table_errors(tmp_path):
    with pytest.raises(DataError, match="feature table not found"):
        read_table(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("filename,length,label\nx.wav,1,blues\n")
    with pytest.raises(DataError, match="57 feature columns are missing"):
        read_table(bad)
    other = tmp_path / "x.json"
    other.write_text("{}")
    with pytest.raises(DataError, match="expected a .csv or .parquet"):
        read_table(other)


def test_duplicates_30sec_real():
    df = read_table(shared_path("kaggle", "features_30_sec.csv"))
    assert len(df) == 1000
    report = find_duplicates(df)
    assert report.n_duplicate_rows == 14
    assert report.cross_genre_pairs == [("metal.00058.wav", "rock.00016.wav")]
    kept, again = drop_duplicates(df)
    assert len(kept) == 986 and again.n_duplicate_rows == 14
    assert find_duplicates(kept).n_duplicate_rows == 0
    record = report.to_dict(dropped=True)
    assert set(record) == {"n_rows", "n_duplicate_rows", "pairs", "cross_genre_pairs", "dropped"}
    assert ["metal.00058.wav", "rock.00016.wav"] in record["pairs"]


def test_duplicates_3sec_real():
    df = read_table(shared_path("kaggle", "features_3_sec.csv"))
    assert len(df) == 9990 and df["track_id"].nunique() == 1000
    kept, report = drop_duplicates(df)
    # The shared copy has 133 duplicate rows (-> 9857); the capstone's copy lost 143.
    assert report.n_duplicate_rows == 133
    assert len(kept) == 9857
    assert len(report.cross_genre_pairs) == 10


def test_artist_index_real():
    index = read_artist_index(shared_path("sturm", "GTZANindex.txt"))
    assert len(index) == 1000
    assert index["blues.00000"] == "John Lee Hooker"
    assert sum(a is None for a in index.values()) == 81
    assert index["jazz.00054"] is None
    groups = artist_groups(["blues.00000", "jazz.00054", "unknown.00001"], index)
    assert groups.tolist() == ["artist:John Lee Hooker", "track:jazz.00054", "track:unknown.00001"]


def test_artist_index_errors(tmp_path):
    with pytest.raises(DataError, match="artist index not found"):
        read_artist_index(tmp_path / "none.txt")
    bad = tmp_path / "idx.txt"
    bad.write_text("# comment\nblues.00000.wav John Lee Hooker\n")
    with pytest.raises(DataError, match=r"idx.txt:2: expected 'file ::: artist ::: title'"):
        read_artist_index(bad)


def test_split_lists_real():
    lists = read_split_lists(shared_path("splits"))
    assert {k: len(v) for k, v in lists.items()} == {"train": 443, "valid": 197, "test": 290}
    assert lists["train"][0] == "blues.00029"
    strat = read_split_lists(shared_path("splits"), kind="stratified")
    assert {k: len(v) for k, v in strat.items()} == {"train": 500, "valid": 250, "test": 250}


def test_split_lists_errors(tmp_path):
    with pytest.raises(DataError, match="split folder not found"):
        read_split_lists(tmp_path / "nope")
    (tmp_path / "train_filtered.txt").write_text("blues/blues.00001.wav\r\n")
    with pytest.raises(DataError, match="valid_filtered.txt: split list not found"):
        read_split_lists(tmp_path)
    (tmp_path / "valid_filtered.txt").write_text("blues/blues.00002.wav\n")
    (tmp_path / "test_filtered.txt").write_text("blues/blues.00001.wav\n")
    with pytest.raises(DataError, match="blues.00001 is in both train and test"):
        read_split_lists(tmp_path)


def test_add_segment_stats_real():
    from genrekit.datasets import add_segment_stats, feature_columns

    t30 = read_table(shared_path("kaggle", "features_30_sec.csv"))
    t3 = read_table(shared_path("kaggle", "features_3_sec_tracks00075-00099.csv"))
    part = t30[t30["track_id"].isin(set(t3["track_id"]))]
    out = add_segment_stats(part, t3)
    assert len(out) == 250 and len(feature_columns(out)) == 57 * 3
    row = out[out["track_id"] == "blues.00080"].iloc[0]
    seg = t3.loc[t3["track_id"] == "blues.00080", "mfcc1_mean"]
    assert row["seg_mean_mfcc1_mean"] == pytest.approx(seg.mean())
    assert row["seg_std_mfcc1_mean"] == pytest.approx(seg.std(ddof=1))
    assert row["mfcc1_mean"] == part.loc[part["track_id"] == "blues.00080", "mfcc1_mean"].item()
    with pytest.raises(DataError, match="tracks have no 3 s segments"):
        add_segment_stats(t30, t3)
    with pytest.raises(DataError, match="must be whole tracks"):
        add_segment_stats(t3, t3)
