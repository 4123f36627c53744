"""Tests for lrcore.preprocess: the pixel transforms, deskew, and canvas preparation.

References: scipy.ndimage.affine_transform for the deskew resampling, scikit-learn's
LogisticRegression for "deskew helps a linear model", and genuine MNIST digits for "the
canvas pipeline reproduces MNIST's own preparation".
"""
from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import ndimage
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lrcore.config import PREPROCESS_MODES
from lrcore.preprocess import (
    Preprocessor,
    canvas_to_mnist,
    deskew,
    naive_resize,
)


def to_image(x):
    """Flat 784-pixel digits as 28x28 images (row-major)."""
    x = np.asarray(x)
    return x.reshape(x.shape[:-1] + (28, 28))

ROWS, COLS = np.divmod(np.arange(784), 28)


def random_pixels(n: int, seed: int = 0) -> np.ndarray:
    """(n, 784) uint8 pixels, with the first column constant (zero variance)."""
    X = np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)
    X[:, 0] = 7
    return X


def moments(x: np.ndarray) -> tuple[float, float, float]:
    """Centre of mass (row, col) and skew cov(row, col) / var(row) of one flat image."""
    x = np.asarray(x, dtype=np.float64)
    total = x.sum()
    cr, cc = x @ ROWS / total, x @ COLS / total
    var_r = x @ (ROWS - cr) ** 2 / total
    cov = x @ ((ROWS - cr) * (COLS - cc)) / total
    return cr, cc, cov / var_r


def bbox(x: np.ndarray, level: float = 0.0) -> tuple[int, int]:
    """Height and width of the box around pixels above ``level`` of a flat 28x28 image."""
    img = to_image(x) > level
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def canvas(ink: np.ndarray, transparent: bool = False) -> np.ndarray:
    """A white-on-black RGBA canvas image, as streamlit-drawable-canvas returns it.

    ``ink`` holds coverage levels in [0, 1]. Opaque: grey levels on black, alpha 255.
    Transparent: the browser's un-premultiplied RGBA of a white stroke on nothing, i.e.
    RGB white wherever there is ink, RGB 0 elsewhere, and the coverage in alpha.
    """
    level = np.round(np.asarray(ink, dtype=np.float64) * 255).astype(np.uint8)
    rgba = np.zeros(level.shape + (4,), dtype=np.uint8)
    if transparent:
        rgba[..., :3] = np.where(level > 0, 255, 0)[..., None]
        rgba[..., 3] = level
    else:
        rgba[..., :3] = level[..., None]
        rgba[..., 3] = 255
    return rgba


# --------------------------------------------------------------------------- Preprocessor


@pytest.mark.parametrize("in_dtype", [np.uint8, np.float32, np.float64])
def test_raw_and_unit_values(in_dtype):
    X = random_pixels(50).astype(in_dtype)
    X_before = X.copy()
    raw = Preprocessor("raw").fit(X).transform(X)
    unit = Preprocessor("unit").fit(X).transform(X)
    assert raw.dtype == np.float32 and unit.dtype == np.float32
    assert raw.shape == unit.shape == (50, 784)
    assert_array_equal(raw, X.astype(np.float32))
    assert_allclose(unit, X / 255.0, rtol=1e-6)
    assert unit.min() >= 0 and unit.max() <= 1
    # transform must never write into the caller's array (astype can return it as is).
    assert_array_equal(X, X_before)


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype(mode, dtype):
    X = random_pixels(20)
    out = Preprocessor(mode).fit(X).transform(X, dtype=dtype)
    assert out.dtype == dtype and out.shape == (20, 784)
    assert np.all(np.isfinite(out))


