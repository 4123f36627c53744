"""One frozen, validated description of a training run.

Every entry point (the Train page, URL query parameters, the CLI, experiments, model files)
builds a :class:`TrainConfig`, so the rules for what is allowed live in one place and the
error messages read the same everywhere. Each setting has one checker here
(:func:`check_C`, :func:`check_train_size`, ... and the converters :func:`number`,
:func:`integer`, :func:`boolean`): ``TrainConfig.__post_init__`` validates with them, and
so do :class:`lrcore.model.SoftmaxRegression`, :func:`lrcore.data.select_subset` and the
CLI. Besides the constructor:

- :meth:`TrainConfig.check_field` checks one setting (with the data's sizes if given);
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

import numpy as np

MULTI_CLASS = ("multinomial", "ovr")
PREPROCESS_MODES = ("unit", "standardize", "deskew", "raw")
SOLVERS = ("auto", "lbfgs", "owlqn", "fista")

MIN_TRAIN_SIZE = 100
MAX_ITER = 100_000
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


# ------------------------------------------------------------------------- the rules
# One checker per setting: it converts the value (text from a form, a link or the command
# line is fine) and raises ValueError saying what is wrong and what is allowed. TrainConfig
# validates with these in __post_init__; SoftmaxRegression, select_subset and the CLI call
# the same ones, so a range or a message is changed here, once.


def number(name: str, value: Any) -> float:
    """``value`` as a float (numbers or numeric text; not bool, not NaN)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number; got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if math.isnan(out):
        raise ValueError(f"{name} must be a number; got NaN")
    return out


