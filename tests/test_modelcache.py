"""Tests for lrcore.modelcache: one default model per host, safe to load, never believed."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lrcore.config import TrainConfig
from lrcore.modelcache import cached_model, model_path
from lrcore.train import TrainedModel, train

ROOT = Path(__file__).resolve().parents[1]
CFG = TrainConfig(train_size=500, test_size=300, max_iter=15)


def test_trains_once_then_loads_the_file(mnist, tmp_path):
    calls = []

    def fit() -> TrainedModel:
        calls.append(1)
        return train(CFG, mnist)

    a = cached_model("m", CFG, mnist, fit, directory=tmp_path)
    b = cached_model("m", CFG, mnist, fit, directory=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(a.model.coef_, b.model.coef_)
    assert b.summary["test_accuracy"] == pytest.approx(a.summary["test_accuracy"])
    # Another config is another file.
    other = TrainConfig(train_size=500, test_size=300, max_iter=15, C=0.5)
    cached_model("m", other, mnist, fit, directory=tmp_path)
    assert len(calls) == 2
    assert len(list(tmp_path.glob("m-*.npz"))) == 2


def test_the_files_claims_are_recomputed(mnist, tmp_path):
    model = train(CFG, mnist)
    true_acc = model.summary["test_accuracy"]
    model.summary["test_accuracy"] = 1.5  # a file that lies about itself
    model.save(model_path(tmp_path, "m", CFG, mnist))
    loaded = cached_model("m", CFG, mnist, lambda: pytest.fail("must not train"),
                          directory=tmp_path)
    assert loaded.summary["test_accuracy"] == pytest.approx(true_acc)


def test_a_corrupt_file_is_trained_again(mnist, tmp_path):
    path = model_path(tmp_path, "m", CFG, mnist)
    path.write_bytes(b"PK\x03\x04 not a model")
    calls = []
    model = cached_model("m", CFG, mnist, lambda: calls.append(1) or train(CFG, mnist),
                         directory=tmp_path)
    assert calls == [1] and model.summary["test_accuracy"] > 0.5
    TrainedModel.load(path)  # replaced by a valid file


def test_two_processes_train_it_once(mnist_dir, tmp_path):
    """Two app processes asking at the same moment: one trains, the other waits and loads."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from lrcore.config import TrainConfig
        from lrcore.data import load_mnist
        from lrcore.modelcache import cached_model
        from lrcore.train import train
        data = load_mnist("idx", {str(mnist_dir)!r})
        cfg = TrainConfig(train_size=2000, test_size=500, max_iter=30)
        def fit():
            with open({str(tmp_path / 'trained.log')!r}, "a") as fh:
                fh.write("x")
            time.sleep(1.0)  # widen the window in which the other process arrives
            return train(cfg, data)
        waited = []
        m = cached_model("m", cfg, data, fit, directory=__import__("pathlib").Path(
            {str(tmp_path)!r}), on_wait=lambda: waited.append(1))
        print(repr(float(m.model.coef_.sum())), "waited" if waited else "")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert (tmp_path / "trained.log").read_text() == "x"  # trained once
    assert outs[0][0] == outs[1][0]  # the same model
