"""One frozen, validated description of a training run.

Every entry point (the Train page, URL query parameters, the CLI, experiments, model files)
builds a :class:`TrainConfig`, so the rules for what is allowed live in one place and the
error messages read the same everywhere.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

PENALTIES = ("l2", "l1", "elasticnet", None)
MULTI_CLASS = ("multinomial", "ovr")
PREPROCESS_MODES = ("unit", "standardize", "deskew", "raw")
SOLVERS = ("auto", "lbfgs", "owlqn", "fista")

MIN_TRAIN_SIZE = 100
C_MIN, C_MAX = 1e-6, 1e8


def parse_penalty(value: Any) -> str | None:
    """Map the spellings users type ("none", "None", "", None, "L1") to a penalty name."""
    if value is None:
        return None
    text = str(value).strip().lower().replace("-", "").replace("_", "")
    if text in ("none", "", "null", "no"):
        return None
    if text in ("elasticnet", "en"):
        return "elasticnet"
    if text in ("l1", "l2"):
        return text
    raise ValueError(
        f"penalty must be one of 'l2', 'l1', 'elasticnet' or none; got {value!r}"
    )


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number; got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if math.isnan(out):
        raise ValueError(f"{name} must be a number; got NaN")
    return out


def _integer(name: str, value: Any) -> int:
    out = _number(name, value)
    if math.isinf(out) or out != int(out):
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    return int(out)


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false; got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run, validated on construction.

    Raises ``ValueError`` with a message saying what is wrong and what is allowed.
    """

    # Penalty on the coefficients: "l2", "l1", "elasticnet" or None (no penalty).
    penalty: str | None = "l2"
    # Inverse regularization strength, as in scikit-learn: objective = C * sum(log-loss)
    # + penalty. Ignored (treated as infinite) when penalty is None.
    C: float = 1.0
    # Elastic-net mixing: 0 = pure L2, 1 = pure L1. Used only when penalty="elasticnet".
    l1_ratio: float = 0.5
    # "multinomial" = one softmax over the classes; "ovr" = one sigmoid per class.
    multi_class: str = "multinomial"
    # Pixel preprocessing, stored with the model (see lrcore.preprocess).
    preprocess: str = "unit"
    # Number of training digits (100 .. all available).
    train_size: int = 60000
    # Number of test digits used for the live test curves and the evaluation.
    test_size: int = 10000
    # False = the canonical first-n rows; True = a seeded random subset.
    shuffle: bool = False
    # Seed of the subset shuffle (the solver itself is deterministic).
    seed: int = 0
    # Stopping tolerance on the largest gradient entry of the mean objective (sklearn's gtol).
    tol: float = 1e-4
    # Iteration budget; training stops there and reports that it did not converge.
    max_iter: int = 300
    # Fit an (unpenalized) intercept per class.
    fit_intercept: bool = True
    # Optimizer: "auto" picks L-BFGS for smooth penalties and OWL-QN for L1/elastic-net.
    solver: str = "auto"

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalize values in place once
        set_(self, "penalty", parse_penalty(self.penalty))
        C = _number("C", self.C)
        if self.penalty is not None and not (C > 0):
            raise ValueError(f"C must be greater than 0; got {self.C!r}")
        if self.penalty is not None and not math.isinf(C) and not (C_MIN <= C <= C_MAX):
            raise ValueError(f"C must be between {C_MIN:g} and {C_MAX:g}; got {C:g}")
        if self.penalty is None:
            C = math.inf
        set_(self, "C", C)
        l1_ratio = _number("l1_ratio", self.l1_ratio)
        if not 0.0 <= l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must be between 0 and 1; got {l1_ratio:g}")
        set_(self, "l1_ratio", l1_ratio)
        if self.multi_class not in MULTI_CLASS:
            raise ValueError(
                f"multi_class must be 'multinomial' or 'ovr'; got {self.multi_class!r}"
            )
        if self.preprocess not in PREPROCESS_MODES:
            raise ValueError(
                f"preprocess must be one of {', '.join(PREPROCESS_MODES)}; got {self.preprocess!r}"
            )
        train_size = _integer("train_size", self.train_size)
        if train_size < MIN_TRAIN_SIZE:
            raise ValueError(
                f"train_size must be at least {MIN_TRAIN_SIZE}; got {train_size}"
            )
        set_(self, "train_size", train_size)
        test_size = _integer("test_size", self.test_size)
        if test_size < 1:
            raise ValueError(f"test_size must be at least 1; got {test_size}")
        set_(self, "test_size", test_size)
        set_(self, "shuffle", _boolean("shuffle", self.shuffle))
        set_(self, "fit_intercept", _boolean("fit_intercept", self.fit_intercept))
        seed = _integer("seed", self.seed)
        if not 0 <= seed < 2**32:
            raise ValueError(f"seed must be between 0 and 2**32 - 1; got {seed}")
        set_(self, "seed", seed)
        tol = _number("tol", self.tol)
        if not 0 < tol <= 1:
            raise ValueError(f"tol must be greater than 0 and at most 1; got {tol:g}")
        set_(self, "tol", tol)
        max_iter = _integer("max_iter", self.max_iter)
        if not 1 <= max_iter <= 100_000:
            raise ValueError(f"max_iter must be between 1 and 100000; got {max_iter}")
        set_(self, "max_iter", max_iter)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {self.solver!r}")
        if self.solver == "lbfgs" and self.penalty in ("l1", "elasticnet"):
            raise ValueError(
                f"solver 'lbfgs' supports only the l2 penalty or none; got penalty "
                f"{self.penalty!r}: use solver 'auto', 'owlqn' or 'fista'"
            )

    def check_sizes(self, n_train_available: int, n_test_available: int) -> None:
        """Raise ``ValueError`` if the requested sizes exceed the data at hand."""
        if self.train_size > n_train_available:
            raise ValueError(
                f"train_size must be at most {n_train_available} for this data; "
                f"got {self.train_size}"
            )
        if self.test_size > n_test_available:
            raise ValueError(
                f"test_size must be at most {n_test_available} for this data; "
                f"got {self.test_size}"
            )

    def model_params(self) -> dict[str, Any]:
        """Keyword arguments for :class:`lrcore.model.SoftmaxRegression`."""
        return dict(
            penalty=self.penalty,
            C=self.C,
            l1_ratio=self.l1_ratio if self.penalty == "elasticnet" else None,
            multi_class=self.multi_class,
            tol=self.tol,
            max_iter=self.max_iter,
            fit_intercept=self.fit_intercept,
            solver=self.solver,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (penalty None -> "none", C inf -> "inf")."""
        out = asdict(self)
        out["penalty"] = "none" if self.penalty is None else self.penalty
        out["C"] = "inf" if math.isinf(self.C) else self.C
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Build from a dict of strings or values (query params, JSON); unknown keys ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