def test_standardize_uses_training_statistics_only():
    X_train, X_other = random_pixels(300, seed=1), random_pixels(40, seed=2)
    pre = Preprocessor("standardize").fit(X_train)
    x = X_train / 255.0
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std < 1e-12] = 1.0  # numpy's std of a constant x / 255 column is ~1e-16, not 0
    assert pre.mean_.dtype == pre.scale_.dtype == np.float64
    assert pre.mean_.shape == pre.scale_.shape == (784,)
    assert_allclose(pre.mean_, mean, rtol=1e-12)
    assert_allclose(pre.scale_, std, rtol=1e-12)
    # Another set is centred with the *training* mean and scale, not its own.
    expected = (X_other / 255.0 - mean) / std
    out = pre.transform(X_other, dtype=np.float64)
    assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert_allclose(pre.transform(X_other), expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out.mean(axis=0)[1:], 0, atol=0.05)
    assert_allclose(pre.transform(X_train, dtype=np.float64).mean(axis=0), 0, atol=1e-12)


def test_standardize_zero_variance_pixels_map_to_zero():
    X = random_pixels(100)
    X[:, 5:40] = 0  # always-blank pixels, like MNIST's border
    pre = Preprocessor("standardize").fit(X)
    assert_array_equal(pre.scale_[[0, *range(5, 40)]], 1.0)
    out = pre.transform(X)
    assert np.all(np.isfinite(out))
    assert_array_equal(out[:, [0, *range(5, 40)]], 0.0)
    # A pixel that never varied in training but does now stays finite.
    X_new = random_pixels(3, seed=9)
    assert np.all(np.isfinite(pre.transform(X_new)))


@pytest.mark.parametrize("mode", ["unit", "standardize"])
def test_float32_transform_makes_no_float64_copy(mode):
    X = random_pixels(20000)
    pre = Preprocessor(mode).fit(X)
    out_bytes = X.size * 4
    tracemalloc.start()
    try:
        pre.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The float32 result itself plus small per-pixel vectors; a float64 copy would double it.
    assert peak < 1.2 * out_bytes


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_by_blocks_gives_the_whole_array_numbers(mode, dtype):
    X = random_pixels(2500)  # not a multiple of any block size
    pre = Preprocessor(mode).fit(X)
    d = np.dtype(dtype)
    ref = deskew(X).astype(d) if mode == "deskew" else X.astype(d)
    if mode != "raw":
        ref /= d.type(255)
    if mode == "standardize":
        ref -= pre.mean_.astype(d)
        ref /= pre.scale_.astype(d)
    out = pre.transform(X, dtype=dtype)
    assert out.dtype == d
    assert_array_equal(out, ref)


def test_deskew_transform_has_small_temporaries():
    X = random_pixels(20000)
    pre = Preprocessor("deskew").fit(X)
    tracemalloc.start()
    try:
        out = pre.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < out.nbytes + 16e6  # the result plus one chunk's temporaries


def test_standardize_fit_makes_no_full_float64_copy():
    X = random_pixels(40000)
    tracemalloc.start()
    try:
        Preprocessor("standardize").fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.size * 8 / 3


def test_deskew_mode_is_deskew_then_unit():
    X = random_pixels(30)
    out = Preprocessor("deskew").fit(X).transform(X)
    assert_allclose(out, deskew(X) / 255.0, rtol=1e-6)


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
def test_state_round_trip_is_exact(mode):
    X, X_new = random_pixels(200, seed=3), random_pixels(10, seed=4)
    pre = Preprocessor(mode).fit(X)
    state = pre.get_state()
    for value in state.values():
        assert isinstance(value, np.ndarray) and value.dtype.kind in "iuf"
    expected_keys = {"n_samples", "mean", "scale"} if mode == "standardize" else {"n_samples"}
    assert set(state) == expected_keys
    back = Preprocessor.from_state(mode, state)
    assert back.mode == mode
    assert_array_equal(back.transform(X_new), pre.transform(X_new))
    assert back.describe() == pre.describe()
    if mode == "standardize":
        assert_array_equal(back.mean_, pre.mean_)
        assert_array_equal(back.scale_, pre.scale_)
        # The state is a copy: changing it later does not change the fitted object.
        state["mean"][:] = 0
        assert not np.all(pre.mean_ == 0)
    else:
        assert back.mean_ is None and back.scale_ is None


