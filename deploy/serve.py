"""Serve the app to a class from several Streamlit processes behind nginx, with one command:

    python deploy/serve.py --processes 2 --port 8501

One Streamlit process runs all its sessions' Python on one core (the GIL), so a class gets
N app processes on 127.0.0.1 at free ports and Debian's nginx in front of them on
``--host:--port``, with sticky sessions by cookie (see deploy/nginx.conf.template). It
stays in the foreground until Ctrl-C / SIGTERM, then stops nginx and every app process by
PID and removes its run directory.

What the processes share: the read-only MNIST files (each process reads ``MNIST_DIR`` or
the same OpenML cache itself) and ``LR_DATA_DIR`` (set to ``<repo>/data`` unless already
set), where the app keeps the process-wide default model so that only one process trains
it. Everything else (sessions, media files, uploads, caches) is per process, hence the
sticky cookie.

The services are a list of :class:`Service` in start stages (:func:`plan`); another shared
service (e.g. a training scheduler the apps connect to) is one more entry in an earlier
stage plus an environment variable for the apps.

A crashed app process is restarted on its port (at most ``MAX_RESTARTS`` times in
``RESTART_WINDOW`` seconds): one failing process should not end the lesson of everybody on
the other processes, and nginx sends its browsers to another process meanwhile (they start
a new session there). If nginx dies, or a process keeps crashing, everything is stopped and
serve.py exits with status 1, naming the culprit. Bad usage (no nginx, port taken) prints
one line and exits with status 2.
"""
from __future__ import annotations

import argparse
import ctypes
import errno
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
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
# Where Debian puts nginx; a normal user's PATH often lacks /usr/sbin.
NGINX_PLACES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
STARTUP_TIMEOUT = 120.0  # seconds for every service of a stage to become ready
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
MAX_RESTARTS, RESTART_WINDOW = 3, 300.0
POLL = 0.2


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


def plan(processes: int, host: str, port: int, run_dir: Path, nginx: str) -> list[Service]:
    """Every service serve.py runs, in start stages: the app processes, then nginx."""
    env = dict(os.environ)
    data_dir = Path(env.get("LR_DATA_DIR") or ROOT / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env["LR_DATA_DIR"] = str(data_dir)

    services = []
    app_ports = [free_port() for _ in range(processes)]
    for i, p in enumerate(app_ports, 1):
        services.append(Service(
            name=f"app {i}", stage=1, restart=True, env=env,
            log_path=run_dir / f"app-{i}.log",
            ready_url=f"http://127.0.0.1:{p}/_stcore/health",
            argv=[sys.executable, "-m", "streamlit", "run", "app.py",
                  "--server.headless", "true", "--server.port", str(p),
                  "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
                  "--server.fileWatcherType", "none"]))

    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(run_dir, host, port, app_ports))
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else host
    services.append(Service(
        name="nginx", stage=2, log_path=run_dir / "nginx.log",
        # Through the proxy: ready once nginx listens and a backend answers behind it.
        ready_url=f"http://{probe}:{port}/_stcore/health",
        argv=[nginx, "-p", str(run_dir), "-c", str(conf), "-e", "stderr",
              "-g", "daemon off;"]))
    return services


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
                        say(f"{s.name}: pid {s.proc.pid}" +
                            (f", {s.ready_url}" if s.restart else ""))
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
    args = ap.parse_args(argv)
    if args.processes < 1:
        ap.error("--processes must be at least 1")
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

    sup = Supervisor([])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, sup.request_stop)
    code = 0
    try:
        sup.services = plan(args.processes, args.host, args.port, run_dir, nginx)
        sup.start()
        if not sup.stopping:
            plural = "es" if args.processes > 1 else ""
            say(f"ready: http://{args.host}:{args.port} ({args.processes} app process{plural})")
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
        sup.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    if code == 0:
        say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
