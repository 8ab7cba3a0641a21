"""Tables, duplicates, artist groups and split lists: the data every protocol starts from.

genrekit reads the public Kaggle GTZAN tables (either the 30 s or the 3 s one, ``.wav`` or
``.au`` file names, with or without a byte-order mark, LF or CRLF line ends) and its own
tables from ``genrekit extract`` (Parquet or CSV), and normalises both to the columns of
``docs/formats.md``: ``filename, length, <57 features>, label, track_id, segment``.

Examples
--------
>>> from genrekit.datasets import read_table, find_duplicates
>>> df = read_table("../shared/data/kaggle/features_30_sec.csv")  # doctest: +SKIP
>>> find_duplicates(df).n_duplicate_rows  # doctest: +SKIP
14
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrekit.constants import (
    AUDIO_EXTENSIONS,
    FEATURE_NAMES,
    SEGMENT_SAMPLES,
    TABLE_COLUMNS,
    WHOLE_TRACK_SEGMENT,
)
from genrekit.exceptions import DataError

__all__ = [
    "read_table",
    "table_level",
    "track_id_from_filename",
    "Duplicates",
    "find_duplicates",
    "drop_duplicates",
    "read_artist_index",
    "artist_groups",
    "read_split_lists",
    "add_segment_stats",
    "feature_columns",
    "SPLIT_NAMES",
    "SEGMENT_STATS",
]

#: Statistics over a track's 3 s segments that :func:`add_segment_stats` adds.
SEGMENT_STATS = ("mean", "std")

#: The three lists of a GTZAN split, in order.
SPLIT_NAMES = ("train", "valid", "test")

# "blues.00012" or "blues.00012.3": the GTZAN naming rule, which needs no guessing.
_GTZAN_STEM = re.compile(r"^(?P<track>[A-Za-z]+\.\d{5})(?:\.(?P<segment>\d+))?$")
_SEGMENT_SUFFIX = re.compile(r"^(?P<track>.+)\.(?P<segment>\d+)$")


# --------------------------------------------------------------------------- tables


def _strip_extension(name: str) -> str:
    lower = name.lower()
    for ext in AUDIO_EXTENSIONS:
        if lower.endswith(ext):
            return name[: -len(ext)]
    return name


def track_id_from_filename(filename: str, *, segmented: bool | None = None) -> tuple[str, int]:
    """Split a Kaggle-style file name into its track id and segment number.

    Parameters
    ----------
    filename : str
        ``blues.00012.wav`` (a whole track), ``blues.00012.3.wav`` (segment 3), or any
        ``<stem>[.<i>].<ext>`` name.
    segmented : bool or None
        Whether the name carries a segment number. ``None`` decides from the GTZAN naming
        rule (``<genre>.<5 digits>[.<i>]``) and treats other names as whole tracks.

    Returns
    -------
    track_id : str
        The name without extension and segment number.
    segment : int
        The segment index, or ``-1`` for a whole track.

    Examples
    --------
    >>> track_id_from_filename("blues.00012.3.wav")
    ('blues.00012', 3)
    >>> track_id_from_filename("rock.00016.au")
    ('rock.00016', -1)
    """
    stem = _strip_extension(str(filename).strip())
    match = _GTZAN_STEM.match(stem)
    if match is not None and segmented is None:
        seg = match.group("segment")
        return match.group("track"), WHOLE_TRACK_SEGMENT if seg is None else int(seg)
    if segmented:
        match = _SEGMENT_SUFFIX.match(stem)
        if match is None:
            raise DataError(
                f"{filename}: expected a segment name like 'blues.00012.3.wav', "
                "with the segment number before the extension"
            )
        return match.group("track"), int(match.group("segment"))
    return stem, WHOLE_TRACK_SEGMENT


def _read_raw(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            # utf-8-sig drops a byte-order mark; the C parser accepts LF and CRLF alike.
            return pd.read_csv(path, encoding="utf-8-sig", dtype={"filename": str, "label": str})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the feature table: {exc}") from exc
    raise DataError(f"{path}: expected a .csv or .parquet feature table, got {suffix or 'no suffix'!r}")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a feature table (Kaggle CSV or genrekit's own) with genrekit's columns.

    Parameters
    ----------
    path : str or Path
        ``features_30_sec.csv`` / ``features_3_sec.csv`` as published on Kaggle, or a
        ``features_*.{parquet,csv}`` written by ``genrekit extract``.

    Returns
    -------
    pd.DataFrame [shape=(n_rows, 62 + extra)]
        Columns ``filename, length, <57 features>, label, track_id, segment`` in that order
        (:data:`genrekit.constants.TABLE_COLUMNS`), then any extra columns of the input
        (``group``, ``artist``). Features are float64, ``segment`` is int (-1 for whole
        tracks), ``label`` is a string ("" when unknown). Rows keep the file's order.

    Raises
    ------
    DataError
        The file is missing, unreadable, or lacks feature columns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: feature table not found")
    df = _read_raw(path)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in FEATURE_NAMES if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DataError(
            f"{path}: not a GTZAN feature table: {len(missing)} of the 57 feature columns "
            f"are missing ({shown})"
        )
    if "filename" not in df.columns:
        raise DataError(f"{path}: not a GTZAN feature table: no 'filename' column")
    if len(df) == 0:
        raise DataError(f"{path}: the feature table has no rows")

    out = df.copy()
    out["filename"] = out["filename"].astype(str).str.strip()
    if "label" not in out.columns:
        out["label"] = ""
    out["label"] = out["label"].fillna("").astype(str).str.strip()
    if "length" not in out.columns:
        out["length"] = -1
    if "track_id" not in out.columns or "segment" not in out.columns:
        # A Kaggle table: derive both from the file name. A table whose rows are all
        # 66149 samples long is the 3 s table, even when its names are not GTZAN's.
        lengths = pd.to_numeric(out["length"], errors="coerce")
        segmented: bool | None = None
        if len(lengths) and bool((lengths == SEGMENT_SAMPLES).all()):
            segmented = True
        parsed = [track_id_from_filename(f, segmented=segmented) for f in out["filename"]]
        out["track_id"] = [t for t, _ in parsed]
        out["segment"] = [s for _, s in parsed]
    out["track_id"] = out["track_id"].astype(str)
    out["segment"] = pd.to_numeric(out["segment"], errors="raise").astype(np.int64)
    try:
        out[list(FEATURE_NAMES)] = out[list(FEATURE_NAMES)].apply(pd.to_numeric).astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: a feature column is not numeric: {exc}") from exc
    extra = [c for c in out.columns if c not in TABLE_COLUMNS]
    out = out[[*TABLE_COLUMNS, *extra]]
    return out.reset_index(drop=True)


def table_level(df: pd.DataFrame) -> str:
    """``"segment"`` when the rows are 3 s segments of tracks, else ``"track"``."""
    return "segment" if bool((df["segment"].to_numpy() != WHOLE_TRACK_SEGMENT).any()) else "track"


# --------------------------------------------------------------------------- duplicates


@dataclass(frozen=True)
class Duplicates:
    """Exact duplicate feature rows of a table.

    Attributes
    ----------
    n_rows : int
        Rows in the table.
    n_duplicate_rows : int
        Rows equal, on all feature columns, to an earlier row (what dropping removes).
    pairs : list of (str, str)
        ``(first file, duplicate file)`` for each duplicate row.
    cross_genre_pairs : list of (str, str)
        The pairs whose labels differ (mislabelled or repeated audio across genres).
    drop_index : np.ndarray [shape=(n_duplicate_rows,)]
        Positional indices of the duplicate rows (the first occurrence is kept).
    """

    n_rows: int
    n_duplicate_rows: int
    pairs: list[tuple[str, str]] = field(default_factory=list)
    cross_genre_pairs: list[tuple[str, str]] = field(default_factory=list)
    drop_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def to_dict(self, *, dropped: bool) -> dict[str, Any]:
        """The ``duplicates.json`` record of ``docs/formats.md``."""
        return {
            "n_rows": self.n_rows,
            "n_duplicate_rows": self.n_duplicate_rows,
            "pairs": [list(p) for p in self.pairs],
            "cross_genre_pairs": [list(p) for p in self.cross_genre_pairs],
            "dropped": bool(dropped),
        }


def find_duplicates(
    df: pd.DataFrame, *, feature_columns: Sequence[str] = FEATURE_NAMES
) -> Duplicates:
    """Find rows whose features equal an earlier row's exactly.

    Parameters
    ----------
    df : pd.DataFrame [shape=(n_rows, ...)]
        A table from :func:`read_table`.
    feature_columns : sequence of str
        The columns compared (default: the 57 Kaggle features).

    Returns
    -------
    Duplicates
        Counts, the pairs (each duplicate with the first row it repeats), the pairs across
        genres, and the positional indices to drop.
    """
    cols = list(feature_columns)
    feats = df[cols].reset_index(drop=True)
    dup = feats.duplicated(keep="first").to_numpy()
    drop_index = np.flatnonzero(dup)
    pairs: list[tuple[str, str]] = []
    cross: list[tuple[str, str]] = []
    if drop_index.size:
        # Group equal rows by hashing them; the first of each group is the kept one.
        keys = pd.util.hash_pandas_object(feats, index=False).to_numpy()
        first: dict[int, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(int(key), i)
        names = df["filename"].astype(str).to_numpy()
        labels = df["label"].astype(str).to_numpy() if "label" in df else None
        for d in drop_index:
            j = first[int(keys[d])]
            pair = (str(names[j]), str(names[d]))
            pairs.append(pair)
            if labels is not None and labels[d] != labels[j]:
                cross.append(pair)
    return Duplicates(
        n_rows=len(df),
        n_duplicate_rows=int(drop_index.size),
        pairs=pairs,
        cross_genre_pairs=cross,
        drop_index=drop_index,
    )


def drop_duplicates(
    df: pd.DataFrame, *, feature_columns: Sequence[str] = FEATURE_NAMES
) -> tuple[pd.DataFrame, Duplicates]:
    """Drop the rows that repeat an earlier row's features (as the capstone did).

    Returns
    -------
    table : pd.DataFrame
        The table without the duplicate rows, index reset.
    report : Duplicates
        What was found (see :func:`find_duplicates`).
    """
    report = find_duplicates(df, feature_columns=feature_columns)
    keep = np.ones(len(df), dtype=bool)
    keep[report.drop_index] = False
    return df.iloc[keep].reset_index(drop=True), report


# --------------------------------------------------------------------------- artists


def read_artist_index(path: str | Path) -> dict[str, str | None]:
    """Read Sturm's GTZAN artist index (``GTZANindex.txt``).

    Parameters
    ----------
    path : str or Path
        Lines ``blues.00000.wav ::: John Lee Hooker ::: One Bourbon, ...``; ``#`` lines are
        comments.

    Returns
    -------
    dict
        ``track_id -> artist``, with ``None`` for the tracks the index gives no artist.

    Raises
    ------
    DataError
        The file is missing or has no index lines.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: artist index not found (expected Sturm's GTZANindex.txt)")
    index: dict[str, str | None] = {}
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(":::")]
        if len(parts) < 2:
            raise DataError(
                f"{path}:{lineno}: expected 'file ::: artist ::: title', got {line[:60]!r}"
            )
        track_id, _ = track_id_from_filename(parts[0])
        index[track_id] = parts[1] or None
    if not index:
        raise DataError(f"{path}: no 'file ::: artist ::: title' lines found")
    return index


