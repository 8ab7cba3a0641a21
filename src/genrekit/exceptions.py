"""genrekit's exceptions: one root, specific subclasses, messages that name the thing."""

from __future__ import annotations

__all__ = [
    "GenreKitError",
    "ParameterError",
    "AudioError",
    "DataError",
    "ModelError",
    "FetchError",
    "DependencyError",
]


class GenreKitError(Exception):
    """Root of every error genrekit raises on purpose."""


class ParameterError(GenreKitError, ValueError):
    """A function or command was called with an invalid argument or configuration."""


class AudioError(GenreKitError):
    """An audio file cannot be used: missing, not audio, empty, corrupt or not finite."""


class DataError(GenreKitError):
    """A feature table, manifest, split list or index is missing or malformed."""


class ModelError(GenreKitError):
    """A model bundle is missing, tampered with, or from an incompatible version."""


class FetchError(GenreKitError):
    """A download failed, or its checksum did not match."""


class DependencyError(GenreKitError, ImportError):
    """An optional dependency is missing; the message says which ``pip install`` fixes it."""


def require(module: str, extra: str):  # type: ignore[no-untyped-def]
    """Import an optional dependency or raise :class:`DependencyError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(
            f"{module} is needed for this; install it with: pip install 'genrekit[{extra}]'"
        ) from exc
