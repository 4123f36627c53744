"""``python -m lrcore experiment NAME``: progress on stderr, the table, CSV, JSON, and
one-line errors with exit status 2."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from lrcore import cli
from lrcore.cli import main


def _run(args):
    out, err = io.StringIO(), io.StringIO()
    code = main(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_names_match_the_registry():
    from lrcore.experiments import EXPERIMENTS

    assert tuple(EXPERIMENTS) == cli.EXPERIMENT_NAMES


def test_experiment_prints_progress_table_csv_and_json(mnist_dir, tmp_path):
    path = tmp_path / "binary.csv"
    code, out, err = _run(["experiment", "binary", "--digit", "7", "--train-size", "500",
                           "--C", "0.5", "--data-dir", str(mnist_dir), "--csv", str(path),
                           "--json"])
    assert code == 0, err
    assert "1/2" in err and "2/2" in err and "logistic detector" in err  # progress
    assert "always no" in out and "precision" in out  # the table
    assert "are not 7s" in out  # the notes
    table = pd.read_csv(path, comment="#")
    assert list(table.model) == ["always no", "logistic detector"]
    header = json.loads(path.read_text().splitlines()[0][2:])
    assert header["digit"] == 7 and header["C"] == 0.5 and header["train_size"] == 500
    res = json.loads(out.strip().splitlines()[-1])
    assert res["name"] == "binary" and res["complete"] and len(res["rows"]) == 2


def test_list_options(mnist_dir):
    code, out, err = _run(["experiment", "c-path", "--Cs", "0.1, 1", "--penalties", "l1",
                           "--train-size", "300", "--max-iter", "30",
                           "--data-dir", str(mnist_dir)])
    assert code == 0, err
    assert "2/2" in err and out.count("l1 ") == 2


@pytest.mark.parametrize("args,msg", [
    (["nope"], "unknown experiment 'nope'"),
    (["binary", "--folds", "3"], "--folds does not apply to experiment 'binary'"),
    (["size", "--train-size", "500"], "--train-size does not apply"),
    (["binary", "--C", "abc"], "C must be a number"),
    (["binary", "--C", "0"], "C must be greater than 0"),
    (["binary", "--digit", "1.5"], "digit must be a whole number"),
    (["binary", "--digit", "12"], "digit must be between 0 and 9"),
    (["binary", "--train-size", "70000"], "train_size must be at most"),
    (["cv", "--folds", "1"], "folds must be between 2"),
    (["cv", "--penalty", "l7"], "penalty must be one of"),
    (["size", "--sizes", "50,500"], "at least 100"),
    (["c-path", "--Cs", ","], "Cs must be a comma-separated list"),
    (["preprocess", "--modes", "unit,blur"], "preprocess must be one of"),
    (["binary", "--bogus"], "unrecognized arguments"),
])
def test_bad_arguments_print_one_line_and_exit_2(mnist_dir, args, msg):
    code, out, err = _run(["experiment", *args, "--data-dir", str(mnist_dir)])
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error:") and msg in lines[-1], lines[-1]
    assert "Traceback" not in err


def test_module_entry_point(mnist_dir):
    proc = subprocess.run([sys.executable, "-m", "lrcore", "experiment", "binary", "--digit",
                           "12", "--data-dir", str(mnist_dir)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: digit must be")
