"""Figures of the Theory page: one digit's logits, probabilities and loss gradient, from
the arrays of :class:`lrcore.theory.SampleBreakdown`."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from lrcore.figures.style import (
    FONT,
    OTHER_COLOR,
    TEST_COLOR,
    WEIGHT_COLORSCALE,
    axis,
    axis_title,
    base_layout,
)

__all__ = ["logit_bars", "proba_bars", "gradient_images"]


def _class_labels(classes: ArrayLike, n: int) -> list[str]:
    classes = [str(c) for c in np.asarray(classes).ravel()]
    if n == 1 and len(classes) == 2:  # binary: the one row scores the positive class
        return [f"{classes[1]} vs {classes[0]}"]
    return classes


def logit_bars(logits: ArrayLike, classes: ArrayLike, *, label: Any = None,
               after: ArrayLike | None = None) -> go.Figure:
    """The logits ``z = W x + b`` of one digit as bars, the true class highlighted.

    ``after`` (optional, same shape) adds the logits after one gradient step as outlines.
    """
    z = np.asarray(logits, dtype=float).ravel()
    names = _class_labels(classes, z.size)
    true = str(label) if label is not None else None
    colors = [TEST_COLOR if (true is not None and n.split(" ")[0] == true) else OTHER_COLOR
              for n in names]
    traces = [go.Bar(x=names, y=z, name="logit z = Wx + b", marker=dict(color=colors),
                     text=[f"{v:.2f}" for v in z], textposition="outside", cliponaxis=False,
                     hovertemplate="class %{x}: z = %{y:.3f}<extra></extra>")]
    if after is not None:
        a = np.asarray(after, dtype=float).ravel()
        traces.append(go.Scatter(x=names, y=a, name="after one gradient step",
                                 mode="markers", marker=dict(symbol="line-ew-open", size=28,
                                                             line=dict(width=3, color="#222")),
                                 hovertemplate="class %{x}: z after the step = %{y:.3f}"
                                               "<extra></extra>"))
    span = np.concatenate([z, np.asarray(after, float).ravel() if after is not None else []])
    lo, hi = float(min(span.min(), 0)), float(max(span.max(), 0))
    pad = 0.15 * max(hi - lo, 1e-9)
    layout = base_layout(
        height=340, showlegend=after is not None,
        xaxis=dict(title=axis_title("class"), type="category", automargin=True),
        yaxis=axis("logit", rng=[lo - pad, hi + pad]),
        margin=dict(l=60, r=20, t=40, b=50))
    return go.Figure(data=traces, layout=layout)


def proba_bars(proba: ArrayLike, classes: ArrayLike, *, label: Any = None) -> go.Figure:
    """Predicted probabilities of one digit as bars on [0, 1], the true class highlighted."""
    p = np.asarray(proba, dtype=float).ravel()
    names = [str(c) for c in np.asarray(classes).ravel()]
    true = str(label) if label is not None else None
    colors = [TEST_COLOR if n == true else OTHER_COLOR for n in names]
    text = [f"{v:.1%}" if v >= 0.001 else f"{v:.0e}" for v in p]
    fig = go.Figure(
        data=[go.Bar(x=names, y=p, marker=dict(color=colors), text=text,
                     textposition="outside", cliponaxis=False,
                     hovertemplate="class %{x}: p = %{y:.4f}<extra></extra>")],
        layout=base_layout(height=340, showlegend=False,
                            xaxis=dict(title=axis_title("class"), type="category", automargin=True),
                            yaxis=axis("probability", fmt=".0%", rng=[0, 1.12]),
                            margin=dict(l=60, r=20, t=40, b=50)))
    return fig


def gradient_images(grad: ArrayLike, classes: ArrayLike, *, ncols: int = 5,
                    residual: ArrayLike | None = None) -> go.Figure:
    """The gradient ``dl/dW`` (K, 784) of one digit's loss, as the step it makes: K images.

    Drawn is the step gradient descent takes, ``-dl/dW``, so that the colours mean what
    they mean for the weights themselves (:data:`lrcore.labels.COLOR_MEANING`): **red =
    this step raises the weight** (more evidence for the class), blue = it lowers it, on
    one shared symmetric scale (white = 0). ``residual`` (K,) adds
    ``p_k - y_k`` to each title.
    """
    G = np.atleast_2d(np.asarray(grad, dtype=float))
    K, d = G.shape
    side = int(round(math.sqrt(d)))
    if side * side != d:
        raise ValueError(f"grad must have a square number of columns (784); got {d}")
    names = _class_labels(classes, K)
    r = None if residual is None else np.asarray(residual, dtype=float).ravel()
    m = float(np.abs(G).max()) or 1.0
    ncols = max(1, min(ncols, K))
    nrows = math.ceil(K / ncols)
    gap_y = (0.2 if r is not None else 0.12) / nrows
    layout: dict[str, Any] = dict(height=60 + 220 * nrows, margin=dict(l=10, r=10, t=30, b=10),
                                  font=FONT, plot_bgcolor="white", annotations=[])
    traces = []
    w = 0.9 / ncols
    h = (1.0 - gap_y * nrows) / nrows
    for k in range(K):
        row, col = divmod(k, ncols)
        sfx = "" if k == 0 else str(k + 1)
        x0 = col * w + 0.01
        y1 = 1.0 - row * (h + gap_y) - gap_y
        layout[f"xaxis{sfx}"] = dict(domain=[x0, x0 + w - 0.02], visible=False,
                                     anchor=f"y{sfx}", constrain="domain")
        layout[f"yaxis{sfx}"] = dict(domain=[y1 - h, y1], visible=False, autorange="reversed",
                                     anchor=f"x{sfx}", scaleanchor=f"x{sfx}",
                                     constrain="domain")
        title = f"class {names[k]}"
        if r is not None:  # two lines, the number alone (the page says it is p - y):
            # five titles side by side overlapped at 1024 px with "p−y = +1.1e-06"
            title += f"<br>{r[k]:+.2g}" if abs(r[k]) < 1e-3 else f"<br>{r[k]:+.3f}"
        layout["annotations"].append(dict(text=title, x=x0 + (w - 0.02) / 2, y=y1,
                                          xref="paper", yref="paper", showarrow=False,
                                          yanchor="bottom", font=dict(size=11)))
        traces.append(go.Heatmap(
            z=-G[k].reshape(side, side), zmin=-m, zmax=m, zmid=0,
            colorscale=WEIGHT_COLORSCALE, xaxis=f"x{sfx}", yaxis=f"y{sfx}",
            showscale=k == 0,
            colorbar=dict(title=dict(text="−∂loss/∂w<br><span style='font-size:11px'>red: "
                                          "the step<br>raises w<br>blue: it<br>"
                                          "lowers w</span>", side="top"),
                          thickness=14, x=0.93, len=1.0),
            hovertemplate=f"class {names[k]}, row %{{y}}, col %{{x}}: −∂ℓ/∂w = %{{z:.3g}}"
                          "<extra></extra>"))
    return go.Figure(data=traces, layout=layout)
