"""What runs on a Dask worker: one training (a whole experiment is the task of
:mod:`lrcore.engine.experiment_jobs`).

These are plain module-level functions, so the scheduler ships only their names (the
workers import ``lrcore`` themselves) and the arguments are plain dicts and strings. Each
worker process loads MNIST once, the way the app does (:func:`lrcore.data.load_mnist`
with ``"auto"``, honouring that worker's ``MNIST_DIR``), and checks that it is the same
data the asker has (kind, sizes and a cheap fingerprint) before training on it.

Progress goes back as ``Worker.log_event`` messages on two topics (see
:data:`PROGRESS_TOPIC`): batches of per-iteration records at most every
``record_interval`` seconds, and the current coefficients (float32) at most every
``coef_interval`` seconds. A message names the job's key and the *run* (one execution of
the task), so the web side notices a retry on another worker after a worker was lost.
"""
from __future__ import annotations

import hashlib
import threading
import time
import uuid
import warnings
import weakref
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from lrcore.data import MnistData, load_mnist
from lrcore.plain import pack_array, plain
from lrcore.threads import limit_blas

PROGRESS_TOPIC = "lrcore-progress"  # start / records / end messages (small)
COEF_TOPIC = "lrcore-coef"  # latest coefficients (31 KB for 10 x 784 float32)
STOP_PREFIX = "lrcore-stop-"  # + job key: the distributed.Event a training polls
CONTROL_PREFIX = "lrcore-control-"  # + job key: a distributed.Variable, see _Control

# Records at <= 5 Hz and weights at <= 1 Hz keep the scheduler's work per training small
# (30 concurrent trainings = 150 small + 30 large messages per second at most).
DEFAULTS = {"record_interval": 0.2, "coef_interval": 1.0, "stop_interval": 0.2,
            "control_interval": 0.5, "pause_limit": 300.0}
# A paused training holds its worker: after pause_limit seconds it stops (keeping the model,
# which Continue training picks up again), so a forgotten pause cannot block a class. The
# controls are read every 0.5 s at full speed (a Pause takes effect within half a second):
# at 0.2 s the reads cost ~2% of a full-MNIST training.

# ----------------------------------------------------------------------------- data identity

_fingerprints: "weakref.WeakKeyDictionary[MnistData, str]" = weakref.WeakKeyDictionary()


