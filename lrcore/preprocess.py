"""Pixel preprocessing: what happens to a digit between its pixels and the model.

Three jobs live here, all on plain arrays:

* :class:`Preprocessor`, the per-model pixel transform (``raw``, ``unit``, ``standardize``,
  ``deskew``; see :data:`lrcore.config.PREPROCESS_MODES`). It is fitted on the training
  rows only and its state is stored with the model, so a digit drawn in the app later goes
  through exactly the transform the model was trained with.
* :func:`deskew`, the classic moment-based deskew: shift each 28x28 image so its centre of
  mass is at (14, 14) and shear it so that its principal axis is vertical. A linear model
  cannot undo a slant by itself, so removing it lifts test accuracy from about 92% to about
  95% or more.
* :func:`canvas_to_mnist`, which turns a drawing from the app's canvas into what MNIST's
  creators would have produced from it: crop to the ink, scale the longer side to 20 pixels
  with anti-aliasing, and place the centre of mass at the centre of a 28x28 field.
  :func:`naive_resize` is the counter-example (squash the whole canvas to 28x28) that shows
  students why this matters.

Scales: the :class:`Preprocessor` and :func:`deskew` take pixels on MNIST's 0-255 scale;
:func:`canvas_to_mnist` and :func:`naive_resize` return values in [0, 1] (multiply by 255
before handing them to a :class:`Preprocessor`).

Coordinates: row ``r`` and column ``c`` of a 28x28 image are its pixel indices, so the
centre (14, 14) is the one genuine MNIST uses (its mean centre of mass is (14.00, 14.01)).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from numpy.lib.stride_tricks import as_strided
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from lrcore.config import PREPROCESS_MODES
from lrcore.labels import preprocess_label

SIDE = 28
N_PIXELS = SIDE * SIDE
# MNIST scaled each digit so its longer side is 20 pixels and centred it in a 28x28 field.
BOX_SIDE = 20
CENTER = 14.0
# Canvas pixels fainter than this (0..1 ink) are ignored when looking for the drawing: the
# canvas anti-aliases stroke edges, and a stray near-black smudge must not count as a digit.
INK_THRESHOLD = 0.1
# Images deskewed per vectorized step: bounds the temporaries (about 50 bytes per pixel, so
# ~10 MB for 256 images) whatever the size of the input. 2048 (80 MB) was slower, not
# faster: 1.2 s instead of 0.56 s for the 60,000 training digits (medians of 5), since a
# small chunk's temporaries stay in cache and its Python overhead is a few dozen calls.
_DESKEW_CHUNK = 256
# Rows per step of Preprocessor.transform: each block is converted, scaled and centred
# while it is in cache, written straight into the one output array (1024 x 784 float32 =
# 3.2 MB), so no full-size temporary exists besides the result.
_TRANSFORM_CHUNK = 1024
# Rows per step when accumulating the standardize statistics in float64 (1.6 MB each).
# Small on purpose: a 13 MB temporary (2048 rows) stayed resident as free heap after fit
# and added 15 MB to the peak of the training that followed; 256 rows is as fast.
_STATS_CHUNK = 256
# Below this variance (pixels^2) of the row coordinate, the ink is a single horizontal line
# (or a dot): the skew cov/var is undefined, so it is taken as 0 instead of 0/0.
_MIN_ROW_VARIANCE = 1e-6
# ITU-R BT.601 luma weights, the usual grey level of an RGB colour.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


# ----------------------------------------------------------------------------- helpers


def _check_pixels(X: ArrayLike, name: str = "X") -> np.ndarray:
    """Return ``X`` as a 2-D numeric array with 784 columns (no copy), or raise ValueError."""
    X = np.asarray(X)
    if X.dtype.kind not in "uif":
        raise ValueError(f"{name} must hold numbers (0-255 pixels); got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[1] != N_PIXELS:
        hint = " (use X.reshape(1, -1) for a single digit)" if X.shape == (N_PIXELS,) else ""
        raise ValueError(
            f"{name} must have shape (n_samples, {N_PIXELS}); got {X.shape}{hint}"
        )
    return X


def _check_float_dtype(dtype: DTypeLike) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type; got {dtype}")
    return dtype


# ----------------------------------------------------------------------------- deskew


def _skew_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre of mass and skew of each image.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 784)
        Non-negative intensities (any float or integer dtype).

    Returns
    -------
    center_row, center_col : ndarray of shape (n_samples,)
        Intensity-weighted mean row and column; (14, 14) for a blank image.
    alpha : ndarray of shape (n_samples,)
        ``cov(row, col) / var(row)``: how many columns the ink drifts per row. 0 for a blank
        image or one whose ink lies on a single row.
    """
    # float64 for the moments only: a chunk of rows times a (784, 5) table, so no large copy.
    r, c = np.divmod(np.arange(N_PIXELS, dtype=np.float64), SIDE)
    basis = np.stack([np.ones(N_PIXELS), r, c, r * r, r * c], axis=1)
    m = X.astype(np.float64) @ basis
    total = m[:, 0]
    blank = total <= 0
    safe = np.where(blank, 1.0, total)
    cr = np.where(blank, CENTER, m[:, 1] / safe)
    cc = np.where(blank, CENTER, m[:, 2] / safe)
    var_r = m[:, 3] / safe - cr * cr
    cov_rc = m[:, 4] / safe - cr * cc
    flat = blank | (var_r < _MIN_ROW_VARIANCE)
    alpha = np.where(flat, 0.0, cov_rc / np.where(flat, 1.0, var_r))
    return cr, cc, alpha


