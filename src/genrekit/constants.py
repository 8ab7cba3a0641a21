"""Every number genrekit's features and segments are built from, in one place.

Derived values are computed from the primary ones, never typed twice; the library and the
command line share the ``DEFAULT_*`` names.
"""

from __future__ import annotations

__all__ = [
    "SAMPLE_RATE",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "N_MFCC",
    "N_CHROMA",
    "HPSS_KERNEL",
    "PAD_MODES",
    "DEFAULT_PAD_MODE",
    "SEGMENT_SECONDS",
    "SEGMENT_STRIDE",
    "SEGMENT_SAMPLES",
    "TRACK_SECONDS",
    "SEGMENTS_PER_TRACK",
    "GENRES",
    "FEATURE_NAMES",
    "KAGGLE_COLUMNS",
    "TABLE_COLUMNS",
    "WHOLE_TRACK_SEGMENT",
    "AUDIO_EXTENSIONS",
    "DEFAULT_FORMAT",
    "TABLE_30S",
    "TABLE_3S",
    "FAILURES_FILE",
]

#: Sample rate every feature is computed at (librosa's default; the Kaggle tables use it).
SAMPLE_RATE = 22050
#: STFT size and hop (librosa defaults, as in the Kaggle tables).
N_FFT = 2048
HOP_LENGTH = 512
#: Mel bands for spectrograms and MFCCs (librosa default), MFCC coefficients kept.
N_MELS = 128
N_MFCC = 20
N_CHROMA = 12
#: HPSS median-filter kernel (librosa default), in frames and in bins.
HPSS_KERNEL = 31

#: STFT centring: "reflect" reproduces the Kaggle tables (librosa < 0.9); "constant" is
#: librosa >= 0.9's zero padding.
PAD_MODES = ("reflect", "constant")
DEFAULT_PAD_MODE = "reflect"

#: The Kaggle 3 s rule: segment ``i`` covers samples ``[i * SEGMENT_STRIDE,
#: i * SEGMENT_STRIDE + SEGMENT_SAMPLES)``: a 3 s stride, one sample short of 3 s long
#: (the published ``length`` column says 66149).
SEGMENT_SECONDS = 3
SEGMENT_STRIDE = SEGMENT_SECONDS * SAMPLE_RATE
SEGMENT_SAMPLES = SEGMENT_STRIDE - 1
TRACK_SECONDS = 30
SEGMENTS_PER_TRACK = TRACK_SECONDS // SEGMENT_SECONDS

#: ``segment`` value of whole-track rows (the 30 s table).
WHOLE_TRACK_SEGMENT = -1

#: The ten GTZAN genres, in the dataset's (alphabetical) order.
GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)


def _feature_names() -> tuple[str, ...]:
    names: list[str] = []
    for base in (
        "chroma_stft",
        "rms",
        "spectral_centroid",
        "spectral_bandwidth",
        "rolloff",
        "zero_crossing_rate",
        "harmony",
        "perceptr",
    ):
        names += [f"{base}_mean", f"{base}_var"]
    names.append("tempo")
    for k in range(1, N_MFCC + 1):
        names += [f"mfcc{k}_mean", f"mfcc{k}_var"]
    return tuple(names)


#: The 57 Kaggle feature columns, in the published order.
FEATURE_NAMES = _feature_names()
#: Columns of the published Kaggle tables.
KAGGLE_COLUMNS = ("filename", "length", *FEATURE_NAMES, "label")
#: Columns of genrekit's tables: the Kaggle ones plus the track and segment they come from.
TABLE_COLUMNS = (*KAGGLE_COLUMNS, "track_id", "segment")

#: Audio file extensions genrekit looks for in folders (decoded through libsndfile).
AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

DEFAULT_FORMAT = "parquet"
#: File stems ``extract`` writes.
TABLE_30S = "features_30_sec"
TABLE_3S = "features_3_sec"
FAILURES_FILE = "failures.csv"

assert len(FEATURE_NAMES) == 57  # a module invariant, not input validation
