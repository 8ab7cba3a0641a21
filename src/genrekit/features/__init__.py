"""Pure array -> array feature functions (spectral, chroma, MFCC, HPSS, rhythm) and the
Kaggle 57-column assembly in :mod:`genrekit.features.kaggle`."""

__all__: list[str] = []