def _shifted_windows(a: np.ndarray, axis: int, width: int) -> np.ndarray:
    """Read-only view of every run of ``width`` consecutive entries of ``a`` along ``axis``.

    Parameters
    ----------
    a : ndarray of shape (n, p, q)
        C-contiguous.
    axis : {1, 2}
        The axis the runs go along.
    width : int
        Length of each run.

    Returns
    -------
    windows : ndarray
        Shape (n, p - width + 1, width, q) for ``axis=1``, (n, p, q - width + 1, width) for
        ``axis=2``; ``windows[..., k, :]`` is the run starting at index k.
    """
    n, p, q = a.shape
    s0, s1, s2 = a.strides
    if axis == 1:
        return as_strided(a, (n, p - width + 1, width, q), (s0, s1, s1, s2), writeable=False)
    return as_strided(a, (n, p, q - width + 1, width), (s0, s1, s2, s2), writeable=False)


def _deskew_chunk(X: np.ndarray) -> np.ndarray:
    """Deskew a chunk of images (see :func:`deskew`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, 784)
        0-255 pixels, any numeric dtype.

    Returns
    -------
    X_deskewed : ndarray of shape (n_samples, 784), float32
    """
    n = X.shape[0]
    cr, cc, alpha = _skew_moments(X)
    grid = np.arange(SIDE)
    # Output pixel (r, c) samples the input, bilinearly, at
    #   (r + cr - 14,  c + cc - 14 + alpha * (r - 14)),
    # i.e. scipy.ndimage.affine_transform with matrix [[1, 0], [alpha, 1]] and the offset
    # that maps the centre (14, 14) onto the centre of mass. The map is separable: the row
    # shift is one number per image and the column shift one number per image row, so
    # bilinear = a linear shift of whole rows, then of each row's columns. Each shift is
    # a gather of contiguous windows (one index per image, then per row), which is faster
    # than per-pixel fancy indexing and than a Python loop of affine_transform calls.
    #
    # Outside the image counts as 0 (scipy's mode="grid-constant"): a stroke sheared off
    # the border fades out instead of being cut at the last pixel, as mode="constant" does.
    # The zero margins are wide enough that every clipped shift reads only zeros where it
    # should: the centre of mass lies inside the image, so |row shift| <= 14; the column
    # shift is unbounded (alpha is), and a shift of 29 or more already sees only margin.
    pad_r = SIDE // 2
    dr = np.clip(cr - CENTER, -pad_r, pad_r - 1)
    kr = np.floor(dr)
    fr = (dr - kr).astype(np.float32)[:, None, None]
    tall = np.zeros((n, SIDE + 2 * pad_r, SIDE), dtype=np.float32)
    tall[:, pad_r : pad_r + SIDE] = X.reshape(n, SIDE, SIDE)
    rows = _shifted_windows(tall, 1, SIDE + 1)[np.arange(n), kr.astype(np.intp) + pad_r]
    rows_shifted = rows[:, :-1] + fr * (rows[:, 1:] - rows[:, :-1])

    pad_c = SIDE + 1
    dc = (cc - CENTER)[:, None] + alpha[:, None] * (grid - CENTER)
    dc = np.clip(dc, -pad_c, pad_c - 1)
    kc = np.floor(dc)
    fc = (dc - kc).astype(np.float32)[:, :, None]
    wide = np.zeros((n, SIDE, SIDE + 2 * pad_c), dtype=np.float32)
    wide[:, :, pad_c : pad_c + SIDE] = rows_shifted
    cols = _shifted_windows(wide, 2, SIDE + 1)[
        np.arange(n)[:, None], grid, kc.astype(np.intp) + pad_c
    ]
    # a + f (b - a) rather than (1 - f) a + f b: exact where a == b, so 255 stays 255.
    out = cols[..., :-1] + fc * (cols[..., 1:] - cols[..., :-1])
    return out.reshape(n, N_PIXELS)