def integer(name: str, value: Any, *, exact: bool = False) -> int:
    """``value`` as an int: a whole number, or numeric text of one. ``exact=True`` (array
    APIs such as :func:`lrcore.data.select_subset`) takes only ints, not 100.0 or "100"."""
    if exact:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be a whole number; got {value!r}")
        return int(value)
    try:
        out = number(name, value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number; got {value!r}") from None
    if math.isinf(out) or out != int(out):
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    return int(out)


def boolean(name: str, value: Any) -> bool:
    """``value`` as a bool (True/False or "1", "true", "yes", "on" / "0", "false", ...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false; got {value!r}")


check_penalty = parse_penalty


def check_C(value: Any, penalty: str | None) -> float:
    """C for ``penalty`` (parsed with :func:`parse_penalty`): a number in [C_MIN, C_MAX];
    any number without a penalty, where C is unused and becomes infinite."""
    C = number("C", value)
    if penalty is None:
        return math.inf
    if not C > 0:
        raise ValueError(f"C must be greater than 0; got {value!r}")
    # Infinite C with a penalty is no penalty at all: say so rather than train an
    # unpenalized model labelled "L2, C=inf".
    if not C_MIN <= C <= C_MAX:
        raise ValueError(f"C must be between {C_MIN:g} and {C_MAX:g} (for no penalty "
                         f"choose penalty none); got {C:g}")
    return C


def check_l1_ratio(value: Any) -> float:
    out = number("l1_ratio", value)
    if not 0.0 <= out <= 1.0:
        raise ValueError(f"l1_ratio must be between 0 and 1; got {out:g}")
    return out


def check_multi_class(value: Any) -> str:
    if value not in MULTI_CLASS:
        raise ValueError(f"multi_class must be 'multinomial' or 'ovr'; got {value!r}")
    return value


def check_preprocess(value: Any) -> str:
    if value not in PREPROCESS_MODES:
        raise ValueError(
            f"preprocess must be one of {', '.join(PREPROCESS_MODES)}; got {value!r}"
        )
    return value


def _count(name: str, value: Any, low: int, available: int | None, exact: bool) -> int:
    n = integer(name, value, exact=exact)
    if available is not None and available < low:
        raise ValueError(f"{name} must be at least {low} but this data has only "
                         f"{available} digits")
    if n < low:
        raise ValueError(f"{name} must be at least {low}; got {n}")
    if available is not None and n > available:
        raise ValueError(f"{name} must be at most {available} for this data; got {n}")
    return n


def check_train_size(value: Any, n_available: int | None = None, *,
                     exact: bool = False) -> int:
    """Training digits: at least :data:`MIN_TRAIN_SIZE`, at most ``n_available`` if given."""
    return _count("train_size", value, MIN_TRAIN_SIZE, n_available, exact)


def check_test_size(value: Any, n_available: int | None = None, *,
                    exact: bool = False) -> int:
    """Test digits: at least 1, at most ``n_available`` if given."""
    return _count("test_size", value, 1, n_available, exact)


def check_seed(value: Any, *, exact: bool = False) -> int:
    seed = integer("seed", value, exact=exact)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1; got {seed}")
    return seed


def check_tol(value: Any) -> float:
    tol = number("tol", value)
    if not 0 < tol <= 1:
        raise ValueError(f"tol must be greater than 0 and at most 1; got {tol:g}")
    return tol


def check_max_iter(value: Any, *, exact: bool = False) -> int:
    max_iter = integer("max_iter", value, exact=exact)
    if not 1 <= max_iter <= MAX_ITER:
        raise ValueError(f"max_iter must be between 1 and {MAX_ITER}; got {max_iter}")
    return max_iter


def check_solver(value: Any, penalty: str | None = "l2") -> str:
    """A solver name, and one that can minimize ``penalty`` (L-BFGS is for smooth ones)."""
    if value not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {value!r}")
    if value == "lbfgs" and penalty in ("l1", "elasticnet"):
        raise ValueError(
            f"solver 'lbfgs' supports only the l2 penalty or none; got penalty "
            f"{penalty!r}: use solver 'auto', 'owlqn' or 'fista'"
        )
    return value


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
        penalty = check_penalty(self.penalty)
        set_(self, "penalty", penalty)
        for name, value in (("C", check_C(self.C, penalty)),
                            ("l1_ratio", check_l1_ratio(self.l1_ratio)),
                            ("multi_class", check_multi_class(self.multi_class)),
                            ("preprocess", check_preprocess(self.preprocess)),
                            ("train_size", check_train_size(self.train_size)),
                            ("test_size", check_test_size(self.test_size)),
                            ("shuffle", boolean("shuffle", self.shuffle)),
                            ("fit_intercept", boolean("fit_intercept", self.fit_intercept)),
                            ("seed", check_seed(self.seed)),
                            ("tol", check_tol(self.tol)),
                            ("max_iter", check_max_iter(self.max_iter))):
            set_(self, name, value)
        check_solver(self.solver, penalty)  # with the rule between two fields: checked last

    @classmethod
    def check_field(cls, name: str, value: Any, *, penalty: Any = "l2",
                    n_train: int | None = None, n_test: int | None = None) -> Any:
        """The normalized value of one setting, or ``ValueError`` with the message the
        constructor gives. ``C`` is checked for ``penalty``; ``train_size`` / ``test_size``
        also against the data at hand when ``n_train`` / ``n_test`` are given (what a
        form needs instead of building a whole config). Unknown ``name``: ``KeyError``."""
        if name == "C":
            return check_C(value, check_penalty(penalty))
        if name == "train_size":
            return check_train_size(value, n_train)
        if name == "test_size":
            return check_test_size(value, n_test)
        if name == "solver":
            return check_solver(value, None)
        if name in ("shuffle", "fit_intercept"):
            return boolean(name, value)
        return _FIELD_CHECKS[name](value)

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
            penalty = check_penalty(values.get("penalty", cls.penalty))
        except ValueError:
            penalty = "l2"  # reported under "penalty"; check C as for a penalty
        if "penalty" in values and penalty is None:
            values["C"] = math.inf  # unused: whatever is typed in its box does not matter
        for name, value in values.items():
            try:
                cls.check_field(name, value, penalty=penalty, n_train=n_train, n_test=n_test)
            except KeyError:
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
        check_train_size(self.train_size, n_train_available)
        check_test_size(self.test_size, n_test_available)

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


# Checkers of the settings that need no context (see TrainConfig.check_field).
_FIELD_CHECKS = {
    "penalty": check_penalty, "l1_ratio": check_l1_ratio, "multi_class": check_multi_class,
    "preprocess": check_preprocess, "seed": check_seed, "tol": check_tol,
    "max_iter": check_max_iter,
}


# ----------------------------------------------------------------------------- other settings
# The rules above, for settings that are not fields of a TrainConfig (an experiment's grid
# of C, its number of folds, the digit a detector looks for).


def whole_number(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int in [low, high], else ``ValueError`` ("... must be a whole
    number" / "... must be between low and high")."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    out = integer(name, value)
    if not low <= out <= high:
        raise ValueError(f"{name} must be between {low} and {high}; got {out}")
    return out


def C_value(name: str, value: Any) -> float:
    """``value`` as a C of a penalty, a number in [C_MIN, C_MAX], else ``ValueError``."""
    out = number(name, value)
    if not C_MIN <= out <= C_MAX:
        raise ValueError(f"{name} must be between {C_MIN:g} and {C_MAX:g}; got {out:g}")
    return out
