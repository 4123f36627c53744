"""Pause, step, speed and continue training on the real embedded Dask cluster.

The training waits on its worker between iterations as its owner asks; time spent waiting
is not counted as training time; a shared run cannot be paused by one of its watchers; a
forgotten pause stops the run (keeping the model) and a run slowed while others wait goes
on at full speed; a stopped or finished run continues from its coefficients to the
optimum of the same objective."""
from __future__ import annotations

import time

import numpy as np
import pytest

from lrcore.config import TrainConfig
from lrcore.engine import Engine
from lrcore.engine import core as engine_core
from lrcore.train import WarmStart, train
from tests.enginetest import SLOW, until

pytestmark = pytest.mark.timeout(300)




def iteration(job) -> int:
    last = job.latest
    return last["iteration"] if last else 0


@pytest.fixture(scope="module")
def engine(mnist_dir):
    eng = Engine(n_workers=1, memory="2GB", owner_ttl=60,
                 settings={"record_interval": 0.05, "coef_interval": 0.2,
                           "stop_interval": 0.05, "control_interval": 0.05,
                           "pause_limit": 6.0})
    yield eng
    eng.close()


def test_pause_step_resume_and_stop(engine, mnist):
    job = engine.submit_training(TrainConfig(**SLOW, seed=1), mnist, owner="alice")
    try:
        until(lambda: iteration(job) >= 3, what="a few iterations")
        assert job.controllable("alice") and not job.controllable("bob")
        assert job.pause("alice")
        time.sleep(0.5)  # the iteration in flight finishes, then the worker waits
        held = iteration(job)
        time.sleep(1.0)
        assert iteration(job) == held, "a paused training went on"
        assert job.state == "running" and job.describe().startswith("paused at iteration")
        assert job.step("alice")
        until(lambda: iteration(job) == held + 1, 20, "one step")
        time.sleep(0.8)
        assert iteration(job) == held + 1, "Step ran more than one iteration"
        assert job.step("alice") and job.step("alice")
        until(lambda: iteration(job) == held + 3, 20, "two more steps")
        assert job.resume("alice")
        until(lambda: iteration(job) >= held + 20, 30, "running again after Resume")
        assert job.pause("alice")
        time.sleep(0.5)
        assert job.stop("alice") is True  # Stop works while paused
        assert job.wait(30) == "stopped"
        model = job.result()
        assert model.summary["status"] == "stopped"
        assert model.summary["n_iter"] == iteration(job)
        # ~2 s were spent paused: not counted as training time.
        assert model.summary["fit_seconds"] < job.seconds - 1.5
        n = model.summary["n_iter"]
        assert [r["iteration"] for r in model.history] == list(range(1, n + 1))
    finally:
        job.stop()
        job.wait(60)


def test_speed_slows_each_iteration(engine, mnist):
    job = engine.submit_training(TrainConfig(**SLOW, seed=2), mnist, owner="carol",
                                 control={"delay": 0.25})
    try:
        until(lambda: iteration(job) >= 2, what="the first iterations")
        t0, i0 = time.monotonic(), iteration(job)
        time.sleep(2.0)
        rate = (iteration(job) - i0) / (time.monotonic() - t0)
        assert 2.0 <= rate <= 5.0, f"{rate:.1f} iterations/s at 0.25 s per iteration"
        assert job.set_speed("carol", 0.0)
        until(lambda: iteration(job) >= i0 + 60, 30, "full speed again")
    finally:
        job.stop()
        job.wait(60)


def test_a_slowed_run_is_private_and_a_shared_run_is_not_controllable(engine, mnist):
    cfg = TrainConfig(**SLOW, seed=3)
    slow = engine.submit_training(cfg, mnist, owner="dan", control={"paused": True})
    shared = engine.submit_training(cfg, mnist, owner="erin")
    other = engine.submit_training(cfg, mnist, owner="frank")
    try:
        assert slow.key != shared.key, "a slow-motion run was shared with another press"
        assert other is shared
        assert slow.controllable("dan")
        assert not shared.controllable("erin") and not shared.pause("erin")
        assert shared.control == engine_core.FULL_SPEED
    finally:
        for j in (slow, shared):
            j.stop()
        for j in (slow, shared):
            j.wait(60)


