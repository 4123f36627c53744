"""Serve the app to a class from several Streamlit processes behind nginx, with one command:

    python deploy/serve.py --processes 2 --port 8501

One Streamlit process runs all its sessions' Python on one core (the GIL), so a class gets
N app processes on 127.0.0.1 at free ports and Debian's nginx in front of them on
``--host:--port``, with sticky sessions by cookie (see deploy/nginx.conf.template). It
stays in the foreground until Ctrl-C / SIGTERM, then stops nginx, every app process and the
training engine by PID and removes its run directory.

The training engine (lrcore.engine) is shared by all app processes: serve.py starts one
Dask scheduler and ``--workers`` worker processes (one ``dask worker`` command with a nanny
per worker) before the apps, and gives every app its address in ``LR_SCHEDULER``. So a
host runs one set of workers within one memory budget (``--engine-memory``), one FIFO
queue, and identical settings pressed in two app processes are one task (the engine's keys
are deterministic). With ``--scheduler tcp://host:port`` (or ``LR_SCHEDULER`` set) the apps
use that existing scheduler instead and serve.py starts no engine: the several-hosts
layout, one scheduler and its workers anywhere.

What else the processes share: the read-only MNIST files (each app process and each worker
reads ``MNIST_DIR`` or the same OpenML cache itself) and ``LR_DATA_DIR`` (set to
``<repo>/data`` unless already set), where the app keeps the default model so that only one
process trains it. Everything else (sessions, media files, uploads, caches) is per process,
hence the sticky cookie.

The services are a list of :class:`Service` in start stages (:func:`plan`): the scheduler,
the workers (ready once the scheduler reports all of them), the app processes, nginx.
They are stopped in the reverse order.

A crashed app process is restarted on its port (at most ``MAX_RESTARTS`` times in
``RESTART_WINDOW`` seconds): one failing process should not end the lesson of everybody on
the other processes, and nginx sends its browsers to another process meanwhile (they start
a new session there). A crashed worker process is restarted by its Dask nanny (serve.py
sees nothing of it; a training it ran is retried once by the scheduler); if the ``dask
worker`` command itself dies, serve.py restarts it like an app. If nginx or the scheduler
dies, or a process keeps crashing, everything is stopped and serve.py exits with status 1,
naming the culprit. Bad usage (no nginx, port taken, external scheduler unreachable) prints
one line and exits with status 2.
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python deploy/serve.py`: lrcore is beside deploy/

# noqa: E402 below: lrcore.engine.core imports numpy and lrcore's data module, not Dask.
from lrcore.engine.core import (  # noqa: E402
    DEFAULT_MEMORY,
    MEMORY_ENV,
    SCHEDULER_ENV,
    WORKERS_ENV,
    default_workers,
    parse_bytes,
)
# The scheduler settings the engine relies on, the same its embedded cluster gets.
from lrcore.engine.local import SCHEDULER_ENV as ENGINE_SCHEDULER_ENV  # noqa: E402
from lrcore.engine.local import WORKER_NICE  # noqa: E402

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
PROBE = Path(__file__).with_name("engine_probe.py")
# Where Debian puts nginx; a normal user's PATH often lacks /usr/sbin.
NGINX_PLACES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
STARTUP_TIMEOUT = 120.0  # seconds for every service of a stage to become ready
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
MAX_RESTARTS, RESTART_WINDOW = 3, 300.0
POLL = 0.2
WARM_UP_TIMEOUT = 120.0  # seconds for the workers to load MNIST, waited for before `ready:`

# A training on all of MNIST peaked at ~500 MB in one process (lrcore/engine/core.py): less
# per worker and a worker may be killed by its nanny for going over its limit.
WORKER_MEMORY_HINT = 512 * 2**20


class UsageError(Exception):
    """Something the user must fix before anything starts (exit status 2)."""


class ServiceFailed(Exception):
    """A service did not start or died for good (exit status 1)."""


# ----------------------------------------------------------------------------- services
@dataclass
class Service:
    """One child process: how to start it, when it is ready, whether to restart it."""

    name: str
    argv: list[str]
    log_path: Path
    stage: int  # all services of a stage start together, after the previous stage is ready
    ready_url: str | None = None  # ready once this answers 200 (else: once it runs)
    check: Callable[[], bool] | None = None  # ready once this says so too
    show: str = ""  # said after its pid once it is ready (e.g. its URL)
    env: dict[str, str] | None = None
    cwd: Path = ROOT
    restart: bool = False  # restart when it dies (else its death stops everything)
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)
    _log: IO | None = None

    def start(self) -> None:
        if self._log is None:
            self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C reaches serve.py alone, which then stops
            # the children in order. The parent-death signal stops them even if serve.py is
            # killed outright (SIGKILL), so nothing is left behind.
            start_new_session=True, preexec_fn=_die_with_parent)

    def kill_leftovers(self) -> None:
        """SIGKILL what is left of the child's process group (its own session, led by its
        PID) once the child is gone: nginx's workers outlive a master that was killed."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:  # until init has reaped them
                os.killpg(self.proc.pid, 0)
                time.sleep(0.05)
        except (ProcessLookupError, PermissionError):
            pass

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        if not self.running():
            return False
        if self.check is not None and not self.check():
            return False
        if self.ready_url is None:
            return True
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def terminate(self) -> None:
        """SIGTERM by PID (see :meth:`stop`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after STOP_TIMEOUT, and reap it."""
        self.terminate()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.kill_leftovers()
        if self._log is not None:
            self._log.close()
            self._log = None

    def exit_text(self) -> str:
        """How it ended, e.g. "(pid 12) exited with status 1" or "... on signal SIGKILL"."""
        code = self.proc.returncode
        how = (f"status {code}" if code >= 0 else
               f"signal {signal.Signals(-code).name}")
        return f"(pid {self.proc.pid}) exited with {how}"

    def with_log(self, text: str) -> str:
        tail = self.log_tail()
        return f"{text}; its last output:\n{tail}" if tail else text

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").rstrip().splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in text[-lines:])


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when serve.py dies (Linux prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: Ctrl-C / SIGTERM still stop everything
        pass


# ----------------------------------------------------------------------------- checks
def find_nginx() -> str:
    found = shutil.which("nginx") or next((p for p in NGINX_PLACES if os.access(p, os.X_OK)),
                                          None)
    if found is None:
        raise UsageError("nginx is not installed: apt-get install nginx")
    return found


def check_port_free(host: str, port: int) -> None:
    # SO_REUSEADDR as nginx sets it: a port whose old connections linger in TIME_WAIT is
    # free for nginx, one that something listens on is not.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} is taken on {host}: choose another with "
                                 "--port") from None
            if e.errno == errno.EACCES:
                raise UsageError(f"port {port} needs root: choose one above 1023 with "
                                 "--port") from None
            raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def default_engine_workers() -> int:
    """``$LR_ENGINE_WORKERS`` if set (checked as the engine checks it), else the cores
    minus one (at least 1): the app processes need a core too."""
    if os.environ.get(WORKERS_ENV):
        return default_workers()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_run_dir(run_dir: str | None) -> Path:
    if run_dir is None:
        path = Path(tempfile.mkdtemp(prefix="lr-serve-"))
    else:
        path = Path(run_dir).resolve()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            # serve.py removes its run dir when it stops: never hand it one with content.
            raise UsageError(f"--run-dir {path} exists and is not empty")
        path.mkdir(parents=True, exist_ok=True)
    # Private: logs may hold tracebacks. nginx's workers (nobody, when started as root)
    # never need to reach inside, since nginx.conf.template turns off spooling to disk.
    path.chmod(0o700)
    (path / "tmp").mkdir()
    return path


