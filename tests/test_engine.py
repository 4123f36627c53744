"""lrcore.engine on its real embedded Dask cluster (2 worker processes x 1 thread): trainings
equal the in-process ones, progress streams, Stop keeps the latest iterate, the queue is
FIFO and visible, identical settings are trained once, one owner holds one slot, gone
owners lose their queued work, and a training runs whether or not anyone polls it.
Experiments as engine jobs: one task each, results equal to in-process ones, progress and
rows streamed, Stop keeps the finished points, shared, queued and cancelled like trainings."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas.testing as pd_testing
import pytest

from lrcore.config import TrainConfig
from lrcore.engine import Engine, EngineUnavailable
from lrcore.train import train
from tests.enginetest import FAST, SLOW, until

pytestmark = pytest.mark.timeout(300)




def started_at(job) -> list[float]:
    """When each execution (run) of the job started, as its start messages said."""
    return sorted(r.started for r in job._attempts.values())


@pytest.fixture(scope="module")
def engine(mnist_dir):
    eng = Engine(n_workers=2, memory="2GB", owner_ttl=60,
                 settings={"record_interval": 0.05, "coef_interval": 0.2,
                           "stop_interval": 0.05})
    yield eng
    eng.close()


@pytest.fixture
def stop_all(engine):
    """Jobs a test creates; whatever is still active at the end is stopped."""
    jobs = []
    yield jobs
    for j in jobs:
        j.stop()
    for j in jobs:
        j.wait(60)


def test_engine_module_does_not_import_streamlit():
    code = "import lrcore.engine, sys; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_training_through_the_engine_equals_in_process(engine, mnist):
    cfg = TrainConfig(**FAST, preprocess="standardize")
    job = engine.submit_training(cfg, mnist, owner="equal")
    assert job.wait(120) == "done"
    got = job.result()
    ref = train(cfg, mnist)
    np.testing.assert_allclose(got.model.coef_, ref.model.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.model.intercept_, ref.model.intercept_, rtol=0, atol=1e-10)
    assert got.summary["test_accuracy"] == pytest.approx(ref.summary["test_accuracy"])
    assert [r["iteration"] for r in job.history] == [r["iteration"] for r in ref.history]
    assert job.attempts == 1 and job.error == ""


def test_progress_streams_and_stop_keeps_the_latest_iterate(engine, mnist, stop_all):
    job = engine.submit_training(TrainConfig(**SLOW), mnist, owner="stopper")
    stop_all.append(job)
    until(lambda: job.state == "running" and len(job.history) >= 3
          and job.latest_coef is not None, what="live progress")
    assert job.position is None and job.eta_seconds is None
    it, coef, intercept = job.latest_coef
    assert coef.shape == (10, 784) and coef.dtype == np.float32 and intercept.shape == (10,)
    seen = job.latest["iteration"]
    job.stop(owner="stopper")
    assert job.wait(60) == "stopped"
    model = job.result()
    assert model.summary["status"] == "stopped"
    assert model.summary["n_iter"] >= seen
    assert "stopped by the user" in job.describe()


def test_identical_settings_from_two_owners_train_once(engine, mnist):
    cfg = TrainConfig(**{**FAST, "max_iter": 24})
    a = engine.submit_training(cfg, mnist, owner="twin-a")
    b = engine.submit_training(cfg, mnist, owner="twin-b")
    assert a is b and a.owners == {"twin-a", "twin-b"}
    assert a.wait(120) == "done"
    # Recently finished: a third asker gets the same run at once.
    c = engine.submit_training(cfg, mnist, owner="twin-c")
    assert c is a and c.state == "done"
    assert a.attempts == 1 and len(started_at(a)) == 1  # one execution for three askers
    np.testing.assert_array_equal(a.result().model.coef_, c.result().model.coef_)


def test_a_training_runs_while_nobody_polls_it(engine, mnist):
    job = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 23}), mnist,
                                 owner="away")
    # The owner visits other pages: nothing reads the job, the engine is not touched.
    job.future.result(timeout=120)
    assert job.state == "done"
    assert job.history and job.history[-1]["iteration"] == job.result().summary["n_iter"]


def test_fifo_queue_positions_and_cancel(engine, mnist, stop_all):
    blockers = [engine.submit_training(TrainConfig(**{**SLOW, "seed": i}), mnist,
                                       owner=f"blocker-{i}") for i in range(engine.slots)]
    stop_all.extend(blockers)
    until(lambda: all(b.state == "running" for b in blockers), what="blockers running")
    second = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 21}), mnist,
                                    owner="second")
    third = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 22}), mnist,
                                   owner="third")
    fourth = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 20}), mnist,
                                    owner="fourth")
    stop_all.extend([second, third, fourth])
    until(lambda: fourth.position is not None, what="the scheduler to see the queue")
    assert (second.position, third.position, fourth.position) == (1, 2, 3)
    assert second.eta_seconds <= third.eta_seconds <= fourth.eta_seconds
    assert second.describe().startswith("next in line, starts in about")
    assert third.describe().startswith("2nd in line")
    # Cancel of a queued job: it never runs, the ones behind move up.
    fourth.stop(owner="fourth")
    assert fourth.state == "cancelled"
    until(lambda: fourth.key not in dict(engine.queue()), what="cancelled task gone")
    assert fourth.result() is None
    # A slot frees: the first in line starts, the next moves up to 1.
    blockers[0].stop()
    until(lambda: second.state in ("running", "done"), what="second starts")
    assert third.state == "queued" and third.position == 1
    blockers[1].stop()
    assert third.wait(120) == "done" and second.wait(120) == "done"
    assert started_at(second)[0] <= started_at(third)[0]
    assert started_at(fourth) == [] and fourth.attempts == 0


def test_one_owner_never_holds_more_than_one_slot(engine, mnist, stop_all):
    first = engine.submit_training(TrainConfig(**SLOW), mnist, owner="clicker")
    stop_all.append(first)
    until(lambda: first.state == "running", what="first running")
    again = engine.submit_training(TrainConfig(**SLOW), mnist, owner="clicker")
    assert again is first  # the same settings again: the same job
    other = engine.submit_training(TrainConfig(**{**SLOW, "C": 50.0}), mnist,
                                   owner="clicker")
    stop_all.append(other)
    assert other is not first
    assert first.wait(60) == "stopped"  # its run so far stays retrievable
    assert first.result().summary["status"] == "stopped"
    assert engine.current("clicker") is other
    active = [k for k, _ in engine.queue() if k in (first.key, other.key)]
    assert active == [other.key]


def test_gone_owners_lose_their_queued_work(engine, mnist, stop_all):
    blockers = [engine.submit_training(TrainConfig(**{**SLOW, "seed": 10 + i}), mnist,
                                       owner=f"busy-{i}") for i in range(engine.slots)]
    stop_all.extend(blockers)
    until(lambda: all(b.state == "running" for b in blockers), what="blockers running")
    lonely = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 19}), mnist,
                                    owner="leaver")
    shared = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 18}), mnist,
                                    owner="leaver-2")
    engine.submit_training(TrainConfig(**{**FAST, "max_iter": 18}), mnist, owner="stayer")
    stop_all.extend([lonely, shared])
    assert lonely.state == shared.state == "queued"
    # Both leavers went silent long ago; the stayer is alive.
    engine._seen["leaver"] = engine._seen["leaver-2"] = time.time() - 10 * engine.owner_ttl
    engine.touch("stayer")
    for b in blockers:
        engine.touch(b.owners and next(iter(b.owners)))
    engine.reap()
    assert lonely.state == "cancelled" and "nobody was waiting" in lonely.notice
    assert shared.state == "queued"  # someone alive still wants it
    assert all(b.state == "running" for b in blockers)  # running work is never dropped


def test_sizes_are_checked_before_submitting(engine, mnist):
    with pytest.raises(ValueError, match="train_size must be at most"):
        engine.submit_training(TrainConfig(train_size=70000), mnist, owner="big")


def test_a_worker_without_the_same_data_says_so(engine, mnist):
    from lrcore.engine import data_info

    info = {**data_info(mnist), "fingerprint": "not-this-data"}
    job = engine.submit_training(TrainConfig(**FAST), info, owner="mismatch")
    assert job.wait(120) == "error"
    assert "does not have the MNIST the app trains on" in job.error


@pytest.mark.timeout(60)
def test_an_unreachable_scheduler_is_a_clear_error():
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineUnavailable, match=r"cannot reach the training engine at "
                       rf"tcp://127.0.0.1:{port}: .*unset LR_SCHEDULER"):
        Engine(f"tcp://127.0.0.1:{port}", timeout=2)


# ----------------------------------------------------------------------------- experiments

TIMING = {"fit_seconds", "predict_seconds", "sklearn_seconds"}


def same_result(a, b, complete: bool = True) -> None:
    """Two ExperimentResults agree on everything but the timings."""
    cols = [c for c in a.table.columns if c not in TIMING]
    assert list(a.table.columns) == list(b.table.columns)
    pd_testing.assert_frame_equal(a.table[cols], b.table[cols], check_exact=False,
                                  rtol=1e-10, atol=1e-12)
    drop = lambda d: {k: v for k, v in d.items() if k not in TIMING}  # noqa: E731
    assert drop(a.summary) == pytest.approx(drop(b.summary))
    assert a.complete is b.complete is complete


def on_engine(engine, name: str, mnist, owner: str, **kw):
    """The experiment run as one engine job to its end: (job, result)."""
    job = engine.submit_experiment(name, kw, mnist, owner=owner)
    assert job.wait(240) == "done", job.error
    return job, job.result()


def test_an_experiment_is_one_task_and_two_run_side_by_side(engine, mnist):
    from distributed import get_task_stream

    from lrcore.experiments import training_size_curve

    kw_a, kw_b = dict(sizes=[300, 600], max_iter=40), dict(sizes=[350, 650], max_iter=40)
    with get_task_stream(client=engine.client) as ts:
        a = engine.submit_experiment("size", kw_a, mnist, owner="side-a")
        b = engine.submit_experiment("size", kw_b, mnist, owner="side-b")
        assert a.wait(240) == "done" and b.wait(240) == "done"
    assert a.key.startswith("exp-") and a.key != b.key
    same_result(a.result(), training_size_curve(mnist, **kw_a).run())
    same_result(b.result(), training_size_curve(mnist, **kw_b).run())
    tasks = [t for t in ts.data if str(t["key"]).startswith("exp-")]
    assert sorted(t["key"] for t in tasks) == sorted([a.key, b.key])  # one task each
    assert tasks[0]["worker"] != tasks[1]["worker"]
    (a0, a1), (b0, b1) = ([t["startstops"][0]["start"], t["startstops"][-1]["stop"]]
                          for t in tasks)
    assert a0 < b1 and b0 < a1  # two workers ran the two experiments at the same time
    assert a.describe() == "finished" and a.progress["done"] == a.total == 2
    assert [r["train_size"] for r in a.rows] == [300, 600]


def test_c_path_and_model_comparison_through_the_engine(engine, mnist):
    from lrcore.experiments import model_comparison, regularization_path

    kw = dict(Cs=[0.01, 0.1], penalties=["l1", "l2"], train_size=500, max_iter=30)
    _, a = on_engine(engine, "c-path", mnist, "path", **kw)
    b = regularization_path(mnist, **kw).run()
    same_result(a, b)
    assert sorted(a.models["coef"]) == sorted(b.models["coef"]) == [0, 1, 2, 3]
    for i in a.models["coef"]:
        assert a.models["coef"][i].dtype == np.float32
        np.testing.assert_allclose(a.models["coef"][i], b.models["coef"][i], atol=1e-7)
        np.testing.assert_allclose(a.models["intercept"][i], b.models["intercept"][i],
                                   atol=1e-7)
    np.testing.assert_array_equal(a.models["classes"], b.models["classes"])
    assert a.notes == b.notes
    cold = dict(kw, warm_start=False)
    same_result(on_engine(engine, "c-path", mnist, "path", **cold)[1],
                regularization_path(mnist, **cold).run())
    kw = dict(train_size=300, test_size=200, max_slow_train=200)
    _, a = on_engine(engine, "models", mnist, "models", **kw)
    same_result(a, model_comparison(mnist, **kw).run())
    assert [n for n in a.notes if "RBF" in n]


def test_cross_validation_through_the_engine_streams_its_progress(engine, mnist):
    from lrcore.experiments import cross_validate_C

    kw = dict(Cs=[0.01, 0.1], folds=3, train_size=600, max_iter=30)
    job, res = on_engine(engine, "cv", mnist, "cv", **kw)
    records = job.history
    assert [r["done"] for r in records if r["row"] is not None] == [3, 6]
    assert records[-1]["done"] == job.total == 8
    done = [r["done"] for r in records]
    assert done == sorted(done) and all(r["message"] for r in records)
    assert [r["C"] for r in job.rows] == [0.01, 0.1]
    same_result(res, cross_validate_C(mnist, **kw).run())
    assert res.summary["best_C"] in (0.01, 0.1) and res.params["best_C"] == res.summary["best_C"]


def test_identical_experiments_from_two_owners_run_once(engine, mnist):
    kw = dict(digit=4, train_size=400, max_iter=20)
    a = engine.submit_experiment("binary", kw, mnist, owner="pupil-a")
    b = engine.submit_experiment("binary", dict(kw), mnist, owner="pupil-b")
    assert a is b and a.owners == {"pupil-a", "pupil-b"}
    assert a.wait(120) == "done"
    c = engine.submit_experiment("binary", kw, mnist, owner="pupil-c")  # finished: kept
    assert c is a and c.state == "done" and a.attempts == 1 and len(started_at(a)) == 1
    ra, rc = a.result(), c.result()
    assert ra is not rc  # each asker gets its own copy ...
    pd_testing.assert_frame_equal(ra.table, rc.table)  # ... of the same run
    assert engine.current_experiment("pupil-b") is a
    assert engine.current("pupil-b") is None  # an experiment is not the owner's training


def test_a_bad_experiment_is_refused_before_it_is_queued(engine, mnist):
    with pytest.raises(ValueError, match="digit must be between 0 and 9"):
        engine.submit_experiment("binary", {"digit": 12}, mnist, owner="bad")
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        engine.submit_experiment("nope", {}, mnist, owner="bad")
    assert engine.current_experiment("bad") is None


def test_stopping_an_experiment_on_the_engine_keeps_finished_points(engine, mnist):
    from lrcore.experiments import training_size_curve

    kw = dict(sizes=[200, 400, 800, 1600, 3200, 6400], max_iter=30)
    job = engine.submit_experiment("size", kw, mnist, owner="halter")
    until(lambda: len(job.rows) >= 1, timeout=120, what="a first finished point")
    assert job.state == "running" and job.describe().startswith("step ")
    assert job.stop(owner="halter") is True
    assert job.wait(120) == "stopped"
    res = job.result()
    assert not res.complete and 1 <= len(res.table) < 6
    assert res.notes[0].startswith("Incomplete: the experiment was stopped after")
    # The points it kept are the ones a run here computes first.
    ref = training_size_curve(mnist, **kw)
    steps = iter(ref)
    for step in steps:
        if step.done == len(res.table):
            break
    steps.close()
    same_result(res, ref.result(), complete=False)
    assert job.describe().startswith("stopped after")
    until(lambda: job.key not in dict(engine.queue()), what="the task to leave the scheduler")
    # Stopped runs are not reused: the same settings again are a new run.
    again = engine.submit_experiment("size", kw, mnist, owner="halter")
    assert again is not job and again.key.startswith(job.key + "-r")
    again.stop(owner="halter")
    again.wait(120)


def test_a_queued_experiment_has_a_place_and_can_be_cancelled(engine, mnist, stop_all):
    blockers = [engine.submit_training(TrainConfig(**{**SLOW, "seed": 50 + i}), mnist,
                                       owner=f"exp-blocker-{i}") for i in range(engine.slots)]
    stop_all.extend(blockers)
    until(lambda: all(b.state == "running" for b in blockers), what="blockers running")
    job = engine.submit_experiment("ovr", dict(train_size=300, max_iter=10), mnist,
                                   owner="in-line")
    until(lambda: job.position is not None, what="the scheduler to see the experiment")
    assert job.state == "queued" and job.position == 1 and job.eta_seconds > 0
    assert job.describe().startswith("next in line, starts in about")
    assert job.stop(owner="in-line") is True
    assert job.state == "cancelled" and job.result() is None
    until(lambda: job.key not in dict(engine.queue()), what="the cancelled task gone")


def test_an_experiment_a_worker_cannot_run_says_why(engine, mnist):
    import dataclasses

    other = dataclasses.replace(mnist, X_train=mnist.X_train[:5000],
                                y_train=mnist.y_train[:5000])  # no worker has this data
    job = engine.submit_experiment("binary", dict(train_size=300), other, owner="odd")
    assert job.wait(120) == "error"
    assert job.error.startswith("the experiment could not run: this worker does not have "
                                "the MNIST the app trains on")
    assert job.result() is None  # it never started: no rows to keep


def test_stop_of_a_shared_experiment_only_detaches_while_others_watch(engine, mnist):
    kw = dict(sizes=[200, 400, 800, 1600, 3200, 6400], max_iter=30, seed=3)
    job = engine.submit_experiment("size", kw, mnist, owner="watch-a")
    engine.submit_experiment("size", kw, mnist, owner="watch-b")
    until(lambda: len(job.rows) >= 1, timeout=120, what="a first finished point")
    assert job.stop(owner="watch-a") is False  # watch-b still wants it
    time.sleep(0.3)
    assert job.state == "running" and job.owners == {"watch-b"}
    snap = job.snapshot()  # what watch-a keeps: the rows finished by now, marked stopped
    assert not snap.complete and len(snap.table) >= 1
    assert list(snap.table.train_size) == kw["sizes"][:len(snap.table)]
    assert snap.notes[0].startswith("Incomplete: the experiment was stopped")
    assert job.stop(owner="watch-b") is True
    assert job.wait(120) == "stopped"


def test_stop_of_a_shared_run_only_detaches_while_others_watch(engine, mnist, stop_all):
    cfg = TrainConfig(**{**SLOW, "seed": 40})
    job = engine.submit_training(cfg, mnist, owner="watcher-a")
    engine.submit_training(cfg, mnist, owner="watcher-b")
    stop_all.append(job)
    until(lambda: job.latest_coef is not None and job.latest_coef[0] >= 1,
          what="weights streamed")
    job.stop(owner="watcher-a")
    time.sleep(0.5)
    assert job.state == "running" and job.owners == {"watcher-b"}
    snap = job.snapshot()  # what watcher-a keeps: the weights as of now
    assert snap.summary["metrics_computed"] is False and snap.summary["n_iter"] >= 1
    assert snap.predict_proba_pixels(mnist.X_test[:3]).shape == (3, 10)
    job.stop(owner="watcher-b")  # the last one watching: now it really stops
    assert job.wait(60) == "stopped"


# ----------------------------------------------------------------------------- settings

def test_an_unguarded_main_script_can_start_the_embedded_engine(tmp_path, mnist_dir):
    # `streamlit run app.py` runs the app as __main__ with no `if __name__ == "__main__"`
    # guard: the engine's worker processes must not re-run it (LocalCluster's would).
    script = tmp_path / "app_like.py"
    script.write_text(
        "from lrcore.config import TrainConfig\n"
        "from lrcore.data import load_mnist\n"
        "from lrcore.engine import Engine\n"
        "engine = Engine(n_workers=1, memory='1GB')\n"
        "job = engine.submit_training(TrainConfig(train_size=200, test_size=100, max_iter=5),"
        " load_mnist('auto'))\n"
        "print('STATE', job.wait(120))\n"
        "engine.close()\n")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=240, cwd=tmp_path,
                         env={**os.environ, "MNIST_DIR": str(mnist_dir), "PYTHONPATH": str(root)})
    assert "STATE done" in out.stdout, out.stderr[-2000:]


def test_engine_settings_from_the_environment(monkeypatch):
    from lrcore.engine import default_workers
    from lrcore.engine.core import parse_bytes

    monkeypatch.setenv("LR_ENGINE_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("LR_ENGINE_WORKERS", "many")
    with pytest.raises(ValueError, match="LR_ENGINE_WORKERS must be a whole number"):
        default_workers()
    assert parse_bytes("1.2GB") == 1_200_000_000
    with pytest.raises(ValueError, match="LR_ENGINE_MEMORY must be a size"):
        parse_bytes("lots")
    with pytest.raises(ValueError, match="at least 100MB"):
        parse_bytes("10MB")


@pytest.mark.timeout(60)
def test_lr_scheduler_points_the_engine_at_a_scheduler(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("LR_SCHEDULER", f"tcp://127.0.0.1:{port}")
    with pytest.raises(EngineUnavailable, match=f"tcp://127.0.0.1:{port}"):
        Engine(timeout=2)


def test_the_default_leaves_a_core_to_the_web_process(monkeypatch):
    from lrcore.engine import default_workers

    monkeypatch.delenv("LR_ENGINE_WORKERS", raising=False)
    for cores, workers in ((1, 1), (2, 1), (4, 3), (32, 8)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, c=cores: set(range(c)))
        assert default_workers() == workers