def deskew(X: ArrayLike) -> np.ndarray:
    """Moment-based deskew of MNIST-sized digits.

    For each image, with ``(cr, cc)`` its intensity-weighted centre of mass and
    ``alpha = cov(row, col) / var(row)`` its skew, the output is the input resampled
    (bilinear, zeros outside) by the affine map ``[[1, 0], [alpha, 1]]`` that moves the
    centre of mass to (14, 14) and turns the slant of the principal axis into vertical.
    Equivalent to ``scipy.ndimage.affine_transform(img, [[1, 0], [alpha, 1]],
    offset=(cr - 14, cc - 14 - 14 * alpha), order=1, mode="grid-constant")`` per image,
    but vectorized over the batch (about 0.6 s for 60,000 digits).

    Parameters
    ----------
    X : array-like of shape (n_samples, 784) or (784,)
        Row-major 28x28 digits on the 0-255 scale (any numeric dtype).

    Returns
    -------
    X_deskewed : ndarray of shape (n_samples, 784) or (784,), float32
        Same scale as the input. Blank images come back as zeros (never NaN).
    """
    X = np.asarray(X)
    single = X.ndim == 1
    X = _check_pixels(X.reshape(1, -1) if single else X)
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, X.shape[0], _DESKEW_CHUNK):
        stop = start + _DESKEW_CHUNK
        out[start:stop] = _deskew_chunk(X[start:stop])
    return out[0] if single else out


# ----------------------------------------------------------------------------- the transformer




