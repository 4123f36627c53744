"""Figures of the class board (plotly figures are data, not UI: the page only shows them).

User text (nicknames) reaches a figure only escaped: plotly renders a subset of HTML in
hover labels and text, and a nickname is plain text.
"""
from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lrcore.board.service import EntryRow
from lrcore.labels import PENALTY

PENALTY_COLOURS = {"l1": "#d62728", "l2": "#1f77b4", "elasticnet": "#9467bd",
                   "none": "#7f7f7f"}
PENALTY_NAMES = PENALTY  # the names of lrcore.labels, as on every page


def _hover(r: EntryRow) -> str:
    c = "" if r.C is None else f", C={r.C:g}"
    cls = "" if r.class_accuracy is None else f"<br>our digits {r.class_accuracy:.1%}"
    return (f"<b>{html.escape(r.nickname)}</b> (#{r.id})<br>{PENALTY_NAMES.get(r.penalty, r.penalty)}"
            f"{c}, {r.train_size:,} digits<br>test accuracy {r.test_accuracy:.2%}"
            f"<br>zero weights {r.sparsity:.1f}%{cls}")


def board_chart(rows: Sequence[EntryRow], best_id: int | None = None,
                min_sparsity: float = 0.0) -> go.Figure:
    """Test accuracy vs share of zero weights (left) and vs C (right, log axis; runs
    without a penalty have no C), one colour per penalty; the challenge's best run circled
    with a star, the challenge's sparsity threshold as a dashed line.

    ``customdata`` of every point is the entry id (a click selects that entry)."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=("Test accuracy vs zero weights",
                                        "Test accuracy vs C"))
    for pen in PENALTY_COLOURS:
        sel = [r for r in rows if r.penalty == pen]
        if not sel:
            continue
        colour = PENALTY_COLOURS[pen]
        common = dict(mode="markers", name=PENALTY_NAMES[pen], legendgroup=pen,
                      marker=dict(color=colour, size=11, line=dict(width=1, color="white")),
                      hovertemplate="%{hovertext}<extra></extra>")
        fig.add_trace(go.Scatter(x=[r.sparsity for r in sel], y=[r.test_accuracy for r in sel],
                                 hovertext=[_hover(r) for r in sel],
                                 customdata=[r.id for r in sel], **common), row=1, col=1)
        withc = [r for r in sel if r.C is not None and r.C > 0]
        if withc:
            fig.add_trace(go.Scatter(x=[r.C for r in withc], y=[r.test_accuracy for r in withc],
                                     hovertext=[_hover(r) for r in withc],
                                     customdata=[r.id for r in withc], showlegend=False,
                                     **common), row=1, col=2)
    best = next((r for r in rows if r.id == best_id), None)
    if best is not None:
        star = dict(mode="markers", name="best for the challenge", legendgroup="best",
                    marker=dict(symbol="star", size=22, color="gold",
                                line=dict(width=1.5, color="black")),
                    hovertemplate="best for the challenge<br>%{hovertext}<extra></extra>")
        fig.add_trace(go.Scatter(x=[best.sparsity], y=[best.test_accuracy],
                                 hovertext=[_hover(best)], customdata=[best.id], **star),
                      row=1, col=1)
        if best.C is not None and best.C > 0:
            fig.add_trace(go.Scatter(x=[best.C], y=[best.test_accuracy], hovertext=[_hover(best)],
                                     customdata=[best.id], showlegend=False, **star),
                          row=1, col=2)
    if min_sparsity > 0:
        fig.add_vline(x=min_sparsity, line=dict(dash="dash", color="#555"), row=1, col=1,
                      annotation_text=f"challenge: ≥ {min_sparsity:g}% zeros",
                      annotation_position="top left")
    fig.update_xaxes(title_text="zero weights (%)", range=[-3, 103], row=1, col=1)
    fig.update_xaxes(title_text="C (log scale)", type="log", dtick=1, row=1, col=2)
    fig.update_yaxes(title_text="test accuracy", tickformat=".0%", row=1, col=1)
    fig.update_layout(height=420, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.2), clickmode="event+select")
    return fig


def class_vs_mnist(rows: Sequence[EntryRow], n_digits: int) -> go.Figure:
    """Each run's accuracy on MNIST's test digits beside its accuracy on the class's own
    digits: the gap is the lesson (MNIST's 92% is not our handwriting)."""
    scored = [r for r in rows if r.class_accuracy is not None]
    names = [f"{html.escape(r.nickname)} #{r.id}" for r in scored]
    fig = go.Figure([
        go.Bar(name="MNIST test digits", x=names, y=[r.test_accuracy for r in scored],
               marker_color="#1f77b4",
               hovertemplate="%{x}: MNIST test %{y:.1%}<extra></extra>"),
        go.Bar(name=f"our {n_digits} digits", x=names, y=[r.class_accuracy for r in scored],
               marker_color="#ff7f0e",
               hovertemplate="%{x}: our digits %{y:.1%}<extra></extra>"),
    ])
    fig.update_layout(barmode="group", height=360, yaxis=dict(tickformat=".0%", range=[0, 1]),
                      margin=dict(l=50, r=20, t=30, b=80),
                      legend=dict(orientation="h", y=1.12))
    return fig


def tiles(images: np.ndarray, scale: int = 3) -> list[np.ndarray]:
    """28x28 uint8 digits as bigger grey images (each pixel a ``scale`` x ``scale`` block),
    with a thin grey frame so a faint digit is still seen as a tile."""
    out = []
    for img in np.asarray(images, dtype=np.uint8):
        big = np.kron(img, np.ones((scale, scale), dtype=np.uint8))
        big = np.pad(big, 1, constant_values=96)
        out.append(big)
    return out
