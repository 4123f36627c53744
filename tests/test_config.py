"""TrainConfig: validation messages, normalization, dict round trip."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lrcore.config import TrainConfig


def test_defaults_and_round_trip_through_strings():
    cfg = TrainConfig(penalty="l1", C=0.01, train_size=5000, preprocess="standardize")
    as_strings = {k: str(v) for k, v in cfg.to_dict().items()}
    assert TrainConfig.from_dict(as_strings) == cfg


def test_no_penalty_means_infinite_C_and_serializes():
    cfg = TrainConfig(penalty="none", C=5)
    assert cfg.penalty is None and math.isinf(cfg.C)
    assert cfg.to_dict()["penalty"] == "none" and cfg.to_dict()["C"] == "inf"
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("kw,match", [
    (dict(C=0), "C must be greater than 0"),
    (dict(C=-1), "C must be greater than 0"),
    (dict(C="abc"), "C must be a number"),
    (dict(C=""), "C must be a number"),
    (dict(C=float("nan")), "C must be a number; got NaN"),
    (dict(C=1e12), "C must be between"),
    (dict(l1_ratio=2), "l1_ratio must be between 0 and 1"),
    (dict(penalty="l3"), "penalty must be one of"),
    (dict(train_size=50), "train_size must be at least 100"),
    (dict(train_size=1.5), "train_size must be a whole number"),
    (dict(test_size=0), "test_size must be at least 1"),
    (dict(tol=0), "tol must be greater than 0"),
    (dict(max_iter=0), "max_iter must be between"),
    (dict(preprocess="zscore"), "preprocess must be one of"),
    (dict(multi_class="softmax"), "multi_class must be"),
    (dict(shuffle="maybe"), "shuffle must be true or false"),
    (dict(penalty="l1", solver="lbfgs"), "supports only the l2 penalty"),
])
def test_bad_values_say_what_is_allowed(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_sizes_checked_against_the_data():
    cfg = TrainConfig(train_size=70000)
    with pytest.raises(ValueError, match="at most 60000"):
        cfg.check_sizes(60000, 10000)
    TrainConfig(train_size=60000).check_sizes(60000, 10000)


def test_model_params_only_pass_l1_ratio_for_elasticnet():
    assert TrainConfig(penalty="l2").model_params()["l1_ratio"] is None
    assert TrainConfig(penalty="elasticnet", l1_ratio=0.3).model_params()["l1_ratio"] == 0.3


# ----------------------------------------------------------------------------- C range
@pytest.mark.parametrize("C", [math.inf, "inf", "1e400", 1e9])
def test_C_must_be_finite_with_a_penalty(C):
    with pytest.raises(ValueError, match="C must be between 1e-06 and 1e\\+08"):
        TrainConfig(penalty="l2", C=C)
    assert math.isinf(TrainConfig(penalty="none", C=C).C)  # unused without a penalty


# ----------------------------------------------------------------------------- field errors
def test_field_errors_one_message_per_field():
    errs = TrainConfig.field_errors({"penalty": "l2", "C": "abc", "train_size": 70000,
                                     "test_size": 0, "tol": 1e-4}, 60000, 10000)
    assert set(errs) == {"C", "train_size", "test_size"}
    assert "C must be a number" in errs["C"]
    assert "at most 60000" in errs["train_size"]
    assert TrainConfig.field_errors({"penalty": "none", "C": "abc"}) == {}  # C unused
    assert TrainConfig.field_errors({"penalty": "l1", "solver": "lbfgs"}) == {
        "": "solver 'lbfgs' supports only the l2 penalty or none; got penalty 'l1': use "
            "solver 'auto', 'owlqn' or 'fista'"}
    assert TrainConfig.field_errors({"bogus": 1}) == {"bogus": "unknown setting 'bogus'"}


# ----------------------------------------------------------------------------- links
DEFAULTS = TrainConfig(penalty="l2", C=0.01, train_size=10000, test_size=10000, max_iter=300)


def test_link_round_trip():
    cfg = TrainConfig(penalty="elasticnet", C=0.05, l1_ratio=0.3, preprocess="deskew",
                      train_size=5000, test_size=2000, shuffle=True, seed=7, tol=1e-5,
                      max_iter=50)
    q = cfg.to_query()
    assert all(isinstance(v, str) for v in q.values())
    assert TrainConfig.from_query(q, DEFAULTS, 60000, 10000) == (cfg, [])
    assert "C" not in TrainConfig(penalty="none").to_query()
    assert "l1_ratio" not in TrainConfig(penalty="l2").to_query()


def test_each_link_parameter_stands_on_its_own():
    cfg, notes = TrainConfig.from_query(
        {"penalty": "l1", "C": "0.01", "preprocess": "standardize", "train_size": "99999999"},
        DEFAULTS, 60000, 10000)
    assert (cfg.penalty, cfg.C, cfg.preprocess, cfg.train_size) == ("l1", 0.01, "standardize",
                                                                     60000)
    assert notes == ["training digits: the link asks for 99,999,999, this data has 60,000, "
                     "so 60,000 are used"]


def test_a_full_mnist_link_on_smaller_data_keeps_its_settings():
    full = TrainConfig(penalty="l1", C=0.05, train_size=60000, test_size=10000)
    cfg, notes = TrainConfig.from_query(full.to_query(), DEFAULTS.__class__(
        train_size=4000, test_size=1000), 4000, 1000)
    assert (cfg.penalty, cfg.C, cfg.train_size, cfg.test_size) == ("l1", 0.05, 4000, 1000)
    assert len(notes) == 2 and all("this data has" in n for n in notes)


def test_bad_link_values_are_named_briefly_and_dropped():
    hostile = "<script>" + "x" * 30
    cfg, notes = TrainConfig.from_query(
        {"C": "inf", "max_iter": "0", "seed": hostile, "tol": "y" * 500, "penalty": "l1",
         "page": "draw"}, DEFAULTS, 60000, 10000)
    assert cfg == TrainConfig(**{**DEFAULTS.__dict__, "penalty": "l1"})
    (note,) = notes
    assert note.startswith("Ignored in this link: ")
    for part in ("C='inf'", "max_iter='0'", "tol (too long)"):
        assert part in note
    assert hostile not in note and "y" * 50 not in note and len(note) < 200


def test_a_repeated_parameter_counts_once():
    cfg, notes = TrainConfig.from_query({"C": ["5", "0.5"]}, DEFAULTS, 60000, 10000)
    assert cfg.C == 0.5 and notes == []


# ----------------------------------------------------------------------------- one field
@pytest.mark.parametrize("kw", [
    dict(C=0), dict(C="abc"), dict(C=1e12), dict(l1_ratio=2), dict(penalty="l3"),
    dict(train_size=50), dict(train_size=1.5), dict(test_size=0), dict(tol=0),
    dict(max_iter=0), dict(max_iter=100_001), dict(preprocess="zscore"),
    dict(multi_class="softmax"), dict(shuffle="maybe"), dict(seed=-1), dict(solver="sgd"),
])
def test_check_field_gives_the_constructors_message(kw):
    ((name, value),) = kw.items()
    with pytest.raises(ValueError) as whole:
        TrainConfig(**kw)
    with pytest.raises(ValueError) as one:
        TrainConfig.check_field(name, value)
    assert str(one.value) == str(whole.value)


def test_check_field_normalizes_and_checks_sizes_against_the_data():
    assert TrainConfig.check_field("C", "0.5") == 0.5
    assert math.isinf(TrainConfig.check_field("C", 5, penalty="none"))  # unused: infinite
    with pytest.raises(ValueError, match="C must be between"):
        TrainConfig.check_field("C", 1e9, penalty="l1")
    assert TrainConfig.check_field("train_size", "5000", n_train=60000) == 5000
    assert TrainConfig.check_field("shuffle", "yes") is True
    with pytest.raises(ValueError, match="^train_size must be at most 60000 for this data; "
                                         "got 70000$"):
        TrainConfig.check_field("train_size", 70000, n_train=60000)
    with pytest.raises(ValueError, match="^test_size must be at most 10000 for this data; "
                                         "got 10001$"):
        TrainConfig.check_field("test_size", 10001, n_test=10000)
    with pytest.raises(ValueError, match="^train_size must be at least 100 but this data has "
                                         "only 40 digits$"):
        TrainConfig.check_field("train_size", 100, n_train=40)
    assert TrainConfig.check_field("solver", "lbfgs") == "lbfgs"  # the pair rule is separate
    with pytest.raises(KeyError):
        TrainConfig.check_field("bogus", 1)


def test_converters_exact_ints_for_array_apis():
    from lrcore.config import integer, number

    assert integer("n", "1e3") == 1000 and integer("n", 7.0) == 7
    for bad in ("abc", "1.5", "inf", "nan", True):
        with pytest.raises(ValueError, match="^n must be a whole number; got "):
            integer("n", bad)
    assert integer("n", np.int64(5), exact=True) == 5
    for bad in (5.0, "5", True):
        with pytest.raises(ValueError, match="^n must be a whole number; got "):
            integer("n", bad, exact=True)
    assert number("x", " 0.25 ") == 0.25
    with pytest.raises(ValueError, match="^x must be a number; got NaN$"):
        number("x", "nan")
