"""Figures of a model's test results: confusion matrix, ROC curves, per-class scores, and
the digits behind them (enlarged tiles with captions)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from lrcore.figures.style import CLASS_COLORS, FONT, axis_title, image_side

__all__ = ["confusion_heatmap", "confusion_cell", "roc_curves", "per_class_bars", "digit_tiles",
           "mistake_captions", "cell_captions"]


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
                zeroline=False, ticks="", constrain="domain", automargin=True)
    layout: dict[str, Any] = dict(
        height=max(320, 40 * K + 120), font=FONT, plot_bgcolor="white",
        margin=dict(l=70, r=10, t=60, b=20), clickmode="event+select", dragmode=False,
        xaxis=dict(title=axis_title("predicted label"), side="top", range=[-0.5, K - 0.5],
                   **axis),
        yaxis=dict(title=axis_title("true label"), autorange=False, range=[K - 0.5, -0.5],
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
    ax = dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888", automargin=True)
    xaxis: dict[str, Any] = dict(
        title=axis_title("false positive rate (other digits called this one)"), **ax)
    if log_fpr:
        xaxis.update(type="log", range=[math.log10(lo), 0.0])
    else:
        xaxis.update(range=[0, 1], constrain="domain")
    return go.Figure(data=traces, layout=dict(
        height=520, font=FONT, plot_bgcolor="white",
        margin=dict(l=60, r=10, t=50, b=50),
        title=dict(text=(f"One-vs-rest ROC curves — macro AUC {macro:.4f}"
                         if math.isfinite(macro) else "One-vs-rest ROC curves"),
                   x=0.0, xanchor="left"),
        xaxis=xaxis,
        yaxis=dict(title=axis_title("true positive rate (recall)"), range=[0, 1.01], **ax),
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
        Three ``Bar`` traces named "precision", "recall", "F1", on a y axis from 0 to 100%.
    """
    x = [str(c) for c in np.asarray(evaluation.classes)]
    traces = [
        dict(type="bar", name=name, x=x, y=np.asarray(vals, dtype=np.float64).tolist(),
             hovertemplate=f"class %{{x}}: {name} %{{y:.2%}}<extra></extra>")
        for name, vals in (("precision", evaluation.precision), ("recall", evaluation.recall),
                           ("F1", evaluation.f1))
    ]
    return go.Figure(data=traces, layout=dict(
        barmode="group", height=320, font=FONT, plot_bgcolor="white",
        margin=dict(l=60, r=10, t=30, b=40),
        xaxis=dict(title=axis_title("class"), type="category", automargin=True),
        # From 0: bars start at zero or their lengths lie (a 65% floor made a 90% class
        # look three times worse than a 97% one).
        yaxis=dict(range=[0.0, 1.0], tickformat=".0%", gridcolor="#e5e5e5", automargin=True),
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
    ))


# -------------------------------------------------------------------- galleries


def _as_uint8_images(images: ArrayLike) -> np.ndarray:
    """(n, side, side) uint8 from (n, d) / (n, side, side) pixels on 0-255 or 0-1 scale."""
    a = np.asarray(images)
    if a.ndim == 1:
        a = a[None]
    if a.ndim == 2:
        side = image_side(a.shape[1])
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
