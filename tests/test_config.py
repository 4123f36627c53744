"""TrainConfig: validation messages, normalization, dict round trip."""
from __future__ import annotations

import math

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
