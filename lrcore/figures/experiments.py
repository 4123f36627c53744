"""Figures of the Experiments page, built from result tables.

The functions take the :class:`pandas.DataFrame` of an
:class:`lrcore.experiments.ExperimentResult` and return a ``plotly.graph_objects.Figure``.
Every figure accepts a partial table (an experiment stopped after a few rows, even none)
and still draws its axes.

Choices:

* Accuracies are compared with dots on a zoomed axis, not bars: on MNIST they differ in
  the second decimal, which bars starting at 0 hide, while bars cut above 0 would lie
  about ratios. Each dot carries its value as text.
* Times span orders of magnitude (a linear model predicts in milliseconds, kNN in
  seconds), so time axes are logarithmic.
* Two panels side by side are laid out by axis domains.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from lrcore.figures.style import PENALTY_COLORS, TEST_COLOR, TRAIN_COLOR, axis, base_layout
from lrcore.labels import PENALTY, PREPROCESS, penalty_label

__all__ = ["size_curve", "regularization_path", "point_row", "cv_curve", "dot_comparison",
           "time_bars"]

# Two panels side by side. The right panel's y axis (ticks and title) is on its right
# side, outside the plot: in the gap between the panels its title overlapped the left
# panel on a 1024 px screen with the sidebar open.
_LEFT = [0.0, 0.58]
_RIGHT = [0.68, 1.0]
# x titles on two lines: on a phone each panel is ~150 px wide and two one-line titles
# centred under them ran into each other.
_SIZE_TITLE = "training digits<br>(log scale)"
_C_TITLE = "C (log scale)<br>→ weaker penalty"


def _count_label(n: float) -> str:
    n = float(n)
    if n >= 1000 and n % 1000 == 0:
        return f"{n / 1000:g}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return f"{n:g}"


def _log_ticks(values: ArrayLike, label: Any = None, max_ticks: int = 9) -> dict:
    """Ticks of a log axis at the data's own x values (e.g. the sizes or Cs that were run),
    instead of plotly's 2-3-4-5... minor labels that crowd a short log axis."""
    v = np.unique(np.asarray(values, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {}
    if v.size > max_ticks:  # too many to label: decades only
        return dict(dtick=1, minor=dict(showgrid=False))
    label = label or (lambda x: f"{x:g}")
    return dict(tickmode="array", tickvals=v.tolist(), ticktext=[label(x) for x in v],
                minor=dict(showgrid=False))


def _accuracy_range(values: ArrayLike, pad: float = 0.01) -> list[float] | None:
    """A y range that shows differences of a fraction of a percent but never exceeds [0, 1]."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return [0.0, 1.0]
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, 0.02)
    return [max(0.0, lo - 0.15 * span - pad), min(1.0 + pad / 2, hi + 0.15 * span + pad)]


# Result columns holding internal codes: shown by their names in lrcore.labels.
_CATEGORY_NAMES = {"preprocess": PREPROCESS, "penalty": PENALTY}


def _categories(table: pd.DataFrame, category: str) -> list[str]:
    """The row names of a category column, codes ("unit") turned into names ("pixels / 255")."""
    names = _CATEGORY_NAMES.get(category, {})
    return [names.get(str(c), str(c)) for c in _col(table, category)]


def _col(table: pd.DataFrame, name: str) -> np.ndarray:
    if name in table.columns:
        return table[name].to_numpy()
    return np.zeros(0)


# ---------------------------------------------------------------------- figures


def size_curve(table: pd.DataFrame) -> go.Figure:
    """Train/test accuracy (left) and fit time (right) against the training-set size.

    Parameters
    ----------
    table : DataFrame with columns train_size, train_accuracy, test_accuracy, fit_seconds
        One row per size (any order; drawn sorted by size). Log x axes: each step of the
        curve is a doubling or so of the data.
    """
    t = table.sort_values("train_size") if "train_size" in table.columns else table
    n = _col(t, "train_size")
    traces = [
        go.Scatter(x=n, y=_col(t, "train_accuracy"), name="train accuracy",
                   mode="lines+markers", line=dict(color=TRAIN_COLOR, dash="dot"),
                   hovertemplate="%{x:,} digits: train accuracy %{y:.2%}<extra></extra>"),
        go.Scatter(x=n, y=_col(t, "test_accuracy"), name="test accuracy",
                   mode="lines+markers", line=dict(color=TEST_COLOR),
                   hovertemplate="%{x:,} digits: test accuracy %{y:.2%}<extra></extra>"),
        go.Scatter(x=n, y=_col(t, "fit_seconds"), name="fit time", mode="lines+markers",
                   line=dict(color="#555"), xaxis="x2", yaxis="y2",
                   hovertemplate="%{x:,} digits: %{y:.2f} s<extra></extra>"),
    ]
    acc = np.concatenate([_col(t, "train_accuracy"), _col(t, "test_accuracy")])
    layout = base_layout(
        xaxis={**axis(_SIZE_TITLE, log=True, domain=_LEFT, anchor="y"),
               **_log_ticks(n, _count_label)},
        yaxis=axis("accuracy", fmt=".0%", anchor="x", rng=_accuracy_range(acc)),
        xaxis2={**axis(_SIZE_TITLE, log=True, domain=_RIGHT, anchor="y2"),
                **_log_ticks(n, _count_label)},
        yaxis2={**axis("fit time, seconds (log scale)", log=True, anchor="x2"), "side": "right",
                **_log_ticks(_col(t, "fit_seconds"), lambda x: f"{x:.2g}", max_ticks=0)},
    )
    return go.Figure(data=traces, layout=layout)


def regularization_path(table: pd.DataFrame) -> go.Figure:
    """Accuracy (left) and share of zero weights (right) against C, L1 and L2 together.

    Parameters
    ----------
    table : DataFrame with columns penalty, C, train_accuracy, test_accuracy, sparsity
        ``sparsity`` in percent (0-100) or as a fraction (0-1); fractions are shown in %.

    Returns
    -------
    Figure
        Every marker carries its table row (position, 0-based) as ``customdata`` so a
        click can be mapped back to ``result.models["coef"][row]`` (see :func:`point_row`).
    """
    traces = []
    t = table.reset_index(drop=True)
    sparsity = _col(t, "sparsity").astype(float)
    as_percent = sparsity.size and np.nanmax(sparsity) > 1.0
    pens = list(dict.fromkeys(str(p) for p in _col(t, "penalty")))
    for pen in pens:
        rows = t.index[t["penalty"].astype(str) == pen].to_numpy()
        rows = rows[np.argsort(t.loc[rows, "C"].to_numpy(dtype=float), kind="stable")]
        sub = t.loc[rows]
        color = PENALTY_COLORS.get(pen.lower(), "#333")
        label = penalty_label(pen)
        for split, dash in (("test", "solid"), ("train", "dot")):
            traces.append(go.Scatter(
                x=sub["C"], y=sub[f"{split}_accuracy"], customdata=rows,
                name=f"{label} {split} accuracy", mode="lines+markers",
                line=dict(color=color, dash=dash), marker=dict(size=9),
                hovertemplate=f"{label}, C=%{{x:.3g}}: {split} accuracy %{{y:.2%}}"
                              "<br>click for its weights<extra></extra>"))
        sp = sub["sparsity"].to_numpy(dtype=float) if "sparsity" in sub else np.zeros(0)
        traces.append(go.Scatter(
            x=sub["C"], y=sp if as_percent else sp * 100, customdata=rows,
            name=f"{label} zero weights", mode="lines+markers", xaxis="x2", yaxis="y2",
            line=dict(color=color), marker=dict(size=9, symbol="square"),
            hovertemplate=f"{label}, C=%{{x:.3g}}: %{{y:.1f}}% of the weights are 0"
                          "<br>click for its weights<extra></extra>"))
    acc = np.concatenate([_col(t, "train_accuracy"), _col(t, "test_accuracy")])
    layout = base_layout(
        height=460,
        xaxis={**axis(_C_TITLE, log=True, domain=_LEFT, anchor="y"),
               **_log_ticks(_col(t, "C"))},
        yaxis=axis("accuracy", fmt=".0%", anchor="x", rng=_accuracy_range(acc)),
        xaxis2={**axis(_C_TITLE, log=True, domain=_RIGHT,
                        anchor="y2"), **_log_ticks(_col(t, "C"))},
        yaxis2={**axis("weights exactly 0 (%)", anchor="x2", rng=[-3, 103]), "side": "right"},
        clickmode="event+select",
    )
    return go.Figure(data=traces, layout=layout)


def point_row(selection: Mapping[str, Any] | None) -> int | None:
    """The table row of the last clicked point of :func:`regularization_path`, if any.

    ``selection`` is Streamlit's plotly selection state (``{"points": [...], ...}``); each
    point carries the row as ``customdata`` (a number, or a one-element list).
    """
    if not selection:
        return None
    points = selection.get("points") or []
    for pt in reversed(points):
        cd = pt.get("customdata")
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        if cd is None:
            continue
        try:
            return int(cd)
        except (TypeError, ValueError):
            continue
    return None


def cv_curve(table: pd.DataFrame, *, best_C: float | None = None,
             test_accuracy: Mapping[float, float] | None = None) -> go.Figure:
    """Cross-validated accuracy (mean ± one standard deviation over folds) against C.

    Parameters
    ----------
    table : DataFrame with columns C, mean_accuracy, std_accuracy and fold_1, fold_2, ...
        Each fold's accuracy is drawn as a faint dot behind the mean. An optional
        ``sklearn_mean_accuracy`` column (NaN until known) adds scikit-learn's curve.
    best_C : float, optional
        Marked with a vertical line.
    test_accuracy : mapping C -> accuracy, optional
        Test accuracy of the refit model(s), drawn as stars.
    """
    t = table.sort_values("C") if "C" in table.columns else table
    folds = [c for c in t.columns if str(c).startswith("fold_")]
    traces = []
    for i, f in enumerate(folds):
        traces.append(go.Scatter(
            x=t["C"], y=t[f], mode="markers", name="single folds",
            legendgroup="folds", showlegend=i == 0,
            marker=dict(color="rgba(100,100,100,0.35)", size=6),
            hovertemplate=f"{f.replace('_', ' ')}, C=%{{x:.3g}}: %{{y:.2%}}<extra></extra>"))
    traces.append(go.Scatter(
        x=_col(t, "C"), y=_col(t, "mean_accuracy"), name="mean of the folds ± 1 std",
        mode="lines+markers", line=dict(color=TEST_COLOR), marker=dict(size=9),
        error_y=dict(type="data", array=_col(t, "std_accuracy"), visible=True),
        hovertemplate="C=%{x:.3g}: %{y:.2%} ± %{error_y.array:.2%}<extra></extra>"))
    vals = [_col(t, "mean_accuracy")] + [t[f].to_numpy() for f in folds]
    sk = _col(t, "sklearn_mean_accuracy").astype(float)
    if sk.size and np.isfinite(sk).any():
        traces.append(go.Scatter(
            x=t["C"], y=sk, name="scikit-learn LogisticRegressionCV (mean)",
            mode="lines+markers", line=dict(color="#555", dash="dot"),
            marker=dict(symbol="x", size=8),
            hovertemplate="LogisticRegressionCV, C=%{x:.3g}: %{y:.2%}<extra></extra>"))
        vals.append(sk)
    if test_accuracy:
        xs, ys = zip(*sorted(test_accuracy.items()))
        traces.append(go.Scatter(
            x=list(xs), y=list(ys), mode="markers", name="test accuracy of the refit",
            marker=dict(symbol="star", size=15, color="#2ca02c"),
            hovertemplate="refit at C=%{x:.3g}: test %{y:.2%}<extra></extra>"))
        vals.append(np.asarray(ys))
    layout = base_layout(
        xaxis={**axis(_C_TITLE, log=True), **_log_ticks(_col(t, "C"))},
        yaxis=axis("accuracy on the held-out fold", fmt=".1%",
                    rng=_accuracy_range(np.concatenate([np.ravel(v) for v in vals]))))
    if best_C is not None and math.isfinite(float(best_C)) and len(t):
        layout["shapes"] = [dict(type="line", xref="x", yref="paper", x0=best_C, x1=best_C,
                                 y0=0, y1=1, line=dict(color="#2ca02c", dash="dash"))]
        layout["annotations"] = [dict(x=math.log10(best_C), xref="x", y=1.0, yref="paper",
                                      text=f"best C = {best_C:.3g}", showarrow=False,
                                      yanchor="bottom", font=dict(color="#2ca02c"))]
    return go.Figure(data=traces, layout=layout)


def dot_comparison(table: pd.DataFrame, category: str, columns: Mapping[str, str], *,
                   x_title: str = "accuracy", percent: bool = True,
                   colors: Sequence[str] | None = None) -> go.Figure:
    """One row per category, one coloured dot per metric, on a zoomed x axis.

    Parameters
    ----------
    table : DataFrame
    category : str
        Column naming the rows (e.g. "method", "model", "preprocess").
    columns : mapping column -> legend label
        Metrics to plot; missing columns are skipped.
    percent : bool
        Values are fractions shown as percentages.
    """
    cats = _categories(table, category)
    palette = list(colors or [TEST_COLOR, TRAIN_COLOR, "#2ca02c", "#9467bd", "#8c564b"])
    traces, vals = [], []
    fmt = ".2%" if percent else ".3g"
    for i, (col, label) in enumerate((c, lab) for c, lab in columns.items()
                                     if c in table.columns):
        v = table[col].to_numpy(dtype=float)
        vals.append(v)
        traces.append(go.Scatter(
            x=v, y=cats, name=label, mode="markers+text", text=[f"{x:{fmt}}" for x in v],
            textposition="top center", cliponaxis=False,
            marker=dict(size=13, color=palette[i % len(palette)]),
            hovertemplate=f"%{{y}}: {label} %{{x:{fmt}}}<extra></extra>"))
    all_v = np.concatenate(vals) if vals else np.zeros(0)
    rng = _accuracy_range(all_v, pad=0.02) if percent else None
    layout = base_layout(
        height=max(260, 90 + 70 * len(cats)),
        xaxis=axis(x_title, fmt=".1%" if percent else None, rng=rng),
        yaxis=dict(autorange="reversed", type="category", showgrid=True, gridcolor="#eee",
                   linecolor="#999", mirror=True),
        margin=dict(l=140, r=30, t=50, b=60))
    return go.Figure(data=traces, layout=layout)


def time_bars(table: pd.DataFrame, category: str, columns: Mapping[str, str], *,
              x_title: str = "seconds (log scale)", log: bool = True) -> go.Figure:
    """Horizontal grouped bars of times (or counts) per category, log axis by default."""
    cats = _categories(table, category)
    palette = ["#555555", "#bcbd22", "#17becf", "#e377c2"]
    traces = []
    for i, (col, label) in enumerate((c, lab) for c, lab in columns.items()
                                     if c in table.columns):
        v = table[col].to_numpy(dtype=float)
        text = [f"{x:.3g} s" if "second" in col else f"{x:,.0f}" for x in v]
        traces.append(go.Bar(x=v, y=cats, name=label, orientation="h", text=text,
                             textposition="outside", cliponaxis=False,
                             marker=dict(color=palette[i % len(palette)]),
                             hovertemplate=f"%{{y}}: {label} %{{x:.3g}}<extra></extra>"))
    layout = base_layout(
        height=max(260, 90 + 70 * len(cats)), barmode="group",
        xaxis={**axis(x_title, log=log), **(dict(dtick=1, minor=dict(showgrid=False))
                                             if log else {})},
        yaxis=dict(autorange="reversed", type="category", linecolor="#999", mirror=True),
        margin=dict(l=140, r=60, t=50, b=60))
    return go.Figure(data=traces, layout=layout)
