"""The command line: progress, summary, --json, model files, one-line errors."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from lrcore.cli import main


def _run(args):
    out, err = io.StringIO(), io.StringIO()
    code = main(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_train_json_and_evaluate(mnist_dir, tmp_path):
    model = tmp_path / "m.npz"
    code, out, err = _run(["train", "--penalty", "l1", "--C", "0.05", "--train-size", "1000",
                           "--test-size", "1000", "--preprocess", "standardize",
                           "--max-iter", "30", "--data-dir", str(mnist_dir),
                           "--out", str(model), "--json"])
    assert code == 0, err
    assert "iter" in err and "loss" in err  # progress with the live loss
    res = json.loads(out.strip().splitlines()[-1])
    for key in ("test_accuracy", "train_accuracy", "test_log_loss", "n_iter", "fit_seconds",
                "sparsity", "objective"):
        assert key in res
    assert res["test_accuracy"] > 0.7 and res["sparsity"] > 10
    code, out, err = _run(["evaluate", str(model), "--data-dir", str(mnist_dir), "--json"])
    assert code == 0, err
    ev = json.loads(out.strip().splitlines()[-1])
    assert ev["n_test"] == 10000 and 0.7 < ev["test_accuracy"] <= 1


@pytest.mark.parametrize("args,msg", [
    (["--C", "0"], "C must be greater than 0"),
    (["--C", "-3"], "C must be greater than 0"),
    (["--C", "nan"], "C must be a number"),
    (["--C", "abc"], "C must be a number"),
    (["--train-size", "70000"], "train_size must be at most"),
    (["--train-size", "10"], "train_size must be at least 100"),
    (["--penalty", "elasticnet", "--l1-ratio", "1.5"], "l1_ratio must be between 0 and 1"),
    (["--penalty", "l7"], "penalty must be one of"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_arguments_print_one_line_and_exit_2(mnist_dir, args, msg):
    code, out, err = _run(["train", "--data-dir", str(mnist_dir), *args])
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error:") and msg in lines[-1]
    assert "Traceback" not in err


def test_module_entry_point_bad_model_file_exits_2(tmp_path, mnist_dir):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"\x80\x04garbage pickle")
    proc = subprocess.run([sys.executable, "-m", "lrcore", "evaluate", str(bad),
                           "--data-dir", str(mnist_dir)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error:")


@pytest.mark.parametrize("args,msg", [
    (["binary", "--C", "nan"], "error: C must be a number; got NaN"),
    (["binary", "--max-iter", "abc"], "error: max_iter must be a whole number; got 'abc'"),
    (["size", "--sizes", "200,2.5"], "error: sizes must be a whole number; got '2.5'"),
])
def test_experiment_options_are_read_with_the_config_converters(mnist_dir, args, msg):
    """Text becomes numbers through lrcore.config's converters, with their messages."""
    code, out, err = _run(["experiment", *args, "--data-dir", str(mnist_dir)])
    assert code == 2 and err.strip().splitlines()[-1] == msg