def artist_groups(track_ids: Iterable[str], index: dict[str, str | None]) -> np.ndarray:
    """Group label per row for artist-grouped cross-validation.

    Tracks with an artist get ``artist:<name>``; tracks without one (or absent from the
    index) are their own group ``track:<track_id>``, so they never force unrelated tracks
    together.

    Returns
    -------
    np.ndarray [shape=(n_rows,), dtype=object]
    """
    out = []
    for t in track_ids:
        artist = index.get(str(t))
        out.append(f"artist:{artist}" if artist else f"track:{t}")
    return np.asarray(out, dtype=object)


# --------------------------------------------------------------------------- split lists


def read_split_lists(directory: str | Path, *, kind: str = "filtered") -> dict[str, list[str]]:
    """Read a GTZAN train / valid / test split (``{train,valid,test}_<kind>.txt``).

    Parameters
    ----------
    directory : str or Path
        The folder holding the lists (lines like ``blues/blues.00029.wav``).
    kind : str
        ``"filtered"`` (the fault-filtered split of Kereliuk, Sturm & Larsen),
        ``"stratified"`` (the older random split), or any ``<kind>`` with such files.

    Returns
    -------
    dict
        ``{"train": [track_id, ...], "valid": [...], "test": [...]}``.

    Raises
    ------
    DataError
        A list is missing or empty, or a track appears in two lists.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: split folder not found")
    lists: dict[str, list[str]] = {}
    for name in SPLIT_NAMES:
        path = directory / f"{name}_{kind}.txt"
        if not path.is_file():
            raise DataError(
                f"{path}: split list not found (expected {', '.join(f'{n}_{kind}.txt' for n in SPLIT_NAMES)}"
                f" in {directory})"
            )
        ids = []
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            ids.append(track_id_from_filename(line.replace("\\", "/").rsplit("/", 1)[-1])[0])
        if not ids:
            raise DataError(f"{path}: the split list is empty")
        lists[name] = ids
    seen: dict[str, str] = {}
    for name, ids in lists.items():
        for t in ids:
            if t in seen and seen[t] != name:
                raise DataError(f"{directory}: track {t} is in both {seen[t]} and {name} lists")
            seen[t] = name
    return lists


# --------------------------------------------------------------------------- segment statistics


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model inputs of a table: the 57 features, then any ``seg_<stat>_<feature>`` columns."""
    extra = [c for c in df.columns if str(c).startswith("seg_")]
    return [*FEATURE_NAMES, *extra]


