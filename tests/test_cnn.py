"""CNNClassifier: the scikit-learn contract, learning, determinism, resume, bundles.

All networks here are tiny (a few hundred weights, 16-band patches, a few epochs) so the
whole file runs in seconds on one core.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from genrekit.exceptions import DependencyError, ParameterError  # noqa: E402
from genrekit.models import cnn as cnn_module  # noqa: E402
from genrekit.models.cnn import CNNClassifier  # noqa: E402

N_MELS, N_FRAMES = 16, 20


def _tiny(**kw):
    params = dict(n_mels=N_MELS, channels=(4, 8), max_epochs=3, batch_size=16, crop_frames=16,
                  freq_mask=3, time_mask=3, n_threads=1, verbose=False, random_state=0)
    params.update(kw)
    return CNNClassifier(**params)


def _bands(rng, n_per_class=12, classes=("a", "b", "c")):
    """Noise patches with a loud horizontal band whose height gives the class."""
    X, y, groups = [], [], []
    for k, label in enumerate(classes):
        for i in range(n_per_class):
            patch = rng.normal(-60, 5, size=(N_MELS, N_FRAMES))
            band = 2 + 5 * k
            patch[band : band + 3] += 40
            X.append(patch.ravel())
            y.append(label)
            groups.append(f"{label}.{i // 3}")  # 4 "tracks" of 3 patches per class
    return np.asarray(X, dtype=np.float32), np.asarray(y), np.asarray(groups)


# ------------------------------------------------------------------ scikit-learn contract

# The checks' toy problems (a few numeric columns) are read as 1-band patches. Checks that
# demand a near-perfect score after fitting are expected to fail for a 2-epoch network with
# noise augmentation (check_classifiers_train); everything else (cloning, input validation, fitted-state checks,
# determinism, dtype handling, batch invariance...) must pass.
_SLOW_LEARNER = "a 2-epoch CNN with mixup and masking is not a near-perfect learner of toy data"


def _expected_failures(estimator):
    return {
        "check_classifiers_train": _SLOW_LEARNER,
    }


@parametrize_with_checks(
    [CNNClassifier(n_mels=1, channels=(2, 4), max_epochs=2, batch_size=16, crop_frames=None,
                   freq_mask=0, time_mask=1, n_threads=1, verbose=False)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_contract(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ learning and determinism


def test_learns_band_patterns(rng):
    X, y, groups = _bands(rng)
    clf = _tiny(max_epochs=12, learning_rate=0.01, validation_fraction=0.0).fit(X, y, groups=groups)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.n_features_in_ == N_MELS * N_FRAMES
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean(clf.predict(X) == y) >= 0.9
    assert len(clf.history_) == 12 and clf.best_epoch_ == 12


def test_deterministic_for_a_seed(rng):
    X, y, groups = _bands(rng)
    a = _tiny().fit(X, y, groups=groups).predict_proba(X)
    b = _tiny().fit(X, y, groups=groups).predict_proba(X)
    c = _tiny(random_state=1).fit(X, y, groups=groups).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_validation_split_holds_out_whole_tracks(rng):
    X, y, groups = _bands(rng)
    clf = _tiny(validation_fraction=0.25)
    train, valid = clf._validation_split(y, groups, seed=3)
    assert len(valid) > 0
    assert not set(groups[train]) & set(groups[valid])
    clf.fit(X, y, groups=groups)
    assert all(h["val_accuracy"] is not None for h in clf.history_)
    assert 1 <= clf.best_epoch_ <= clf.n_epochs_


def test_early_stopping_stops(rng):
    X, y, groups = _bands(rng)
    clf = _tiny(max_epochs=40, patience=1, learning_rate=0.05, validation_fraction=0.25)
    clf.fit(X, y, groups=groups)
    assert clf.n_epochs_ < 40
    losses = [h["val_loss"] for h in clf.history_]
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1


def test_augment_crops_and_masks():
    # value = 100 * band + frame + 0.5: the crop's start can be read off any value
    grid = 100.0 * np.arange(N_MELS)[:, None] + np.arange(N_FRAMES)[None, :] + 0.5
    xb = np.repeat(grid[None, None], 6, axis=0).astype(np.float32)
    plain = _tiny(crop_frames=8, freq_mask=0, time_mask=0)._augment(xb, np.random.default_rng(0))
    assert plain.shape == (6, 1, N_MELS, 8) and plain.dtype == np.float32
    starts = (plain[:, 0, 0, 0] - 0.5).astype(int)
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(plain[i, 0], grid[:, s : s + 8])
    assert len(set(starts)) > 1  # crops are random per patch

    masked = _tiny(crop_frames=8, freq_mask=4, time_mask=3)._augment(xb, np.random.default_rng(0))
    np.testing.assert_array_equal(masked.shape, plain.shape)
    for i in range(6):
        changed = masked[i, 0] != plain[i, 0]
        rows = np.flatnonzero(changed.all(axis=1))
        cols = np.flatnonzero(changed.all(axis=0))
        assert len(rows) <= 4 and len(cols) <= 3
        expect = np.zeros_like(changed)
        expect[rows, :] = True
        expect[:, cols] = True
        np.testing.assert_array_equal(changed, expect)  # masks are whole bands and frames
        np.testing.assert_allclose(masked[i, 0][changed], plain[i, 0].mean(), rtol=1e-5)


# ------------------------------------------------------------------ checkpoints


def test_killed_training_resumes_where_it_stopped(rng, tmp_path, monkeypatch):
    X, y, groups = _bands(rng)
    reference = _tiny(max_epochs=4).fit(X, y, groups=groups)

    real_save = cnn_module._save_checkpoint
    saves = []

    def save_then_die(torch_mod, state, path):
        real_save(torch_mod, state, path)
        saves.append(state["epoch"])
        if state["epoch"] == 2:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(cnn_module, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _tiny(max_epochs=4, checkpoint_dir=tmp_path).fit(X, y, groups=groups)
    assert saves == [1, 2]
    [ckpt] = list(tmp_path.glob("cnn-*.pt"))
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2

    monkeypatch.setattr(cnn_module, "_save_checkpoint", real_save)
    resumed = _tiny(max_epochs=4, checkpoint_dir=tmp_path).fit(X, y, groups=groups)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    # a finished checkpoint is reused as is; other hyper-parameters get their own file
    again = _tiny(max_epochs=4, checkpoint_dir=tmp_path).fit(X, y, groups=groups)
    np.testing.assert_array_equal(again.predict_proba(X), resumed.predict_proba(X))
    _tiny(max_epochs=1, checkpoint_dir=tmp_path).fit(X, y, groups=groups)
    assert len(list(tmp_path.glob("cnn-*.pt"))) == 2
    assert not list(tmp_path.glob(".*tmp"))


def test_corrupt_checkpoint_is_ignored_with_a_warning(rng, tmp_path):
    X, y, groups = _bands(rng)
    clf = _tiny(max_epochs=1, checkpoint_dir=tmp_path)
    clf.fit(X, y, groups=groups)
    [ckpt] = list(tmp_path.glob("cnn-*.pt"))
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="cannot resume from this checkpoint"):
        _tiny(max_epochs=1, checkpoint_dir=tmp_path).fit(X, y, groups=groups)


# ------------------------------------------------------------------ state and bundles


def test_state_round_trip_loads_with_weights_only(rng, tmp_path):
    import json

    X, y, groups = _bands(rng)
    clf = _tiny().fit(X, y, groups=groups)
    params, state = clf.to_state()
    (tmp_path / "params.json").write_text(json.dumps(params))
    torch.save(state, tmp_path / "model.pt")
    loaded = CNNClassifier.from_state(
        json.loads((tmp_path / "params.json").read_text()),
        torch.load(tmp_path / "model.pt", weights_only=True),
    )
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert list(loaded.classes_) == ["a", "b", "c"] and loaded.channels == (4, 8)


def test_bundle_with_the_cnn_predicts(rng, tmp_path):
    from genrekit.bundle import load_model, read_metadata, save_bundle

    X, y, groups = _bands(rng)
    clf = _tiny().fit(X, y, groups=groups)
    names = [f"mel_{i}" for i in range(X.shape[1])]
    save_bundle(tmp_path / "b", estimator=clf, model_name="cnn", labels=["a", "b", "c"],
                feature_names=names, level="segment", feature_settings={"feature_set": "mel"},
                protocol=None, metrics={}, training_fingerprint=None)
    meta = read_metadata(tmp_path / "b")
    assert meta["kind"] == "torch" and set(meta["files"]) == {"model.pt"}
    model = load_model(tmp_path / "b")
    np.testing.assert_allclose(model.predict_rows(X), clf.predict_proba(X), rtol=1e-6)


# ------------------------------------------------------------------ errors


def test_bad_input_is_reported():
    with pytest.raises(ParameterError, match="not a multiple of 16"):
        _tiny().fit(np.zeros((6, 17)), [0, 1] * 3)
    with pytest.raises(ParameterError, match="groups must have one entry per row"):
        _tiny().fit(np.zeros((6, 32)), [0, 1] * 3, groups=[1, 2])
    with pytest.raises(ParameterError, match="dropout must be in"):
        _tiny(dropout=1.5).fit(np.zeros((6, 32)), [0, 1] * 3)
    with pytest.raises(ParameterError, match="channels must be"):
        _tiny(channels=()).fit(np.zeros((6, 32)), [0, 1] * 3)


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(DependencyError, match=r"pip install 'genrekit\[cnn\]'"):
        cnn_module.import_torch()


def test_progress_bar_shows_loss_and_accuracy(rng, capsys):
    X, y, groups = _bands(rng, n_per_class=4)
    _tiny(max_epochs=1, verbose=True, validation_fraction=0.0).fit(X, y)
    err = capsys.readouterr().err
    assert "cnn" in err and "loss=" in err and "accuracy=" in err


def test_zoo_declares_mel_input():
    from genrekit.models import get_model

    spec = get_model("cnn")
    assert spec.input == "mel" and spec.needs_extra == "cnn"
    est = spec.build(seed=7)
    assert isinstance(est, CNNClassifier) and est.random_state == 7


def test_cnn_bundle_predicts_a_real_song(rng, tmp_path, gtzan_clips):
    """A CNN bundle (feature set "logmel") answers for a real clip through genrekit's predict:
    the song is cut into 3 s windows, each becomes a 128 x 130 log-mel patch."""
    from genrekit.bundle import load_model, save_bundle
    from genrekit.constants import HOP_LENGTH, N_MELS, SEGMENT_SAMPLES

    frames = 1 + SEGMENT_SAMPLES // HOP_LENGTH
    X = rng.normal(-40, 15, size=(12, N_MELS * frames)).astype(np.float32)
    y = np.repeat(["blues", "metal", "pop"], 4)
    clf = CNNClassifier(channels=(2, 4), max_epochs=1, n_threads=1, verbose=False).fit(X, y)
    save_bundle(tmp_path / "cnn", estimator=clf, model_name="cnn", labels=list(clf.classes_),
                feature_names=[f"mel_{i}" for i in range(X.shape[1])], level="segment",
                feature_settings={"feature_set": "logmel", "sample_rate": 22050, "n_mels": N_MELS,
                                  "pad_mode": "reflect"},
                protocol=None, metrics={}, training_fingerprint=None)
    song = gtzan_clips / "metal" / "metal.00003.wav"
    model = load_model(tmp_path / "cnn")
    result = model.predict_file(song, segments=True)
    assert set(result["probabilities"]) == {"blues", "metal", "pop"}
    assert result["genre"] in {"blues", "metal", "pop"}
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-6
    # the windows' probabilities come from the patches extract --mel would write
    from genrekit.audio import load_audio
    from genrekit.features.kaggle import segment_bounds
    from genrekit.models.cnn import logmel_rows

    signal = load_audio(song)
    patches = logmel_rows(signal, segment_bounds(len(signal)), sr=22050)
    assert len(result["segments"]) == len(patches) >= 5
    expected = clf.predict_proba(patches).mean(axis=0)
    got = [result["probabilities"][c] for c in clf.classes_]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_logmel_rows_match_extract(gtzan_clips):
    """The patches predict computes equal librosa's log-mel of each 3 s segment."""
    import librosa

    from genrekit.audio import load_audio
    from genrekit.features.kaggle import segment_bounds
    from genrekit.models.cnn import logmel_rows

    y = load_audio(gtzan_clips / "blues" / "blues.00000.wav")
    bounds = segment_bounds(len(y))[:2]
    rows = logmel_rows(y, bounds, sr=22050)
    a, b = bounds[1]
    power = np.abs(librosa.stft(y[a:b], n_fft=2048, hop_length=512, pad_mode="reflect")) ** 2
    ref = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=22050, n_mels=128), ref=np.max)
    assert rows.shape == (2, 128 * 130)
    np.testing.assert_allclose(rows[1].reshape(128, 130), ref, atol=1e-3)
