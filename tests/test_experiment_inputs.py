"""lrcore.experiments.inputs: what a student types into the Experiments page, read without
the page (its messages are the ones the page shows under its controls)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from lrcore.config import C_MAX, C_MIN
from lrcore.experiments.inputs import (C_GRID, check_size, default_sizes, fmt_C, log_grid,
                                       parse_C, parse_sizes)


def test_inputs_do_not_import_streamlit():
    code = "import lrcore.experiments.inputs, sys; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("text, value", [("1", 1.0), (" 0.01 ", 0.01), ("2e3", 2000.0),
                                         (0.5, 0.5), ("1e-6", 1e-6), ("1e8", 1e8)])
def test_parse_C_reads_numbers(text, value):
    assert parse_C(text) == (value, None)


@pytest.mark.parametrize("text, message", [
    ("abc", "C must be a number, e.g. 1 or 0.01; got 'abc'"),
    ("", "C must be a number, e.g. 1 or 0.01; got ''"),
    ("0", "C must be a number greater than 0; got '0'"),
    ("-1", "C must be a number greater than 0; got '-1'"),
    ("inf", "C must be a number greater than 0; got 'inf'"),
    ("nan", "C must be a number greater than 0; got 'nan'"),
    ("1e9", "C must be between 1e-06 and 1e+08; got 1e+09"),
    ("1e-7", "C must be between 1e-06 and 1e+08; got 1e-07"),
])
def test_parse_C_says_what_is_wrong(text, message):
    assert parse_C(text) == (None, message)
    assert parse_C(text, "C of the detector")[1] == message.replace("C", "C of the detector", 1)


@pytest.mark.parametrize("value, n_max, expected", [
    (300, 60000, (300, None)),
    (100.0, 60000, (100, None)),
    (60000, 60000, (60000, None)),
    (50, 60000, (None, "Training digits must be between 100 and 60,000 (the digits this "
                       "data has); got 50")),
    (70000, 60000, (None, "Training digits must be between 100 and 60,000 (the digits "
                          "this data has); got 70,000")),
    (150.5, 60000, (None, "Training digits must be a whole number; got 150.5")),
    ("many", 60000, (None, "Training digits must be a whole number; got 'many'")),
    (None, 60000, (None, "Training digits must be a whole number; got None")),
])
def test_check_size(value, n_max, expected):
    assert check_size(value, n_max) == expected


def test_check_size_names_its_field_and_lower_limit():
    assert check_size(0, 10000, "Test digits", low=1) == (
        None, "Test digits must be between 1 and 10,000 (the digits this data has); got 0")
    assert check_size(1, 10000, "Test digits", low=1) == (1, None)


@pytest.mark.parametrize("text, expected", [
    ("500, 1000, 60000", ([500, 1000, 60000], None)),
    ("2000;500, 500,, 1_000", ([500, 1000, 2000], None)),  # sorted, unique, ; and _ allowed
    ("1e3", ([1000], None)),
    ("50, 200", (None, "Each training-set size must be between 100 and 60,000 (the "
                       "training digits this data has); got 50")),
    ("200, 70000", (None, "Each training-set size must be between 100 and 60,000 (the "
                          "training digits this data has); got 70,000")),
    ("200, many", (None, "Training-set sizes must be whole numbers separated by commas; "
                         "got 'many'")),
    ("200.5", (None, "Training-set sizes must be whole numbers; got '200.5'")),
    (" , ", (None, "Give at least one training-set size, e.g. 500, 2000, 10000")),
])
def test_parse_sizes(text, expected):
    assert parse_sizes(text, 60000) == expected


def test_log_grid_is_evenly_spaced_on_a_log_scale_and_rounded():
    assert log_grid(0.001, 10.0, 5) == [0.001, 0.01, 0.1, 1.0, 10.0]
    assert log_grid(0.001, 10.0, 7) == [0.001, 0.00464, 0.0215, 0.1, 0.464, 2.15, 10.0]
    assert log_grid(0.1, 0.1, 1) == [0.1]
    assert log_grid(0.01, 1.0, 1) == [0.01]
    assert log_grid(1e-4, 1e-2, 3) == [1e-4, 1e-3, 1e-2]


def test_default_sizes_end_at_all_the_training_digits():
    assert default_sizes(60000) == "500, 1000, 2000, 5000, 10000, 20000, 60000"
    assert default_sizes(4000) == "500, 1000, 2000, 4000"
    assert default_sizes(300) == "300"


def test_the_C_grid_has_sayable_stops_within_the_allowed_range():
    assert C_GRID[0] == 1e-5 and C_GRID[-1] == 1000.0
    assert C_GRID[:4] == [1e-5, 3e-5, 1e-4, 3e-4]
    assert C_GRID == sorted(C_GRID) and len(C_GRID) == 17
    assert all(C_MIN <= c <= C_MAX for c in C_GRID)
    assert [fmt_C(c) for c in C_GRID[8:11]] == ["0.1", "0.3", "1"]
