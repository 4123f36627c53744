"""Figure builders for the dashboard: plotly figures and image tiles, built from plain arrays.

A plotly figure is data (a JSON-able description of traces and layout), so building one is
core logic and lives here, testable without a browser; the pages only hand the figures to
Streamlit. Nothing here imports Streamlit.

Conventions shared by every figure:

* Weights use one diverging colour map centred on zero, ``RdBu`` reversed: **red = a
  positive weight** (ink on this pixel is evidence *for* the class), **blue = negative**
  (evidence against), white = no effect. The scale is always symmetric (``zmin = -zmax``)
  so that white really means zero.
* Images are drawn with row 0 at the top (y axis reversed) and square pixels, so digits
  look upright and undistorted.
* Figures are built from plain ``dict`` layouts rather than ``plotly.subplots.make_subplots``:
  the latter costs ~50-150 ms per call, too much for a chart redrawn several times a second
  while training, and the grids here are simple enough to lay out by hand.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

__all__ = [
    "WEIGHT_COLORSCALE",
    "weight_images",
    "weight_difference",
    "weight_table",
    "objective_scale",
    "runs_overlay",
    "training_curves",
    "confusion_heatmap",
    "confusion_cell",
    "roc_curves",
    "per_class_bars",
    "digit_tiles",
    "digit_grid",
    "mistake_captions",
    "cell_captions",
]

# Reversed RdBu: red for positive weights (plotly's "RdBu" puts red at the low end).
WEIGHT_COLORSCALE = "RdBu_r"
_WEIGHT_LEGEND = "weight<br><span style='font-size:11px'>red: evidence for<br>the class<br>" \
                 "blue: evidence<br>against it</span>"
# Ten colours that stay apart (matplotlib's tab10), for one line per class.
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]
# Train / test colours, the same in every chart (plotly's default first two colours).
TRAIN_COLOR = "#1f77b4"
TEST_COLOR = "#ff7f0e"
OBJECTIVE_COLOR = "#6b6b6b"  # the minimized objective: neutral, dotted, beside the losses
_FONT = dict(size=13)


# ----------------------------------------------------------------------------- helpers


def _side(n_features: int) -> int:
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"weights must describe square images (e.g. 784 = 28 x 28 pixels); "
            f"got {n_features} features per class"
        )
    return side


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
    _side(coef.shape[1])
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


def _symmetric_max(a: np.ndarray) -> float:
    """max |a|, or 1 when everything is zero (a zero-width colour scale is invalid)."""
    m = float(np.max(np.abs(a))) if a.size else 0.0
    return m if m > 0 and math.isfinite(m) else 1.0


def _domains(n: int, gap: float, start: float = 0.0, end: float = 1.0) -> list[list[float]]:
    """Split [start, end] into n equal intervals separated by ``gap``."""
    width = (end - start - gap * (n - 1)) / n
    return [[start + i * (width + gap), start + i * (width + gap) + width] for i in range(n)]


def _image_axes(layout: dict, k: int, xdom: list[float], ydom: list[float],
                title: str | None = None) -> tuple[str, str]:
    """Add the k-th (0-based) pair of image axes to ``layout``; return their trace refs.

    The image's title is its x axis title, on top: unlike a paper-positioned annotation it
    follows the image when equal aspect shrinks the axes inside their domain.
    """
    suffix = "" if k == 0 else str(k + 1)
    xref, yref = f"x{suffix}", f"y{suffix}"
    bare = dict(showticklabels=False, showgrid=False, zeroline=False, ticks="",
                showline=False, constrain="domain")
    layout[f"xaxis{suffix}"] = dict(domain=xdom, anchor=yref, side="top", **bare)
    if title:
        layout[f"xaxis{suffix}"]["title"] = dict(text=title, standoff=4, font=dict(size=13))
    # Reversed y: row 0 of the image on top. scaleanchor: square pixels.
    layout[f"yaxis{suffix}"] = dict(domain=ydom, anchor=xref, autorange="reversed",
                                    scaleanchor=xref, scaleratio=1, **bare)
    return xref, yref


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


# ----------------------------------------------------------------------------- weights


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
    side = _side(coef.shape[1])
    n = coef.shape[0]
    if titles is not None:
        titles = [str(t) for t in titles]
        if len(titles) != n:
            raise ValueError(f"titles must have {n} entries (one per image); got {len(titles)}")
    else:
        titles = [f"class {c}" if n > 1 else c for c in labels]
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)

    shared = _symmetric_max(coef) if zmax is None else float(zmax)
    if not (shared > 0 and math.isfinite(shared)):
        raise ValueError(f"zmax must be a positive number; got {zmax!r}")
    title_h = 0.1 / nrows if nrows > 1 else 0.08  # room above each row for its title
    ydoms = _domains(nrows, gap=title_h, end=1.0 - title_h)[::-1]  # first row on top
    xdoms = _domains(ncols, gap=0.02, end=0.92 if n > 1 else 0.85)

    legend = _WEIGHT_LEGEND if n > 1 else (
        f"weight<br><span style='font-size:11px'>red: evidence<br>for {classes[1]}<br>"
        f"blue: evidence<br>for {classes[0]}</span>")
    layout: dict[str, Any] = dict(
        height=int(40 + nrows * 200) if n > 1 else 380,
        margin=dict(l=10, r=10, t=30, b=10),
        annotations=[], font=_FONT, plot_bgcolor="white",
    )
    traces = []
    for k in range(n):
        r, c = divmod(k, ncols)
        m = shared if symmetric else _symmetric_max(coef[k])
        title = titles[k] if symmetric else f"{titles[k]} (±{m:.2g})"
        xref, yref = _image_axes(layout, k, xdoms[c], ydoms[r], title)
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
    side = _side(a.shape[1])
    n = a.shape[0]
    diff = a - b
    m_ab = _symmetric_max(np.concatenate([a.ravel(), b.ravel()]))
    m_d = _symmetric_max(diff)

    left = 0.12  # room for the row names
    xdoms = _domains(n, gap=0.008 if n > 5 else 0.03, start=left, end=0.9)
    title_h = 0.08
    ydoms = _domains(3, gap=0.03, end=1.0 - title_h)[::-1]
    rows = [(a, labels[0], "coloraxis"), (b, labels[1], "coloraxis"),
            (diff, "A − B", "coloraxis2")]
    layout: dict[str, Any] = dict(
        # Rows about as tall as the images are wide in a ~1000 px wide page, so that the
        # equal-aspect images fill their rows instead of floating in white space.
        height=300 if n > 5 else 760,
        margin=dict(l=10, r=10, t=30, b=10), font=_FONT, plot_bgcolor="white",
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
            xref, yref = _image_axes(layout, k, xdoms[c], ydoms[r], head)
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


# ----------------------------------------------------------------------------- training


def training_curves(history: Sequence[dict], *, title: str | None = None,
                    objective_scale: float | None = None) -> go.Figure:
    """Loss and accuracy against iteration, train and test, side by side.

    Cheap by design (plain lists, a dict layout, no subplot helper): the Train page
    redraws it several times a second.

    The test set is evaluated on some iterations only (its cost is kept to a tenth of the
    training's): those iterations carry a dot, and the line between dots is drawn
    straight, so two identical runs look alike. With ``objective_scale`` the loss panel
    also shows the objective the solver actually minimizes, ``objective /
    objective_scale`` (``C * n`` with a penalty, ``n`` without): per training digit, on the
    log-loss's scale. It always decreases; the training log-loss alone need not (with L1 it
    zig-zags while the penalty term falls).

    Parameters
    ----------
    history : sequence of dict
        One record per iteration with keys ``iteration``, ``train_loss``, ``test_loss``,
        ``train_accuracy``, ``test_accuracy`` (and ``objective``); the test values may be
        None (then there is no test curve, or a gap).
    title : str, optional
    objective_scale : float, optional
        See above; use :func:`objective_scale` of the run's config.

    Returns
    -------
    plotly.graph_objects.Figure
        Left: log-loss (``xaxis``/``yaxis``); right: accuracy (``xaxis2``/``yaxis2``).
        Traces named "train" and "test" (test only if any test value is present; mode
        "lines+markers"), paired by ``legendgroup``, and "objective" (loss panel, with
        ``objective_scale``). ``layout.uirevision`` is constant, so a zoom survives redraws.
    """
    it = [h.get("iteration") for h in history]
    series = {key: [h.get(key) for h in history]
              for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy")}
    has_test = any(v is not None for v in series["test_loss"]) or \
        any(v is not None for v in series["test_accuracy"])
    traces = []
    for split, color, show in (("train", TRAIN_COLOR, True), ("test", TEST_COLOR, has_test)):
        if not show:
            continue
        dash = "solid" if split == "train" else "dash"
        for metric, axes, fmt in (("loss", ("x", "y"), ".4f"), ("accuracy", ("x2", "y2"), ".2%")):
            traces.append(dict(
                type="scatter", mode="lines" if split == "train" else "lines+markers",
                x=it, y=series[f"{split}_{metric}"],
                name=split if split == "train" else "test (dots: evaluated)",
                legendgroup=split, showlegend=(metric == "loss"),
                line=dict(color=color, dash=dash, width=2), connectgaps=True,
                marker=dict(size=5, color=color), xaxis=axes[0], yaxis=axes[1],
                hovertemplate=f"{split} {metric}: %{{y:{fmt}}}<extra>iteration %{{x}}</extra>",
            ))
    if objective_scale and any(h.get("objective") is not None for h in history):
        traces.append(dict(
            type="scatter", mode="lines", x=it,
            y=[None if h.get("objective") is None else h["objective"] / objective_scale
               for h in history],
            name="objective ÷ (C·n): what the solver minimizes", legendgroup="objective",
            line=dict(color=OBJECTIVE_COLOR, dash="dot", width=2), xaxis="x", yaxis="y",
            hovertemplate="objective ÷ (C·n): %{y:.4f}<extra>iteration %{x}</extra>",
        ))
    ax = dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888")
    layout = dict(
        height=360, font=_FONT, plot_bgcolor="white",
        margin=dict(l=60, r=20, t=50 if title else 40, b=50),
        uirevision="training-curves",
        hovermode="x unified",
        legend=dict(orientation="h", x=0.5, xanchor="center", y=1.12, yanchor="bottom"),
        xaxis=dict(domain=[0.0, 0.46], title=dict(text="iteration"), anchor="y", **ax),
        yaxis=dict(title=dict(text="log-loss (lower is better)"), anchor="x", **ax),
        xaxis2=dict(domain=[0.56, 1.0], title=dict(text="iteration"), anchor="y2", **ax),
        yaxis2=dict(title=dict(text="accuracy"), anchor="x2", tickformat=".0%", **ax),
    )
    if title:
        layout["title"] = dict(text=title, x=0.0, xanchor="left")
        layout["legend"]["y"] = 1.02
    return go.Figure(data=traces, layout=layout)


RUN_METRICS = {
    "test_accuracy": ("test accuracy", ".0%"),
    "train_accuracy": ("training accuracy", ".0%"),
    "test_loss": ("test log-loss", ".3f"),
    "train_loss": ("training log-loss", ".3f"),
}


def runs_overlay(histories: dict[str, Sequence[dict]], metric: str = "test_accuracy") -> go.Figure:
    """One metric of several runs against iteration, one line per run, on one chart.

    Parameters
    ----------
    histories : dict of str -> sequence of dict
        Run label -> its per-iteration records (as :func:`training_curves` takes them).
    metric : {"test_accuracy", "train_accuracy", "test_loss", "train_loss"}
        Test values exist on evaluated iterations only: dots there, straight lines between.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scatter`` per run (``name`` = its label), in the order given.
    """
    if metric not in RUN_METRICS:
        raise ValueError(f"metric must be one of {', '.join(RUN_METRICS)}; got {metric!r}")
    title, fmt = RUN_METRICS[metric]
    traces = []
    for label, history in histories.items():
        traces.append(dict(
            type="scatter", mode="lines+markers" if metric.startswith("test") else "lines",
            x=[h.get("iteration") for h in history], y=[h.get(metric) for h in history],
            name=label, connectgaps=True, marker=dict(size=4), line=dict(width=2),
            hovertemplate=f"{label}<br>iteration %{{x}}: %{{y:{fmt}}}<extra></extra>",
        ))
    ax = dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888")
    layout = dict(
        height=380, font=_FONT, plot_bgcolor="white", margin=dict(l=60, r=20, t=30, b=50),
        legend=dict(orientation="h", x=0.0, y=-0.22, yanchor="top"),
        xaxis=dict(title=dict(text="iteration"), **ax),
        yaxis=dict(title=dict(text=title), tickformat=fmt if "%" in fmt else None, **ax),
    )
    return go.Figure(data=traces, layout=layout)


def objective_scale(config: Any) -> float:
    """What divides a run's ``objective`` to put it on the log-loss's scale: ``C * n`` with
    a penalty (objective = C * sum of losses + penalty), ``n`` without."""
    n = float(config.train_size)
    return n if config.penalty is None else float(config.C) * n


# ----------------------------------------------------------------------------- evaluation


def confusion_heatmap(
    confusion: ArrayLike,
    classes: ArrayLike,
    *,
    normalize: bool = False,
    selected: tuple[Any, Any] | None = None,
) -> go.Figure:
    """Confusion matrix with counts written in the cells; clickable cell by cell.

    Correct predictions (the diagonal) and mistakes are coloured on two separate scales,
    green and red: on one scale the diagonal (~1,000 digits per cell) would wash every
    mistake (a few to a few dozen) out to white.

    Parameters
    ----------
    confusion : array-like of shape (n_classes, n_classes), int
        ``confusion[i, j]`` = test digits of true class ``classes[i]`` predicted as
        ``classes[j]``.
    classes : array-like of shape (n_classes,)
    normalize : bool, default=False
        Show each row as fractions of that true class (recall on the diagonal) instead of
        counts.
    selected : (true, pred), optional
        A cell to outline (the one whose digits are shown under the chart).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces: ``Heatmap`` "correct" (diagonal; NaN elsewhere), ``Heatmap`` "mistakes"
        (off-diagonal; NaN on the diagonal), both z and text of shape (K, K) and
        ``customdata`` (K, K, 2) = (true, pred); then a ``Scatter`` "cells" with one
        transparent square marker per cell (x = predicted position, y = true position)
        and ``customdata`` [true, pred, count, fraction of the row], which is what hover
        and a click selection see (plotly cannot select heatmap cells). Rows = true label
        (first class on top), columns = predicted label.
    """
    counts = np.asarray(confusion)
    classes = np.asarray(classes)
    K = classes.size
    if counts.shape != (K, K):
        raise ValueError(
            f"confusion must have shape ({K}, {K}) for {K} classes; got {counts.shape}"
        )
    rows = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=np.float64),
                     where=rows > 0)
    z = frac if normalize else counts.astype(np.float64)
    eye = np.eye(K, dtype=bool)
    z_diag = np.where(eye, z, np.nan)
    z_off = np.where(eye, np.nan, z)
    off_max = float(np.nanmax(z_off)) if K > 1 and np.nanmax(z_off) > 0 else 1.0
    diag_max = float(np.nanmax(z_diag)) if np.nanmax(z_diag) > 0 else 1.0
    labels = [str(c) for c in classes]
    true_grid = np.repeat(classes[:, None], K, axis=1)
    pred_grid = np.repeat(classes[None, :], K, axis=0)
    cd = np.stack([true_grid, pred_grid], axis=-1).tolist()
    pos = list(range(K))

    text = np.full((K, K), "", dtype=object)
    cdata = []
    for i in range(K):
        for j in range(K):
            n = int(counts[i, j])
            if normalize:
                text[i, j] = f"{frac[i, j]:.1%}" if n else ""
            else:
                text[i, j] = f"{n:,}" if (n or i == j) else ""  # blank zeros: less clutter
            cdata.append([classes[i].item(), classes[j].item(), n, float(frac[i, j])])

    def heat(name: str, zz: np.ndarray, mask: np.ndarray, scale: str, zmax: float) -> dict:
        # The counts are heatmap text, not scatter text: a click selection dims scatter
        # text but leaves heatmaps alone. textfont color "auto" contrasts with each cell.
        return dict(type="heatmap", name=name, x=pos, y=pos, z=zz, customdata=cd,
                    text=np.where(mask, text, "").tolist(), texttemplate="%{text}",
                    textfont=dict(size=12 if K > 6 else 14),
                    colorscale=scale, zmin=0.0, zmax=zmax, showscale=False,
                    hoverinfo="skip", xgap=1, ygap=1)

    ti = [i for i in range(K) for _ in range(K)]
    pj = [j for _ in range(K) for j in range(K)]
    cells = dict(
        type="scatter", name="cells", mode="markers", x=pj, y=ti,
        customdata=cdata,
        # Transparent squares the size of a cell: what the mouse hovers and clicks.
        marker=dict(symbol="square", size=34, color="rgba(0,0,0,0)"),
        selected=dict(marker=dict(color="rgba(0,0,0,0)")),
        unselected=dict(marker=dict(opacity=0)),
        hovertemplate=("true %{customdata[0]}, predicted %{customdata[1]}<br>"
                       "%{customdata[2]:,} digits (%{customdata[3]:.1%} of the true "
                       "%{customdata[0]}s)<br><i>click to see them</i><extra></extra>"),
        showlegend=False,
    )
    axis = dict(tickmode="array", tickvals=pos, ticktext=labels, showgrid=False,
                zeroline=False, ticks="", constrain="domain")
    layout: dict[str, Any] = dict(
        height=max(320, 40 * K + 120), font=_FONT, plot_bgcolor="white",
        margin=dict(l=70, r=10, t=60, b=20), clickmode="event+select", dragmode=False,
        xaxis=dict(title=dict(text="predicted label"), side="top", range=[-0.5, K - 0.5],
                   **axis),
        yaxis=dict(title=dict(text="true label"), autorange=False, range=[K - 0.5, -0.5],
                   scaleanchor="x", scaleratio=1, **axis),
        uirevision="confusion",
        shapes=[],
    )
    if selected is not None:
        hit_t = np.flatnonzero(classes == selected[0])
        hit_p = np.flatnonzero(classes == selected[1])
        if hit_t.size and hit_p.size:
            i, j = int(hit_t[0]), int(hit_p[0])
            layout["shapes"].append(dict(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5,
                                         y1=i + 0.5, line=dict(color="#1f4fff", width=3),
                                         xref="x", yref="y"))
    return go.Figure(data=[heat("correct", z_diag, eye, "Greens", diag_max),
                           heat("mistakes", z_off, ~eye, "Reds", off_max), cells],
                     layout=layout)


def confusion_cell(point: dict, classes: ArrayLike) -> tuple[Any, Any] | None:
    """The (true, pred) labels of a clicked confusion-matrix cell.

    Parameters
    ----------
    point : dict
        One entry of a plotly selection's ``points`` (as Streamlit returns it): uses its
        ``customdata`` [true, pred, ...] when present, else its ``x`` (predicted position)
        and ``y`` (true position).
    classes : array-like of shape (n_classes,)

    Returns
    -------
    (true, pred) or None
        Labels from ``classes`` (so their type matches), or None if the point is not a cell.
    """
    classes = np.asarray(classes)
    cd = point.get("customdata")
    try:
        if isinstance(cd, (list, tuple)) and len(cd) >= 2:
            # JSON may turn labels into floats or strings: compare as the classes' type.
            kind = type(classes[0].item())
            t = np.flatnonzero(classes == kind(float(cd[0]) if kind is int else cd[0]))
            p = np.flatnonzero(classes == kind(float(cd[1]) if kind is int else cd[1]))
        else:
            i, j = int(round(float(point["y"]))), int(round(float(point["x"])))
            t = np.array([i]) if 0 <= i < classes.size else np.array([], int)
            p = np.array([j]) if 0 <= j < classes.size else np.array([], int)
    except (KeyError, TypeError, ValueError):
        return None
    if not (t.size and p.size):
        return None
    return classes[t[0]].item(), classes[p[0]].item()


def roc_curves(evaluation: Any, *, log_fpr: bool = False) -> go.Figure:
    """One-vs-rest ROC curve of every class, AUC in the legend, chance diagonal.

    Parameters
    ----------
    evaluation : lrcore.metrics.Evaluation
        Uses ``roc_curves`` (list of (fpr, tpr)), ``roc_auc_per_class``, ``roc_auc`` and
        ``classes``. A class whose curve is undefined (absent from the test set) is listed
        with "AUC undefined" and no line.
    log_fpr : bool, default=False
        Logarithmic false-positive-rate axis: good models hug the top-left corner, and a
        log axis spreads out that corner (points with FPR = 0 cannot be shown on it).

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scatter`` per class (named "class c (AUC 0.998)"), then the "chance" line.
    """
    classes = np.asarray(evaluation.classes)
    traces = []
    smallest = 1.0
    for k, c in enumerate(classes):
        fpr, tpr = (np.asarray(a, dtype=np.float64) for a in evaluation.roc_curves[k])
        auc = float(evaluation.roc_auc_per_class[k])
        if log_fpr and fpr.size:
            keep = fpr > 0
            fpr, tpr = fpr[keep], tpr[keep]
            if fpr.size:
                smallest = min(smallest, float(fpr.min()))
        name = f"class {c} (AUC {auc:.4f})" if math.isfinite(auc) else \
            f"class {c} (AUC undefined)"
        traces.append(dict(type="scatter", mode="lines", x=fpr.tolist(), y=tpr.tolist(),
                           name=name,
                           line=dict(width=1.8, color=CLASS_COLORS[k % len(CLASS_COLORS)]),
                           hovertemplate=f"class {c}: FPR %{{x:.4f}}, TPR %{{y:.4f}}"
                                         "<extra></extra>"))
    lo = max(smallest, 1e-5) if log_fpr else 0.0
    xs = np.geomspace(lo, 1.0, 60).tolist() if log_fpr else [0.0, 1.0]
    traces.append(dict(type="scatter", mode="lines", x=xs, y=xs, name="chance (AUC 0.5)",
                       line=dict(color="#999", dash="dash", width=1), hoverinfo="skip"))
    macro = float(evaluation.roc_auc)
    ax = dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888")
    xaxis: dict[str, Any] = dict(title=dict(text="false positive rate (other digits "
                                            "called this one)"), **ax)
    if log_fpr:
        xaxis.update(type="log", range=[math.log10(lo), 0.0])
    else:
        xaxis.update(range=[0, 1], constrain="domain")
    return go.Figure(data=traces, layout=dict(
        height=520, font=_FONT, plot_bgcolor="white",
        margin=dict(l=60, r=10, t=50, b=50),
        title=dict(text=(f"One-vs-rest ROC curves — macro AUC {macro:.4f}"
                         if math.isfinite(macro) else "One-vs-rest ROC curves"),
                   x=0.0, xanchor="left"),
        xaxis=xaxis,
        yaxis=dict(title=dict(text="true positive rate (recall)"), range=[0, 1.01], **ax),
        legend=dict(x=1.01, y=0.0, yanchor="bottom"),
        uirevision="roc",
    ))


def per_class_bars(evaluation: Any) -> go.Figure:
    """Precision, recall and F1 of each class as grouped bars.

    Parameters
    ----------
    evaluation : lrcore.metrics.Evaluation
        Uses ``precision``, ``recall``, ``f1`` and ``classes``.

    Returns
    -------
    plotly.graph_objects.Figure
        Three ``Bar`` traces named "precision", "recall", "F1".
    """
    x = [str(c) for c in np.asarray(evaluation.classes)]
    traces = [
        dict(type="bar", name=name, x=x, y=np.asarray(vals, dtype=np.float64).tolist(),
             hovertemplate=f"class %{{x}}: {name} %{{y:.3f}}<extra></extra>")
        for name, vals in (("precision", evaluation.precision), ("recall", evaluation.recall),
                           ("F1", evaluation.f1))
    ]
    lo = min(float(np.min(v)) for v in (evaluation.precision, evaluation.recall,
                                         evaluation.f1))
    return go.Figure(data=traces, layout=dict(
        barmode="group", height=320, font=_FONT, plot_bgcolor="white",
        margin=dict(l=60, r=10, t=30, b=40),
        xaxis=dict(title=dict(text="class"), type="category"),
        yaxis=dict(range=[max(0.0, lo - 0.05), 1.0], tickformat=".0%", gridcolor="#e5e5e5"),
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
    ))


# ----------------------------------------------------------------------------- galleries


def _as_uint8_images(images: ArrayLike) -> np.ndarray:
    """(n, side, side) uint8 from (n, d) / (n, side, side) pixels on 0-255 or 0-1 scale."""
    a = np.asarray(images)
    if a.ndim == 1:
        a = a[None]
    if a.ndim == 2:
        side = _side(a.shape[1])
        a = a.reshape(a.shape[0], side, side)
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(
            f"images must have shape (n, 784) or (n, 28, 28); got {np.asarray(images).shape}"
        )
    if a.dtype == np.uint8:
        return a
    a = np.asarray(a, dtype=np.float64)
    # 0-1 floats (what canvas_to_mnist returns) are scaled up; 0-255 ones are kept.
    if a.size and np.nanmax(a) <= 1.0:
        a = a * 255.0
    return np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8)


def digit_tiles(images: ArrayLike, *, scale: int = 4) -> list[np.ndarray]:
    """Each digit as a crisp, enlarged greyscale image (white ink on black, as in MNIST).

    Enlarging here by pixel repetition (nearest neighbour) keeps the pixels sharp; letting
    the browser stretch a 28x28 image would blur it.

    Parameters
    ----------
    images : array-like of shape (n, 784) or (n, 28, 28)
        Pixels on the 0-255 scale (uint8 or float) or floats on the 0-1 scale.
    scale : int, default=4
        Each pixel becomes a ``scale x scale`` block.

    Returns
    -------
    list of ndarray, each of shape (28 * scale, 28 * scale), dtype uint8
    """
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"scale must be at least 1; got {scale}")
    a = _as_uint8_images(images)
    big = a.repeat(scale, axis=1).repeat(scale, axis=2)
    return list(big)


def digit_grid(images: ArrayLike, *, ncols: int = 10, scale: int = 3,
               pad: int = 2, background: int = 128) -> np.ndarray:
    """Digits composed into one image, in rows of ``ncols`` (no captions).

    Parameters
    ----------
    images : array-like of shape (n, 784) or (n, 28, 28)
        Pixels on the 0-255 or 0-1 scale (see :func:`digit_tiles`).
    ncols : int, default=10
    scale : int, default=3
    pad : int, default=2
        Grey border between tiles (in output pixels).
    background : int, default=128
        Grey level of the padding and of the unused tiles of the last row.

    Returns
    -------
    ndarray of shape (rows * (28 * scale + pad) + pad, cols * (28 * scale + pad) + pad), uint8
    """
    tiles = digit_tiles(images, scale=scale)
    n = len(tiles)
    if n == 0:
        return np.full((pad, pad), background, dtype=np.uint8)
    t = tiles[0].shape[0]
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (t + pad) + pad, ncols * (t + pad) + pad), background, np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, ncols)
        y, x = pad + r * (t + pad), pad + c * (t + pad)
        out[y:y + t, x:x + t] = tile
    return out


def _pct(p: float) -> str:
    """A probability as a short percentage that never rounds a mistake up to "100%"."""
    if p >= 0.995:
        return ">99.9%" if p > 0.999 else f"{p:.1%}"
    return f"{p:.0%}"


def mistake_captions(evaluation: Any, indices: ArrayLike) -> list[str]:
    """Captions "4 → 9 · 97%" (true → predicted · its probability) for wrong predictions.

    Parameters
    ----------
    evaluation : lrcore.metrics.Evaluation
    indices : array-like of int
        Rows of the evaluated set (e.g. ``evaluation.misclassified[:30]``).

    Returns
    -------
    list of str
        True label, predicted label and the predicted label's probability.
    """
    idx = np.asarray(indices, dtype=np.intp)
    pred_col = _pred_columns(evaluation, idx)
    p = evaluation.proba[idx, pred_col]
    return [f"{evaluation.y_true[i]} → {evaluation.y_pred[i]} · {_pct(q)}"
            for i, q in zip(idx, p)]


def cell_captions(evaluation: Any, indices: ArrayLike, pred_label: Any) -> list[str]:
    """Captions "p(9) 97%" for the digits of one confusion-matrix cell.

    Parameters
    ----------
    evaluation : lrcore.metrics.Evaluation
    indices : array-like of int
        Rows of the evaluated set (e.g. from ``evaluation.cell_indices(t, p)``).
    pred_label : label
        The cell's predicted class.

    Returns
    -------
    list of str
        The probability the model gave the predicted class.
    """
    idx = np.asarray(indices, dtype=np.intp)
    j = int(np.flatnonzero(np.asarray(evaluation.classes) == pred_label)[0])
    return [f"p({pred_label}) {_pct(evaluation.proba[i, j])}" for i in idx]


def _pred_columns(evaluation: Any, idx: np.ndarray) -> np.ndarray:
    classes = np.asarray(evaluation.classes)
    lookup = {c.item() if hasattr(c, "item") else c: k for k, c in enumerate(classes)}
    return np.array([lookup[evaluation.y_pred[i].item()] for i in idx], dtype=np.intp)
