"""Why did the model say that? One digit through a trained model, taken apart.

A softmax regression scores class ``k`` with a logit that is a plain sum over pixels:

    logit_k = sum_j x_j * coef_[k, j] + intercept_[k]

where ``x`` is the digit *as the model sees it* (after its preprocessing). So the product
``x * coef_[k]``, shown as a 28x28 picture, is an exact account of the decision: every
pixel's vote for (positive) or against (negative) class ``k``, which add up, with the
intercept, to the logit; the softmax of the logits gives the probabilities. Nothing is
approximated, unlike saliency methods for deep networks.

:func:`explain_digit` computes that account; :func:`proba_bars`, :func:`digit_image` and
:func:`evidence_maps` turn it into plotly figures and :func:`scores_html` into a plain HTML
bar chart (data, not UI: no Streamlit here). The Draw page redraws them after every
stroke, so each builder avoids ``make_subplots`` and other slow plotly paths: all of them
together build in a few tens of milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from lrcore.preprocess import N_PIXELS, SIDE
from lrcore.train import TrainedModel

# Top classes whose evidence maps are computed (and drawn by default).
N_EVIDENCE = 3
# Bar colours: the winner must stand out at a glance, the others recede.
WINNER_COLOR = "#d62728"
OTHER_COLOR = "#9aa5b1"
# Evidence: red = pixel votes for the class, blue = against, white = no say. Reversed RdBu
# so that "for" is warm; plotly's own "RdBu_r" name is resolved on every figure build.
EVIDENCE_COLORSCALE = [
    [0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"],
]


@dataclass(frozen=True)
class Explanation:
    """A digit's scores under one model, with the per-pixel account of its top classes.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        The model's class labels (``classes_``), in the order of every per-class array.
    proba : ndarray of shape (n_classes,)
        ``predict_proba`` of the digit (sums to 1).
    logits : ndarray of shape (n_classes,)
        ``decision_function`` of the digit: ``features @ coef_.T + intercept_``.
    intercept : ndarray of shape (n_classes,)
        The bias of each class's logit.
    top : ndarray of shape (n_classes,)
        Class *indices* by decreasing probability; ``top[0]`` is the prediction.
    image : ndarray of shape (28, 28)
        The digit in [0, 1] (white ink on black), before the model's preprocessing.
    features : ndarray of shape (28, 28)
        The digit exactly as the model sees it: its preprocessing applied, reshaped.
    evidence_idx : ndarray of shape (k,)
        Class indices of the evidence maps: ``top[:k]``.
    evidence : ndarray of shape (k, 28, 28)
        ``features * coef_[evidence_idx[i]]``: each pixel's contribution to that class's
        logit. ``evidence[i].sum() + intercept[evidence_idx[i]] == logits[evidence_idx[i]]``.
    preprocess : str
        The model's preprocessing in words (for captions).
    """

    classes: np.ndarray
    proba: np.ndarray
    logits: np.ndarray
    intercept: np.ndarray
    top: np.ndarray
    image: np.ndarray
    features: np.ndarray
    evidence_idx: np.ndarray
    evidence: np.ndarray
    preprocess: str

    @property
    def predicted(self):
        """The predicted class label (``classes[top[0]]``)."""
        return self.classes[self.top[0]]

    @property
    def confidence(self) -> float:
        """Probability of the predicted class."""
        return float(self.proba[self.top[0]])

    @property
    def top_classes(self) -> np.ndarray:
        """Class labels by decreasing probability."""
        return self.classes[self.top]


def _class_weights(model: TrainedModel) -> tuple[np.ndarray, np.ndarray]:
    """(W (n_classes, 784), b (n_classes,)) with ``logits = x @ W.T + b`` for every class.

    A two-class model stores one row (the positive class's score ``z``); its probabilities
    are ``softmax([0, z])``, so the negative class gets a zero row and a zero bias.
    """
    coef = np.asarray(model.model.coef_, dtype=np.float64)
    intercept = np.asarray(model.model.intercept_, dtype=np.float64)
    if coef.shape[0] == 1 and len(model.classes) == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return coef, intercept


def explain_digit(model: TrainedModel, pixels01: ArrayLike, k: int = N_EVIDENCE) -> Explanation:
    """Score one digit and account for the scores pixel by pixel.

    Parameters
    ----------
    model : TrainedModel
        Any trained model (its preprocessing is applied here).
    pixels01 : array-like of shape (784,) or (28, 28)
        The digit in [0, 1], white ink on black, as :func:`lrcore.preprocess.canvas_to_mnist`
        returns it (MNIST's 0-255 pixels divided by 255).
    k : int, default=3
        Number of top classes to compute evidence maps for (at most n_classes).

    Returns
    -------
    explanation : Explanation
    """
    x = np.asarray(pixels01, dtype=np.float64)
    if x.size != N_PIXELS:
        raise ValueError(f"pixels01 must have {N_PIXELS} values (a 28x28 digit); got shape {x.shape}")
    x = x.reshape(N_PIXELS)
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError("pixels01 must hold finite values in [0, 1] (pixels / 255)")
    feats = model.features(x * 255.0)  # (1, 784) float64: the model's own preprocessing
    W, b = _class_weights(model)
    # The logits straight from the weights (not decision_function), so that the identity
    # evidence.sum() + intercept == logit is exact by construction, for two classes too.
    logits = feats[0] @ W.T + b
    proba = model.model.predict_proba(feats)[0]
    top = np.argsort(-proba, kind="stable")
    k = max(0, min(int(k), len(proba)))
    ev_idx = top[:k]
    evidence = (feats[0] * W[ev_idx]).reshape(k, SIDE, SIDE)
    return Explanation(
        classes=np.asarray(model.classes),
        proba=proba,
        logits=logits,
        intercept=b,
        top=top,
        image=x.reshape(SIDE, SIDE),
        features=feats[0].reshape(SIDE, SIDE),
        evidence_idx=ev_idx,
        evidence=evidence,
        preprocess=model.preprocessor.describe(),
    )


# ----------------------------------------------------------------------------- figures


def _label(c) -> str:
    return str(c.item() if hasattr(c, "item") else c)


def proba_bars(expl: Explanation, *, height: int = 260) -> go.Figure:
    """Bar chart of the class probabilities in percent, the predicted class in red.

    Parameters
    ----------
    expl : Explanation
    height : int
        Figure height in pixels.

    Returns
    -------
    fig : go.Figure
        One ``Bar`` trace, x = class labels (in ``classes`` order), y = percent;
        ``marker.color`` is :data:`WINNER_COLOR` for the prediction, :data:`OTHER_COLOR`
        otherwise.
    """
    pct = 100.0 * expl.proba
    winner = int(expl.top[0])
    colors = [WINNER_COLOR if i == winner else OTHER_COLOR for i in range(len(pct))]
    # Below 0.5 % a label would read "0%" and only add clutter.
    text = [f"{p:.0f}%" if p >= 0.5 else "" for p in pct]
    fig = go.Figure(
        go.Bar(
            x=[_label(c) for c in expl.classes], y=pct, marker_color=colors, text=text,
            textposition="outside", cliponaxis=False,
            hovertemplate="class %{x}: %{y:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
        title=dict(text="Probability of each class", font=dict(size=14)),
        xaxis=dict(type="category", title=None, tickfont=dict(size=16)),
        yaxis=dict(range=[0, 112], title=None, ticksuffix="%", showticklabels=False,
                   showgrid=False),
    )
    return fig


def scores_html(expl: Explanation, *, bar_height: int = 110, headline: bool = True) -> str:
    """The prediction in large type above a bar per class, as a small HTML snippet.

    The same content as :func:`proba_bars` (winner in :data:`WINNER_COLOR`), for the view
    that must follow the pen: plain HTML is on screen as soon as it reaches the browser,
    while the Draw page's plotly figures were measured landing 250-400 ms after it.

    Parameters
    ----------
    expl : Explanation
    bar_height : int
        Height in pixels of a 100 % bar.
    headline : bool
        Show the predicted class in large type above the bars.

    Returns
    -------
    html : str
        A ``<div class="scores">`` for ``st.markdown(..., unsafe_allow_html=True)``. Each bar
        is a ``<div class="bar">`` with ``data-class`` and ``data-p`` (percent, 2 decimals)
        attributes, so tests can read the values.
    """
    winner = int(expl.top[0])
    pct = 100.0 * expl.proba
    bars = []
    for i, (c, p) in enumerate(zip(expl.classes, pct)):
        color = WINNER_COLOR if i == winner else OTHER_COLOR
        weight = 700 if i == winner else 400
        # At least one pixel, so a class with ~0 % still shows where its bar would be.
        h = max(1, round(bar_height * p / 100))
        text = f"{p:.0f}%" if p >= 0.5 else ""
        bars.append(
            f"<div class='bar' data-class='{_label(c)}' data-p='{p:.2f}' "
            f"title='class {_label(c)}: {p:.2f}%' style='display:flex;flex-direction:column;"
            f"align-items:center;justify-content:flex-end;width:2.1rem'>"
            f"<span style='font-size:0.75rem;opacity:0.7'>{text}</span>"
            f"<div style='width:1.6rem;height:{h}px;background:{color};border-radius:2px'></div>"
            f"<span style='font-size:1.1rem;font-weight:{weight};color:"
            f"{WINNER_COLOR if i == winner else 'inherit'}'>{_label(c)}</span></div>"
        )
    head = (
        "<div style='display:flex;align-items:baseline;gap:0.8rem'>"
        f"<span class='prediction' style='font-size:4.5rem;font-weight:700;line-height:1;"
        f"color:{WINNER_COLOR}'>{_label(expl.predicted)}</span>"
        f"<span class='confidence' style='font-size:1.1rem'>the model's guess, "
        f"{100 * expl.confidence:.0f}% sure</span></div>"
    ) if headline else ""
    return (
        "<div class='scores'>" + head +
        f"<div style='display:flex;align-items:flex-end;gap:0.1rem;height:{bar_height + 45}px'"
        f" aria-label='probability of each class'>{''.join(bars)}</div></div>"
    )


def _heatmap_axes(suffix: str = "", domain: tuple[float, float] = (0.0, 1.0)) -> dict:
    """Axis pair for a 28x28 image: row 0 on top (upright digit), square pixels, no ticks."""
    return {
        f"xaxis{suffix}": dict(domain=list(domain), anchor=f"y{suffix}", visible=False,
                               range=[-0.5, SIDE - 0.5], constrain="domain"),
        f"yaxis{suffix}": dict(anchor=f"x{suffix}", visible=False, range=[SIDE - 0.5, -0.5],
                               scaleanchor=f"x{suffix}", scaleratio=1, constrain="domain"),
    }


def digit_image(img28: ArrayLike, *, title: str | None = None, height: int = 260,
                zrange: tuple[float, float] | None = None) -> go.Figure:
    """A 28x28 image in grayscale, upright, with square pixels; hover shows row, col, value.

    Parameters
    ----------
    img28 : array-like of shape (28, 28) or (784,)
        Row 0 is the top row. Values in [0, 1] are shown on a fixed black-to-white scale;
        other ranges (standardized features) are stretched to their own min and max.
    title : str, optional
    height : int
        Figure height in pixels.
    zrange : (float, float), optional
        Value shown black and value shown white, overriding the automatic range.

    Returns
    -------
    fig : go.Figure
        One ``Heatmap`` trace with a gray colour scale.
    """
    z = np.asarray(img28, dtype=np.float64).reshape(SIDE, SIDE)
    if zrange is None:
        lo, hi = float(z.min()), float(z.max())
        zrange = (0.0, 1.0) if lo >= 0 and hi <= 1 else (lo, hi if hi > lo else lo + 1)
    fig = go.Figure(
        go.Heatmap(
            z=z, zmin=zrange[0], zmax=zrange[1], colorscale="gray", showscale=False,
            hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>",
        ),
        layout=_heatmap_axes(),
    )
    fig.update_layout(
        height=height, margin=dict(l=5, r=5, t=30 if title else 5, b=5),
        title=dict(text=title, font=dict(size=14)) if title else None,
        plot_bgcolor="black",
    )
    return fig


def evidence_maps(expl: Explanation, k: int = N_EVIDENCE, *, height: int = 250) -> go.Figure:
    """Side-by-side maps of pixel x weight for the top ``k`` classes, on one scale.

    Red pixels push the class's logit up, blue ones down, white ones have no say. All maps
    share one colour scale, symmetric around zero, so they can be compared; each title reads
    "evidence for 7: logit 5.2".

    Parameters
    ----------
    expl : Explanation
    k : int, default=3
        Number of maps (at most the number computed in ``expl``).
    height : int
        Figure height in pixels.

    Returns
    -------
    fig : go.Figure
        ``k`` ``Heatmap`` traces sharing one ``coloraxis`` centred on zero.
    """
    k = min(int(k), len(expl.evidence_idx))
    gap = 0.04
    width = (1.0 - gap * max(k - 1, 0)) / max(k, 1)
    vmax = float(np.abs(expl.evidence[:k]).max()) if k else 0.0
    vmax = vmax if vmax > 0 else 1.0
    traces, layout, titles = [], {}, []
    for i in range(k):
        idx = int(expl.evidence_idx[i])
        s = "" if i == 0 else str(i + 1)
        x0 = i * (width + gap)
        layout.update(_heatmap_axes(s, (x0, x0 + width)))
        cls = _label(expl.classes[idx])
        ev = expl.evidence[i]
        traces.append(go.Heatmap(
            z=ev, coloraxis="coloraxis", xaxis=f"x{s}", yaxis=f"y{s}",
            hovertemplate=(f"evidence for {cls}<br>row %{{y}}, col %{{x}}: %{{z:.3f}}"
                           "<extra></extra>"),
        ))
        titles.append(dict(
            text=(f"evidence for {cls}: logit {expl.logits[idx]:.1f}<br>"
                  f"<span style='font-size:11px'>pixels {ev.sum():+.1f}, "
                  f"bias {expl.intercept[idx]:+.1f}; p = {100 * expl.proba[idx]:.0f}%</span>"),
            x=x0 + width / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
            yanchor="bottom", showarrow=False, font=dict(size=14),
        ))
    layout.update(
        coloraxis=dict(colorscale=EVIDENCE_COLORSCALE, cmin=-vmax, cmax=vmax,
                       colorbar=dict(title=dict(text="pixel ×<br>weight", side="top"),
                                     thickness=12, len=0.9)),
        annotations=titles, height=height, margin=dict(l=5, r=5, t=55, b=5),
    )
    return go.Figure(traces, layout)
