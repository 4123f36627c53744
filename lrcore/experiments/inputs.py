"""What a student types into the Experiments page, read into an experiment's settings.

Each parser returns ``(value, None)`` or ``(None, message)``: a message per field for the
page to show under its controls, in the page's words ("Training digits must be between
100 and 60,000 ..."). The limits are lrcore.config's (``MIN_TRAIN_SIZE``, ``C_MIN``,
``C_MAX``); the experiments validate their settings again when they are built.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrcore.config import C_MAX, C_MIN, MIN_TRAIN_SIZE
from lrcore.labels import C_GRID_SWEEP
from lrcore.labels import fmt_C  # a C on the sweep's slider

__all__ = ["C_GRID", "check_size", "default_sizes", "fmt_C", "log_grid", "parse_C",
           "parse_sizes"]

# The sweep's stops: lrcore.labels' (one definition for the app).
C_GRID = list(C_GRID_SWEEP)


def parse_C(text: Any, name: str = "C") -> tuple[float | None, str | None]:
    """A penalty strength typed by the user, or an error message."""
    try:
        c = float(str(text).strip())
    except ValueError:
        return None, f"{name} must be a number, e.g. 1 or 0.01; got {text!r}"
    if not math.isfinite(c) or c <= 0:
        return None, f"{name} must be a number greater than 0; got {text!r}"
    if not C_MIN <= c <= C_MAX:
        return None, f"{name} must be between {C_MIN:g} and {C_MAX:g}; got {c:g}"
    return c, None


def check_size(value: Any, n_max: int, name: str = "Training digits",
               low: int = MIN_TRAIN_SIZE) -> tuple[int | None, str | None]:
    """A number of digits within what the data has, or an error message."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None, f"{name} must be a whole number; got {value!r}"
    if n != value and not (isinstance(value, float) and value.is_integer()):
        return None, f"{name} must be a whole number; got {value!r}"
    if not low <= n <= n_max:
        return None, (f"{name} must be between {low:,} and {n_max:,} (the digits this data "
                      f"has); got {n:,}")
    return n, None


def parse_sizes(text: str, n_max: int) -> tuple[list[int] | None, str | None]:
    """Comma-separated training-set sizes, e.g. "500, 1000, 60000" (sorted, unique)."""
    parts = [p.strip().replace("_", "") for p in str(text).replace(";", ",").split(",")]
    parts = [p for p in parts if p]
    if not parts:
        return None, "Give at least one training-set size, e.g. 500, 2000, 10000"
    sizes = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            return None, f"Training-set sizes must be whole numbers separated by commas; got {p!r}"
        if not v.is_integer():
            return None, f"Training-set sizes must be whole numbers; got {p!r}"
        n = int(v)
        if not MIN_TRAIN_SIZE <= n <= n_max:
            return None, (f"Each training-set size must be between {MIN_TRAIN_SIZE:,} and "
                          f"{n_max:,} (the training digits this data has); got {n:,}")
        sizes.append(n)
    return sorted(set(sizes)), None


def log_grid(lo: float, hi: float, points: int) -> list[float]:
    """``points`` values of C evenly spaced on a log scale, rounded to 3 significant digits."""
    if points == 1:
        return [float(lo)]
    return [float(f"{c:.3g}") for c in np.geomspace(lo, hi, int(points))]


def default_sizes(n_train: int) -> str:
    """The size curve's default sizes for data with ``n_train`` training digits, as text
    (the standard sizes below it, then all of them)."""
    sizes = [s for s in (500, 1000, 2000, 5000, 10000, 20000, 60000) if s < n_train]
    return ", ".join(str(s) for s in sizes + [n_train])