def add_segment_stats(
    tracks: pd.DataFrame, segments: pd.DataFrame, *, stats: Sequence[str] = SEGMENT_STATS
) -> pd.DataFrame:
    """Add per-track statistics of the 3 s segment features to a whole-track table.

    The 30 s features summarise a track's frames in one mean and one variance; how the 3 s
    summaries move over the track (their spread, not just their average) is information the
    30 s row lacks. Both tables come from the same audio, so no label information leaks.

    Parameters
    ----------
    tracks : pd.DataFrame [shape=(n_tracks, ...)]
        A whole-track table (``segment == -1``) from :func:`read_table`.
    segments : pd.DataFrame [shape=(n_segments, ...)]
        The 3 s table of the same tracks.
    stats : sequence of str
        pandas aggregations over each track's segments (default ``mean`` and ``std``;
        ``std`` is the sample standard deviation, 0 for a single segment).

    Returns
    -------
    pd.DataFrame [shape=(n_tracks, n_columns + len(stats) * 57)]
        ``tracks`` with columns ``seg_<stat>_<feature>`` appended, rows in the same order.

    Raises
    ------
    DataError
        A track of ``tracks`` has no segment in ``segments``, or a table is on the wrong level.
    """
    if table_level(tracks) != "track":
        raise DataError("add_segment_stats: the first table must be whole tracks (segment -1)")
    if table_level(segments) != "segment":
        raise DataError("add_segment_stats: the second table must be 3 s segments")
    cols = list(FEATURE_NAMES)
    agg = segments.groupby("track_id")[cols].agg(list(stats))
    agg.columns = [f"seg_{pair[1]}_{pair[0]}" for pair in agg.columns]
    agg = agg.fillna(0.0)
    missing = sorted(set(tracks["track_id"]) - set(agg.index))
    if missing:
        raise DataError(
            f"add_segment_stats: {len(missing)} tracks have no 3 s segments "
            f"(e.g. {missing[0]}); expected the segment table of the same tracks"
        )
    order = [f"seg_{stat}_{feat}" for stat in stats for feat in cols]
    extra = agg.reindex(tracks["track_id"].to_numpy())[order].reset_index(drop=True)
    return pd.concat([tracks.reset_index(drop=True), extra], axis=1)
