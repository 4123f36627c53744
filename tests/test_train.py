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
from lrcore.train import Training, TrainedModel, WarmStart, snapshot_schedule, train


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


# ----------------------------------------------------------------------------- continue training
@pytest.mark.parametrize("penalty,tol", [("l2", 1e-6), ("l1", 1e-4)])
def test_continued_training_reaches_the_same_optimum(mnist, penalty, tol):
    """A run stopped after 10 iterations and continued (warm start, same objective) ends
    where an uninterrupted run ends; its iterations, history and snapshots carry on."""
    base = dict(train_size=2000, test_size=1000, preprocess="standardize", penalty=penalty,
                C=0.05, tol=tol)
    first = train(TrainConfig(**base, max_iter=10), mnist)
    assert first.summary["status"] == "max_iter"
    cont = Training(TrainConfig(**base, max_iter=1000), mnist,
                    warm_start=WarmStart.from_model(first))
    iters = [p.iteration for p in cont]
    assert iters[0] == 11 and iters == list(range(11, iters[-1] + 1))
    got = cont.result()
    ref = train(TrainConfig(**base, max_iter=1000), mnist)
    assert got.summary["status"] == ref.summary["status"] == "converged"
    assert got.summary["n_iter"] == iters[-1]
    assert got.summary["objective"] == pytest.approx(ref.summary["objective"], rel=1e-5)
    if penalty == "l2":  # strictly convex: the same coefficients
        np.testing.assert_allclose(got.model.coef_, ref.model.coef_, atol=1e-4)
    assert got.summary["test_accuracy"] == pytest.approx(ref.summary["test_accuracy"], abs=2e-3)
    hist = [r["iteration"] for r in got.history]
    assert hist == list(range(1, iters[-1] + 1))
    assert got.history[:10] == first.history  # the story so far, as it was
    assert got.history[10]["elapsed"] >= first.history[-1]["elapsed"]
    assert list(got.snapshot_iters[:len(first.snapshot_iters)]) == list(first.snapshot_iters)
    assert np.all(np.diff(got.snapshot_iters) > 0)
    assert got.snapshot_coef.shape[0] == got.snapshot_iters.shape[0]


def test_continued_training_refuses_what_cannot_continue(mnist):
    base = dict(train_size=1000, test_size=500, max_iter=5)
    first = train(TrainConfig(**base), mnist)
    ws = WarmStart.from_model(first)
    with pytest.raises(ValueError, match="above the 5 iterations already done"):
        Training(TrainConfig(**base), mnist, warm_start=ws)
    other = WarmStart(coef=ws.coef[:, :700], intercept=ws.intercept, classes=ws.classes,
                      history=ws.history)
    with pytest.raises(ValueError, match="other classes or pixels"):
        Training(TrainConfig(**{**base, "max_iter": 50}), mnist, warm_start=other)


def test_warm_start_ships_as_plain_data_and_hashes_its_start(mnist):
    import msgpack

    first = train(TrainConfig(train_size=1000, test_size=500, max_iter=5), mnist)
    ws = WarmStart.from_model(first)
    back = WarmStart.from_plain(msgpack.unpackb(msgpack.packb(ws.to_plain())))
    for name in ("coef", "intercept", "classes", "snapshot_iters", "snapshot_coef"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ws, name))
    assert back.history == ws.history and back.n_iter == 5
    assert back.digest() == ws.digest()
    moved = WarmStart(coef=ws.coef + 1e-9, intercept=ws.intercept, classes=ws.classes,
                      history=ws.history)
    assert moved.digest() != ws.digest()


def test_rescore_computes_the_test_metrics_of_a_model_that_had_none(mnist):
    """A snapshot (weights streamed from a worker) has no test metrics; rescoring gives it
    the ones training would have computed, and its message stops saying they are missing."""
    from lrcore.train import metrics_on_test

    m = train(TrainConfig(train_size=1000, test_size=500, max_iter=10), mnist)
    full = dict(m.summary)
    for k in ("test_accuracy", "test_log_loss", "macro_f1", "roc_auc"):
        m.summary[k] = None
    m.summary.update(metrics_computed=False, message="snapshot (metrics not computed)")
    m.rescore(mnist.X_test[:500], mnist.y_test[:500])
    for k in ("test_accuracy", "test_log_loss", "macro_f1", "roc_auc", "sparsity"):
        assert m.summary[k] == pytest.approx(full[k]), k
    assert m.summary["metrics_computed"] is True and m.summary["test_size"] == 500
    assert m.summary["message"] == "snapshot"
    assert set(metrics_on_test(m.evaluate(mnist.X_test[:50], mnist.y_test[:50]))) == {
        "test_accuracy", "test_log_loss", "macro_f1", "roc_auc", "sparsity", "metrics_computed"}
    assert m.coef_ is m.model.coef_ and m.intercept_ is m.model.intercept_
