"""Figures of a model's weights: one 28x28 image per class, two models compared, a table.

Red = a positive weight (ink there is evidence *for* the class), blue = negative, on a
symmetric scale (see :mod:`lrcore.figures.style`).
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from lrcore.figures.style import (
    EVIDENCE_COLORSCALE,
    EVIDENCE_LUT,
    FONT,
    WEIGHT_COLORSCALE,
    domains,
    evidence_indices,
    html_figure,
    image_axes,
    image_side,
    png_data_url,
    symmetric_max,
)
from lrcore.labels import COLOR_MEANING

__all__ = ["weight_images", "weight_tiles_html", "weight_difference", "weight_table"]

_WEIGHT_LEGEND = "weight<br><span style='font-size:11px'>red: evidence for<br>the class<br>" \
                 "blue: evidence<br>against it</span>"


def _check_coef(coef: ArrayLike, classes: ArrayLike, name: str = "coef") -> tuple[
        np.ndarray, np.ndarray, list[str]]:
    """Validate ``coef`` (R, d) against ``classes`` and name each row.

    Returns the coefficients as float64 (R, d), the classes, and one label per row: the
    class itself, or ``"c1 vs c0"`` for a binary model's single row (whose positive weights
    are evidence for ``classes[1]``, as in scikit-learn).
    """
    coef = np.asarray(coef, dtype=np.float64)
    classes = np.asarray(classes)
    if coef.ndim == 1:
        coef = coef[None, :]
    if coef.ndim != 2 or coef.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n_classes, n_features); got {coef.shape}")
    image_side(coef.shape[1])
    if coef.shape[0] == 1 and classes.size == 2:
        labels = [f"{classes[1]} vs {classes[0]}"]
    elif coef.shape[0] == classes.size:
        labels = [str(c) for c in classes]
    else:
        raise ValueError(
            f"{name} has {coef.shape[0]} rows, which does not fit {classes.size} classes "
            "(expected one row per class, or one row for two classes)"
        )
    return coef, classes, labels


def _weight_heatmap(z: np.ndarray, label: str, m: float, xref: str, yref: str, *,
                    showscale: bool, colorbar: dict | None = None,
                    coloraxis: str | None = None) -> dict:
    trace: dict[str, Any] = dict(
        type="heatmap", z=z, xaxis=xref, yaxis=yref,
        hovertemplate=f"class {label}, row %{{y}}, col %{{x}}, weight %{{z:.4g}}<extra></extra>",
    )
    if coloraxis:
        trace["coloraxis"] = coloraxis
    else:
        trace.update(colorscale=WEIGHT_COLORSCALE, zmin=-m, zmax=m, zmid=0.0,
                     showscale=showscale)
        if showscale and colorbar:
            trace["colorbar"] = colorbar
    return trace


def weight_images(
    coef: ArrayLike,
    classes: ArrayLike,
    *,
    symmetric: bool = True,
    titles: Sequence[str] | None = None,
    zmax: float | None = None,
    ncols: int = 5,
) -> go.Figure:
    """The weights of each class drawn as an image, in a grid of heatmaps.

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_pixels), or (1, n_pixels) for two classes
        Model coefficients (``coef_``); ``n_pixels`` must be a square (784 = 28 x 28).
    classes : array-like of shape (n_classes,)
        The model's ``classes_``. A binary model (one row) is drawn as a single image whose
        red pixels are evidence for ``classes[1]``.
    symmetric : bool, default=True
        True: one colour scale for all images, ``[-m, m]`` with ``m = max |coef|``, so
        colours compare across classes. False: each image gets its own ``[-m_k, m_k]``
        (``m_k`` its own largest ``|w|``), which shows the shape of faint classes; the
        colour bar is then labelled relative to each image's maximum.
    titles : sequence of str, optional
        One title per image (default: the class labels).
    zmax : float, optional
        Fixed half-width of the (shared) colour scale, e.g. the final model's to watch
        weights grow over training. Ignored when ``symmetric`` is False.
    ncols : int, default=5
        Images per row.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` trace per row of ``coef`` (each z of shape (28, 28)), with
        ``zmid=0`` and ``zmin=-zmax``.
    """
    coef, classes, labels = _check_coef(coef, classes)
    side = image_side(coef.shape[1])
    n = coef.shape[0]
    if titles is not None:
        titles = [str(t) for t in titles]
        if len(titles) != n:
            raise ValueError(f"titles must have {n} entries (one per image); got {len(titles)}")
    else:
        titles = [f"class {c}" if n > 1 else c for c in labels]
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)

    shared = symmetric_max(coef) if zmax is None else float(zmax)
    if not (shared > 0 and math.isfinite(shared)):
        raise ValueError(f"zmax must be a positive number; got {zmax!r}")
    title_h = 0.1 / nrows if nrows > 1 else 0.08  # room above each row for its title
    ydoms = domains(nrows, gap=title_h, end=1.0 - title_h)[::-1]  # first row on top
    xdoms = domains(ncols, gap=0.02, end=0.92 if n > 1 else 0.85)

    legend = _WEIGHT_LEGEND if n > 1 else (
        f"weight<br><span style='font-size:11px'>red: evidence<br>for {classes[1]}<br>"
        f"blue: evidence<br>for {classes[0]}</span>")
    layout: dict[str, Any] = dict(
        height=int(40 + nrows * 200) if n > 1 else 380,
        margin=dict(l=10, r=10, t=30, b=10),
        annotations=[], font=FONT, plot_bgcolor="white",
    )
    traces = []
    for k in range(n):
        r, c = divmod(k, ncols)
        m = shared if symmetric else symmetric_max(coef[k])
        title = titles[k] if symmetric else f"{titles[k]} (±{m:.2g})"
        xref, yref = image_axes(layout, k, xdoms[c], ydoms[r], title)
        if symmetric:
            colorbar = dict(title=dict(text=legend, side="top"), thickness=14, x=0.94,
                            len=1.0)
        else:
            # Each image has its own scale; the one colour bar can only speak in fractions
            # of "this image's largest |weight|".
            colorbar = dict(title=dict(text=legend, side="top"), thickness=14, x=0.94,
                            len=1.0, tickvals=[-m, -m / 2, 0, m / 2, m],
                            ticktext=["−max", "−½ max", "0", "½ max", "+max"])
        traces.append(_weight_heatmap(coef[k].reshape(side, side), labels[k], m, xref, yref,
                                      showscale=(k == 0), colorbar=colorbar))
    fig = go.Figure(data=traces, layout=layout)
    return fig


# Narrowest weight tile in CSS pixels: three fit side by side on a 390 px phone (about
# 360 px of content), each pixel of the 28x28 image 3.5 px or more.
TILE_MIN_PX = 100


def weight_tiles_html(
    coef: ArrayLike,
    classes: ArrayLike,
    *,
    symmetric: bool = True,
    zmax: float | None = None,
    columns: int = 5,
) -> str:
    """The weight images of :func:`weight_images` as an HTML grid of tiny PNG tiles.

    The tiles wrap without knowing the viewport (a CSS grid): ``columns`` per row where
    there is room, fewer but never narrower than :data:`TILE_MIN_PX` on a phone. Colours
    are :data:`lrcore.figures.style.EVIDENCE_COLORSCALE`: red = positive weight = evidence
    for the class, blue = against, white = 0, on a symmetric scale; a colour bar under the
    grid says so.

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_pixels), or (1, n_pixels) for two classes
    classes : array-like of shape (n_classes,)
    symmetric : bool, default=True
        One scale ``[-m, m]`` for all tiles (``m = max |coef|``), or one per tile.
    zmax : float, optional
        Fixed half-width of the shared scale (ignored when ``symmetric`` is False).
    columns : int, default=5
        Tiles per row on a wide screen.

    Returns
    -------
    html : str
        ``<div class='weights'>`` holding one ``<figure class='wtile' data-class=...
        data-vmax=...>`` per row of ``coef`` (each a 28x28 PNG ``<img>``) and a
        ``<div class='colorbar'>``.
    """
    coef, classes, labels = _check_coef(coef, classes)
    side = image_side(coef.shape[1])
    n = coef.shape[0]
    shared = symmetric_max(coef) if zmax is None else float(zmax)
    if not (shared > 0 and math.isfinite(shared)):
        raise ValueError(f"zmax must be a positive number; got {zmax!r}")
    if n == 1:
        meaning = f"red: evidence for {classes[1]}, blue: evidence for {classes[0]}"
    else:
        meaning = COLOR_MEANING["weights"]
    tiles = []
    for k in range(n):
        m = shared if symmetric else symmetric_max(coef[k])
        title = f"class {labels[k]}" if n > 1 else labels[k]
        caption = html.escape(title) + ("" if symmetric else
                                        f" <span style='opacity:0.7'>(±{m:.2g})</span>")
        tiles.append(html_figure(
            png_data_url(evidence_indices(coef[k].reshape(side, side), m), EVIDENCE_LUT),
            caption, alt=f"weights of {title}: {meaning}", cls="wtile", caption_lines=1,
            attrs=f"data-class='{html.escape(labels[k], quote=True)}' data-vmax='{m:.6g}'"))
    stops = ", ".join(f"{c} {100 * s:.0f}%" for s, c in EVIDENCE_COLORSCALE)
    ends = (f"<span>−{shared:.3g}</span>", f"<span>+{shared:.3g}</span>") if symmetric else (
        "<span>−max</span>", "<span>+max</span>")
    bar = ("<div class='colorbar' style='display:flex;align-items:center;gap:0.5rem;"
           "flex-wrap:wrap;font-size:0.85rem;margin-top:0.5rem'>"
           f"{ends[0]}<div style='flex:0 1 14rem;min-width:6rem;height:0.7rem;"
           f"border-radius:3px;background:linear-gradient(to right, {stops})'></div>{ends[1]}"
           f"<span style='opacity:0.8'>weight ({meaning}"
           + ("" if symmetric else "; each image on its own scale") + ")</span></div>")
    # At most ``columns`` tracks, each at least TILE_MIN_PX wide: the max() picks the
    # wider of "a fifth of the row" and the minimum, so a phone gets fewer columns.
    gap = 0.6
    track = (f"minmax(max({TILE_MIN_PX}px, calc((100% - {columns - 1} * {gap}rem) / "
             f"{columns})), 1fr)")
    grid = (f"<div class='wgrid' style='display:grid;gap:{gap}rem;"
            f"grid-template-columns:repeat(auto-fill, {track});"
            f"max-width:{'100%' if n > 1 else '320px'}'>" + "".join(tiles) + "</div>")
    return f"<div class='weights' data-vmax='{shared:.6g}'>" + grid + bar + "</div>"


def weight_difference(
    coef_a: ArrayLike,
    coef_b: ArrayLike,
    classes: ArrayLike,
    labels: Sequence[str],
) -> go.Figure:
    """Two models' weights per class, one above the other, and their difference below.

    A grid of 3 rows x n_classes columns: row 1 model A, row 2 model B (both on one shared
    symmetric scale, so magnitudes compare honestly: an L1 model's few large weights
    against an L2 model's many small ones), row 3 ``A - B`` on its own symmetric scale
    (red = A weighs the pixel more than B does).

    Parameters
    ----------
    coef_a, coef_b : array-like of shape (n_classes, n_pixels), or (1, n_pixels)
        The two models' ``coef_``; they must have the same shape.
    classes : array-like of shape (n_classes,)
        The classes both models share.
    labels : sequence of 2 str
        Names of the two models (row titles), e.g. ``["run 1: L1, C=0.01", "default: L2"]``.

    Returns
    -------
    plotly.graph_objects.Figure
        ``3 * n_rows`` heatmaps; the first ``2 * n_rows`` use ``layout.coloraxis``, the
        last ``n_rows`` ``layout.coloraxis2``, both with ``cmid=0`` and ``cmin=-cmax``.

    Raises
    ------
    ValueError
        If the shapes differ or do not fit ``classes``, or ``labels`` is not two names.
    """
    a, classes, col_labels = _check_coef(coef_a, classes, "coef_a")
    b, _, _ = _check_coef(coef_b, classes, "coef_b")
    if a.shape != b.shape:
        raise ValueError(
            f"the two models' weights have different shapes {a.shape} and {b.shape}: "
            "compare models trained on the same classes"
        )
    labels = [str(s) for s in labels]
    if len(labels) != 2:
        raise ValueError(f"labels must name the two models; got {len(labels)} names")
    side = image_side(a.shape[1])
    n = a.shape[0]
    diff = a - b
    m_ab = symmetric_max(np.concatenate([a.ravel(), b.ravel()]))
    m_d = symmetric_max(diff)

    left = 0.12  # room for the row names
    xdoms = domains(n, gap=0.008 if n > 5 else 0.03, start=left, end=0.9)
    title_h = 0.08
    ydoms = domains(3, gap=0.03, end=1.0 - title_h)[::-1]
    rows = [(a, labels[0], "coloraxis"), (b, labels[1], "coloraxis"),
            (diff, "A − B", "coloraxis2")]
    layout: dict[str, Any] = dict(
        # Rows about as tall as the images are wide in a ~1000 px wide page, so that the
        # equal-aspect images fill their rows instead of floating in white space.
        height=300 if n > 5 else 760,
        margin=dict(l=10, r=10, t=30, b=10), font=FONT, plot_bgcolor="white",
        annotations=[],
        coloraxis=dict(colorscale=WEIGHT_COLORSCALE, cmin=-m_ab, cmax=m_ab, cmid=0.0,
                       colorbar=dict(title=dict(text="weight (A, B)", side="right"),
                                     thickness=12, x=0.92, y=ydoms[1][0], yanchor="bottom",
                                     len=ydoms[0][1] - ydoms[1][0], ypad=0,
                                     tickfont=dict(size=10))),
        coloraxis2=dict(colorscale=WEIGHT_COLORSCALE, cmin=-m_d, cmax=m_d, cmid=0.0,
                        colorbar=dict(title=dict(text="A − B", side="right"), thickness=12,
                                      x=0.92, y=ydoms[2][0], yanchor="bottom",
                                      len=ydoms[2][1] - ydoms[2][0], ypad=0, nticks=3,
                                      tickfont=dict(size=10))),
    )
    row_names = [f"A: {labels[0]}", f"B: {labels[1]}", "A − B<br>(red: A weighs<br>more)"]
    traces = []
    k = 0
    for r, (mat, name, axis) in enumerate(rows):
        for c in range(n):
            head = None if r else (f"class {col_labels[c]}" if n > 1 else col_labels[c])
            xref, yref = image_axes(layout, k, xdoms[c], ydoms[r], head)
            lab = col_labels[c] if r < 2 else f"{col_labels[c]} (A − B)"
            traces.append(_weight_heatmap(mat[c].reshape(side, side), lab, 0.0, xref, yref,
                                          showscale=False, coloraxis=axis))
            k += 1
        layout["annotations"].append(dict(
            text=_wrap(row_names[r], 16), x=0.0, y=sum(ydoms[r]) / 2, xref="paper",
            yref="paper", showarrow=False, xanchor="left", yanchor="middle", align="left",
            font=dict(size=12)))
    return go.Figure(data=traces, layout=layout)


def _wrap(text: str, width: int) -> str:
    """Break a label into <br>-separated lines of about ``width`` characters."""
    if "<br>" in text:
        return text
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def weight_table(coef: ArrayLike, intercept: ArrayLike, classes: ArrayLike) -> list[dict]:
    """One row per class (or one for a binary model): intercept and weight statistics.

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_pixels), or (1, n_pixels) for two classes
    intercept : array-like of shape (n_classes,) or (1,)
    classes : array-like of shape (n_classes,)

    Returns
    -------
    list of dict
        Keys ``class``, ``intercept``, ``most positive``, ``most negative``,
        ``zero weights (%)`` (exact zeros, as L1 produces), ``L2 norm``.
    """
    coef, classes, labels = _check_coef(coef, classes)
    intercept = np.asarray(intercept, dtype=np.float64).ravel()
    if intercept.shape != (coef.shape[0],):
        raise ValueError(
            f"intercept must have {coef.shape[0]} entries (one per row of coef); "
            f"got shape {intercept.shape}"
        )
    return [
        {
            "class": labels[k],
            "intercept": float(intercept[k]),
            "most positive": float(coef[k].max()),
            "most negative": float(coef[k].min()),
            "zero weights (%)": float(100.0 * np.count_nonzero(coef[k] == 0) / coef.shape[1]),
            "L2 norm": float(np.linalg.norm(coef[k])),
        }
        for k in range(coef.shape[0])
    ]