class Preprocessor(TransformerMixin, BaseEstimator):
    """Pixel transform applied before the model, fitted on the training rows only.

    Parameters
    ----------
    mode : {"unit", "standardize", "deskew", "raw"}, default="unit"
        ``raw``: the 0-255 pixels as floats. ``unit``: pixels / 255.
        ``standardize``: pixels / 255, then ``(x - mean_) / scale_`` per pixel with the
        training mean and standard deviation (pixels that never vary get scale 1, so they
        map to 0). ``deskew``: :func:`deskew`, then / 255.

    Attributes
    ----------
    mean_ : ndarray of shape (784,), float64, or None
        Per-pixel training mean on the 0-1 scale (``standardize`` only).
    scale_ : ndarray of shape (784,), float64, or None
        Per-pixel training standard deviation on the 0-1 scale, 1 where it is 0
        (``standardize`` only).
    n_samples_seen_ : int
        Number of rows the statistics came from (0 when restored without that count).
    n_features_in_ : int
        Always 784.
    """

    def __init__(self, mode: str = "unit") -> None:
        self.mode = mode

    def _check_mode(self) -> None:
        if self.mode not in PREPROCESS_MODES:
            raise ValueError(
                f"mode must be one of {', '.join(PREPROCESS_MODES)}; got {self.mode!r}"
            )

    def fit(self, X: ArrayLike, y: object = None) -> "Preprocessor":
        """Learn the state of the transform from training pixels.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784)
            Training digits on the 0-255 scale (uint8 or float).
        y : ignored
            Present for scikit-learn pipelines.

        Returns
        -------
        self : Preprocessor
        """
        self._check_mode()
        X = _check_pixels(X)
        if X.shape[0] < 1:
            raise ValueError("X must contain at least one row")
        self.n_features_in_ = N_PIXELS
        self.n_samples_seen_ = int(X.shape[0])
        if self.mode != "standardize":
            self.mean_ = None
            self.scale_ = None
            return self
        # Two passes over row chunks: the float64 accuracy of the statistics without a
        # float64 copy of all 60,000 x 784 pixels (np.var would make one).
        mean = np.zeros(N_PIXELS)
        for start in range(0, X.shape[0], _STATS_CHUNK):
            mean += X[start : start + _STATS_CHUNK].sum(axis=0, dtype=np.float64)
        mean /= X.shape[0]
        sq = np.zeros(N_PIXELS)
        for start in range(0, X.shape[0], _STATS_CHUNK):
            d = X[start : start + _STATS_CHUNK].astype(np.float64)
            d -= mean
            sq += np.einsum("ij,ij->j", d, d)
        scale = np.sqrt(sq / X.shape[0]) / 255.0
        # A pixel that is the same in every training digit (MNIST's border) carries no
        # information: scale 1 sends it to exactly 0 instead of 0/0. (The two-pass sum
        # gives an exact 0 for a constant column, the tolerance only guards rounding.)
        scale[scale <= 1e-12] = 1.0
        self.mean_ = mean / 255.0
        self.scale_ = scale
        return self

    def transform(self, X: ArrayLike, dtype: DTypeLike = np.float32) -> np.ndarray:
        """Apply the fitted transform.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784)
            Digits on the 0-255 scale (uint8 or float). Never modified.
        dtype : floating dtype, default=np.float32
            Output dtype. All arithmetic on the full array happens in this dtype, so
            float32 output never goes through a float64 copy of the data.

        Returns
        -------
        X_out : ndarray of shape (n_samples, 784)
            A new array of ``dtype``.
        """
        check_is_fitted(self, "n_features_in_")
        self._check_mode()
        X = _check_pixels(X)
        dtype = _check_float_dtype(dtype)
        # Always a new array (never the caller's, even for a float input of this dtype),
        # filled block by block: the peak is the output plus one block's temporaries.
        out = np.empty(X.shape, dtype=dtype)
        step = _DESKEW_CHUNK if self.mode == "deskew" else _TRANSFORM_CHUNK
        if self.mode == "standardize":
            mean, scale = self.mean_.astype(dtype), self.scale_.astype(dtype)
        for start in range(0, X.shape[0], step):
            block = out[start : start + step]
            if self.mode == "deskew":
                # deskew works in float32; cast afterwards, as the whole-array version did.
                block[...] = _deskew_chunk(X[start : start + step])
            else:
                block[...] = X[start : start + step]
            if self.mode == "raw":
                continue
            block /= dtype.type(255)
            if self.mode == "standardize":
                block -= mean
                block /= scale
        return out

    def describe(self) -> str:
        """One short human-readable line: the mode's name in :mod:`lrcore.labels`, e.g.
        ``"pixels / 255"``; standardization also says what its mean/std came from."""
        self._check_mode()
        name = preprocess_label(self.mode)
        if self.mode != "standardize":
            return name
        n = getattr(self, "n_samples_seen_", 0)
        source = f"{n:,} training digits" if n else "the training digits"
        return f"{name} (mean/std of {source})"

    # -- persistence: plain arrays only, so a model file needs no pickle

    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted state as plain numeric arrays.

        Returns
        -------
        state : dict of str to ndarray
            ``{"n_samples": int64 array of shape ()}`` plus, for ``standardize``,
            ``"mean"`` and ``"scale"`` float64 arrays of shape (784,). Copies.
        """
        check_is_fitted(self, "n_features_in_")
        state = {"n_samples": np.array(self.n_samples_seen_, dtype=np.int64)}
        if self.mode == "standardize":
            state["mean"] = np.array(self.mean_, dtype=np.float64)
            state["scale"] = np.array(self.scale_, dtype=np.float64)
        return state

    @classmethod
    def from_state(cls, mode: str, state: dict[str, np.ndarray]) -> "Preprocessor":
        """Rebuild a fitted preprocessor from :meth:`get_state` output.

        Parameters
        ----------
        mode : str
            One of :data:`lrcore.config.PREPROCESS_MODES`.
        state : dict of str to ndarray
            ``"mean"`` and ``"scale"`` of shape (784,) for ``standardize`` (scale > 0,
            all finite); optional ``"n_samples"`` of shape (). No other keys.

        Returns
        -------
        preprocessor : Preprocessor
            Fitted, ready to :meth:`transform`.

        Raises
        ------
        ValueError
            If the mode is unknown or the state has missing, extra or malformed entries.
        """
        pre = cls(mode=mode)
        pre._check_mode()
        state = dict(state)
        needed = {"mean", "scale"} if mode == "standardize" else set()
        allowed = needed | {"n_samples"}
        missing = needed - state.keys()
        extra = state.keys() - allowed
        if missing or extra:
            raise ValueError(
                f"state for mode {mode!r} must have keys {sorted(needed)} "
                f"(and optionally 'n_samples'); missing {sorted(missing)}, "
                f"unexpected {sorted(extra)}"
            )
        n = np.asarray(state.get("n_samples", 0))
        if n.shape != () or n.dtype.kind not in "iu" or n < 0:
            raise ValueError(f"state['n_samples'] must be a non-negative integer; got {n!r}")
        pre.n_features_in_ = N_PIXELS
        pre.n_samples_seen_ = int(n)
        pre.mean_ = pre.scale_ = None
        if mode == "standardize":
            arrays = {}
            for key in ("mean", "scale"):
                a = np.asarray(state[key])
                if a.shape != (N_PIXELS,) or a.dtype.kind not in "iuf":
                    raise ValueError(
                        f"state[{key!r}] must be a numeric array of shape ({N_PIXELS},); "
                        f"got dtype {a.dtype}, shape {a.shape}"
                    )
                if not np.all(np.isfinite(a)):
                    raise ValueError(f"state[{key!r}] must be finite")
                arrays[key] = a.astype(np.float64, copy=True)
            if np.any(arrays["scale"] <= 0):
                raise ValueError("state['scale'] must be greater than 0 everywhere")
            pre.mean_, pre.scale_ = arrays["mean"], arrays["scale"]
        return pre


# ----------------------------------------------------------------------------- the canvas


def _ink(rgba: ArrayLike) -> np.ndarray:
    """Ink intensity in [0, 1] of a canvas image.

    Parameters
    ----------
    rgba : array-like of shape (H, W, 4), (H, W, 3) or (H, W)
        uint8 on 0-255, or float on 0-255 (float arrays whose values are all at most 1 are
        read as 0-1). Without an alpha channel the image counts as opaque.

    Returns
    -------
    ink : ndarray of shape (H, W), float32
        Luminance times alpha: white strokes are 1, while both an opaque black background
        and a transparent one (alpha 0, whatever its RGB) are 0.
    """
    a = np.asarray(rgba)
    if a.dtype.kind not in "uif" or a.ndim not in (2, 3) or (
        a.ndim == 3 and a.shape[2] not in (3, 4)
    ):
        raise ValueError(
            f"expected an image of shape (H, W, 4), (H, W, 3) or (H, W); got {a.shape} "
            f"of dtype {a.dtype}"
        )
    if min(a.shape[:2]) < 1:
        raise ValueError(f"the image is empty: shape {a.shape}")
    # float32 is plenty for 8-bit colours and halves the time on a 280x280 canvas.
    scale = np.float32(1 / 255)
    if a.dtype.kind == "f" and a.max(initial=0.0) <= 1.0:
        scale = np.float32(1)  # 0-1 floats; a genuine 0-255 float image this faint is blank
    a = np.clip(a.astype(np.float32) * scale, 0, 1)
    if a.ndim == 2:
        return a
    lum = _LUMA[0] * a[..., 0] + _LUMA[1] * a[..., 1] + _LUMA[2] * a[..., 2]
    return lum * a[..., 3] if a.shape[2] == 4 else lum


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Anti-aliased resize of a float image in [0, 1].

    Parameters
    ----------
    img : ndarray of shape (H, W)
    width, height : int
        Target size.

    Returns
    -------
    resized : ndarray of shape (height, width), float64 in [0, 1]
    """
    # Shrinking (the usual case: a 280-pixel canvas to 20 pixels) uses BOX, PIL's exact area
    # average: every output pixel is the mean ink over its footprint, like a sensor pixel,
    # with no ringing. Enlarging a tiny drawing uses LANCZOS, since BOX would be blocky.
    shrink = width <= img.shape[1] and height <= img.shape[0]
    pil = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32))  # mode "F"
    out = pil.resize((width, height), Image.BOX if shrink else Image.LANCZOS)
    # LANCZOS rings slightly below 0 and above 1 next to sharp stroke edges.
    return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)


