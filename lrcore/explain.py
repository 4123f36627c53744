"""Why did the model say that? One digit through a trained model, taken apart.

A softmax regression scores class ``k`` with a logit that is a plain sum over pixels:

    logit_k = sum_j x_j * coef_[k, j] + intercept_[k]

where ``x`` is the digit *as the model sees it* (after its preprocessing). So the product
``x * coef_[k]``, shown as a 28x28 picture, is an exact account of the decision: every
pixel's vote for (positive) or against (negative) class ``k``, which add up, with the
intercept, to the logit; the softmax of the logits gives the probabilities. Nothing is
approximated, unlike saliency methods for deep networks.

:func:`explain_digit` computes that account. The Draw page redraws it after every stroke,
for every student of a class on one server, so its views are light HTML (data, not UI: no
Streamlit here): :func:`scores_html` a bar per class, :func:`digit_html` and
:func:`evidence_html` 28x28 pictures as tiny inline PNGs. Together they take well under a
millisecond. :func:`proba_bars` is the same scores as a plotly figure, for other pages.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from PIL import Image

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
            f"align-items:center;justify-content:flex-end;flex:1 1 0;min-width:0;max-width:2.1rem'>"
            f"<span style='font-size:0.75rem;opacity:0.7'>{text}</span>"
            f"<div style='width:76%;height:{h}px;background:{color};border-radius:2px'></div>"
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
        f"<div style='display:flex;align-items:flex-end;gap:0.1rem;height:{bar_height + 45}px;"
        "max-width:22rem'"
        f" aria-label='probability of each class'>{''.join(bars)}</div></div>"
    )


# 28x28 pictures as tiny inline PNGs. The Draw page redraws them after every stroke, for
# every student of a class on one server: a plotly heatmap cost 3-4 ms to build plus its
# JSON and the browser's plotly render, and three of them made up most of a stroke's server
# time. A 28x28 PNG is 0.1 ms to encode and a few hundred bytes; the browser scales it up
# with square pixels (image-rendering: pixelated). The colour maps are lookup tables.
_GRAY_LUT = np.stack([np.arange(256, dtype=np.uint8)] * 3, axis=1)


def _evidence_lut() -> np.ndarray:
    """(256, 3) uint8: EVIDENCE_COLORSCALE sampled at 256 points from -vmax to +vmax."""
    stops = np.array([s for s, _ in EVIDENCE_COLORSCALE])
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in EVIDENCE_COLORSCALE])
    t = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(t, stops, rgb[:, j]) for j in range(3)], axis=1).round().astype(
        np.uint8)


_EVIDENCE_LUT = _evidence_lut()
_IMG_STYLE = ("image-rendering:pixelated;image-rendering:crisp-edges;width:100%;height:auto;"
              "aspect-ratio:1;display:block;border-radius:3px")


def png_data_url(index28: np.ndarray, lut: np.ndarray) -> str:
    """A 28x28 image of colour-table indices (0-255) as a ``data:image/png`` URL."""
    idx = np.asarray(index28, dtype=np.uint8).reshape(SIDE, SIDE)
    buf = io.BytesIO()
    Image.fromarray(lut[idx]).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def gray_indices(img28: ArrayLike, zrange: tuple[float, float] | None = None) -> np.ndarray:
    """(28, 28) uint8 grey levels: values in [0, 1] on a fixed black-to-white scale, other
    ranges (standardized features) stretched from their own min (black) to max (white)."""
    z = np.asarray(img28, dtype=np.float64).reshape(SIDE, SIDE)
    if zrange is None:
        lo, hi = float(z.min()), float(z.max())
        zrange = (0.0, 1.0) if lo >= 0 and hi <= 1 else (lo, hi if hi > lo else lo + 1)
    lo, hi = zrange
    return np.clip(np.round((z - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)


def evidence_indices(ev28: ArrayLike, vmax: float) -> np.ndarray:
    """(28, 28) uint8 indices into the evidence colours: -vmax -> 0 (blue), 0 -> ~128
    (white), +vmax -> 255 (red)."""
    z = np.asarray(ev28, dtype=np.float64).reshape(SIDE, SIDE)
    return np.clip(np.round((z / vmax + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _figure(img_url: str, caption: str, *, alt: str, cls: str, attrs: str = "",
            width: str = "100%") -> str:
    return (f"<figure class='{cls}' {attrs} style='margin:0;flex:1 1 0;min-width:0;"
            f"max-width:{width}'><figcaption style='font-size:0.9rem;text-align:center;"
            f"line-height:1.25;margin-bottom:0.25rem;min-height:2.5em'>{caption}</figcaption>"
            f"<img src='{img_url}' alt='{html.escape(alt, quote=True)}' "
            f"title='{html.escape(alt, quote=True)}' style='{_IMG_STYLE}'></figure>")


def digit_html(images: list[tuple[ArrayLike, str]], *, max_width: int = 180) -> str:
    """28x28 greyscale pictures side by side, each with its title above it.

    Parameters
    ----------
    images : list of (array of shape (28, 28) or (784,), title)
        Row 0 is the top row; values as for :func:`gray_indices`.
    max_width : int
        Largest width of one picture in CSS pixels (they shrink with the column).

    Returns
    -------
    html : str
        A ``<div class='digits'>`` of ``<figure class='digit'>`` elements, each holding a
        28x28 PNG ``<img>`` (upscaled with square pixels by the browser).
    """
    figs = [
        _figure(png_data_url(gray_indices(img), _GRAY_LUT), html.escape(title), alt=title,
                cls="digit", width=f"{max_width}px")
        for img, title in images
    ]
    return ("<div class='digits' style='display:flex;gap:0.75rem;align-items:flex-end'>"
            + "".join(figs) + "</div>")


def evidence_html(expl: Explanation, k: int = N_EVIDENCE, *, max_width: int = 230) -> str:
    """Maps of pixel x weight for the top ``k`` classes, side by side, on one colour scale.

    Red pixels push the class's logit up, blue ones down, white ones have no say. All maps
    share one scale, symmetric around zero, so they can be compared; a colour bar below
    gives it. Each title reads "evidence for 7: logit 5.2" with the pixels' sum, the bias
    and the probability under it. The maps wrap onto several rows on a narrow screen.

    Parameters
    ----------
    expl : Explanation
    k : int, default=3
        Number of maps (at most the number computed in ``expl``).
    max_width : int
        Largest width of one map in CSS pixels.

    Returns
    -------
    html : str
        A ``<div class='evidence' data-vmax=...>`` holding ``k`` ``<figure class='evmap'
        data-class=... data-logit=...>`` elements and a ``<div class='colorbar'>``.
    """
    k = min(int(k), len(expl.evidence_idx))
    vmax = float(np.abs(expl.evidence[:k]).max()) if k else 0.0
    vmax = vmax if vmax > 0 else 1.0
    figs = []
    for i in range(k):
        idx = int(expl.evidence_idx[i])
        cls = _label(expl.classes[idx])
        ev = expl.evidence[i]
        caption = (f"<b>evidence for {cls}</b>: logit {expl.logits[idx]:.1f}<br>"
                   f"<span style='font-size:0.8rem;opacity:0.8'>pixels {ev.sum():+.1f}, "
                   f"bias {expl.intercept[idx]:+.1f}; p = {100 * expl.proba[idx]:.0f}%</span>")
        figs.append(_figure(
            png_data_url(evidence_indices(ev, vmax), _EVIDENCE_LUT), caption,
            alt=f"evidence for {cls}: red pixels vote for {cls}, blue against",
            cls="evmap", width=f"{max_width}px",
            attrs=f"data-class='{cls}' data-logit='{expl.logits[idx]:.4f}'"))
    stops = ", ".join(f"{c} {100 * s:.0f}%" for s, c in EVIDENCE_COLORSCALE)
    bar = (
        "<div class='colorbar' style='display:flex;align-items:center;gap:0.5rem;"
        "font-size:0.8rem;margin-top:0.4rem'>"
        f"<span>{-vmax:.2f}</span><div style='flex:0 1 16rem;height:0.7rem;border-radius:3px;"
        f"background:linear-gradient(to right, {stops})'></div><span>+{vmax:.2f}</span>"
        "<span style='opacity:0.8'>pixel × weight (blue: against, red: for)</span></div>"
    )
    return (f"<div class='evidence' data-vmax='{vmax:.6g}'>"
            "<div style='display:flex;flex-wrap:wrap;gap:0.75rem;align-items:flex-end'>"
            + "".join(figs)
            + "</div>" + bar + "</div>")
