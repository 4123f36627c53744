"""The Draw page's views of an :class:`lrcore.explain.Explanation`, as light HTML.

The Draw page redraws them after every stroke, for every student of a class on one
server, so they are plain HTML (data, not UI: no Streamlit here) with 28x28 pictures as
tiny inline PNGs (see :mod:`lrcore.figures.style`): :func:`scores_html` a bar per class,
:func:`digit_html` and :func:`evidence_html` 28x28 pictures. Together they take well under
a millisecond.
"""
from __future__ import annotations

import html

import numpy as np
from numpy.typing import ArrayLike

from lrcore.explain import N_EVIDENCE, Explanation
from lrcore.figures.style import (
    EVIDENCE_COLORSCALE,
    EVIDENCE_LUT,
    GRAY_LUT,
    OTHER_COLOR,
    WINNER_COLOR,
    evidence_indices,
    gray_indices,
    html_figure,
    png_data_url,
)
from lrcore.labels import COLOR_MEANING

__all__ = ["scores_html", "digit_html", "evidence_html"]


def label_of(c) -> str:
    return str(c.item() if hasattr(c, "item") else c)


def scores_html(expl: Explanation, *, bar_height: int = 110, headline: bool = True) -> str:
    """The prediction in large type above a bar per class, as a small HTML snippet.

    The probabilities as bars (winner in :data:`WINNER_COLOR`), in HTML for the view
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
            f"<div class='bar' data-class='{label_of(c)}' data-p='{p:.2f}' "
            f"title='class {label_of(c)}: {p:.2f}%' style='display:flex;flex-direction:column;"
            f"align-items:center;justify-content:flex-end;flex:1 1 0;min-width:0;max-width:2.1rem'>"
            f"<span style='font-size:0.75rem;opacity:0.7'>{text}</span>"
            f"<div style='width:76%;height:{h}px;background:{color};border-radius:2px'></div>"
            f"<span style='font-size:1.1rem;font-weight:{weight};color:"
            f"{WINNER_COLOR if i == winner else 'inherit'}'>{label_of(c)}</span></div>"
        )
    head = (
        "<div style='display:flex;align-items:baseline;gap:0.8rem'>"
        f"<span class='prediction' style='font-size:4.5rem;font-weight:700;line-height:1;"
        f"color:{WINNER_COLOR}'>{label_of(expl.predicted)}</span>"
        f"<span class='confidence' style='font-size:1.1rem'>the model's guess, "
        f"{100 * expl.confidence:.0f}% sure</span></div>"
    ) if headline else ""
    return (
        "<div class='scores'>" + head +
        f"<div style='display:flex;align-items:flex-end;gap:0.1rem;height:{bar_height + 45}px;"
        "max-width:22rem'"
        f" aria-label='probability of each class'>{''.join(bars)}</div></div>"
    )


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
        html_figure(png_data_url(gray_indices(img), GRAY_LUT), html.escape(title), alt=title,
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
        cls = label_of(expl.classes[idx])
        ev = expl.evidence[i]
        caption = (f"<b>evidence for {cls}</b>: logit {expl.logits[idx]:.1f}<br>"
                   f"<span style='font-size:0.8rem;opacity:0.8'>pixels {ev.sum():+.1f}, "
                   f"bias {expl.intercept[idx]:+.1f}; p = {100 * expl.proba[idx]:.0f}%</span>")
        figs.append(html_figure(
            png_data_url(evidence_indices(ev, vmax), EVIDENCE_LUT), caption,
            alt=f"evidence for {cls}: {COLOR_MEANING['evidence']}",
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
