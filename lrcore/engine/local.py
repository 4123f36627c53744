"""The embedded cluster: a ``dask scheduler`` and ``dask worker`` processes that the web
process starts as its children (the default when ``LR_SCHEDULER`` is unset).

Why not ``distributed.LocalCluster``: its worker processes are started with
multiprocessing's "spawn", which re-runs the parent's ``__main__`` module in every child.
Under ``streamlit run`` that module is the app's own script, so each worker would start
the app (and a cluster) again and fail ("An attempt has been made to start a new process
before the current process has finished its bootstrapping phase"). The ``dask`` command
line has a main module of its own, so nothing of the app runs in the children; and the
scheduler's memory is not the web process's either.

The scheduler and the nannies load :mod:`lrcore.engine.watchdog`, which closes them when the
web process is gone (e.g. killed); a worker left without its scheduler also exits after
``--death-timeout``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lrcore

# What the engine relies on from its scheduler (read at its start): tasks wait on the
# scheduler until a worker thread is free (FIFO, visible positions); one retry after a
# lost worker; short event logs (a kept coefficient message is 31 KB).
SCHEDULER_ENV = {
    "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
    "DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH": "100",
}
PARENT_ENV = "LR_ENGINE_PARENT_PID"
# Workers run at a lower CPU priority than the web process: a class's trainings then use
# every idle cycle, but a stroke on the Draw page (a few ms of the web process's CPU) is
# served first instead of waiting behind them for its share of a saturated core.
WORKER_NICE = 10


class LocalProcesses:
    """A scheduler and ``n_workers`` single-threaded workers on 127.0.0.1, as children.

    Raises ``RuntimeError`` (with the end of their log) if they do not come up within
    ``timeout`` seconds.
    """

    def __init__(self, n_workers: int, memory_per_worker: int, *, timeout: float = 90.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lrcore-engine-"))
        self.log = self.dir / "cluster.log"
        scheduler_file = self.dir / "scheduler.json"
        root = str(Path(lrcore.__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH")
        self.env = {**os.environ, **SCHEDULER_ENV, PARENT_ENV: str(os.getpid()),
                    "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.procs: list[subprocess.Popen] = []
        self._log = open(self.log, "ab")
        try:
            self._start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(scheduler_file),
                         "--preload", "lrcore.engine.watchdog"])
            deadline = time.monotonic() + timeout
            while not scheduler_file.exists():
                self._check(deadline)
                time.sleep(0.1)
            while True:  # the file may be seen before it is completely written
                try:
                    self.address = json.loads(scheduler_file.read_text())["address"]
                    break
                except (ValueError, KeyError):
                    self._check(deadline)
                    time.sleep(0.1)
            self._start(["worker", "--scheduler-file", str(scheduler_file), "--nworkers",
                         str(n_workers), "--nthreads", "1", "--memory-limit",
                         str(int(memory_per_worker)), "--host", "127.0.0.1", "--no-dashboard",
                         "--death-timeout", "60", "--preload-nanny", "lrcore.engine.watchdog"],
                        nice=WORKER_NICE)
            self.deadline = deadline
        except BaseException:
            self.close()
            raise

    def _start(self, args: list[str], nice: int = 0) -> None:
        # `nice` the command rather than a preexec_fn: this process has threads already.
        prefix = ["nice", "-n", str(nice)] if nice and shutil.which("nice") else []
        self.procs.append(subprocess.Popen(
            [*prefix, sys.executable, "-m", "dask", *args], env=self.env, cwd=str(self.dir),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT))

    def _check(self, deadline: float) -> None:
        for p in self.procs:
            if p.poll() is not None:
                what = next((a for a in p.args if a in ("scheduler", "worker")), "process")
                raise RuntimeError(f"the engine's {what} exited ({p.returncode}): "
                                   f"{self.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the engine's processes did not start in time: {self.tail()}")

    def tail(self, n: int = 3) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-n:]) or "no output"

    def close(self) -> None:
        """Stop the workers, then the scheduler (by their PIDs), and remove the files."""
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs = []
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