def test_a_forgotten_pause_stops_the_run_and_keeps_the_model(engine, mnist):
    job = engine.submit_training(TrainConfig(**SLOW, seed=4), mnist, owner="gus",
                                 control={"paused": True})
    assert job.wait(60) == "stopped"
    model = job.result()
    assert model.summary["n_iter"] == 1  # paused after the first iteration
    assert "paused for over" in model.summary["message"]
    assert "Continue training" in model.summary["message"]


def test_a_run_slowed_while_others_wait_goes_on_at_full_speed(engine, mnist, monkeypatch):
    monkeypatch.setattr(engine_core, "CONTROL_BUDGET", 1.0)
    job = engine.submit_training(TrainConfig(**SLOW, seed=5), mnist, owner="hal",
                                 control={"delay": 0.5})
    waiting = engine.submit_training(TrainConfig(**SLOW, seed=6), mnist, owner="ivy")
    try:
        until(lambda: job.control["delay"] == 0.0, 30, "the engine to hurry the slow run")
        assert "others are waiting" in job.notice
        i0 = iteration(job)
        until(lambda: iteration(job) >= i0 + 40, 30, "full speed")
    finally:
        for j in (job, waiting):
            j.stop()
        for j in (job, waiting):
            j.wait(60)


def test_continue_training_on_the_engine(engine, mnist):
    base = dict(train_size=2000, test_size=1000, preprocess="standardize", C=0.05, tol=1e-6)
    first_job = engine.submit_training(TrainConfig(**base, max_iter=10), mnist, owner="jo")
    assert first_job.wait(120) == "done"
    # At full speed nothing is waited, so the run counts for the queue's estimates.
    n_durations = len(engine._durations)
    assert first_job._result["waited"] == 0 and n_durations >= 1
    first = first_job.result()
    ws = WarmStart.from_model(first)
    with pytest.raises(ValueError, match="above the 10 iterations"):
        engine.submit_training(TrainConfig(**base, max_iter=10), mnist, owner="jo",
                               warm_start=ws)
    job = engine.submit_training(TrainConfig(**base, max_iter=1000), mnist, owner="jo",
                                 warm_start=ws)
    assert job.key != engine.submit_training(TrainConfig(**base, max_iter=1000), mnist).key
    assert job.continued_from == 10
    assert job.wait(120) == "done"
    got = job.result()
    assert job.history[0]["iteration"] == 1 and job.history[10]["iteration"] == 11
    ref = train(TrainConfig(**base, max_iter=1000), mnist)
    assert got.summary["status"] == "converged"
    assert got.summary["objective"] == pytest.approx(ref.summary["objective"], rel=1e-6)
    np.testing.assert_allclose(got.model.coef_, ref.model.coef_, atol=1e-4)
    assert got.history[:10] == first.history


def test_pressing_the_settings_of_a_run_being_stopped_starts_a_new_run(engine, mnist):
    """Stopping takes until the iteration in flight ends: a press meanwhile must not join
    the run that is about to end (it would get a stopped model, and could not pause it)."""
    cfg = TrainConfig(**SLOW, seed=7)
    first = engine.submit_training(cfg, mnist, owner="kim")
    try:
        until(lambda: iteration(first) >= 2, what="a few iterations")
        assert first.stop("kim") is True
        again = engine.submit_training(cfg, mnist, owner="lee")
        assert again is not first and again.key != first.key
        assert first.wait(60) == "stopped"
        assert again.controllable("lee")
    finally:
        for j in (first, locals().get("again")):
            if j is not None:
                j.stop()
                j.wait(60)