# ----------------------------------------------------------------------------- plan
def nginx_config(run_dir: Path, host: str, port: int, app_ports: list[int]) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in app_ports)
    values = {"RUN_DIR": str(run_dir), "LISTEN": f"{host}:{port}", "SERVERS": servers,
              "NOFILE": str(nofile), "WORKER_CONNECTIONS": str(max(512, nofile // 2))}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


@dataclass
class EngineSpec:
    """The training engine the apps use: one serve.py starts (``workers`` processes within
    ``memory`` bytes), or an existing scheduler at ``external``."""

    workers: int = 1
    memory: int = 0
    external: str | None = None

    def describe(self, joined: int | None = None) -> str:
        if self.external:
            n = "" if joined is None else f", {joined} worker{'s' if joined != 1 else ''}"
            return f"scheduler at {self.external}{n}"
        return f"scheduler + {self.workers} worker{'s' if self.workers > 1 else ''}"


class EngineProbe:
    """deploy/engine_probe.py against the scheduler serve.py started: the workers are ready
    once it reports all of them; it then loads MNIST on each (the first Train should not
    wait for that), while the apps start."""

    def __init__(self, address: str, workers: int, log_path: Path):
        self.address, self.workers, self.log_path = address, workers, log_path
        self.proc: subprocess.Popen | None = None

    def _lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def _report(self, key: str) -> dict | None:
        for line in self._lines():
            if line.startswith("{"):
                try:
                    got = json.loads(line)
                except ValueError:
                    continue
                if key in got:
                    return got
        return None

    def joined(self) -> bool:
        if self.proc is None:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, str(PROBE), self.address, "--workers", str(self.workers),
                     "--warm-up", "--workers-timeout", str(STARTUP_TIMEOUT - 10)],
                    cwd=ROOT, env=_engine_env(), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=_die_with_parent)
        if self._report("workers") is not None:
            return True
        if self.proc.poll() not in (None, 0):
            raise ServiceFailed(self.error())
        return False

    def error(self) -> str:
        lines = self._lines()
        text = next((x[len("error: "):] for x in lines if x.startswith("error: ")), None)
        return text or "the engine check failed: " + " | ".join(lines[-3:])

    def finish(self, timeout: float = WARM_UP_TIMEOUT) -> list[str]:
        """Wait for the warm-up; returns warnings for the `ready:` output (none if fine)."""
        if self.proc is None:
            return []
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return [f"the workers had not loaded MNIST after {timeout:g} s; the first "
                    "trainings will wait for it"]
        warm = (self._report("warm") or {}).get("warm")
        if warm is None:
            return [f"could not load MNIST on the workers: {self.error()}"]
        return [f"worker {w}: {fp}" for w, fp in sorted(warm.items())
                if str(fp).startswith("no data")]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _engine_env() -> dict[str, str]:
    """Environment of the scheduler, the workers and the probe: the engine's scheduler
    settings, and ``lrcore`` importable from this checkout (the workers run its tasks)."""
    env = {**os.environ, **ENGINE_SCHEDULER_ENV}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    env.pop("LR_SCHEDULER", None)
    return env


def plan(processes: int, host: str, port: int, run_dir: Path, nginx: str,
         engine: EngineSpec | None = None) -> tuple[list[Service], EngineProbe | None]:
    """Every service serve.py runs, in start stages: the engine's scheduler, its workers,
    the app processes, then nginx; and the probe that tells when the workers are there."""
    engine = engine or EngineSpec()
    env = dict(os.environ)
    data_dir = Path(env.get("LR_DATA_DIR") or ROOT / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env["LR_DATA_DIR"] = str(data_dir)

    services, probe = [], None
    if engine.external:
        env["LR_SCHEDULER"] = engine.external
    else:
        eng_env = _engine_env()
        sched_port = free_port()
        address = f"tcp://127.0.0.1:{sched_port}"
        env["LR_SCHEDULER"] = address
        sched_file = run_dir / "scheduler.json"
        services.append(Service(
            name="scheduler", stage=1, env=eng_env, log_path=run_dir / "scheduler.log",
            cwd=run_dir, show=address,
            # Dask writes the file once it listens.
            check=lambda: sched_file.exists() and sched_file.stat().st_size > 0,
            argv=[sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                  str(sched_port), "--no-dashboard", "--scheduler-file", str(sched_file)]))
        probe = EngineProbe(address, engine.workers, run_dir / "engine-probe.log")
        plural = "s" if engine.workers > 1 else ""
        per_worker = engine.memory // engine.workers
        services.append(Service(
            name="workers", stage=2, restart=True, env=eng_env, log_path=run_dir / "workers.log",
            cwd=run_dir, check=probe.joined,
            show=f"{engine.workers} worker{plural} of {per_worker / 1e6:,.0f} MB each",
            # One process with a nanny per worker: the nanny restarts a worker that dies
            # (killed, or over its memory limit). --death-timeout: workers that lost their
            # scheduler exit instead of waiting for it forever.
            # At a lower CPU priority than the app processes (lrcore.engine.local): strokes
            # first, trainings in every idle cycle.
            argv=[*(["nice", "-n", str(WORKER_NICE)] if shutil.which("nice") else []),
                  sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                  "--nworkers", str(engine.workers), "--memory-limit", str(per_worker),
                  "--host", "127.0.0.1",
                  "--no-dashboard", "--death-timeout", "60",
                  "--local-directory", str(run_dir / "tmp" / "workers")]))

    app_ports = [free_port() for _ in range(processes)]
    for i, p in enumerate(app_ports, 1):
        url = f"http://127.0.0.1:{p}/_stcore/health"
        services.append(Service(
            name=f"app {i}", stage=3, restart=True, env=env, show=url,
            log_path=run_dir / f"app-{i}.log", ready_url=url,
            argv=[sys.executable, "-m", "streamlit", "run", "app.py",
                  "--server.headless", "true", "--server.port", str(p),
                  "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
                  "--server.fileWatcherType", "none"]))

    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(run_dir, host, port, app_ports))
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    services.append(Service(
        name="nginx", stage=4, log_path=run_dir / "nginx.log",
        # Through the proxy: ready once nginx listens and a backend answers behind it.
        ready_url=f"http://{probe_host}:{port}/_stcore/health",
        argv=[nginx, "-p", str(run_dir), "-c", str(conf), "-e", "stderr",
              "-g", "daemon off;"]))
    return services, probe


def check_external(address: str) -> tuple[int, list[str]]:
    """An existing scheduler: (its workers now, notes) or UsageError if unreachable."""
    out = subprocess.run([sys.executable, str(PROBE), address], cwd=ROOT, env=_engine_env(),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    if out.returncode != 0:
        text = next((x[len("error: "):] for x in lines if x.startswith("error: ")), None)
        raise UsageError(text or f"cannot check the scheduler at {address}: "
                                 + " | ".join((out.stdout + out.stderr).splitlines()[-3:]))
    report = json.loads(lines[-1])
    settings, notes = report["settings"], []
    sat = settings.get("distributed.scheduler.worker-saturation")
    if sat is None or float(sat) != 1.0:
        notes.append(f"the scheduler at {address} queues tasks on its workers "
                     f"(worker-saturation {sat}): queue places are not shown; start it with "
                     "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0")
    if report["workers"] == 0:
        notes.append(f"the scheduler at {address} has no workers yet: trainings wait until "
                     "one joins")
    return report["workers"], notes


# ----------------------------------------------------------------------------- run
class Supervisor:
    """Starts the services stage by stage, watches them, stops them in reverse order."""

    def __init__(self, services: list[Service]):
        self.services = services
        self.stopping = False

    def request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def start(self) -> None:
        for stage in sorted({s.stage for s in self.services}):
            group = [s for s in self.services if s.stage == stage]
            for s in group:
                s.start()
            deadline = time.monotonic() + STARTUP_TIMEOUT
            waiting = list(group)
            while waiting:
                if self.stopping:
                    return
                for s in list(waiting):
                    if not s.running():
                        raise ServiceFailed(s.with_log(f"{s.name} {s.exit_text()} while "
                                                       "starting"))
                    if s.ready():
                        waiting.remove(s)
                        say(f"{s.name}: pid {s.proc.pid}" + (f", {s.show}" if s.show else ""))
                if waiting and time.monotonic() > deadline:
                    names = ", ".join(s.name for s in waiting)
                    raise ServiceFailed(f"{names} not ready after {STARTUP_TIMEOUT:g} s")
                if waiting:
                    time.sleep(POLL)

    def watch(self) -> None:
        """Until a stop is requested: restart what may be restarted, fail on the rest."""
        while not self.stopping:
            time.sleep(POLL)
            if self.stopping:
                return
            for s in self.services:
                if s.running():
                    continue
                if not s.restart:
                    raise ServiceFailed(s.with_log(f"{s.name} {s.exit_text()}"))
                now = time.monotonic()
                s.restarts = [t for t in s.restarts if now - t < RESTART_WINDOW] + [now]
                if len(s.restarts) > MAX_RESTARTS:
                    raise ServiceFailed(s.with_log(
                        f"{s.name} {s.exit_text()}, the {MAX_RESTARTS + 1}th time in "
                        f"{RESTART_WINDOW:g} s"))
                ended = s.exit_text()
                s.kill_leftovers()
                s.start()
                say(f"{s.name} {ended}; restarted: pid {s.proc.pid}")

    def stop(self) -> None:
        """Stage by stage in reverse (nginx first: no new requests to dying apps); the
        services of a stage are signalled together, so they shut down in parallel."""
        for stage in sorted({s.stage for s in self.services}, reverse=True):
            group = [s for s in self.services if s.stage == stage]
            for s in group:
                s.terminate()
            for s in group:
                s.stop()


def say(line: str) -> None:
    print(line, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python deploy/serve.py",
        description="Serve the app from several Streamlit processes behind nginx "
                    "(sticky sessions by cookie).")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                    help="app processes (default: the number of cores, %(default)s here)")
    ap.add_argument("--port", type=int, default=8501, help="port of the proxy (default 8501)")
    ap.add_argument("--host", default="0.0.0.0",
                    help="address the proxy listens on (default 0.0.0.0: the whole "
                         "network; 127.0.0.1: this machine only)")
    ap.add_argument("--run-dir", help="where the nginx config, logs and temp files go while "
                                      "serving (default: a new temporary directory); "
                                      "removed at the end")
    ap.add_argument("--workers", type=int,
                    help="training engine worker processes (one training each at a time; "
                         f"default: ${WORKERS_ENV} or the number of cores minus one, at "
                         f"least 1: {default_engine_workers()} here)")
    ap.add_argument("--engine-memory",
                    help="memory budget of all workers together, e.g. 4GB (default: "
                         f"${MEMORY_ENV} or {DEFAULT_MEMORY})")
    ap.add_argument("--scheduler",
                    help="use the training engine of this existing Dask scheduler "
                         "(tcp://host:8786) and start none (default: $LR_SCHEDULER)")
    args = ap.parse_args(argv)
    if args.processes < 1:
        ap.error("--processes must be at least 1")
    args.scheduler = args.scheduler or os.environ.get(SCHEDULER_ENV) or None
    if args.scheduler:
        for opt in ("workers", "engine_memory"):
            if getattr(args, opt) is not None:
                ap.error(f"--{opt.replace('_', '-')} is for the engine serve.py starts; "
                         "with --scheduler (or $LR_SCHEDULER) the workers are that "
                         "scheduler's")
        if "://" not in args.scheduler:
            ap.error(f"--scheduler must be an address such as tcp://host:8786; "
                     f"got {args.scheduler!r}")
    else:
        if args.workers is None:
            try:
                args.workers = default_engine_workers()
            except ValueError as e:
                ap.error(str(e))
        if args.workers < 1:
            ap.error("--workers must be at least 1")
        memory = args.engine_memory or os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY
        try:
            args.memory = parse_bytes(memory)
        except ValueError as e:
            ap.error(str(e) if args.engine_memory is None else
                     str(e).replace(MEMORY_ENV, "--engine-memory"))
    if not 0 < args.port < 65536:
        ap.error("--port must be between 1 and 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        nginx = find_nginx()
        check_port_free(args.host, args.port)
        run_dir = prepare_run_dir(args.run_dir)
    except UsageError as e:
        print(f"serve.py: {e}", file=sys.stderr)
        return 2

    notes, joined = [], None
    if args.scheduler:
        engine = EngineSpec(external=args.scheduler)
        try:
            joined, notes = check_external(args.scheduler)
        except UsageError as e:
            shutil.rmtree(run_dir, ignore_errors=True)
            print(f"serve.py: {e}", file=sys.stderr)
            return 2
    else:
        engine = EngineSpec(workers=args.workers, memory=args.memory)
        if args.memory // args.workers < WORKER_MEMORY_HINT:
            notes.append(f"{args.memory // args.workers / 1e6:,.0f} MB per worker may be too "
                         "little for a training on all of MNIST (~500 MB): raise "
                         "--engine-memory or lower --workers")

    sup = Supervisor([])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, sup.request_stop)
    code, probe = 0, None
    try:
        sup.services, probe = plan(args.processes, args.host, args.port, run_dir, nginx,
                                   engine)
        sup.start()
        if probe is not None and not sup.stopping:
            notes += probe.finish()
        for note in notes:
            say(f"note: {note}")
        if not sup.stopping:
            plural = "es" if args.processes > 1 else ""
            say(f"ready: http://{args.host}:{args.port} ({args.processes} app process{plural}, "
                f"engine: {engine.describe(joined)})")
            if args.host == "0.0.0.0":
                say(f"students open http://{socket.gethostname()}:{args.port} "
                    "(or this machine's address); Ctrl-C stops")
        sup.watch()
    except ServiceFailed as e:
        print(f"serve.py: {e}\nserve.py: stopping everything", file=sys.stderr, flush=True)
        code = 1
    finally:
        # No second signal may interrupt the clean-up.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if probe is not None:
            probe.stop()
        sup.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    if code == 0:
        say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