def fingerprint(data: MnistData) -> str:
    """A cheap hash that tells two MNIST copies apart: sizes, all labels, and the pixels
    of 64 rows spread over each split (a few ms even for the full MNIST)."""
    cached = _fingerprints.get(data)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
        h.update(np.asarray(X.shape, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
        rows = np.unique(np.linspace(0, len(X) - 1, 64).astype(np.int64)) if len(X) else []
        h.update(np.ascontiguousarray(X[rows]).tobytes())
    out = h.hexdigest()[:20]
    _fingerprints[data] = out
    return out


def data_info(data: MnistData) -> dict:
    """What a worker needs to find the same data: kind, sizes, fingerprint, source text."""
    return {"kind": data.kind, "n_train": int(data.n_train), "n_test": int(data.n_test),
            "fingerprint": fingerprint(data), "source": data.source}


_worker_data: dict[str, MnistData] = {}  # fingerprint -> data, one copy per worker process
_data_lock = threading.Lock()


def worker_data(info: dict) -> MnistData:
    """The MNIST of this process that matches ``info`` (loaded once, then cached).

    Tries ``load_mnist("auto")`` first (what the app does), then the asker's kind
    explicitly (the bundled sample is always available). ``ValueError`` with both sides'
    descriptions when nothing here matches.
    """
    want = info["fingerprint"]
    with _data_lock:
        if want in _worker_data:
            return _worker_data[want]
        found = []
        for source in ("auto", info.get("kind")):
            if source is None or (source == "openml" and not _openml_cached()):
                continue
            try:
                data = load_mnist(source)
            except (ValueError, OSError) as e:  # ConnectionError is an OSError
                found.append(f"{source}: {e}")
                continue
            fp = fingerprint(data)
            _worker_data.setdefault(fp, data)
            if fp == want:
                return data
            found.append(f"{data.source} ({data.n_train:,} + {data.n_test:,} digits)")
        raise ValueError(
            f"this worker does not have the MNIST the app trains on ({info.get('source')}, "
            f"{info.get('n_train', 0):,} + {info.get('n_test', 0):,} digits); it has "
            f"{'; '.join(found) or 'nothing'}. Start the workers with the same data "
            "(e.g. the same MNIST_DIR) as the app."
        )


async def warm_up() -> str:
    """Load this worker's MNIST (``"auto"``) and the training code ahead of the first
    task, in a thread beside the worker's event loop (``Client.run(..., wait=False)``
    takes only coroutines); returns the data's fingerprint or why it could not load."""
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, _warm_up)


def _warm_up() -> str:
    import lrcore.train  # noqa: F401 - the import is the warm-up

    try:
        data = load_mnist("auto")
    except (ValueError, OSError) as e:
        return f"no data: {e}"
    fp = fingerprint(data)
    with _data_lock:
        _worker_data.setdefault(fp, data)
    return fp


def _openml_cached() -> bool:
    from lrcore.data import openml_cached

    return openml_cached()


# ----------------------------------------------------------------------------- messages


def plain_record(record: dict) -> dict:
    """Python scalars only (msgpack refuses numpy scalars); NaN and infinities kept."""
    return plain(record, finite=False)


class _Publisher:
    """Rate-limited progress messages of one run, sent with ``Worker.log_event``."""

    def __init__(self, key: str, settings: dict) -> None:
        from distributed import get_worker

        self.worker = get_worker()
        self.key = key
        self.run = uuid.uuid4().hex[:12]
        self.settings = {**DEFAULTS, **settings}
        self.pending: list[dict] = []
        self.last_records = self.last_coef = 0.0

    def send(self, kind: str, **msg: Any) -> None:
        self.worker.log_event(PROGRESS_TOPIC, {"key": self.key, "run": self.run,
                                               "kind": kind, "t": time.time(), **msg})

    def progress(self, prog: Any, *, force: bool = False) -> None:
        self.pending.append(plain_record(prog.record()))
        self.flush(prog, force=force)

    def flush(self, prog: Any, *, force: bool = True, coef: bool | None = None) -> None:
        """Send what is due: every record and the weights with ``force`` (before the run
        waits, so that the page shows the very iteration it is paused at); ``coef=False``
        sends the weights only when their interval is due (10 iterations a second would
        otherwise send 310 KB/s)."""
        now = time.monotonic()
        due = now - self.last_records >= self.settings["record_interval"]
        if self.pending and (force or due):
            self.last_records = now
            self.send("records", records=self.pending)
            self.pending = []
        if (force if coef is None else coef) or \
                now - self.last_coef >= self.settings["coef_interval"]:
            self.last_coef = now
            self.worker.log_event(COEF_TOPIC, {
                "key": self.key, "run": self.run, "iteration": int(prog.iteration),
                "coef": pack_array(prog.coef, np.float32),
                "intercept": pack_array(prog.intercept, np.float32)})


class _StopFlag:
    """The job's ``distributed.Event``, polled at most every ``interval`` seconds."""

    def __init__(self, key: str, interval: float) -> None:
        from distributed import Event

        self.event = Event(STOP_PREFIX + key)
        self.interval = interval
        self.last = 0.0
        self.is_set = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.is_set and now - self.last >= self.interval:
            self.last = now
            self.is_set = bool(self.event.is_set())
        return self.is_set


class _Control:
    """Pause / step / speed of one training, set by its owner through the engine.

    The job's ``distributed.Variable`` holds ``{"paused": bool, "delay": seconds per
    iteration, "step": n}``; each Step press raises ``step`` by one and lets one more
    iteration run while paused. Read at most every ``interval`` seconds at full speed
    (a scheduler round trip of ~1 ms), every 0.1 s while paused or slowed.
    """

    def __init__(self, key: str, settings: dict) -> None:
        from distributed import Variable

        self.var = Variable(CONTROL_PREFIX + key)
        self.interval = settings["control_interval"]
        self.pause_limit = settings["pause_limit"]
        self.last = 0.0
        self.state = {"paused": False, "delay": 0.0, "step": 0}
        self.read(force=True)
        self.steps_seen = int(self.state.get("step", 0))
        self.waited = 0.0  # seconds spent paused or slowed (not training)
        self.timed_out = False

    def read(self, force: bool = False) -> dict:
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = now
            try:
                value = self.var.get(timeout=0.1)  # set at submission: no wait
            except Exception:  # noqa: BLE001 - not set (the usual case) or unreachable
                value = None
            if isinstance(value, dict):
                self.state = value
        return self.state

    @property
    def slowed(self) -> bool:
        return bool(self.state.get("paused") or self.state.get("delay"))

    def hold(self, stop: "_StopFlag", started: float,
             on_wait: Callable[[], None] = lambda: None) -> bool:
        """Wait as the owner asks before the next iteration (``started`` = when the one
        just finished began, for the speed); ``on_wait()`` runs once before the first wait.
        False = stop the training now. Only the time spent waiting counts as waited."""
        paused_since = None
        waiting = False
        while True:
            state = self.read(force=self.slowed)
            if stop():
                return False
            if state.get("paused"):
                if int(state.get("step", 0)) > self.steps_seen:
                    self.steps_seen += 1
                    return True
                paused_since = paused_since or time.monotonic()
                if time.monotonic() - paused_since > self.pause_limit:
                    self.timed_out = True
                    return False
                pause = 0.1
            else:
                paused_since = None
                self.steps_seen = int(state.get("step", 0))
                left = started + float(state.get("delay") or 0.0) - time.monotonic()
                if left <= 0:
                    return True
                pause = min(0.1, left)
            if not waiting:
                waiting = True
                on_wait()
            t0 = time.monotonic()
            time.sleep(pause)
            self.waited += time.monotonic() - t0


def _limited() -> Any:
    """BLAS/OpenMP threads limited (lrcore's one limit): one training per worker thread."""
    return limit_blas()


# ----------------------------------------------------------------------------- tasks


def run_training(key: str, config: dict, info: dict, settings: dict | None = None,
                 warm_start: dict | None = None) -> dict:
    """Train ``config`` on this worker's copy of the data; returns the model file.

    ``warm_start`` (:meth:`lrcore.train.WarmStart.to_plain`) continues an earlier run.
    Between iterations the run obeys its owner's pause / step / speed (:class:`_Control`);
    time spent waiting is left out of the reported seconds.

    Returns
    -------
    dict
        ``model``: :meth:`TrainedModel.to_bytes` (None if stopped before the first
        iteration), ``status`` ("converged", "max_iter", "stalled", "stopped"), ``run``,
        ``worker`` (address), ``seconds`` (wall time of the run, data loading and waiting
        excluded), ``waited`` (seconds paused or slowed).
    """
    from lrcore.config import TrainConfig
    from lrcore.train import Training, WarmStart

    settings = {**DEFAULTS, **(settings or {})}
    cfg = TrainConfig.from_dict(config)
    data = worker_data(info)
    t0 = time.perf_counter()  # after the (once per worker) data load: the ETAs use this
    pub = _Publisher(key, settings)
    stop = _StopFlag(key, settings["stop_interval"])
    control = _Control(key, settings)
    waited_before: dict[int, float] = {}  # iteration -> seconds waited before it ended
    with _limited(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        training = Training(cfg, data, warm_start=None if warm_start is None
                            else WarmStart.from_plain(warm_start))
        classes = np.unique(training.subset.y_train)
        pre = training.preprocessor
        pub.send("start", worker=pub.worker.address, preprocess=pre.mode,
                 preprocess_state={k: pack_array(v) for k, v in pre.get_state().items()},
                 classes=[int(c) for c in classes], first_iteration=training.it0 + 1)
        last = None
        began = time.monotonic()

        def slow() -> bool:
            return bool(control.state.get("paused")) or \
                float(control.state.get("delay") or 0.0) >= 0.25

        for prog in training:
            last = prog
            if control.waited:
                prog = replace(prog, elapsed=prog.elapsed - control.waited)
            waited_before[prog.iteration] = control.waited
            if stop():
                pub.progress(prog, force=True)
                break
            pub.progress(prog, force=prog.status != "running")
            # Before waiting (paused, or slowed), the page gets this iteration (and its
            # weights when paused or at most ~4 iterations a second).
            if prog.status == "running" and not control.hold(
                    stop, began, on_wait=lambda p=prog: pub.flush(p, coef=slow())):
                break
            began = time.monotonic()
        if last is None:
            pub.send("end", status="stopped")
            return {"model": None, "status": "stopped", "run": pub.run,
                    "worker": pub.worker.address, "seconds": time.perf_counter() - t0,
                    "waited": control.waited}
        model = training.result()
    if control.waited:  # the run's own seconds, without the pauses
        for rec in model.history:
            rec["elapsed"] = rec["elapsed"] - waited_before.get(rec["iteration"], 0.0)
        model.summary["fit_seconds"] -= waited_before.get(last.iteration, 0.0)
    if control.timed_out:
        model.summary["message"] = (
            f"paused for over {_span(settings['pause_limit'])} at iteration "
            f"{last.iteration}: stopped to free the worker for others; Continue training "
            "picks up from here")
    status = model.summary.get("status", "stopped")
    pub.send("end", status=status)
    return {"model": model.to_bytes(), "status": status, "run": pub.run,
            "worker": pub.worker.address,
            "seconds": time.perf_counter() - t0 - control.waited, "waited": control.waited}


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