def test_from_state_without_sample_count():
    pre = Preprocessor("standardize").fit(random_pixels(20))
    state = {k: v for k, v in pre.get_state().items() if k != "n_samples"}
    back = Preprocessor.from_state("standardize", state)
    assert back.describe() == "standardized per pixel (mean/std of the training digits)"
    assert Preprocessor.from_state("unit", {}).transform(np.full((1, 784), 255)).max() == 1


@pytest.mark.parametrize(
    "mode, state, match",
    [
        ("standardize", {"mean": np.zeros(784)}, "missing"),
        ("standardize", {"mean": np.zeros(783), "scale": np.ones(784)}, "shape"),
        ("standardize", {"mean": np.zeros(784), "scale": np.ones((28, 28))}, "shape"),
        ("standardize", {"mean": np.zeros(784), "scale": np.zeros(784)}, "greater than 0"),
        ("standardize", {"mean": np.full(784, np.nan), "scale": np.ones(784)}, "finite"),
        ("standardize", {"mean": np.array(["a"] * 784), "scale": np.ones(784)}, "numeric"),
        ("unit", {"mean": np.zeros(784)}, "unexpected"),
        ("unit", {"n_samples": np.array([1, 2])}, "n_samples"),
        ("unit", {"n_samples": np.array(-1)}, "n_samples"),
        ("sharpen", {}, "mode must be one of"),
    ],
)
def test_from_state_validates(mode, state, match):
    with pytest.raises(ValueError, match=match):
        Preprocessor.from_state(mode, state)


def test_describe():
    X = random_pixels(60)
    assert Preprocessor("unit").fit(X).describe() == "pixels / 255"
    assert Preprocessor("raw").fit(X).describe() == "raw pixels 0-255"
    assert Preprocessor("deskew").fit(X).describe() == "deskewed, / 255"
    assert (
        Preprocessor("standardize").fit(X).describe()
        == "standardized per pixel (mean/std of 60 training digits)"
    )


def test_input_validation_and_sklearn_behaviour():
    X = random_pixels(5)
    with pytest.raises(ValueError, match="mode must be one of"):
        Preprocessor("sharpen").fit(X)
    with pytest.raises(ValueError, match=r"\(n_samples, 784\)"):
        Preprocessor().fit(X[:, :100])
    with pytest.raises(ValueError, match="reshape"):
        Preprocessor().fit(X).transform(X[0])
    with pytest.raises(ValueError, match="floating"):
        Preprocessor().fit(X).transform(X, dtype=np.int32)
    with pytest.raises(NotFittedError):
        Preprocessor().transform(X)
    pre = clone(Preprocessor("deskew"))
    assert pre.get_params() == {"mode": "deskew"}
    assert_array_equal(
        Preprocessor("unit").fit_transform(X), Preprocessor("unit").fit(X).transform(X)
    )


# --------------------------------------------------------------------------- deskew


def slanted_bar(slope: float) -> np.ndarray:
    """A 3-pixel-wide bar from top to bottom whose column drifts ``slope`` per row."""
    img = np.zeros((28, 28))
    for r in range(4, 24):
        c = 14 + slope * (r - 14)
        img[r, int(round(c)) - 1 : int(round(c)) + 2] = 255
    return img.reshape(784)


@pytest.mark.parametrize("slope", [0.4, -0.5])
def test_deskew_straightens_a_slanted_bar(slope):
    x = slanted_bar(slope)
    _, _, skew_before = moments(x)
    assert abs(skew_before - slope) < 0.1
    out = deskew(x)
    assert out.shape == (784,) and out.dtype == np.float32
    cr, cc, skew_after = moments(out)
    assert abs(skew_after) < 0.05
    assert abs(cr - 14) < 0.1 and abs(cc - 14) < 0.1
    # Shearing keeps the ink: no stroke pushed out of the image.
    assert_allclose(out.sum(), x.sum(), rtol=0.01)
    # The straightened bar is narrow: its ink fits in a few columns.
    assert bbox(out, level=128)[1] <= 4


