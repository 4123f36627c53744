"""The one table of user-facing names and number formats, for every page, figure and note.

Internal codes (``"unit"``, ``"standardize"``, ``"ovr"``, ``None`` for no penalty) are the
vocabulary of :class:`lrcore.config.TrainConfig`, the CLI and the result tables; what a
student reads is always the name given here, the same on every page.

Units, the same everywhere:

* an accuracy is a percentage with two decimals, ``"91.87%"`` (:func:`pct`): on MNIST
  models differ in the second decimal;
* a difference of two percentages is in percentage points, ``"+0.35 percentage points"``
  (:func:`pct_points`), never a relative percent;
* ``C`` as ``"0.01"`` / ``"1e-05"`` (:func:`fmt_C`), a log-loss with four decimals
  (:func:`fmt_loss`).

Colours mean the same in every picture of weights or of changes to them (see
:mod:`lrcore.figures.style`): :data:`COLOR_MEANING`.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = [
    "PENALTY", "PREPROCESS", "CLASSES_MODE", "C_GRID_TRAIN", "C_GRID_SWEEP", "COLOR_MEANING",
    "penalty_label", "preprocess_label", "classes_label", "pct", "pct_points", "fmt_C",
    "fmt_loss", "config_label", "model_label", "DEFAULT_MODEL_NAME",
]

# Penalties by TrainConfig's code ("none" is also how a missing penalty is spelled in URLs).
PENALTY = {"l2": "L2", "l1": "L1", "elasticnet": "elastic-net", "none": "no penalty"}
# Preprocessing modes: one name each, on widgets, captions, charts and experiment notes.
PREPROCESS = {
    "unit": "pixels / 255",
    "standardize": "standardized per pixel",
    "deskew": "deskewed, / 255",
    "raw": "raw pixels 0-255",
}
# How K classes are scored (TrainConfig.multi_class).
CLASSES_MODE = {"multinomial": "softmax", "ovr": "one-vs-rest"}

# The Train page's C slider: 1-2-5 steps per decade, a log scale whose every stop is a
# number people can say, wide enough for every model worth training.
C_GRID_TRAIN = tuple(float(f"{m}e{e}") for e in range(-4, 4) for m in (1, 2, 5)) + (1e4,)
# The ends of a sweep over C (Experiments: regularization path, cross-validation): 1-3
# steps per decade, one decade further down (1e-5) where L1 zeroes every weight.
C_GRID_SWEEP = tuple(round(m * 10.0 ** e, 10) for e in range(-5, 4) for m in (1, 3))[:-1]

# Red and blue, for the weights and for everything drawn on their scale.
COLOR_MEANING = {
    "weights": "red: evidence for the class (a positive weight), blue: against it",
    "evidence": "red: this pixel votes for the class, blue: against it",
    "update": "red: this step raises the weight, blue: it lowers it",
}

DEFAULT_MODEL_NAME = "default model"


def penalty_label(penalty: str | None) -> str:
    """ "L2", "L1", "elastic-net" or "no penalty" (``None`` and ``"none"`` alike)."""
    code = "none" if penalty is None else str(penalty).lower()
    return PENALTY.get(code, str(penalty))


def preprocess_label(mode: str) -> str:
    """The one name of a preprocessing mode, e.g. ``"standardized per pixel"``."""
    return PREPROCESS.get(str(mode), str(mode))


def classes_label(multi_class: str) -> str:
    """ "softmax" or "one-vs-rest"."""
    return CLASSES_MODE.get(str(multi_class), str(multi_class))


def pct(fraction: float | None, decimals: int = 2) -> str:
    """An accuracy (a fraction in [0, 1]) as a percentage: ``pct(0.91873) == "91.87%"``."""
    if fraction is None or not math.isfinite(float(fraction)):
        return "n/a"
    return f"{100.0 * float(fraction):.{decimals}f}%"


def pct_points(difference: float, decimals: int = 2, *, signed: bool = True) -> str:
    """A difference of two fractions in percentage points:
    ``pct_points(0.9235 - 0.92) == "+0.35 percentage points"`` (``signed=False`` for a gap
    or a distance: ``"0.35 percentage points"``)."""
    sign = "+" if signed else ""
    return f"{100.0 * float(difference):{sign}.{decimals}f} percentage points"


def fmt_C(C: float, digits: int = 6) -> str:
    """``C`` as people write it: ``0.01``, ``1``, ``1e-05``, ``10000``; ``digits``
    significant digits at most (6 tells every stored C apart; a sweep's need 3)."""
    return f"{float(C):.{digits}g}"


def fmt_loss(loss: float) -> str:
    """A log-loss with four decimals (tiny ones in scientific notation)."""
    loss = float(loss)
    return f"{loss:.4f}" if loss == 0 or abs(loss) >= 0.01 else f"{loss:.2e}"


def config_label(cfg: Any) -> str:
    """Short label of training settings, e.g. ``"L1, C=0.01, 5,000 digits"`` (no C
    without a penalty: it is unused)."""
    C = "" if cfg.penalty is None else f", C={fmt_C(cfg.C)}"
    return f"{penalty_label(cfg.penalty)}{C}, {cfg.train_size:,} digits"


def model_label(name: str, cfg: Any) -> str:
    """A model's label everywhere: its name and its settings, e.g.
    ``"run 2: L1, C=0.01, 5,000 digits"`` or ``"default model: L2, C=0.01, 10,000 digits"``."""
    return f"{name}: {config_label(cfg)}"