def canvas_to_mnist(rgba: ArrayLike) -> np.ndarray | None:
    """Prepare a canvas drawing the way MNIST prepared its digits.

    Crop to the bounding box of the ink, scale (keeping the aspect ratio, anti-aliased) so
    the longer side is 20 pixels, and paste into a 28x28 field so that the centre of mass
    of the ink is at (14, 14), to the nearest pixel. Ink pushed past the border by that
    shift is dropped.

    Parameters
    ----------
    rgba : array-like of shape (H, W, 4)
        The canvas image (``image_data`` of streamlit-drawable-canvas, typically 280x280
        uint8): light ink on either an opaque black background or a transparent one.
        (H, W, 3) and (H, W) greyscale are accepted too.

    Returns
    -------
    x : ndarray of shape (784,), float64, or None
        Row-major 28x28 digit in [0, 1] (multiply by 255 for a :class:`Preprocessor`), or
        None if no pixel has ink above ``INK_THRESHOLD``.
    """
    ink = _ink(rgba)
    mask = ink > INK_THRESHOLD
    if not mask.any():
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    factor = BOX_SIDE / max(h, w)
    # max(1, ...): a one-pixel-wide line still gets a column (no zero-size image).
    small = _resize(crop, max(1, round(w * factor)), max(1, round(h * factor)))
    total = small.sum()
    if total <= 0:  # everything rang to below zero and was clipped: nothing left to show
        return None
    sh, sw = small.shape
    com_r = (small.sum(axis=1) @ np.arange(sh)) / total
    com_c = (small.sum(axis=0) @ np.arange(sw)) / total
    top = int(round(CENTER - com_r))
    left = int(round(CENTER - com_c))
    out = np.zeros((SIDE, SIDE))
    # Overlap of the pasted box with the field, in field and in box coordinates.
    r0, r1 = max(top, 0), min(top + sh, SIDE)
    c0, c1 = max(left, 0), min(left + sw, SIDE)
    out[r0:r1, c0:c1] = small[r0 - top : r1 - top, c0 - left : c1 - left]
    return out.reshape(N_PIXELS)


def naive_resize(rgba: ArrayLike) -> np.ndarray | None:
    """Squash the whole canvas to 28x28: no crop, no size or position normalization.

    The counter-example to :func:`canvas_to_mnist`: a small digit drawn in a corner stays
    small and in the corner, where a model trained on centred MNIST digits has never seen
    ink.

    Parameters
    ----------
    rgba : array-like of shape (H, W, 4)
        As for :func:`canvas_to_mnist`.

    Returns
    -------
    x : ndarray of shape (784,), float64, or None
        Row-major 28x28 image in [0, 1], or None for a blank canvas.
    """
    ink = _ink(rgba)
    if not (ink > INK_THRESHOLD).any():
        return None
    return _resize(ink, SIDE, SIDE).reshape(N_PIXELS)