def test_deskew_blank_and_degenerate_images_stay_finite():
    X = np.zeros((3, 784), dtype=np.uint8)
    X[1, 14 * 28 + 5 : 14 * 28 + 20] = 200  # a horizontal line: var(row) = 0
    X[2, 3 * 28 + 25] = 255  # one pixel near a corner
    out = deskew(X)
    assert np.all(np.isfinite(out))
    assert_array_equal(out[0], 0)
    assert_allclose(out[1].sum(), X[1].sum(), rtol=1e-5)
    # The lone pixel is moved to the centre intact.
    assert out[2, 14 * 28 + 14] == pytest.approx(255)


def test_deskew_matches_scipy_affine_transform(mnist):
    X = np.concatenate([mnist.X_train[:40], [slanted_bar(0.7)]]).astype(np.uint8)
    X_before = X.copy()
    out = deskew(X)
    assert_array_equal(X, X_before)
    for x, got in zip(X, out):
        cr, cc, alpha = moments(x)
        expected = ndimage.affine_transform(
            to_image(x.astype(np.float64)),
            [[1, 0], [alpha, 1]],
            offset=(cr - 14, cc - 14 - 14 * alpha),
            order=1,
            mode="grid-constant",
        )
        assert_allclose(to_image(got), expected, atol=1e-3)


def test_deskew_of_the_training_set_is_fast(mnist):
    start = time.perf_counter()
    out = deskew(mnist.X_train)
    elapsed = time.perf_counter() - start
    assert out.shape == (60000, 784) and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 255
    assert elapsed < 20


def test_deskew_helps_a_linear_classifier(mnist):
    # The known result: a linear model gains several points on deskewed digits (about 92%
    # -> 95% at full size). max_iter is kept small for speed; the gap shows long before
    # convergence (here about 0.88 -> 0.93).
    X, y = mnist.X_train[:10000], mnist.y_train[:10000]
    X_test, y_test = mnist.X_test[:2000], mnist.y_test[:2000]
    scores = {}
    for mode in ("unit", "deskew"):
        pre = Preprocessor(mode).fit(X)
        # One thread: on a busy machine scikit-learn's OpenMP loss loop is ~10x slower with
        # threads competing for cores than on one.
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
            model = LogisticRegression(max_iter=50).fit(pre.transform(X), y)
        scores[mode] = model.score(pre.transform(X_test), y_test)
    assert scores["unit"] > 0.85, scores
    assert scores["deskew"] > scores["unit"] + 0.03, scores


# --------------------------------------------------------------------------- canvas


def vertical_line_ink(size: int = 280) -> np.ndarray:
    """Ink of an off-centre vertical stroke, 16 px wide and 200 px tall, anti-aliased edges."""
    ink = np.zeros((size, size))
    ink[30:230, 200:216] = 1.0
    ink[30:230, 199] = ink[30:230, 216] = 0.5
    return ink


@pytest.mark.parametrize("transparent", [False, True])
def test_blank_canvas_is_none(transparent):
    blank = canvas(np.zeros((280, 280)), transparent=transparent)
    assert canvas_to_mnist(blank) is None
    assert naive_resize(blank) is None
    # Transparent pixels count as no ink whatever their RGB.
    blank[..., :3] = 255
    blank[..., 3] = 0
    assert canvas_to_mnist(blank) is None
    # A barely visible smudge is not a digit either.
    faint = canvas(np.full((280, 280), 0.05), transparent=transparent)
    assert canvas_to_mnist(faint) is None


@pytest.mark.parametrize("transparent", [False, True])
def test_vertical_line_is_centred_and_scaled_to_20_pixels(transparent):
    x = canvas_to_mnist(canvas(vertical_line_ink(), transparent=transparent))
    assert x.shape == (784,) and x.dtype == np.float64
    assert x.min() >= 0 and x.max() <= 1
    cr, cc, _ = moments(x)
    assert abs(cr - 14) <= 0.5 and abs(cc - 14) <= 0.5
    height, width = bbox(x)
    assert height == 20
    assert width <= 3
    assert x.max() > 0.9  # a solid stroke stays solid


