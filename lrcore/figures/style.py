"""What every figure shares: fonts, colours, axis and layout helpers, tiny PNG pictures.

Colour meaning, the same on every page (see also :mod:`lrcore.labels`):

* Weights (and anything measured in weight units: pixel x weight evidence, the update a
  gradient step makes) use one diverging map centred on zero: **red = positive** (for a
  weight, ink on this pixel is evidence *for* the class), **blue = negative** (evidence
  against), white = no effect. Plotly's name for it is ``RdBu_r``; the HTML pictures use
  :data:`EVIDENCE_COLORSCALE`, the same five colours. Scales are symmetric (``zmin = -zmax``)
  so that white really means zero.
* Train = blue, test = orange, in every chart.
* Images are drawn with row 0 at the top and square pixels.

Figures are built from plain ``dict`` layouts rather than ``plotly.subplots.make_subplots``:
the latter costs ~50-150 ms per call, too much for a chart redrawn several times a second
while training, and the grids here are simple enough to lay out by hand.

28x28 pictures that must be light (the Draw page redraws them after every stroke, the
Weights page's tiles must wrap on a phone) are tiny inline PNGs: a 28x28 PNG is 0.1 ms to
encode and a few hundred bytes; the browser scales it up with square pixels
(``image-rendering: pixelated``). The colour maps are lookup tables.
"""
from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from lrcore.preprocess import SIDE
# Reversed RdBu: red for positive weights (plotly's "RdBu" puts red at the low end).
WEIGHT_COLORSCALE = "RdBu_r"

# Evidence: red = pixel votes for the class, blue = against, white = no say. Reversed RdBu
# so that "for" is warm; plotly's own "RdBu_r" name is resolved on every figure build.
EVIDENCE_COLORSCALE = [
    [0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"],
]

# Ten colours that stay apart (matplotlib's tab10), for one line per class.
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]


# Train / test colours, the same in every chart (plotly's default first two colours).
TRAIN_COLOR = "#1f77b4"


TEST_COLOR = "#ff7f0e"


OBJECTIVE_COLOR = "#6b6b6b"  # the minimized objective: neutral, dotted, beside the losses

# L1 and L2 on the same axes: one colour per penalty, solid = test, dotted = train.
PENALTY_COLORS = {"l1": "#d62728", "l2": "#1f77b4", "elasticnet": "#9467bd", "none": "#7f7f7f"}

# Bar colours: the winner must stand out at a glance, the others recede.
WINNER_COLOR = "#d62728"


OTHER_COLOR = "#9aa5b1"
RIGHT_COLOR = "#1a7f37"  # green: a guess that is right
WRONG_COLOR = "#d62728"  # red: a guess that is wrong

FONT = dict(size=13)


# ------------------------------------------------------------- axes and layouts


def image_side(n_features: int) -> int:
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"weights must describe square images (e.g. 784 = 28 x 28 pixels); "
            f"got {n_features} features per class"
        )
    return side


def symmetric_max(a: np.ndarray) -> float:
    """max |a|, or 1 when everything is zero (a zero-width colour scale is invalid)."""
    m = float(np.max(np.abs(a))) if a.size else 0.0
    return m if m > 0 and math.isfinite(m) else 1.0


def domains(n: int, gap: float, start: float = 0.0, end: float = 1.0) -> list[list[float]]:
    """Split [start, end] into n equal intervals separated by ``gap``."""
    width = (end - start - gap * (n - 1)) / n
    return [[start + i * (width + gap), start + i * (width + gap) + width] for i in range(n)]


def image_axes(layout: dict, k: int, xdom: list[float], ydom: list[float],
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


# Pixels between an axis's tick labels and its title.
AXIS_TITLE_STANDOFF = 8


def axis_title(text: str) -> dict:
    """An axis title kept :data:`AXIS_TITLE_STANDOFF` px clear of the tick labels."""
    return dict(text=text, standoff=AXIS_TITLE_STANDOFF)


def base_layout(height: int = 420, **extra: Any) -> dict:
    layout = dict(height=height, margin=dict(l=60, r=20, t=50, b=60), font=FONT,
                  legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0.0),
                  plot_bgcolor="white", hovermode="closest")
    layout.update(extra)
    return layout


def axis(title: str, *, log: bool = False, domain: list[float] | None = None,
          anchor: str | None = None, fmt: str | None = None, rng: list[float] | None = None
          ) -> dict:
    """A plotted axis: grid, frame, and a title kept clear of the tick labels (a standoff,
    and ``automargin`` so that long ticks push the title out instead of under it)."""
    ax: dict[str, Any] = dict(title=axis_title(title),
                              automargin=True, showgrid=True, gridcolor="#e5e5e5",
                              zeroline=False, linecolor="#999", mirror=True)
    if log:
        ax["type"] = "log"
    if domain is not None:
        ax["domain"] = domain
    if anchor is not None:
        ax["anchor"] = anchor
    if fmt is not None:
        ax["tickformat"] = fmt
    if rng is not None:
        ax["range"] = rng
    return ax


# ------------------------------------------------------------ tiny PNG pictures


# 28x28 pictures as tiny inline PNGs. The Draw page redraws them after every stroke, for
# every student of a class on one server: a plotly heatmap cost 3-4 ms to build plus its
# JSON and the browser's plotly render, and three of them made up most of a stroke's server
# time. A 28x28 PNG is 0.1 ms to encode and a few hundred bytes; the browser scales it up
# with square pixels (image-rendering: pixelated). The colour maps are lookup tables.
GRAY_LUT = np.stack([np.arange(256, dtype=np.uint8)] * 3, axis=1)


def _evidence_lut() -> np.ndarray:
    """(256, 3) uint8: EVIDENCE_COLORSCALE sampled at 256 points from -vmax to +vmax."""
    stops = np.array([s for s, _ in EVIDENCE_COLORSCALE])
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in EVIDENCE_COLORSCALE])
    t = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(t, stops, rgb[:, j]) for j in range(3)], axis=1).round().astype(
        np.uint8)


EVIDENCE_LUT = _evidence_lut()


IMG_STYLE = ("image-rendering:pixelated;image-rendering:crisp-edges;width:100%;height:auto;"
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


def html_figure(img_url: str, caption: str, *, alt: str, cls: str, attrs: str = "",
                width: str = "100%", caption_lines: int = 2) -> str:
    """A 28x28 PNG under its caption; ``caption_lines`` of room keep a row's images level."""
    return (f"<figure class='{cls}' {attrs} style='margin:0;flex:1 1 0;min-width:0;"
            f"max-width:{width}'><figcaption style='font-size:0.9rem;text-align:center;"
            f"line-height:1.25;margin-bottom:0.25rem;min-height:{1.25 * caption_lines:g}em'>"
            f"{caption}</figcaption>"
            f"<img src='{img_url}' alt='{html.escape(alt, quote=True)}' "
            f"title='{html.escape(alt, quote=True)}' style='{IMG_STYLE}'></figure>")
