"""The capstone's image route: rendering, HOG, and the zoo pipelines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from genrekit.exceptions import ParameterError
from genrekit.models.image import HOGFeatures, MelImage, render_images


def test_render_matches_matplotlib_colour_mapping(rng):
    import matplotlib

    X = rng.normal(-40, 15, size=(3, 8 * 10))
    images = render_images(X, n_mels=8, cmap="viridis")
    assert images.shape == (3, 8, 10, 3) and images.dtype == np.float32
    for i in range(3):
        patch = X[i].reshape(8, 10)[::-1]  # row 0 = highest band, as specshow draws it
        expected = matplotlib.colormaps["viridis"](matplotlib.colors.Normalize()(patch))[..., :3]
        np.testing.assert_allclose(images[i], expected, atol=1e-6)


def test_render_extremes_and_constant_patches():
    import matplotlib

    magma = matplotlib.colormaps["magma"]
    X = np.zeros((2, 4 * 5))
    X[0, 0] = -80.0  # lowest band, first frame: the darkest pixel, drawn at the bottom
    X[0, 1:] = 0.0
    images = render_images(X, n_mels=4)
    np.testing.assert_allclose(images[0, -1, 0], magma(0.0)[:3], atol=1e-6)
    np.testing.assert_allclose(images[0, 0, 0], magma(1.0)[:3], atol=1e-6)
    np.testing.assert_allclose(images[1], np.broadcast_to(magma(0.0)[:3], (4, 5, 3)), atol=1e-6)


def test_downsample_block_averages(rng):
    X = rng.normal(size=(2, 8 * 11))
    full = render_images(X, n_mels=8)
    half = render_images(X, n_mels=8, downsample=2)
    assert half.shape == (2, 4, 5, 3)
    np.testing.assert_allclose(half[1, 2, 3], full[1, 4:6, 6:8].mean(axis=(0, 1)), atol=1e-6)


def test_render_errors():
    with pytest.raises(ParameterError, match="n_mels=8 bands times frames, got shape"):
        render_images(np.zeros((2, 9)), n_mels=8)
    with pytest.raises(ParameterError, match="unknown matplotlib colour map 'nope'"):
        render_images(np.zeros((2, 8)), n_mels=8, cmap="nope")
    with pytest.raises(ParameterError, match="must hold n_mels=8 bands"):
        MelImage(n_mels=8).fit(np.zeros((2, 9)))


def test_mel_image_flattens_rendered_pixels(rng):
    X = rng.normal(size=(4, 8 * 6))
    out = MelImage(n_mels=8, downsample=1, cmap="gray").fit(X).transform(X)
    assert out.shape == (4, 8 * 6 * 3)
    np.testing.assert_array_equal(out, render_images(X, n_mels=8, cmap="gray").reshape(4, -1))


def test_hog_equals_scikit_image_on_the_rendered_image(rng):
    from skimage.feature import hog

    X = rng.normal(size=(2, 32 * 40))
    out = HOGFeatures(n_mels=32, pixels_per_cell=8).fit_transform(X)
    # 4 x 5 cells -> 3 x 4 blocks of 2 x 2 cells x 9 orientations
    assert out.shape == (2, 3 * 4 * 2 * 2 * 9)
    image = render_images(X, n_mels=32)[1]
    expected = hog(image, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                   channel_axis=-1)
    np.testing.assert_allclose(out[1], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ParameterError, match="fewer than one block"):
        HOGFeatures(n_mels=32, pixels_per_cell=20).fit_transform(X)


@parametrize_with_checks(
    [MelImage(n_mels=1, downsample=1),
     HOGFeatures(n_mels=1, pixels_per_cell=1, cells_per_block=1, orientations=4)],
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def _synthetic_mel(rng, n_per_class=10):
    """Full-size 128 x 130 dB patches; the class is a loud band low or high in the spectrum."""
    X, y = [], []
    for label, lo in (("low", 10), ("high", 90)):
        for _ in range(n_per_class):
            patch = rng.normal(-60, 6, size=(128, 130))
            patch[lo : lo + 12] += 45
            X.append(patch.ravel())
            y.append(label)
    return np.asarray(X, dtype=np.float32), np.asarray(y)


@pytest.mark.parametrize("name", ["img_pca_logreg", "img_pca_tree", "hog12_pca_logreg"])
def test_zoo_pipelines_fit_real_sized_patches(rng, name):
    from genrekit.models import get_model

    spec = get_model(name)
    assert spec.input == "mel"
    X, y = _synthetic_mel(rng)
    model = spec.build(seed=1).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (20, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(X) == y) == 1.0


def test_zoo_lists_every_capstone_image_model():
    from genrekit.models import model_specs

    specs = model_specs()
    for name in ("img_pca_logreg", "img_pca_tree", "img_pca_forest", "img_pca_svm",
                 "hog9_pca_logreg", "hog9_pca_lightgbm", "hog12_pca_logreg", "hog12_pca_lightgbm"):
        assert specs[name].input == "mel", name


def test_image_pipeline_bundle_round_trip(rng, tmp_path):
    """Image pipelines are stored with skops (genrekit's transformers are on the allow-list)."""
    from genrekit.bundle import load_model, read_metadata, save_bundle
    from genrekit.models import get_model

    X, y = _synthetic_mel(rng)
    model = get_model("hog9_pca_logreg").build(seed=1).fit(X, y)
    save_bundle(tmp_path / "img", estimator=model, model_name="hog9_pca_logreg",
                labels=["high", "low"], feature_names=[f"mel_{i}" for i in range(X.shape[1])],
                level="segment", feature_settings={"feature_set": "logmel"}, protocol=None,
                metrics={}, training_fingerprint=None)
    assert read_metadata(tmp_path / "img")["kind"] == "skops"
    loaded = load_model(tmp_path / "img")
    np.testing.assert_allclose(loaded.predict_rows(X), model.predict_proba(X), rtol=1e-6)
