"""The Train page's settings and runs as plain data: what the page does that needs no
Streamlit, so it can be tested (and reused) without importing a page.

* settings: the page's defaults, the C slider's stops, per-field validation through
  :meth:`TrainConfig.field_errors` (one message per control), advice on settings that work
  but deserve a word, and the link that carries them (:meth:`TrainConfig.to_query`);
* the Playground's speeds and the engine control each one asks for;
* continuing a run (its settings with room for more iterations);
* the session's runs: reading an uploaded model file (never trusted: it is rescored by the
  caller), and the runs table.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from lrcore import labels
from lrcore.config import TrainConfig
from lrcore.data import MnistData
from lrcore.train import TrainedModel

__all__ = [
    "C_GRID", "MULTI_CLASS_LABELS", "PENALTY_LABELS", "PREPROCESS_LABELS", "SPEEDS",
    "STATUS_LABELS", "TOL_GRID", "advice", "continue_config", "fmt_number", "latest_test",
    "page_defaults", "read_model_file", "runs_table", "share_url", "snap_C", "speed_control",
    "speed_of", "validate",
]

# The names are lrcore.labels' (one table for the whole app).
PENALTY_LABELS = labels.PENALTY
MULTI_CLASS_LABELS = labels.CLASSES_MODE
PREPROCESS_LABELS = labels.PREPROCESS
STATUS_LABELS = {"converged": "converged", "max_iter": "hit max_iter",
                 "stalled": "stalled", "stopped": "stopped by the user"}
C_GRID = labels.C_GRID_TRAIN
TOL_GRID = tuple(float(f"1e{e}") for e in range(-8, 0))
# Playground-style speed: seconds per iteration at least (None = pause after each one).
SPEEDS = {"step": ("Step by step", None), "slow": ("2 per second", 0.5),
          "medium": ("10 per second", 0.1), "full": ("Full speed", 0.0)}


# ----------------------------------------------------------------------------- settings
def page_defaults(data: MnistData) -> TrainConfig:
    """What the page starts with: the app's defaults (TrainConfig's), on 10,000 digits so
    that a first training takes seconds."""
    return TrainConfig(train_size=min(10_000, data.n_train), test_size=min(10_000, data.n_test))


def fmt_number(x: float) -> str:
    return f"{x:.12g}"


def snap_C(C: float) -> float:
    """The stop of the C slider nearest to ``C`` on the log scale."""
    return min(C_GRID, key=lambda g: abs(math.log10(g) - math.log10(C)))


def validate(values: Mapping[str, Any], n_train: int,
             n_test: int) -> tuple[TrainConfig | None, dict[str, str]]:
    """(config or None, field -> message): every control gets its own message."""
    errors = TrainConfig.field_errors(values, n_train, n_test)
    if errors:
        return None, errors
    return TrainConfig(**{**values, "C": math.inf if values["penalty"] == "none"
                          else values["C"]}), {}


def advice(values: Mapping[str, Any]) -> dict[str, str]:
    """Settings that work but deserve a word (field -> warning)."""
    out = {}
    if values["penalty"] == "none":
        out["penalty"] = ("Without a penalty nothing keeps the weights small: on MNIST they "
                          "keep growing, training usually runs to max_iter and the test "
                          "loss may rise while the training loss falls (overfitting).")
    if values["preprocess"] == "raw":
        out["preprocess"] = ("Raw 0-255 pixels make the problem badly scaled: the solver "
                             "needs many more iterations. Pixels / 255 is the usual choice.")
    return out


def share_url(page_url: str, cfg: TrainConfig) -> str:
    """The link that opens the Train page with ``cfg``'s settings (its query string)."""
    base = page_url.split("?", 1)[0].split("#", 1)[0]
    return f"{base}?{urlencode(cfg.to_query())}"


# ----------------------------------------------------------------------------- speed
def speed_control(speed: str | None) -> dict | None:
    """The engine control a training starts with at ``speed`` (None: full speed)."""
    delay = SPEEDS.get(speed or "full", SPEEDS["full"])[1]
    if delay is None:
        return {"paused": True}
    return {"delay": delay} if delay else None


def speed_of(control: Mapping[str, Any]) -> str:
    """The SPEEDS key showing a running training's control."""
    if control.get("paused"):
        return "step"
    delay = float(control.get("delay") or 0.0)
    return min((k for k, (_, d) in SPEEDS.items() if d is not None),
               key=lambda k: abs(SPEEDS[k][1] - delay))


# ----------------------------------------------------------------------------- runs
def continue_config(model: TrainedModel, more: int) -> TrainConfig:
    """The settings of ``model`` with room for ``more`` iterations after its own."""
    done = int(model.summary.get("n_iter") or (model.history[-1]["iteration"]
                                                 if model.history else 0))
    return dataclasses.replace(model.config, max_iter=done + int(more))


def read_model_file(raw: bytes) -> TrainedModel:
    """A model from an uploaded file; ``ValueError`` with a readable message if unusable."""
    try:
        model = TrainedModel.load(raw)
    except ValueError:
        raise
    except Exception as e:  # anything else a hostile or damaged file could provoke
        raise ValueError(f"could not read this model file ({type(e).__name__}: {e})") from None
    n_features = model.coef_.shape[1]
    if n_features != 784:
        raise ValueError(f"this model expects {n_features} inputs per digit, but MNIST "
                         "digits have 784 pixels (28 x 28)")
    return model


def runs_table(items: Mapping[str, TrainedModel], current: str,
               origins: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per run: its settings and metrics."""
    rows = []
    for rid, m in items.items():
        c, s = m.config, m.summary
        rows.append({
            "run": rid,
            "current": "✓" if rid == current else "",
            "status": STATUS_LABELS.get(s.get("status"), s.get("status")),
            "test accuracy": s.get("test_accuracy"),
            "test log-loss": s.get("test_log_loss"),
            "zero weights %": s.get("sparsity"),
            "iterations": s.get("n_iter"),
            "seconds": s.get("fit_seconds"),
            "penalty": PENALTY_LABELS["none" if c.penalty is None else c.penalty],
            "C": None if c.penalty is None else c.C,
            "l1_ratio": c.l1_ratio if c.penalty == "elasticnet" else None,
            "train digits": c.train_size,
            "preprocessing": PREPROCESS_LABELS.get(c.preprocess, c.preprocess),
            "classes": MULTI_CLASS_LABELS.get(c.multi_class, c.multi_class),
            "max_iter": c.max_iter,
            "tol": c.tol,
            "test digits": c.test_size,
            "origin": origins.get(rid, "trained here"),
        })
    return rows


def latest_test(history: Sequence[Mapping[str, Any]]) -> tuple[int, float] | None:
    """(iteration, test accuracy) of the last evaluated iteration (test values are skipped
    on some iterations to keep the live curves cheap), or None."""
    for rec in reversed(history):
        if rec.get("test_accuracy") is not None:
            return rec["iteration"], rec["test_accuracy"]
    return None