def test_transparent_and_opaque_backgrounds_agree():
    ink = vertical_line_ink()
    ink[100:110, 100:200] = 0.8  # a crossbar, so the digit is not symmetric
    opaque = canvas_to_mnist(canvas(ink))
    assert_allclose(canvas_to_mnist(canvas(ink, transparent=True)), opaque, atol=1e-6)
    # Premultiplied-looking data (grey RGB *and* partial alpha) darkens grey ink (0.8 ->
    # 0.64): the same digit, same box, still centred (possibly one pixel off the opaque
    # one, since the rounded centring shift may differ).
    rgba = canvas(ink)
    rgba[..., 3] = rgba[..., 0]
    darker = canvas_to_mnist(rgba)
    assert bbox(darker) == bbox(opaque)
    cr, cc, _ = moments(darker)
    assert abs(cr - 14) <= 0.5 and abs(cc - 14) <= 0.5
    assert 0 < darker.sum() < opaque.sum()


def test_float_canvas_is_accepted():
    rgba = canvas(vertical_line_ink())
    expected = canvas_to_mnist(rgba)
    assert_allclose(canvas_to_mnist(rgba.astype(np.float64)), expected, atol=1e-6)
    assert_allclose(canvas_to_mnist(rgba / 255.0), expected, atol=1e-6)


def test_ring_becomes_a_ring():
    yy, xx = np.mgrid[:280, :280]
    radius = np.hypot(yy - 120, xx - 150)
    ink = ((radius > 70) & (radius < 90)).astype(float)
    x = canvas_to_mnist(canvas(ink))
    img = to_image(x)
    assert bbox(x, level=0.05) == (20, 20)
    cr, cc, _ = moments(x)
    assert abs(cr - 14) <= 0.5 and abs(cc - 14) <= 0.5
    # Hollow: empty in the middle, inked on the circle of radius ~ 10 * 80 / 90 ~ 8.9 px.
    assert img[12:17, 12:17].max() < 0.05
    r = np.hypot(*(np.mgrid[:28, :28] - 14))
    on_ring = (r > 7.5) & (r < 9.5)
    assert img[on_ring].mean() > 0.5


def test_tiny_dot_works():
    ink = np.zeros((280, 280))
    ink[3, 277] = 1.0  # one pixel in a corner
    x = canvas_to_mnist(canvas(ink))
    assert x is not None and np.all(np.isfinite(x))
    assert x.min() >= 0 and x.max() <= 1
    cr, cc, _ = moments(x)
    assert abs(cr - 14) <= 0.5 and abs(cc - 14) <= 0.5


def test_naive_resize_keeps_position_and_size():
    x = naive_resize(canvas(vertical_line_ink()))
    assert x.shape == (784,) and x.min() >= 0 and x.max() <= 1
    cr, cc, _ = moments(x)
    # Not centred: the stroke stays on the right, where it was drawn.
    assert cc > 20
    assert bbox(x, level=0.5)[0] == 20  # 200 of 280 px -> 20 of 28


def test_canvas_input_validation():
    with pytest.raises(ValueError, match="shape"):
        canvas_to_mnist(np.zeros((280, 280, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="shape"):
        naive_resize(np.zeros(784))


def test_canvas_pipeline_reproduces_mnist(mnist):
    # Upscale genuine MNIST digits to a 280x280 "drawing" and prepare them again: since
    # MNIST digits already are 20-pixel, centre-of-mass-centred images, the result must be
    # (close to) the original.
    X = mnist.X_test[:60]
    corr = []
    for x in X:
        big = np.kron(to_image(x) / 255.0, np.ones((10, 10)))
        got = canvas_to_mnist(canvas(big))
        assert got.min() >= 0 and got.max() <= 1
        corr.append(np.corrcoef(got, x / 255.0)[0, 1])
    corr = np.array(corr)
    assert corr.min() > 0.8, corr.min()
    assert np.median(corr) > 0.99
    got = canvas_to_mnist(canvas(np.kron(to_image(X[0]) / 255.0, np.ones((10, 10))), True))
    assert np.corrcoef(got, X[0] / 255.0)[0, 1] > 0.8
