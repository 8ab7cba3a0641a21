"""musicnn (Pons & Serra 2019) in numpy: the published MSD/MTT models without TensorFlow.

A faithful port of ``musicnn==0.1.0`` (``models.py``, ``extractor.py``, ``configuration.py``):

- input: mono audio at 16 kHz; STFT n_fft 512, hop 256, Hann window, centred with *reflect*
  padding (librosa < 0.9); power spectrogram; 96 Slaney mel bands; the mel spectrogram is
  rounded to float16 (as the original stored it) and cast back to float32 before
  ``log10(10000 * x + 1)``;
- 3 s patches of 187 frames, every ``hop`` frames (61 = the usual "1 s overlap": 28 patches
  for a 30 s track); a track shorter than one patch gives none;
- front end: batch norm of the input, then "timbral" convolutions 7x38 and 7x67 (time x mel,
  204 channels each, time padded 3+3, valid in frequency) and "temporal" convolutions 128x1,
  64x1, 32x1 (51 channels each, TF "same" padding in time: ``(k-1)//2`` zeros before, the rest
  after), each ReLU -> batch norm -> max over frequency, concatenated to 561 channels;
- mid end: three 7x(channels) convolutions to 64 channels (ReLU, batch norm), the last two
  with residual connections; dense concatenation to 753 channels;
- back end: max and mean over time (interleaved: ``max_0, mean_0, max_1, ...``), batch norm,
  dense 1506 -> 200 (ReLU, batch norm: the *penultimate* embedding), dense 200 -> 50, sigmoid.

Batch norm is in inference mode with epsilon 1e-3 (the TF1 default). The fast path
(:meth:`MusicnnModel.taggram`) computes the front-end convolutions once over the whole track
(patches overlap) and recomputes only the frames next to each patch's zero padding; it
equals :meth:`MusicnnModel.taggram_reference`, the plain per-patch port, to ~1e-6.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from genrekit.exceptions import ParameterError

__all__ = [
    "SAMPLE_RATE",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "PATCH_FRAMES",
    "DEFAULT_PATCH_HOP",
    "MODELS",
    "TAGS_MSD",
    "TAGS_MTT",
    "EMBEDDING_SIZE",
    "tag_columns",
    "log_mel",
    "RESAMPLERS",
    "resample_to_16k",
    "patch_starts",
    "MusicnnModel",
]

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
#: Frames per 3 s patch: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``.
PATCH_FRAMES = (3 * SAMPLE_RATE - N_FFT // 2) // HOP_LENGTH + 1
#: Patch hop in frames for the original's ``input_overlap=1`` (``time_to_frames(1, ...)``).
DEFAULT_PATCH_HOP = (SAMPLE_RATE - N_FFT // 2) // HOP_LENGTH
EMBEDDING_SIZE = 200
_BN_EPSILON = 1e-3

#: The models genrekit can run (names as on the command line).
MODELS = ("msd_musicnn", "mtt_musicnn")

#: Tags of the Million Song Dataset model, in output order (``configuration.MSD_LABELS``).
TAGS_MSD = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip
#: Tags of the MagnaTagATune model, in output order (``configuration.MTT_LABELS``).
TAGS_MTT = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera",
    "male", "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute",
    "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic",
    "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp",
    "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ParameterError(f"musicnn model: expected one of {MODELS}, got {model!r}")
    return model


def tag_columns(model: str = "msd_musicnn") -> tuple[str, ...]:
    """Table column names of a model's tags: ``tag_`` + lower case, spaces/hyphens -> ``_``.

    >>> tag_columns("msd_musicnn")[:3]
    ('tag_rock', 'tag_pop', 'tag_alternative')
    """
    tags = TAGS_MSD if _check_model(model) == "msd_musicnn" else TAGS_MTT
    return tuple("tag_" + t.lower().replace(" ", "_").replace("-", "_") for t in tags)


RESAMPLERS = ("soxr", "kaiser_best")


def resample_to_16k(y: np.ndarray, sr: int, *, resampler: str = "soxr") -> np.ndarray:
    """Resample mono audio to 16 kHz, fixed to ``ceil(n * 16000 / sr)`` samples.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
        Its sample rate.
    resampler : {"soxr", "kaiser_best"}
        ``"soxr"``: soxr's high-quality mode (genrekit's normal resampler, as
        ``librosa.resample``). ``"kaiser_best"``: a port of resampy 0.2.1's ``kaiser_best``
        filter, which the original musicnn pipeline (librosa < 0.8) used; slower, for exact
        reproduction of published musicnn outputs.

    Returns
    -------
    np.ndarray [shape=(ceil(n * 16000 / sr),), dtype=float32]
    """
    y = np.asarray(y, dtype=np.float32)
    if resampler not in RESAMPLERS:
        raise ParameterError(f"musicnn resampler: expected one of {RESAMPLERS}, got {resampler!r}")
    if int(sr) == SAMPLE_RATE:
        return y
    n_out = int(np.ceil(y.shape[-1] * SAMPLE_RATE / sr))
    if resampler == "kaiser_best":
        out = _resample_kaiser_best(y, int(sr), SAMPLE_RATE)
    else:
        import soxr

        out = soxr.resample(y, int(sr), SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    if out.shape[-1] >= n_out:
        return out[:n_out]
    return np.pad(out, (0, n_out - out.shape[-1]))


def _kaiser_best_filter() -> tuple[np.ndarray, int]:
    """resampy 0.2.1's ``kaiser_best`` half window, regenerated from its documented recipe
    (64 zero crossings, 2**9 samples each, Kaiser beta 14.769656459379492, roll-off
    0.9475937167399596); equal to the shipped table to 2e-16."""
    import scipy.signal

    num_zeros, precision = 64, 2**9
    rolloff, beta = 0.9475937167399596, 14.769656459379492
    n = precision * num_zeros
    sinc = rolloff * np.sinc(rolloff * np.linspace(0, num_zeros, num=n + 1, endpoint=True))
    taper = scipy.signal.windows.kaiser(2 * n + 1, beta)[n:]
    return taper * sinc, precision


def _resample_kaiser_best(x: np.ndarray, sr_orig: int, sr_new: int) -> np.ndarray:
    """resampy 0.2.1 ``resample(x, sr_orig, sr_new, filter="kaiser_best")``, vectorised.

    Same time register (a running float64 sum), filter table, linear interpolation between
    table entries and wing lengths as resampy's loop; sums in float64 (resampy accumulates in
    the output's float32, a difference of ~1e-7).
    """
    ratio = float(sr_new) / sr_orig
    n_out = int(x.shape[0] * ratio)
    win, precision = _kaiser_best_filter()
    if ratio < 1:
        win = win * ratio
    delta = np.zeros_like(win)
    delta[:-1] = np.diff(win)
    scale = min(1.0, ratio)
    step = int(scale * precision)
    nwin = win.shape[0]
    n_orig = x.shape[0]
    xd = x.astype(np.float64)
    times = np.zeros(n_out)
    times[1:] = np.cumsum(np.full(n_out - 1, 1.0 / ratio))  # sequential, like `+=` in a loop
    out = np.empty(n_out, dtype=np.float32)
    taps = np.arange(nwin // step + 1)
    for a in range(0, n_out, 4096):
        t = times[a : a + 4096]
        n = t.astype(np.int64)
        acc = np.zeros(t.shape[0])
        frac = scale * (t - n)
        for side in (0, 1):
            if side:
                frac = scale - frac
            index_frac = frac * precision
            offset = index_frac.astype(np.int64)
            eta = index_frac - offset
            limit = n_orig - n - 1 if side else n + 1
            count = np.minimum(limit, (nwin - offset) // step)
            idx = offset[:, None] + taps[None, :] * step
            ok = taps[None, :] < count[:, None]
            idx = np.where(ok, idx, 0)
            weight = win[idx] + eta[:, None] * delta[idx]
            src = n[:, None] + taps[None, :] + 1 if side else n[:, None] - taps[None, :]
            samples = xd[np.clip(src, 0, n_orig - 1)]
            acc += np.where(ok, weight * samples, 0.0).sum(axis=1)
        out[a : a + 4096] = acc
    return out


def log_mel(y: np.ndarray) -> np.ndarray:
    """musicnn's input representation of 16 kHz audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio at 16 kHz.

    Returns
    -------
    np.ndarray [shape=(1 + n // 256, 96), dtype=float32]
        ``log10(10000 * mel + 1)``, time by mel band, with the mel spectrogram rounded
        through float16 as the original did.
    """
    import librosa

    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"musicnn input: expected mono audio of shape (n,), got {y.shape}")
    stft = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH, center=True, pad_mode="reflect")
    power = (stft.real**2 + stft.imag**2).astype(np.float32)
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)
    mel = (basis @ power).T
    mel = mel.astype(np.float16).astype(np.float32)
    return np.log10(np.float32(10000) * mel + np.float32(1)).astype(np.float32)


def patch_starts(n_frames: int, hop: int = DEFAULT_PATCH_HOP) -> np.ndarray:
    """First frame of every patch: ``range(0, n_frames - 187 + 1, hop)`` (the original's rule).

    >>> len(patch_starts(1876))
    28
    """
    if hop < 1:
        raise ParameterError(f"musicnn patch hop: expected a positive number of frames, got {hop}")
    return np.arange(0, max(n_frames - PATCH_FRAMES + 1, 0), hop, dtype=np.int64)


@dataclass(frozen=True)
class _BatchNorm:
    scale: np.ndarray
    shift: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift


def _bn(w: Mapping[str, np.ndarray], name: str) -> _BatchNorm:
    gamma = w[f"{name}/gamma"].astype(np.float32)
    scale = gamma / np.sqrt(w[f"{name}/moving_variance"].astype(np.float32) + np.float32(_BN_EPSILON))
    shift = w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale
    return _BatchNorm(scale.astype(np.float32), shift.astype(np.float32))


# Front-end layers: (conv variable, batch-norm variable, time kernel, freq kernel).
_TIMBRAL = (("conv2d", "batch_normalization_1", 7, 38), ("conv2d_1", "batch_normalization_2", 7, 67))
_TEMPORAL = (
    ("conv2d_2", "batch_normalization_3", 128),
    ("conv2d_3", "batch_normalization_4", 64),
    ("conv2d_4", "batch_normalization_5", 32),
)
_MIDEND = (("conv2d_5", "batch_normalization_6"), ("conv2d_6", "batch_normalization_7"),
           ("conv2d_7", "batch_normalization_8"))  # fmt: skip


@dataclass(frozen=True)
class _Pool:
    """``max_f BN(relu(z + bias))`` over the mel axis, from one reduction per channel.

    BN is a per-channel affine map ``a x + b``: for ``a >= 0`` it is non-decreasing in ``x``, so
    the maximum comes from ``max_f z``; for ``a < 0`` from ``min_f z``. Float rounding is
    monotone too, so this equals the elementwise computation exactly. The fast path's kernels
    have their channels reordered (``order``: ``a >= 0`` first) so that each reduction runs on
    one contiguous block of channels; the result is put back in the original order.
    """

    order: np.ndarray
    inverse: np.ndarray
    n_pos: int
    bias: np.ndarray
    scale: np.ndarray
    shift: np.ndarray

    @classmethod
    def build(cls, bias: np.ndarray, bn: _BatchNorm) -> _Pool:
        order = np.argsort(bn.scale < 0, kind="stable")
        return cls(order, np.argsort(order), int((bn.scale >= 0).sum()), bias[order],
                   bn.scale[order], bn.shift[order])  # fmt: skip

    def __call__(self, z: np.ndarray, *, axis: int, channel_axis: int) -> np.ndarray:
        """Pool ``z`` (channels in ``order`` along ``channel_axis``) over ``axis``."""
        pos = [slice(None)] * z.ndim
        neg = [slice(None)] * z.ndim
        pos[channel_axis] = slice(0, self.n_pos)
        neg[channel_axis] = slice(self.n_pos, None)
        hi = z[tuple(pos)].max(axis=axis)
        lo = z[tuple(neg)].min(axis=axis)
        ch = channel_axis - (axis < channel_axis)
        pick = np.concatenate([hi, lo], axis=ch)
        shape = [1] * pick.ndim
        shape[ch] = -1
        y = self.scale.reshape(shape) * np.maximum(pick + self.bias.reshape(shape), 0)
        y += self.shift.reshape(shape)
        return np.take(y, self.inverse, axis=ch)


def _block_toeplitz(kernel: np.ndarray, n_b: int) -> np.ndarray:
    """``[taps, C]`` kernel -> ``[n_b * C, taps + n_b - 1]``: row block ``b`` is the kernel
    (transposed) shifted right by ``b`` columns, so one product computes ``n_b`` frames."""
    k, c = kernel.shape
    out = np.zeros((n_b, c, k + n_b - 1), dtype=np.float32)
    for b in range(n_b):
        out[b, :, b : b + k] = kernel.T
    return out.reshape(n_b * c, k + n_b - 1)


class MusicnnModel:
    """A pretrained musicnn model (weights from :func:`genrekit.embeddings.weights.load_weights`).

    Parameters
    ----------
    weights : mapping of str to np.ndarray
        The 64 model variables of the TF checkpoint, by name.
    name : str
        ``"msd_musicnn"`` or ``"mtt_musicnn"`` (names the tags).

    Examples
    --------
    >>> model = MusicnnModel.load("msd_musicnn")                     # doctest: +SKIP
    >>> tags, emb = model.taggram(y16k)                              # doctest: +SKIP
    >>> tags.shape, emb.shape                                        # doctest: +SKIP
    ((28, 50), (28, 200))
    """

    def __init__(self, weights: Mapping[str, np.ndarray], *, name: str = "msd_musicnn") -> None:
        self.name = _check_model(name)
        self.tags = TAGS_MSD if name == "msd_musicnn" else TAGS_MTT
        try:
            w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
            self._bn_in = _bn(w, "batch_normalization")
            self._timbral = [
                (w[f"{c}/kernel"][:, :, 0, :], w[f"{c}/bias"], _bn(w, b)) for c, b, _, _ in _TIMBRAL
            ]
            self._temporal = [
                (w[f"{c}/kernel"][:, 0, 0, :], w[f"{c}/bias"], _bn(w, b)) for c, b, _ in _TEMPORAL
            ]
            self._midend = [
                (w[f"{c}/kernel"][:, :, 0, :], w[f"{c}/bias"], _bn(w, b)) for c, b in _MIDEND
            ]
            self._bn_pool = _bn(w, "batch_normalization_9")
            self._dense = (w["dense/kernel"], w["dense/bias"])
            self._bn_dense = _bn(w, "batch_normalization_10")
            self._out = (w["dense_1/kernel"], w["dense_1/bias"])
        except KeyError as exc:
            raise ParameterError(f"musicnn weights: variable {exc.args[0]!r} is missing") from exc
        self._dft_tables()
        self._temporal_pool = [_Pool.build(bias, bn) for _, bias, bn in self._temporal]
        self._temporal_toeplitz = [
            _block_toeplitz(k[:, pool.order], max(4, k.shape[0] // 8))
            for (k, _, _), pool in zip(self._temporal, self._temporal_pool, strict=True)
        ]
        self._mid_mat = [np.ascontiguousarray(k.reshape(-1, k.shape[-1])) for k, _, _ in self._midend]
        n_out = self._out[0].shape[1]
        if n_out != len(self.tags):
            raise ParameterError(
                f"musicnn weights: {name} has {len(self.tags)} tags, the weights output {n_out}"
            )

    @classmethod
    def load(cls, model: str = "msd_musicnn", **kwargs) -> MusicnnModel:  # type: ignore[no-untyped-def]
        """Load a model's weights from genrekit's cache, fetching them on first use.

        Keyword arguments go to :func:`genrekit.embeddings.weights.load_weights`.
        """
        from genrekit.embeddings.weights import load_weights

        return cls(load_weights(_check_model(model), **kwargs), name=model)

    # ------------------------------------------------------------------ shared pieces

    def _normalize(self, x: np.ndarray) -> np.ndarray:
        return self._bn_in(x).astype(np.float32, copy=False)

    def _temporal_features(self, xn: np.ndarray) -> np.ndarray:
        """Temporal convolutions of normalized patches ``[P, 187, 96]`` -> ``[P, 187, 153]``.

        Time-major layout ``[time, patch * mel]``: ``B`` consecutive output frames are one GEMM
        of a block-Toeplitz kernel ``[B * C, k + B - 1]`` with a contiguous slice of the input
        (no im2col copy; ``(k + B - 1) / k`` ~ 1.1 times the minimal work in ~80 large GEMMs).
        """
        n_p, t, f = xn.shape
        big = self._temporal[0][0].shape[0]
        before = (big - 1) // 2
        pad = np.zeros((t + big - 1 + big, n_p, f), dtype=np.float32)  # spare rows for blocks
        pad[before : before + t] = xn.transpose(1, 0, 2)
        flat = pad.reshape(pad.shape[0], n_p * f)
        out = []
        for (kernel, _, _), toeplitz, pool in zip(
            self._temporal, self._temporal_toeplitz, self._temporal_pool, strict=True
        ):
            k, c = kernel.shape
            n_b = toeplitz.shape[0] // c
            start = before - (k - 1) // 2  # this kernel's window inside the widest one
            feat = np.empty((t + n_b, c, n_p), dtype=np.float32)
            for i in range(0, t, n_b):
                z = (toeplitz @ flat[start + i : start + i + k + n_b - 1]).reshape(n_b, c, n_p, f)
                feat[i : i + n_b] = pool(z, axis=3, channel_axis=1)
            out.append(feat[:t].transpose(2, 0, 1))  # [P, t, C]
        return np.concatenate(out, axis=-1)

    def _midend_backend(self, front: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mid and back end of front-end features ``[P, 187, 561]`` -> (tags, embedding)."""
        n_p, t, _ = front.shape
        feats = [front]
        x = front
        for i, ((kernel, bias, bn), mat) in enumerate(zip(self._midend, self._mid_mat, strict=True)):
            kt = kernel.shape[0]
            pad = np.zeros((n_p, t + kt - 1, x.shape[-1]), dtype=np.float32)
            pad[:, (kt - 1) // 2 : (kt - 1) // 2 + t] = x
            cols = np.lib.stride_tricks.sliding_window_view(pad, kt, axis=1)  # [P, t, c, kt]
            cols = cols.transpose(0, 1, 3, 2).reshape(n_p * t, -1)
            y = bn(np.maximum(cols @ mat + bias, 0)).reshape(n_p, t, -1)
            x = y if i == 0 else y + x
            feats.append(x)
        feature_map = np.concatenate(feats, axis=-1)  # [P, t, 753]
        pooled = np.stack([feature_map.max(axis=1), feature_map.mean(axis=1)], axis=-1)
        pooled = self._bn_pool(pooled.reshape(n_p, -1))
        emb = self._bn_dense(np.maximum(pooled @ self._dense[0] + self._dense[1], 0))
        logits = emb @ self._out[0] + self._out[1]
        tags = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        return tags.astype(np.float32), emb.astype(np.float32)

    # ------------------------------------------------------------------ public

    def taggram(
        self, y: np.ndarray, *, hop: int = DEFAULT_PATCH_HOP, batch: int = 8
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tag probabilities and penultimate embeddings of every 3 s patch of a signal.

        Parameters
        ----------
        y : np.ndarray [shape=(n,)]
            Mono audio at 16 kHz (see :func:`resample_to_16k`).
        hop : int
            Patch hop in frames of 16 ms (61: patches overlap by 2 s, one every 0.976 s).
        batch : int
            Patches per mid-end batch (bounds memory; does not change results).

        Returns
        -------
        tags : np.ndarray [shape=(n_patches, 50), dtype=float32]
        embedding : np.ndarray [shape=(n_patches, 200), dtype=float32]
        """
        return self.taggram_from_mel(log_mel(y), hop=hop, batch=batch)

    def taggram_from_mel(
        self, mel: np.ndarray, *, hop: int = DEFAULT_PATCH_HOP, batch: int = 8
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`taggram` from a precomputed :func:`log_mel` ``[frames, 96]``.

        BLAS runs single-threaded here: the pass is hundreds of mid-sized GEMMs, which
        multi-threaded BLAS slows down badly on a busy machine; parallelism belongs across
        files (``genrekit extract --jobs``).
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._taggram_from_mel(mel, hop=hop, batch=batch)

    def _taggram_from_mel(
        self, mel: np.ndarray, *, hop: int, batch: int
    ) -> tuple[np.ndarray, np.ndarray]:
        starts = patch_starts(mel.shape[0], hop)
        n_tags = len(self.tags)
        if starts.size == 0:
            return np.zeros((0, n_tags), np.float32), np.zeros((0, EMBEDDING_SIZE), np.float32)
        xn = self._normalize(np.asarray(mel, dtype=np.float32))
        timbral = self._timbral_track(xn, starts)  # [P, 187, 408]
        tags_out, emb_out = [], []
        for b in range(0, starts.size, max(1, batch)):
            s = starts[b : b + batch]
            patches = np.stack([xn[p : p + PATCH_FRAMES] for p in s])
            front = np.concatenate([timbral[b : b + batch], self._temporal_features(patches)], axis=-1)
            tg, em = self._midend_backend(front)
            tags_out.append(tg)
            emb_out.append(em)
        return np.concatenate(tags_out), np.concatenate(emb_out)

    def _timbral_conv(self, xpad: np.ndarray) -> np.ndarray:
        """Both timbral convolutions of time-padded input ``[n + 6, 96]`` -> pooled ``[n, 408]``.

        Computed through a DFT along the mel axis: a "valid" correlation over 96 bands with a
        kernel of width ``kf`` equals the *circular* one at the ``96 - kf + 1`` valid positions,
        so with ``X = DFT(x)`` and ``W = DFT(w)`` (49 real-signal bins) each output is
        ``IDFT(sum_i X[t + i] * conj(W[i]))``. Per frame that is 2.3 M multiply-adds instead
        of 6.1 M for the direct convolutions, all in GEMMs: a forward DFT, one small GEMM per
        bin for the 7 time taps, and an inverse DFT restricted to the valid positions.
        """
        kt = self._timbral[0][0].shape[0]
        n = xpad.shape[0] - kt + 1
        spec = xpad @ self._dft  # [n + 6, 98]: real parts of the 49 bins, then imaginary
        n_bins = spec.shape[1] // 2
        out = np.empty((n, sum(k.shape[-1] for k, _, _ in self._timbral)), dtype=np.float32)
        step = 128
        for a in range(0, n, step):
            m = min(step, n - a)
            lhs = np.empty((n_bins, m, kt, 2), dtype=np.float32)
            for i in range(kt):
                lhs[:, :, i, 0] = spec[a + i : a + i + m, :n_bins].T
                lhs[:, :, i, 1] = spec[a + i : a + i + m, n_bins:].T
            lhs = lhs.reshape(n_bins, m, 2 * kt)
            col = 0
            for (kernel, _, _), (r_re, r_im, inverse), pool in zip(
                self._timbral, self._timbral_dft, self._timbral_pool, strict=True
            ):
                c = kernel.shape[-1]
                y = np.empty((2, n_bins, m, c), dtype=np.float32)  # Re and Im of each bin
                np.matmul(lhs, r_re, out=y[0])
                np.matmul(lhs, r_im, out=y[1])
                z = (inverse @ y.reshape(2 * n_bins, m * c)).reshape(-1, m, c)  # [valid, m, C]
                out[a : a + m, col : col + c] = pool(z, axis=0, channel_axis=2)
                col += c
        return out

    def _dft_tables(self) -> None:
        """DFT matrices for :meth:`_timbral_conv` (built in float64, stored float32)."""
        n_mels = N_MELS
        n_bins = n_mels // 2 + 1
        f = np.arange(n_mels)
        ang = 2 * np.pi * np.outer(f, np.arange(n_bins)) / n_mels
        self._dft = np.concatenate([np.cos(ang), -np.sin(ang)], axis=1).astype(np.float32)
        weight = np.full(n_bins, 2.0)
        weight[0] = 1.0
        if n_mels % 2 == 0:
            weight[-1] = 1.0
        self._timbral_dft = []
        self._timbral_pool = [_Pool.build(bias, bn) for _, bias, bn in self._timbral]
        for (kernel, _, _), pool in zip(self._timbral, self._timbral_pool, strict=True):
            kernel = kernel[..., pool.order]
            kt, kf, c = kernel.shape
            ext = np.zeros((kt, n_mels, c))
            ext[:, :kf] = kernel
            wh = np.fft.rfft(ext, axis=1)  # [kt, bins, C]
            r_re = np.empty((n_bins, kt, 2, c))
            r_im = np.empty((n_bins, kt, 2, c))
            r_re[:, :, 0] = wh.real.transpose(1, 0, 2)  # Re(X conj W) = Xr Wr + Xi Wi
            r_re[:, :, 1] = wh.imag.transpose(1, 0, 2)
            r_im[:, :, 0] = -wh.imag.transpose(1, 0, 2)  # Im(X conj W) = Xi Wr - Xr Wi
            r_im[:, :, 1] = wh.real.transpose(1, 0, 2)
            valid = np.arange(n_mels - kf + 1)
            ang_out = 2 * np.pi * np.outer(valid, np.arange(n_bins)) / n_mels
            inverse = np.concatenate(
                [weight / n_mels * np.cos(ang_out), -weight / n_mels * np.sin(ang_out)], axis=1
            )
            self._timbral_dft.append(
                tuple(
                    np.ascontiguousarray(x, dtype=np.float32)
                    for x in (r_re.reshape(n_bins, 2 * kt, c), r_im.reshape(n_bins, 2 * kt, c),
                              inverse)
                )
            )

    def _timbral_track(self, xn: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Timbral features of every patch, computed once over the track.

        A patch's frame ``t`` sees the same inputs as the track's frame ``start + t``, except in
        the 3 frames at each patch end, where the patch's own zero padding replaces the
        neighbouring frames; those are recomputed per patch.
        """
        half = 3
        end = int(starts[-1]) + PATCH_FRAMES
        track = np.zeros((end + 2 * half, xn.shape[1]), dtype=np.float32)
        track[half : half + end] = xn[:end]
        full = self._timbral_conv(track)
        out = np.stack([full[p : p + PATCH_FRAMES] for p in starts])  # [P, 187, 408]
        # edges: per patch, frames 0..2 and 184..186 with the patch's own padding
        edge = np.zeros((starts.size, 2, 3 * half, xn.shape[1]), dtype=np.float32)
        for i, p in enumerate(starts):
            edge[i, 0, half:] = xn[p : p + 2 * half]
            edge[i, 1, : 2 * half] = xn[p + PATCH_FRAMES - 2 * half : p + PATCH_FRAMES]
        flat = edge.reshape(-1, xn.shape[1])
        # each 9-frame block yields 3 valid rows; convolve all blocks at once, keep valid ones
        res = self._timbral_conv(flat)
        n_blocks = starts.size * 2
        res = np.concatenate([res, np.zeros((2 * half, res.shape[1]), np.float32)])
        res = res.reshape(n_blocks, 3 * half, -1)[:, :half].reshape(starts.size, 2, half, -1)
        out[:, :half] = res[:, 0]
        out[:, PATCH_FRAMES - half :] = res[:, 1]
        return out

    def taggram_reference(
        self, y: np.ndarray, *, hop: int = DEFAULT_PATCH_HOP
    ) -> tuple[np.ndarray, np.ndarray]:
        """The plain per-patch port (slow), as the original computes it; for tests."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._taggram_reference(y, hop=hop)

    def _taggram_reference(self, y: np.ndarray, *, hop: int) -> tuple[np.ndarray, np.ndarray]:
        mel = log_mel(y)
        starts = patch_starts(mel.shape[0], hop)
        n_tags = len(self.tags)
        if starts.size == 0:
            return np.zeros((0, n_tags), np.float32), np.zeros((0, EMBEDDING_SIZE), np.float32)
        tags, embs = [], []
        for p in starts:
            x = self._bn_in(mel[p : p + PATCH_FRAMES])  # [187, 96]
            feats = []
            for kernel, bias, bn in self._timbral:
                kt, kf = kernel.shape[:2]
                xp = np.pad(x, (((kt - 1) // 2, kt - 1 - (kt - 1) // 2), (0, 0)))
                win = np.lib.stride_tricks.sliding_window_view(xp, (kt, kf))  # [187, F', kt, kf]
                z = np.einsum("tfij,ijc->tfc", win, kernel, optimize=True)
                feats.append(bn(np.maximum(z + bias, 0)).max(axis=1))
            for kernel, bias, bn in self._temporal:
                k = kernel.shape[0]
                xp = np.pad(x, (((k - 1) // 2, k - 1 - (k - 1) // 2), (0, 0)))
                win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=0)  # [187, 96, k]
                z = np.einsum("tfk,kc->tfc", win, kernel, optimize=True)
                feats.append(bn(np.maximum(z + bias, 0)).max(axis=1))
            front = np.concatenate(feats, axis=-1)  # [187, 561]
            layers = [front]
            h = front
            for i, (kernel, bias, bn) in enumerate(self._midend):
                hp = np.pad(h, ((3, 3), (0, 0)))
                win = np.lib.stride_tricks.sliding_window_view(hp, 7, axis=0)  # [187, c, 7]
                z = bn(np.maximum(np.einsum("tck,kco->to", win, kernel, optimize=True) + bias, 0))
                h = z if i == 0 else z + h
                layers.append(h)
            fmap = np.concatenate(layers, axis=-1)
            pooled = np.stack([fmap.max(axis=0), fmap.mean(axis=0)], axis=-1).reshape(-1)
            pooled = self._bn_pool(pooled)
            emb = self._bn_dense(np.maximum(pooled @ self._dense[0] + self._dense[1], 0))
            logits = emb @ self._out[0] + self._out[1]
            tags.append(1.0 / (1.0 + np.exp(-logits.astype(np.float64))))
            embs.append(emb)
        return np.asarray(tags, dtype=np.float32), np.asarray(embs, dtype=np.float32)
