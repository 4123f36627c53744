"""lrcore.engine against a separate ``dask scheduler`` and two ``dask worker`` processes
on loopback (the scale-out setting): train, the CLI's --scheduler, an experiment, cancel,
and workers killed (kill -9) mid-training: one loss is retried on the other worker,
losing both gives the student a clear message and the run so far."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from lrcore.config import TrainConfig
from lrcore.engine import Engine
from lrcore.train import train

from tests.enginetest import FAST, SLOW, until

pytestmark = pytest.mark.timeout(400)

ROOT = Path(__file__).resolve().parents[1]
MEDIUM = dict(train_size=3000, test_size=500, max_iter=150, tol=1e-9)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """The scheduler and workers this module starts; each is stopped by its PID."""

    def __init__(self, mnist_dir: Path) -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {**os.environ, "MNIST_DIR": str(mnist_dir),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                    # What a deployment's scheduler should set (see lrcore.engine.core):
                    # queue on the scheduler in FIFO order, one retry after a lost worker.
                    "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
                    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
        self.procs: list[subprocess.Popen] = []
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port",
                                      str(self.port), "--no-dashboard"])
        self.workers: list[subprocess.Popen] = []

    def _start(self, args: list[str]) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "dask", *args], env=self.env, cwd="/",
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def add_worker(self) -> subprocess.Popen:
        w = self._start(["worker", self.address, "--nthreads", "1", "--no-nanny",
                         "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "1GB"])
        self.workers.append(w)
        return w

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


@pytest.fixture(scope="module")
def procs(mnist_dir):
    ps = Processes(mnist_dir)
    try:
        ps.add_worker()
        ps.add_worker()
        yield ps
    finally:
        ps.stop()


@pytest.fixture(scope="module")
def engine(procs):
    deadline = time.monotonic() + 60
    while True:  # the scheduler may take a few seconds to listen
        try:
            eng = Engine(procs.address, timeout=3,
                         settings={"record_interval": 0.05, "coef_interval": 0.2,
                                   "stop_interval": 0.05})
            break
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    eng.client.wait_for_workers(2, timeout=60)
    yield eng
    eng.close()


def worker_pids(engine: Engine) -> dict[str, int]:
    return engine.client.run(os.getpid)


def test_train_on_a_separate_scheduler(engine, mnist):
    assert not engine.embedded and engine.slots == 2
    cfg = TrainConfig(**FAST)
    job = engine.submit_training(cfg, mnist, owner="remote")
    assert job.wait(120) == "done"
    np.testing.assert_allclose(job.result().model.coef_, train(cfg, mnist).model.coef_,
                               rtol=0, atol=1e-10)


def test_cli_trains_on_the_scheduler(procs, engine):
    out = subprocess.run(
        [sys.executable, "-m", "lrcore", "train", "--scheduler", procs.address,
         "--train-size", "2000", "--test-size", "1000", "--max-iter", "30", "--json"],
        env=procs.env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "engine: scheduler at" in out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n_iter"] >= 1 and 0.5 < result["test_accuracy"] <= 1.0


def test_cancel_on_the_scheduler(engine, mnist):
    blockers = [engine.submit_training(TrainConfig(**{**SLOW, "seed": 20 + i}), mnist,
                                       owner=f"rb-{i}") for i in range(2)]
    waiting = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 17}), mnist,
                                     owner="rw")
    until(lambda: all(b.state == "running" for b in blockers), what="blockers running")
    until(lambda: waiting.position == 1, what="the queued job to be first in line")
    waiting.stop(owner="rw")
    assert waiting.state == "cancelled"
    for b in blockers:
        b.stop()
    assert [b.wait(60) for b in blockers] == ["stopped", "stopped"]
    assert all(b.result().summary["n_iter"] >= 1 for b in blockers)


def test_cli_experiment_on_the_scheduler(procs, engine):
    out = subprocess.run(
        [sys.executable, "-m", "lrcore", "experiment", "size", "--scheduler", procs.address,
         "--sizes", "200,400", "--max-iter", "20", "--json"],
        env=procs.env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["complete"] and [r["train_size"] for r in result["rows"]] == [200, 400]


def test_experiment_on_the_scheduler_equals_in_process(engine, mnist):
    from lrcore.experiments import regularization_path

    from tests.test_engine import on_engine, same_result

    kw = dict(Cs=[0.05, 0.5], penalties=["l2"], train_size=400, max_iter=25,
              warm_start=False)
    job, res = on_engine(engine, "c-path", mnist, "remote-exp", **kw)
    same_result(res, regularization_path(mnist, **kw).run())
    assert job.attempts == 1 and job._attempt.worker in worker_pids(engine)


def test_cli_says_clearly_when_the_scheduler_is_unreachable(procs):
    address = f"tcp://127.0.0.1:{free_port()}"
    out = subprocess.run(
        [sys.executable, "-m", "lrcore", "train", "--scheduler", address, "--train-size",
         "200", "--max-iter", "2", "--data", "sample"],
        env=procs.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(
        f"error: cannot reach the training engine at {address}: ")
    assert "Traceback" not in out.stderr


def test_a_killed_worker_is_retried_and_the_rest_is_unaffected(procs, engine, mnist):
    victim = engine.submit_training(TrainConfig(**MEDIUM), mnist, owner="victim")
    until(lambda: victim.state == "running" and len(victim.history) >= 3, what="progress")
    bystander = engine.submit_training(TrainConfig(**{**FAST, "max_iter": 16}), mnist,
                                       owner="bystander")
    where = victim._attempt.worker
    os.kill(worker_pids(engine)[where], signal.SIGKILL)
    assert victim.wait(300) == "done"
    assert victim.attempts == 2
    assert "was lost at iteration" in victim.notice and "attempt 2" in victim.notice
    with threadpool_limits(limits=1):  # the workers' BLAS threads: the same sums
        ref = train(TrainConfig(**MEDIUM), mnist)
    np.testing.assert_allclose(victim.result().model.coef_, ref.model.coef_,
                               rtol=0, atol=1e-10)
    assert bystander.wait(120) == "done"
    procs.add_worker()  # back to two workers for the next test
    engine.client.wait_for_workers(2, timeout=60)


def test_losing_every_attempt_gives_a_clear_message_and_the_run_so_far(procs, engine,
                                                                       mnist):
    job = engine.submit_training(TrainConfig(**{**SLOW, "seed": 30}), mnist, owner="unlucky")
    for attempt in (1, 2):
        until(lambda: job.attempts == attempt and len(job.history) >= 2
              and job.latest_coef is not None and job.latest_coef[0] >= 1,
              timeout=120, what=f"attempt {attempt} running")
        os.kill(worker_pids(engine)[job._attempt.worker], signal.SIGKILL)
    assert job.wait(120) == "error"
    assert "the worker running your training was lost" in job.error
    assert "here is the model as of iteration" in job.error
    model = job.result()
    assert model is not None and model.summary["metrics_computed"] is False
    assert model.model.coef_.shape == (10, 784)
    assert model.predict_proba_pixels(mnist.X_test[:5]).shape == (5, 10)

