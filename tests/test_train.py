"""Training pipeline: live run, stop keeps the model, snapshots, model files."""
from __future__ import annotations

import gc
import io
import subprocess
import sys
import weakref

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from lrcore.config import TrainConfig
from lrcore.train import Training, TrainedModel, snapshot_schedule, train


def test_core_never_imports_streamlit():
    code = ("import lrcore, lrcore.data, lrcore.model, lrcore.train, lrcore.metrics, "
            "lrcore.persist, lrcore.preprocess, lrcore.cli, lrcore.figures.weights, "
            "lrcore.figures.evaluation, lrcore.figures.draw, lrcore.explain, lrcore.labels, sys; "
            "assert 'streamlit' not in sys.modules, 'lrcore imported streamlit'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_training_run_end_to_end(mnist):
    cfg = TrainConfig(train_size=2000, test_size=1000, max_iter=40, preprocess="standardize")
    run = Training(cfg, mnist)
    seen = [p.iteration for p in run]
    assert seen == list(range(1, len(seen) + 1))
    m = run.result()
    s = m.summary
    assert 0.8 < s["test_accuracy"] <= 1 and s["n_iter"] == len(seen)
    assert s["status"] in ("converged", "max_iter") and s["message"]
    assert len(m.history) == len(seen)
    # The preprocessing travels with the model: predicting from raw pixels works.
    proba = m.predict_proba_pixels(mnist.X_test[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1)
    assert m.snapshot_coef.shape[1:] == (10, 784)
    assert m.snapshot_iters[-1] == s["n_iter"]
    assert 1 < len(m.snapshot_iters) <= 21


def test_stop_keeps_the_model_as_of_the_last_iteration(mnist):
    cfg = TrainConfig(train_size=2000, test_size=500, max_iter=200, tol=1e-8)
    run = Training(cfg, mnist)
    for p in run:
        if p.iteration == 5:
            break
    m = run.result()
    assert m.summary["status"] == "stopped" and m.summary["n_iter"] == 5
    assert "stopped by the user" in m.summary["message"]
    assert_array_equal(m.model.coef_, p.coef)
    assert m.summary["test_accuracy"] > 0.5


def _track_transforms(run: Training) -> list:
    """Weak references to every array the run's preprocessor hands out."""
    refs = []
    transform = run.preprocessor.transform

    def tracked(*args, **kwargs):
        out = transform(*args, **kwargs)
        refs.append(weakref.ref(out))
        return out

    run.preprocessor.transform = tracked
    return refs


@pytest.mark.parametrize("stop_at", [None, 3])
def test_training_keeps_no_float_copy_of_the_data(mnist, stop_at):
    """After result(), neither the run nor its model holds the float32 design matrix or
    the evaluation set (whether the run finished or was stopped)."""
    cfg = TrainConfig(train_size=2000, test_size=500, max_iter=20)
    run = Training(cfg, mnist)
    refs = _track_transforms(run)
    for p in run:
        if p.iteration == stop_at:
            break
    model = run.result()
    del p
    gc.collect()
    assert len(refs) >= 2  # the training digits and the evaluation set at least
    assert [r for r in refs if r() is not None] == []
    assert model.summary["test_accuracy"] > 0.5 and run.latest is not None


def test_result_metrics_are_those_of_float64_features(mnist):
    from lrcore.metrics import evaluate

    cfg = TrainConfig(train_size=1500, test_size=2500, max_iter=15, preprocess="deskew")
    run = Training(cfg, mnist)
    for _ in run:
        pass
    m = run.result()
    X = m.preprocessor.transform(run.subset.X_test, dtype=np.float64)
    ref = evaluate(m.model, X, run.subset.y_test)
    ev = m.evaluate(run.subset.X_test, run.subset.y_test)
    np.testing.assert_allclose(ev.proba, ref.proba, rtol=1e-12, atol=1e-15)
    assert m.summary["test_log_loss"] == pytest.approx(ref.log_loss, rel=1e-12)
    assert m.summary["test_accuracy"] == ref.accuracy


def test_result_before_any_iteration_is_an_error(mnist):
    with pytest.raises(RuntimeError):
        Training(TrainConfig(train_size=200, test_size=100), mnist).result()


def test_sizes_beyond_the_data_are_rejected(mnist):
    with pytest.raises(ValueError, match="test_size must be at most 10000"):
        Training(TrainConfig(train_size=1000, test_size=20000), mnist)


def test_model_file_round_trip_is_exact(mnist, tmp_path):
    m = train(TrainConfig(penalty="l1", C=0.05, train_size=1000, test_size=500, max_iter=30,
                          preprocess="standardize"), mnist)
    for target in (tmp_path / "m.npz", io.BytesIO()):
        m.save(target)
        if isinstance(target, io.BytesIO):
            target.seek(0)
        back = TrainedModel.load(target)
        assert_array_equal(back.model.coef_, m.model.coef_)
        assert_array_equal(back.model.intercept_, m.model.intercept_)
        assert_array_equal(back.preprocessor.mean_, m.preprocessor.mean_)
        assert back.config == m.config and back.summary == m.summary
        assert back.history == m.history
        assert_array_equal(back.snapshot_coef, m.snapshot_coef)
        assert_array_equal(back.predict_proba_pixels(mnist.X_test[:50]),
                           m.predict_proba_pixels(mnist.X_test[:50]))


def test_loading_garbage_is_a_clear_value_error(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a model at all")
    with pytest.raises(ValueError):
        TrainedModel.load(p)


def test_snapshot_schedule_is_geometric_and_bounded():
    s = snapshot_schedule(300)
    assert 1 in s and 300 in s and len(s) <= 20
    assert snapshot_schedule(5) == {1, 2, 3, 4, 5}
