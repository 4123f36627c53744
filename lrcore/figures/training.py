"""Figures of a training run: its loss and accuracy curves, several runs overlaid, and
test digits with the model's current guesses (the live strip)."""
from __future__ import annotations

import html
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from lrcore.figures import style
from lrcore.figures.style import FONT, OBJECTIVE_COLOR, TEST_COLOR, TRAIN_COLOR, axis_title

__all__ = ["RUN_METRICS", "training_curves", "runs_overlay", "objective_scale",
           "predictions_html"]


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
    ax = dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888", automargin=True)
    layout = dict(
        height=360, font=FONT, plot_bgcolor="white",
        margin=dict(l=60, r=20, t=50 if title else 40, b=50),
        uirevision="training-curves",
        hovermode="x unified",
        legend=dict(orientation="h", x=0.5, xanchor="center", y=1.12, yanchor="bottom"),
        xaxis=dict(domain=[0.0, 0.48], title=axis_title("iteration"), anchor="y", **ax),
        yaxis=dict(title=axis_title("log-loss (lower is better)"), anchor="x", **ax),
        xaxis2=dict(domain=[0.56, 1.0], title=axis_title("iteration"), anchor="y2", **ax),
        # The right panel's axis on its right: in the gap between the panels its title
        # ran into the loss panel on narrow screens.
        yaxis2=dict(title=axis_title("accuracy"), anchor="x2",
                    side="right", tickformat=".0%", **ax),
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
    ax = dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888", automargin=True)
    layout = dict(
        height=380, font=FONT, plot_bgcolor="white", margin=dict(l=60, r=20, t=30, b=50),
        legend=dict(orientation="h", x=0.0, y=-0.22, yanchor="top"),
        xaxis=dict(title=axis_title("iteration"), **ax),
        yaxis=dict(title=axis_title(title), tickformat=fmt if "%" in fmt else None, **ax),
    )
    return go.Figure(data=traces, layout=layout)


def objective_scale(config: Any) -> float:
    """What divides a run's ``objective`` to put it on the log-loss's scale: ``C * n`` with
    a penalty (objective = C * sum of losses + penalty), ``n`` without."""
    n = float(config.train_size)
    return n if config.penalty is None else float(config.C) * n


def predictions_html(proba: ArrayLike, classes: ArrayLike, pixels: ArrayLike, y: ArrayLike, *,
                     tile: int = 56) -> str:
    """Test digits with the model's current guesses, as one wrapping HTML strip: green
    when right, red (with the true label) when wrong, and the probability of the guess.
    ConvNetJS's MNIST demo shows this beside its curves: a student sees "that 7 was read
    as 1, now it is right" long before the accuracy curve says anything.

    Parameters
    ----------
    proba : array of shape (n, n_classes)
        The model's probabilities for the digits.
    classes : array of shape (n_classes,)
    pixels : array of shape (n, 784)
        The digits, 0-255.
    y : array of shape (n,)
        Their true labels.
    tile : int
        Width of one picture in CSS pixels (the strip wraps on narrow screens).

    Returns
    -------
    html : str
        ``<div class='sample-predictions'>`` of ``<figure>`` tiles; a tile's ``data-right``
        is "1" when the guess is right.
    """
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray(classes)
    pixels = np.asarray(pixels)
    y = np.asarray(y)
    guess = proba.argmax(axis=1)
    n_right = int(np.sum(classes[guess] == y))
    tiles = []
    for i in range(len(y)):
        g, truth = classes[guess[i]], y[i]
        right = bool(g == truth)
        color = style.RIGHT_COLOR if right else style.WRONG_COLOR
        url = style.png_data_url(style.gray_indices(pixels[i] / 255.0), style.GRAY_LUT)
        label = f"{g}" if right else f"{g} <span style='font-weight:400'>(is {truth})</span>"
        alt = (f"a {truth}, read as {g} ({proba[i, guess[i]]:.0%})")
        tiles.append(
            f"<figure data-right='{int(right)}' style='margin:0;width:{tile}px'>"
            f"<img src='{url}' alt='{html.escape(alt, quote=True)}' "
            f"title='{html.escape(alt, quote=True)}' style='width:{tile}px;height:{tile}px;"
            f"image-rendering:pixelated;display:block;border-radius:3px;"
            f"outline:3px solid {color};outline-offset:-3px'>"
            f"<figcaption style='font-size:0.8rem;text-align:center;color:{color};"
            f"font-weight:600;line-height:1.2'>{label}<br>"
            f"<span style='font-weight:400'>{proba[i, guess[i]]:.0%}</span></figcaption>"
            "</figure>")
    head = (f"<div style='font-size:0.9rem;margin-bottom:0.25rem'>{n_right} of {len(y)} "
            "test digits read right by the model as it is now</div>")
    return (f"<div class='sample-predictions'>{head}<div style='display:flex;flex-wrap:wrap;"
            f"gap:0.4rem'>" + "".join(tiles) + "</div></div>")
