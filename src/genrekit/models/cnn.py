"""A compact convolutional network on 3 s log-mel patches, as a scikit-learn classifier.

:class:`CNNClassifier` takes the flattened log-mel patches the "mel" models of the zoo
receive (``X [n, n_mels * frames]``, e.g. ``128 * 130`` for a Kaggle 3 s segment), reshapes
them to images and trains a small CNN (four conv blocks with batch norm, ReLU and pooling,
global average pooling, dropout, a linear layer; ~100k parameters) on CPU with PyTorch.

Training is what a practitioner would trust:

- an internal validation split **grouped by track** (``fit(X, y, groups=track_ids)``) for
  early stopping, restoring the best epoch's weights;
- augmentation: random crops in time, SpecAugment-style frequency and time masks, mixup;
- deterministic for an integer ``random_state`` (seeded numpy and torch generators,
  deterministic algorithms, a fixed thread count);
- checkpoints (``checkpoint_dir``): the model, optimizer, epoch, best weights and every random
  state are saved atomically after each epoch, and a killed training resumes where it stopped
  when it is run again with the same hyper-parameters on the same data;
- a progress bar with loss and accuracy on a terminal.

PyTorch is an optional dependency (``pip install 'genrekit[cnn]'``), imported only when a
network is built, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from genrekit._io import atomic_write
from genrekit.constants import N_MELS
from genrekit.exceptions import ModelError, ParameterError, require

__all__ = [
    "CNNClassifier",
    "SPECS",
    "import_torch",
    "save_torch_model",
    "load_torch_model",
    "logmel_rows",
]

#: Version of the checkpoint layout; a checkpoint of another version is ignored.
_CHECKPOINT_VERSION = 1
#: Hyper-parameters that do not change what is learned (left out of the checkpoint key).
_NON_LEARNING_PARAMS = ("checkpoint_dir", "verbose", "n_threads")


def import_torch() -> Any:
    """Import PyTorch, or raise :class:`~genrekit.exceptions.DependencyError` naming the extra."""
    return require("torch", "cnn")


def _build_network(
    torch: Any, *, n_classes: int, channels: tuple[int, ...], dropout: float, stem_stride: int
) -> Any:
    """The CNN as an ``nn.Sequential`` (so its ``state_dict`` keys are plain and stable).

    Input ``[batch, 1, n_mels, frames]``; output logits ``[batch, n_classes]``. The first
    convolution has stride ``stem_stride`` (2 makes training ~5x faster on CPU than stride 1,
    measured in ``benchmarks/bench_cnn.py``); pooling uses ``ceil_mode`` so that patches
    smaller than ``2 ** len(channels)`` still pass through.
    """
    nn = torch.nn
    layers: list[Any] = [nn.BatchNorm2d(1)]  # learns the dB offset and scale of the input
    c_in = 1
    for i, c_out in enumerate(channels):
        layers += [
            nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False,
                      stride=stem_stride if i == 0 else 1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=True),
        ]
        c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, n_classes)]
    return nn.Sequential(*layers)


@contextlib.contextmanager
def _torch_settings(torch: Any, n_threads: int) -> Iterator[None]:
    """Fix the thread count and ask for deterministic kernels; restore both afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(n_threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def _atomic_torch_save(torch: Any, obj: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _save_checkpoint(torch: Any, state: dict[str, Any], path: Path) -> None:
    """Write one checkpoint atomically (a separate function so tests can interrupt it)."""
    _atomic_torch_save(torch, state, path)


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Hyper-parameters as JSON-safe values (tuples become lists, paths strings)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        elif value is not None and not isinstance(value, (int, float, str, bool, list)):
            # e.g. a RandomState instance: not reproducible from JSON, so not resumable
            value = repr(value)
        out[key] = value
    return out


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """A compact CNN on log-mel patches with a scikit-learn interface.

    Parameters
    ----------
    n_mels : int
        Mel bands of a patch: each row of ``X`` is reshaped to ``[n_mels, n_features / n_mels]``.
    channels : tuple of int
        Output channels of the conv blocks (3x3 conv, batch norm, ReLU, 2x2 max pooling).
    stem_stride : int
        Stride of the first convolution (2 halves both axes at once: ~5x cheaper to train).
    dropout : float
        Dropout before the linear layer.
    max_epochs : int
        Most passes over the training data.
    batch_size : int
        Patches per optimisation step.
    learning_rate : float
        Peak learning rate of AdamW (cosine decay over ``max_epochs``).
    weight_decay : float
        AdamW's decoupled weight decay.
    validation_fraction : float
        Share of the training groups (tracks) held out for early stopping; 0 trains for
        ``max_epochs`` and keeps the last weights.
    patience : int
        Epochs without a better validation loss before stopping.
    crop_frames : int or None
        Training patches are random crops of this many frames (the whole patch is used for
        prediction: the network pools globally over time). None: no cropping.
    freq_mask, time_mask : int
        Largest width (bins, frames) of the one frequency and one time mask applied to each
        training patch (SpecAugment); 0 disables.
    mixup_alpha : float
        Mixup's Beta(alpha, alpha) parameter; 0 disables mixup.
    random_state : int, RandomState or None
        Seed of the initial weights, the validation split, shuffling, augmentation and dropout.
        An integer makes training deterministic.
    n_threads : int
        PyTorch CPU threads used for training and prediction. 1 by default: on a shared or
        busy machine a second thread mostly spins waiting for the first (measured here: 14x
        the CPU time per epoch at a load average of 20 on 2 cores); 2 helps on an idle one.
    checkpoint_dir : str, Path or None
        Where to save a checkpoint after every epoch (file name keyed by the hyper-parameters
        and the data); a training killed midway resumes from it.
    verbose : bool or None
        Progress bar with loss and accuracy; None: only when stderr is a terminal.

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_classes,)]
    n_features_in_ : int
    net_ : torch.nn.Module
        The trained network (in eval mode).
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``accuracy`` (training, on augmented patches),
        ``val_loss`` and ``val_accuracy`` (None without a validation split), ``lr``,
        ``n_train`` (patches trained on), ``seconds`` and ``cpu_seconds`` (the epoch's wall
        and process CPU time, validation included).
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 16 * 20)).astype(np.float32)
    >>> y = np.repeat(["a", "b"], 20)
    >>> clf = CNNClassifier(n_mels=16, channels=(4, 8), max_epochs=2, verbose=False)
    >>> clf.fit(X, y).predict_proba(X).shape
    (40, 2)
    """

    def __init__(
        self,
        *,
        n_mels: int = N_MELS,
        channels: tuple[int, ...] = (16, 32, 64, 128),
        stem_stride: int = 2,
        dropout: float = 0.3,
        max_epochs: int = 30,
        batch_size: int = 32,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-3,
        validation_fraction: float = 0.15,
        patience: int = 8,
        crop_frames: int | None = 112,
        freq_mask: int = 16,
        time_mask: int = 16,
        mixup_alpha: float = 0.2,
        random_state: Any = 0,
        n_threads: int = 1,
        checkpoint_dir: str | Path | None = None,
        verbose: bool | None = None,
    ) -> None:
        self.n_mels = n_mels
        self.channels = channels
        self.stem_stride = stem_stride
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.crop_frames = crop_frames
        self.freq_mask = freq_mask
        self.time_mask = time_mask
        self.mixup_alpha = mixup_alpha
        self.random_state = random_state
        self.n_threads = n_threads
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose

    # ------------------------------------------------------------------ validation

    def _check_params(self) -> None:
        def positive_int(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"CNNClassifier: {name} must be a positive integer, got {value!r}")

        for name in ("n_mels", "stem_stride", "max_epochs", "batch_size", "patience", "n_threads"):
            positive_int(name)
        if not self.channels or any(int(c) < 1 for c in self.channels):
            raise ParameterError(
                f"CNNClassifier: channels must be a non-empty tuple of positive integers, got {self.channels!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ParameterError(f"CNNClassifier: dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ParameterError(
                f"CNNClassifier: validation_fraction must be in [0, 1), got {self.validation_fraction!r}"
            )
        if not self.learning_rate > 0:
            raise ParameterError(f"CNNClassifier: learning_rate must be > 0, got {self.learning_rate!r}")
        if self.crop_frames is not None and int(self.crop_frames) < 1:
            raise ParameterError(f"CNNClassifier: crop_frames must be >= 1 or None, got {self.crop_frames!r}")
        for name in ("freq_mask", "time_mask", "weight_decay", "mixup_alpha"):
            if getattr(self, name) < 0:
                raise ParameterError(f"CNNClassifier: {name} must be >= 0, got {getattr(self, name)!r}")

    def _patches(self, X: np.ndarray) -> np.ndarray:
        """``[n, n_mels * frames]`` -> ``[n, 1, n_mels, frames]`` float32."""
        n_features = X.shape[1]
        if n_features % self.n_mels:
            raise ParameterError(
                f"CNNClassifier: each row must hold n_mels={self.n_mels} bands times a number of "
                f"frames, got {n_features} columns (not a multiple of {self.n_mels})"
            )
        return np.ascontiguousarray(X, dtype=np.float32).reshape(
            X.shape[0], 1, self.n_mels, n_features // self.n_mels
        )

    # ------------------------------------------------------------------ training helpers

    def _augment(self, xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Random time crop, then one frequency and one time mask per patch (masked with the
        patch's mean, i.e. "no information" after the input batch norm).

        ``xb [n, 1, n_bins, n_frames]`` -> ``[n, 1, n_bins, crop]``.
        """
        n, _, n_bins, n_frames = xb.shape
        crop = n_frames if self.crop_frames is None else min(int(self.crop_frames), n_frames)
        starts = rng.integers(0, n_frames - crop + 1, size=n)
        cols = starts[:, None] + np.arange(crop)[None, :]  # [n, crop]
        out = xb[np.arange(n)[:, None, None], 0, np.arange(n_bins)[None, :, None], cols[:, None, :]]
        means = out.mean(axis=(1, 2))[:, None, None]
        for axis, size, largest in ((1, n_bins, self.freq_mask), (2, crop, self.time_mask)):
            largest = min(int(largest), size)
            if largest <= 0:
                continue
            widths = rng.integers(0, largest + 1, size=n)
            offsets = rng.integers(0, size - widths + 1)
            pos = np.arange(size)[None, :]
            hit = (pos >= offsets[:, None]) & (pos < (offsets + widths)[:, None])  # [n, size]
            hit = hit[:, :, None] if axis == 1 else hit[:, None, :]
            out = np.where(hit, means, out)
        return out[:, None, :, :].astype(np.float32, copy=False)

    def _batches(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        order = rng.permutation(n)
        batches = [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) == 1:
            # batch norm cannot train on one patch: fold it into the previous batch
            last = batches.pop()
            batches[-1] = np.concatenate([batches[-1], last])
        return batches

    def _validation_split(
        self, y: np.ndarray, groups: np.ndarray | None, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(y)
        everything = np.arange(n)
        if self.validation_fraction == 0:
            return everything, everything[:0]
        from sklearn.model_selection import GroupShuffleSplit

        group_ids = np.arange(n) if groups is None else groups
        n_groups = len(np.unique(group_ids))
        if n_groups < 4 or round(self.validation_fraction * n_groups) < 1:
            return everything, everything[:0]  # too little data to hold any out
        splitter = GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction, random_state=seed)
        train, valid = next(splitter.split(np.zeros(n), y, group_ids))
        return train, valid

    def _checkpoint_path(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> Path | None:
        if self.checkpoint_dir is None:
            return None
        params = {k: v for k, v in _json_params(self.get_params()).items() if k not in _NON_LEARNING_PARAMS}
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
        digest.update(np.ascontiguousarray(X).tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        if groups is not None:
            digest.update(np.asarray(groups).astype(str).tobytes())
        directory = Path(self.checkpoint_dir)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"cnn-{digest.hexdigest()[:20]}.pt"

    def _show_progress(self) -> bool:
        if self.verbose is None:
            return sys.stderr.isatty()
        return bool(self.verbose)

    # ------------------------------------------------------------------ public API

    def fit(self, X: Any, y: Any, groups: Any = None) -> CNNClassifier:
        """Train the network.

        Parameters
        ----------
        X : array-like [shape=(n_patches, n_mels * frames)]
            Flattened log-mel patches (dB).
        y : array-like [shape=(n_patches,)]
            Labels.
        groups : array-like [shape=(n_patches,)] or None
            Track of each patch: the early-stopping validation split holds out whole tracks.
            Without it, single patches are held out (segments of one track may then sit on
            both sides, which makes early stopping optimistic, never the test score).

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], y_numeric=False)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        patches = self._patches(X)
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(y),):
                raise ParameterError(
                    f"CNNClassifier.fit: groups must have one entry per row ({len(y)}), "
                    f"got shape {groups.shape}"
                )
        torch = import_torch()
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train_idx, valid_idx = self._validation_split(y, groups, seed)
        ckpt_path = self._checkpoint_path(X, y, groups)

        with _torch_settings(torch, int(self.n_threads)):
            torch.manual_seed(seed)
            rng = np.random.default_rng(seed)
            net = _build_network(
                torch, n_classes=n_classes, channels=tuple(int(c) for c in self.channels),
                dropout=float(self.dropout), stem_stride=int(self.stem_stride),
            )
            optimizer = torch.optim.AdamW(
                net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            state: dict[str, Any] = {
                "epoch": 0, "best_loss": math.inf, "best_epoch": 0, "bad_epochs": 0,
                "best_state": None, "history": [], "done": False,
            }
            if ckpt_path is not None and ckpt_path.exists():
                restored = self._restore(torch, ckpt_path, net, optimizer, rng)
                if restored is not None:
                    state = restored

            x_train = patches[train_idx]
            y_train = y_idx[train_idx]
            x_valid = torch.from_numpy(patches[valid_idx])
            y_valid = torch.from_numpy(y_idx[valid_idx].astype(np.int64))
            eye = np.eye(n_classes, dtype=np.float32)

            from tqdm.auto import tqdm

            bar = tqdm(
                total=self.max_epochs, initial=state["epoch"], desc="cnn", unit="epoch",
                disable=not self._show_progress(), leave=False,
            )
            try:
                while not state["done"] and state["epoch"] < self.max_epochs:
                    epoch = state["epoch"]
                    lr = 0.5 * self.learning_rate * (1 + math.cos(math.pi * epoch / self.max_epochs))
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    net.train()
                    wall0, cpu0 = time.perf_counter(), time.process_time()
                    total_loss, total_correct, total_n = 0.0, 0, 0
                    for batch in self._batches(len(train_idx), rng):
                        xb = self._augment(x_train[batch], rng)
                        targets = eye[y_train[batch]]
                        if self.mixup_alpha > 0 and len(batch) > 1:
                            lam = float(rng.beta(self.mixup_alpha, self.mixup_alpha))
                            perm = rng.permutation(len(batch))
                            xb = lam * xb + (1 - lam) * xb[perm]
                            targets = lam * targets + (1 - lam) * targets[perm]
                        logits = net(torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)))
                        soft = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
                        loss = -(soft * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        total_loss += float(loss.detach()) * len(batch)
                        total_correct += int((logits.argmax(1).numpy() == targets.argmax(1)).sum())
                        total_n += len(batch)
                    record: dict[str, Any] = {
                        "epoch": epoch + 1, "loss": total_loss / total_n,
                        "accuracy": total_correct / total_n, "lr": lr,
                        "val_loss": None, "val_accuracy": None,
                        "n_train": int(total_n),
                    }
                    if len(valid_idx):
                        net.eval()
                        with torch.no_grad():
                            logits = torch.cat([net(x_valid[i : i + 256]) for i in range(0, len(valid_idx), 256)])
                            record["val_loss"] = float(torch.nn.functional.cross_entropy(logits, y_valid))
                            record["val_accuracy"] = float((logits.argmax(1) == y_valid).float().mean())
                        if record["val_loss"] < state["best_loss"] - 1e-6:
                            state["best_loss"] = record["val_loss"]
                            state["best_epoch"] = epoch + 1
                            state["best_state"] = {k: v.detach().clone() for k, v in net.state_dict().items()}
                            state["bad_epochs"] = 0
                        else:
                            state["bad_epochs"] += 1
                            if state["bad_epochs"] >= self.patience:
                                state["done"] = True
                    record["seconds"] = time.perf_counter() - wall0
                    record["cpu_seconds"] = time.process_time() - cpu0
                    state["history"].append(record)
                    state["epoch"] = epoch + 1
                    if state["epoch"] >= self.max_epochs:
                        state["done"] = True
                    if ckpt_path is not None:
                        _save_checkpoint(torch, self._checkpoint_state(net, optimizer, rng, state), ckpt_path)
                    bar.update(1)
                    bar.set_postfix(
                        {k: f"{record[k]:.3f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                         if record[k] is not None}
                    )
            finally:
                bar.close()

            if state["best_state"] is not None:
                net.load_state_dict(state["best_state"])
                self.best_epoch_ = int(state["best_epoch"])
            else:
                self.best_epoch_ = int(state["epoch"])
            net.eval()
        self.net_ = net
        self.history_ = list(state["history"])
        self.n_epochs_ = int(state["epoch"])
        self.n_frames_ = patches.shape[-1]
        return self

    def _checkpoint_state(self, net: Any, optimizer: Any, rng: np.random.Generator,
                          state: dict[str, Any]) -> dict[str, Any]:
        torch = import_torch()
        return {
            "version": _CHECKPOINT_VERSION,
            "params": json.dumps(_json_params(self.get_params()), sort_keys=True),
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": json.dumps(rng.bit_generator.state),
            **{k: state[k] for k in ("epoch", "best_loss", "best_epoch", "bad_epochs", "best_state", "done")},
            "history": json.dumps(state["history"]),
        }

    def _restore(self, torch: Any, path: Path, net: Any, optimizer: Any,
                 rng: np.random.Generator) -> dict[str, Any] | None:
        """Load a checkpoint into ``net``, ``optimizer`` and the random generators; None when it
        cannot be used (then training starts afresh and overwrites it)."""
        try:
            ckpt = torch.load(path, weights_only=True)
            if ckpt.get("version") != _CHECKPOINT_VERSION:
                return None
            net.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["torch_rng"])
            rng.bit_generator.state = json.loads(ckpt["numpy_rng"])
        except Exception as exc:  # a truncated or foreign file: say so, start over
            warnings.warn(f"{path}: cannot resume from this checkpoint ({exc}); training afresh",
                          stacklevel=3)
            return None
        state = {k: ckpt[k] for k in ("epoch", "best_loss", "best_epoch", "bad_epochs", "best_state", "done")}
        state["history"] = json.loads(ckpt["history"])
        return state

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of each patch.

        Parameters
        ----------
        X : array-like [shape=(n_patches, n_mels * frames)]

        Returns
        -------
        np.ndarray [shape=(n_patches, n_classes)]
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self, "net_")
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        patches = self._patches(X)
        torch = import_torch()
        out = []
        with _torch_settings(torch, int(self.n_threads)), torch.no_grad():
            self.net_.eval()
            for i in range(0, len(patches), 256):
                logits = self.net_(torch.from_numpy(patches[i : i + 256]))
                out.append(torch.softmax(logits, dim=1).numpy().astype(np.float64))
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each patch, ``[shape=(n_patches,)]``."""
        check_is_fitted(self, "net_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ------------------------------------------------------------------ bundles

    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The fitted model as JSON-safe parameters and a tensor ``state_dict``.

        ``torch.save(state_dict, path)`` then ``torch.load(path, weights_only=True)`` and
        :meth:`from_state` rebuild the same predictor without unpickling any code.
        """
        check_is_fitted(self, "net_")
        params = {
            "params": _json_params(self.get_params()),
            "classes": self.classes_.tolist(),
            "n_features_in": int(self.n_features_in_),
            "n_frames": int(self.n_frames_),
            "best_epoch": int(self.best_epoch_),
            "n_epochs": int(self.n_epochs_),
        }
        params["params"]["checkpoint_dir"] = None
        return params, {k: v.detach().clone() for k, v in self.net_.state_dict().items()}

    @classmethod
    def from_state(cls, params: dict[str, Any], state_dict: dict[str, Any]) -> CNNClassifier:
        """Rebuild a fitted classifier from :meth:`to_state`'s output."""
        try:
            hyper = dict(params["params"])
            hyper["channels"] = tuple(int(c) for c in hyper["channels"])
            if isinstance(hyper.get("random_state"), str):
                hyper["random_state"] = None
            model = cls(**hyper)
            torch = import_torch()
            classes = np.asarray(params["classes"])
            net = _build_network(torch, n_classes=len(classes), channels=model.channels,
                                 dropout=float(model.dropout), stem_stride=int(model.stem_stride))
            net.load_state_dict(state_dict)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelError(f"CNN state does not match a CNNClassifier: {exc}") from exc
        net.eval()
        model.net_ = net
        model.classes_ = classes
        model.n_features_in_ = int(params["n_features_in"])
        model.n_frames_ = int(params["n_frames"])
        model.best_epoch_ = int(params.get("best_epoch", 0))
        model.n_epochs_ = int(params.get("n_epochs", 0))
        model.history_ = []
        return model


def _make_cnn(*, seed: int = 1, n_jobs: int = 1) -> CNNClassifier:
    # n_jobs is the experiment's process parallelism; torch keeps its own small thread count
    return CNNClassifier(random_state=seed, n_threads=max(1, min(int(n_jobs), 2)))


def _specs() -> list[Any]:
    from genrekit.models import ModelSpec

    return [
        ModelSpec(
            name="cnn",
            description="CNN on 3 s log-mel patches (4 conv blocks, ~100k weights; crops, "
            "SpecAugment, mixup; early stopping on held-out tracks); PyTorch CPU",
            input="mel",
            factory=_make_cnn,
            needs_extra="cnn",
            tags=("spectrogram",),
        )
    ]


#: The zoo entries this module contributes (read by :func:`genrekit.models.model_specs`).
SPECS = _specs()


# --------------------------------------------------------------------------- bundles
# The "torch" bundle kind: the network's state dict in ``model.pt`` (loaded with
# ``weights_only=True``), its hyper-parameters and classes in ``model.json``'s kind_info.
# Fusion models (genrekit.models.fusion) are stored by the same kind: their CNN as above,
# their feature model through the bundle's own "lightgbm"/"skops" kinds.


def _claims(estimator: Any) -> bool:
    if isinstance(estimator, CNNClassifier):
        return True
    from genrekit.models.fusion import FusionClassifier

    return isinstance(estimator, FusionClassifier)


def save_torch_model(model: CNNClassifier, path: Path) -> dict[str, Any]:
    """Write ``model``'s state dict to ``path``; return its JSON-safe parameters."""
    torch = import_torch()
    params, state_dict = model.to_state()
    _atomic_torch_save(torch, state_dict, path)
    return params


def load_torch_model(path: Path, params: dict[str, Any]) -> CNNClassifier:
    """Rebuild a :class:`CNNClassifier` from a state dict file and its parameters."""
    torch = import_torch()
    try:
        state_dict = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # weights_only refuses anything but tensors and containers
        raise ModelError(f"{path}: not a tensor-only torch state dict: {exc}") from exc
    return CNNClassifier.from_state(params, state_dict)


def _save_bundle(estimator: Any, folder: Path, feature_names: Any) -> dict[str, Any]:
    if isinstance(estimator, CNNClassifier):
        return {"estimator": "CNNClassifier", "file": "model.pt",
                "cnn": save_torch_model(estimator, folder / "model.pt")}
    return dict(estimator._save_bundle(folder, feature_names))


def _load_bundle(folder: Path, info: Any) -> Any:
    if info.get("estimator") == "CNNClassifier":
        return load_torch_model(folder / "model.pt", info["cnn"])
    if info.get("estimator") == "FusionClassifier":
        from genrekit.models.fusion import FusionClassifier

        return FusionClassifier._load_bundle(folder, info)
    raise ModelError(f"{folder}: torch bundle of unknown estimator {info.get('estimator')!r}")


# --------------------------------------------------------------------------- predict
# Feature sets ``genrekit predict`` computes from audio for spectrogram bundles:
# "logmel" (CNN and image models: the flattened log-mel patch of each 3 s window) and
# "kaggle57+logmel" (fusion: the 57 features, then the patch).


def _window(y: np.ndarray, a: int, b: int) -> np.ndarray:
    """Samples ``[a, b)``; a window shorter than a 3 s segment (a song under 3 s) is zero-padded
    to one, so the patch has the width the model was trained on."""
    from genrekit.constants import SEGMENT_SAMPLES

    seg = np.asarray(y[a:b], dtype=np.float32)
    if len(seg) < SEGMENT_SAMPLES:
        seg = np.pad(seg, (0, SEGMENT_SAMPLES - len(seg)))
    return seg


def logmel_rows(
    y: np.ndarray, bounds: list[tuple[int, int]], *, sr: int, n_mels: int = N_MELS,
    pad_mode: str = "reflect",
) -> np.ndarray:
    """Flattened log-mel patches of windows of a signal, as ``extract --mel`` writes them.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio at ``sr``.
    bounds : list of (start, end)
        Sample ranges (3 s Kaggle segments).
    sr, n_mels, pad_mode
        Log-mel settings (genrekit's defaults: 22050 Hz, 128 bands, reflect centring).

    Returns
    -------
    np.ndarray [shape=(len(bounds), n_mels * frames)], float32
    """
    from genrekit.features.mfcc import log_mel_spectrogram

    rows = [log_mel_spectrogram(y=_window(y, a, b), sr=sr, n_mels=n_mels, pad_mode=pad_mode).ravel()
            for a, b in bounds]
    return np.asarray(rows, dtype=np.float32)


def _settings(model: Any) -> dict[str, Any]:
    from genrekit.constants import DEFAULT_PAD_MODE, SAMPLE_RATE

    s = model.feature_settings
    return {"sr": int(s.get("sample_rate", SAMPLE_RATE)), "n_mels": int(s.get("n_mels", N_MELS)),
            "pad_mode": str(s.get("pad_mode", DEFAULT_PAD_MODE))}


def _logmel_featurizer(model: Any, y: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    return logmel_rows(y, bounds, **_settings(model)).astype(np.float64)


def _kaggle_logmel_featurizer(model: Any, y: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    from genrekit.constants import FEATURE_NAMES
    from genrekit.features.kaggle import kaggle_features

    settings = _settings(model)
    names = [n for n in model.feature_names if n in FEATURE_NAMES]
    feats = []
    for a, b in bounds:
        row = kaggle_features(_window(y, a, b), sr=settings["sr"], pad_mode=settings["pad_mode"])
        feats.append([row[n] for n in names])
    return np.hstack([np.asarray(feats, dtype=np.float64),
                      logmel_rows(y, bounds, **settings).astype(np.float64)])


def _register() -> None:
    from genrekit import bundle, predict

    predict.register_feature_set("logmel", _logmel_featurizer)
    predict.register_feature_set("kaggle57+logmel", _kaggle_logmel_featurizer)

    bundle.register_kind(
        "torch",
        suffixes=(".pt", ".txt", ".skops"),
        claims=_claims,
        save=_save_bundle,
        load=_load_bundle,
        priority=20,
    )


_register()
