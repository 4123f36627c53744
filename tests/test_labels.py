"""Tests for lrcore.labels: one name per code, one format per unit, used by every page."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from lrcore import labels
from lrcore.config import PREPROCESS_MODES, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_every_code_has_one_name():
    assert set(labels.PREPROCESS) == set(PREPROCESS_MODES)
    assert set(labels.PENALTY) == {"l2", "l1", "elasticnet", "none"}
    assert set(labels.CLASSES_MODE) == {"multinomial", "ovr"}
    for table in (labels.PREPROCESS, labels.PENALTY, labels.CLASSES_MODE):
        assert len(set(table.values())) == len(table)  # no two codes share a name
    assert labels.penalty_label(None) == labels.penalty_label("none") == "no penalty"
    assert labels.penalty_label("L1") == "L1"
    assert labels.preprocess_label("standardize") == "standardized per pixel"
    assert labels.classes_label("ovr") == "one-vs-rest"


@pytest.mark.parametrize("x, text", [(0.91873, "91.87%"), (1.0, "100.00%"), (0.0, "0.00%"),
                                     (None, "n/a"), (math.nan, "n/a")])
def test_accuracy_is_a_percent_with_two_decimals(x, text):
    assert labels.pct(x) == text


def test_differences_are_percentage_points():
    assert labels.pct_points(0.9235 - 0.92) == "+0.35 percentage points"
    assert labels.pct_points(-0.012) == "-1.20 percentage points"
    assert labels.pct_points(0.004, signed=False) == "0.40 percentage points"


def test_C_and_loss_formats():
    assert [labels.fmt_C(c) for c in (0.01, 1.0, 1e-5, 1e4, 0.5994)] == [
        "0.01", "1", "1e-05", "10000", "0.5994"]
    assert labels.fmt_C(0.0031622776, digits=3) == "0.00316"
    assert labels.fmt_loss(0.28731) == "0.2873" and labels.fmt_loss(0.0004) == "4.00e-04"


def test_C_grids_are_increasing_log_scales_of_sayable_numbers():
    for grid in (labels.C_GRID_TRAIN, labels.C_GRID_SWEEP):
        assert list(grid) == sorted(set(grid))
        assert all(re.fullmatch(r"[125]|3", f"{c:e}"[0]) for c in grid)
    assert labels.C_GRID_TRAIN[0] == 1e-4 and labels.C_GRID_TRAIN[-1] == 1e4
    assert labels.C_GRID_SWEEP[0] == 1e-5 and labels.C_GRID_SWEEP[-1] == 1e3
    assert 0.01 in labels.C_GRID_TRAIN and 0.01 in labels.C_GRID_SWEEP


def test_config_and_model_labels():
    cfg = TrainConfig(penalty="l1", C=0.01, train_size=5000)
    assert labels.config_label(cfg) == "L1, C=0.01, 5,000 digits"
    assert labels.config_label(TrainConfig(penalty="none", train_size=300)) == \
        "no penalty, 300 digits"
    assert labels.model_label("run 2", cfg) == "run 2: L1, C=0.01, 5,000 digits"


def test_no_page_keeps_its_own_label_table():
    """The scattered dicts are gone: pages take their names from lrcore.labels."""
    for path in list((ROOT / "pages").glob("*.py")) + list((ROOT / "lrcore").rglob("*.py")):
        if path.name == "labels.py":
            continue
        text = path.read_text()
        for literal in ('"elasticnet": "elastic-net"', '"unit": "pixels / 255"',
                        '"multinomial": "softmax"', "def config_label"):
            assert literal not in text, f"{path.relative_to(ROOT)} defines {literal}"


def test_one_colour_meaning_for_weights_evidence_and_updates():
    assert set(labels.COLOR_MEANING) == {"weights", "evidence", "update"}
    for text in labels.COLOR_MEANING.values():
        assert text.startswith("red: ") and ", blue: " in text  # red always the positive side
