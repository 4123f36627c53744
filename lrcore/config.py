"""One frozen, validated description of a training run.

Every entry point (the Train page, URL query parameters, the CLI, experiments, model files)
builds a :class:`TrainConfig`, so the rules for what is allowed live in one place and the
error messages read the same everywhere. Besides the constructor:

- :meth:`TrainConfig.field_errors` checks a form's values field by field (a message per
  control, not only the first failure), with the sizes checked against the data at hand;
- :meth:`TrainConfig.from_query` / :meth:`TrainConfig.to_query` are the shareable-link codec:
  each query parameter stands on its own (a bad one is dropped and named, the others kept,
  sizes beyond the data clamped with a note).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

PENALTIES = ("l2", "l1", "elasticnet", None)
MULTI_CLASS = ("multinomial", "ovr")
PREPROCESS_MODES = ("unit", "standardize", "deskew", "raw")
SOLVERS = ("auto", "lbfgs", "owlqn", "fista")

MIN_TRAIN_SIZE = 100
C_MIN, C_MAX = 1e-6, 1e8
# The settings a shareable link carries (fit_intercept and solver stay as they are).
QUERY_FIELDS = ("penalty", "C", "l1_ratio", "multi_class", "preprocess", "train_size",
                "test_size", "shuffle", "seed", "tol", "max_iter")
# A longer query value is not a setting anyone typed: it is dropped unread.
MAX_QUERY_VALUE = 40


def _short(value: Any, n: int = 12) -> str:
    """A value for a message, cut so that a hostile link is not echoed in full."""
    text = str(value)
    return repr(text if len(text) <= n else text[:n] + "…")


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
    # + penalty. Ignored (treated as infinite) when penalty is None. The app's default is
    # 0.01, not scikit-learn's 1 (SoftmaxRegression keeps 1): at 0.01 the weight images
    # read as digit templates (at 1 they look like noise) at the same test accuracy (0.903
    # vs 0.905 on 10,000 digits), in half the iterations. Every entry point (Train page,
    # default model, CLI, links) starts from these field defaults: one set, everywhere.
    C: float = 0.01
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
        # Infinite C with a penalty is no penalty at all: say so rather than train an
        # unpenalized model labelled "L2, C=inf".
        if self.penalty is not None and not (C_MIN <= C <= C_MAX):
            raise ValueError(f"C must be between {C_MIN:g} and {C_MAX:g} (for no penalty "
                             f"choose penalty none); got {C:g}")
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

    @classmethod
    def field_errors(cls, values: Mapping[str, Any], n_train: int | None = None,
                     n_test: int | None = None) -> dict[str, str]:
        """Field -> message for every field of ``values`` that is invalid on its own, and
        ``""`` -> message for a rule between fields (e.g. solver and penalty).

        ``values`` holds constructor arguments (strings are fine). ``C`` is checked for the
        penalty given (it is not used without one); sizes also against ``n_train`` /
        ``n_test`` when given. An empty dict means ``cls(**values)`` succeeds.
        """
        errors: dict[str, str] = {}
        values = dict(values)
        try:
            no_penalty = "penalty" in values and parse_penalty(values["penalty"]) is None
        except ValueError:
            no_penalty = False
        if no_penalty:
            values["C"] = math.inf  # unused: whatever is typed in its box does not matter
        for name, value in values.items():
            probe = {name: value}
            if name == "C":
                probe["penalty"] = None if no_penalty else "l2"
            try:
                cfg = cls(**probe)
                if name == "train_size" and n_train is not None:
                    cfg.check_sizes(n_train, cfg.test_size if n_test is None else n_test)
                if name == "test_size" and n_test is not None:
                    cfg.check_sizes(max(cfg.train_size, MIN_TRAIN_SIZE)
                                    if n_train is None else max(n_train, cfg.train_size),
                                    n_test)
            except TypeError:
                errors[name] = f"unknown setting {name!r}"
            except ValueError as e:
                errors[name] = str(e)
        if not errors:
            try:
                cls(**values)
            except ValueError as e:
                errors[""] = str(e)
        return errors

    @classmethod
    def from_query(cls, params: Mapping[str, Any], defaults: "TrainConfig",
                   n_train: int, n_test: int) -> tuple["TrainConfig", list[str]]:
        """Settings from a link's query parameters over ``defaults``, and notes for the user.

        Each parameter stands on its own: a valid one is kept; a training or test size
        beyond the data is clamped to what the data has (with a note); an unknown name or
        an invalid or oversized value is dropped and named in one short note, its value cut
        to a few characters (a link is not echoed in full). A parameter given several times
        (a list of values) counts once: the last value. Parameters that are not settings
        (``page``...) are ignored.
        """
        names = [f for f in QUERY_FIELDS]
        given: dict[str, Any] = {}
        for k in names:
            if k in params:
                v = params[k]
                if isinstance(v, (list, tuple)):
                    if not v:
                        continue
                    v = v[-1]
                given[k] = v
        if not given:
            return defaults, []
        notes: list[str] = []
        dropped: list[str] = []
        out = defaults.to_dict()
        # Penalty first: whether C is valid depends on it.
        order = sorted(given, key=lambda k: k != "penalty")
        for k in order:
            v = given[k]
            if isinstance(v, str) and len(v) > MAX_QUERY_VALUE:
                dropped.append(f"{k} (too long)")
                continue
            trial = {**out, k: v}
            try:
                cfg = cls.from_dict(trial)
            except ValueError:
                dropped.append(f"{k}={_short(v)}")
                continue
            if k in ("train_size", "test_size"):
                have = n_train if k == "train_size" else n_test
                if getattr(cfg, k) > have:
                    trial[k] = have
                    notes.append(f"{'training' if k == 'train_size' else 'test'} digits: "
                                 f"the link asks for {getattr(cfg, k):,}, this data has "
                                 f"{have:,}, so {have:,} are used")
            out = trial
        # Sizes the link did not set come from the defaults: those fit the data too.
        out["train_size"] = min(int(out["train_size"]), n_train)
        out["test_size"] = min(int(out["test_size"]), n_test)
        try:
            cfg = cls.from_dict(out)
        except ValueError as e:  # a rule between fields: fall back to the defaults for it
            dropped.append(str(e))
            cfg = defaults
        if dropped:
            notes.insert(0, "Ignored in this link: " + "; ".join(dropped)
                         + " (the other settings were applied).")
        return cfg, notes

    def to_query(self) -> dict[str, str]:
        """The settings as query parameters: every field of :data:`QUERY_FIELDS`, but C
        only with a penalty and l1_ratio only for elastic-net (a link shows what matters).
        ``from_query(cfg.to_query(), ...)`` gives ``cfg`` back."""
        d = self.to_dict()
        out = {}
        for k in QUERY_FIELDS:
            v = d[k]
            out[k] = ("true" if v else "false") if isinstance(v, bool) else (
                f"{v:.12g}" if isinstance(v, float) else str(v))
        if self.penalty is None:
            del out["C"]
        if self.penalty != "elasticnet":
            del out["l1_ratio"]
        return out

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


# ----------------------------------------------------------------------------- other settings
# The rules above, for settings that are not fields of a TrainConfig (an experiment's grid
# of C, its number of folds, the digit a detector looks for).


def whole_number(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int in [low, high], else ``ValueError`` ("... must be a whole
    number" / "... must be between low and high")."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    out = _integer(name, value)
    if not low <= out <= high:
        raise ValueError(f"{name} must be between {low} and {high}; got {out}")
    return out


def C_value(name: str, value: Any) -> float:
    """``value`` as a C of a penalty, a number in [C_MIN, C_MAX], else ``ValueError``."""
    out = _number(name, value)
    if not C_MIN <= out <= C_MAX:
        raise ValueError(f"{name} must be between {C_MIN:g} and {C_MAX:g}; got {out:g}")
    return out
