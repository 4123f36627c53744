"""lrcore.train_form: the Train page's settings and runs as plain data (no page imported)."""
from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import pytest

from lrcore.config import TrainConfig
from lrcore.train import train
from lrcore.train_form import (
    C_GRID,
    SPEEDS,
    advice,
    continue_config,
    latest_test,
    read_model_file,
    runs_table,
    share_url,
    snap_C,
    speed_control,
    speed_of,
    validate,
)


def test_validate_reports_every_bad_field():
    values = {"penalty": "l2", "C": "x", "l1_ratio": 0.5, "multi_class": "multinomial",
              "preprocess": "unit", "train_size": 50, "test_size": 100, "shuffle": False,
              "seed": 0, "tol": 1e-4, "max_iter": 0}
    cfg, errs = validate(values, 60000, 10000)
    assert cfg is None and set(errs) == {"C", "train_size", "max_iter"}


@pytest.mark.parametrize("raw, words", [
    (b"", "empty"), (b"hello", "not a zip"), (b"PK\x03\x04broken", "corrupt"),
])
def test_read_model_file_rejects_bad_files_clearly(raw, words):
    with pytest.raises(ValueError, match=words):
        read_model_file(raw)


def test_the_link_carries_the_settings_and_comes_back_the_same():
    cfg = TrainConfig(penalty="l1", C=0.05, train_size=3000)
    link = share_url("http://class.example:8501/train?old=1#x", cfg)
    assert link.startswith("http://class.example:8501/train?penalty=l1&C=0.05&")
    back = {k: v for k, v in parse_qs(urlsplit(link).query).items()}
    assert TrainConfig.from_query(back, TrainConfig(), 60000, 10000) == (cfg, [])


def test_validate_builds_the_config_and_no_penalty_means_C_inf():
    values = {"penalty": "none", "C": "0.5", "l1_ratio": 0.5, "multi_class": "multinomial",
              "preprocess": "unit", "train_size": 1000, "test_size": 100, "shuffle": False,
              "seed": 0, "tol": 1e-4, "max_iter": 10}
    cfg, errs = validate(values, 60000, 10000)
    assert errs == {} and cfg.penalty is None and math.isinf(cfg.C)
    assert set(advice(values)) == {"penalty"}
    assert set(advice({**values, "penalty": "l2", "preprocess": "raw"})) == {"preprocess"}


@pytest.mark.parametrize("C, stop", [(0.03, 0.02), (0.04, 0.05), (1e-9, C_GRID[0]),
                                     (1e9, C_GRID[-1]), (0.01, 0.01)])
def test_the_C_slider_snaps_to_its_nearest_stop_on_a_log_scale(C, stop):
    assert snap_C(C) == stop


def test_each_speed_asks_the_engine_for_its_control_and_back():
    assert speed_control("full") is None and speed_control(None) is None
    assert speed_control("step") == {"paused": True}
    assert speed_control("slow") == {"delay": 0.5}
    for name in SPEEDS:
        control = speed_control(name) or {"paused": False, "delay": 0.0}
        assert speed_of(control) == name
    assert speed_of({"paused": False, "delay": 0.4}) == "slow"


def test_continue_config_makes_room_after_the_iterations_done(mnist):
    model = train(TrainConfig(train_size=500, test_size=200, max_iter=7), mnist)
    cfg = continue_config(model, 50)
    assert cfg.max_iter == 57 and cfg.C == model.config.C
    assert {k: v for k, v in cfg.to_dict().items() if k != "max_iter"} == \
        {k: v for k, v in model.config.to_dict().items() if k != "max_iter"}
    table = runs_table({"run 1": model}, "run 1", {})
    assert table[0]["current"] == "✓" and table[0]["iterations"] == 7
    assert table[0]["origin"] == "trained here" and table[0]["status"] == "hit max_iter"


def test_latest_test_skips_iterations_not_evaluated():
    history = [{"iteration": 1, "test_accuracy": 0.5}, {"iteration": 2, "test_accuracy": None},
               {"iteration": 3, "test_accuracy": 0.7}, {"iteration": 4, "test_accuracy": None}]
    assert latest_test(history) == (3, 0.7)
    assert latest_test([]) is None
