"""deploy/serve.py: two app processes behind Debian's nginx, driven through the proxy, and
one training engine (a Dask scheduler and a worker) that both use.

One serve.py runs for the module (the tests run in file order; the last one stops it):
plain HTTP shows that both processes serve and that the ``lr_backend`` cookie keeps a
browser on one of them; both app processes are pointed at the one scheduler; headless
Chromium draws, switches pages and uploads a model file through the proxy (the upload
needs Streamlit's XSRF cookie and the session's process); two browsers on the two
processes press Train with identical settings and the scheduler ran one training, asked
for by both; a killed worker process is restarted by its nanny, a killed ``dask worker``
command by serve.py; a killed app process is restarted; SIGTERM leaves no process (app,
nginx, scheduler, worker) behind and frees the port. Short runs of their own: a taken port
and an unreachable ``--scheduler`` are refused in one line, and when nginx dies serve.py
stops the rest and says so.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import need
# A fixture, imported so that Playwright here too runs Debian's Chromium.
from tests.e2e.conftest import browser_type_launch_args  # noqa: F401
from tools.browser import (
    MODEL_TIMEOUT_MS,
    SHELL_MARKER,
    TIMEOUT_MS,
    VIEWPORT,
    assert_no_error,
    click_button,
    draw,
    free_port,
    nav_click,
    stop_app,
    vertical_stroke,
    wait_idle,
)

ROOT = Path(__file__).resolve().parents[1]
# The engine (scheduler, a worker that joins it), two cold Streamlit starts on a busy 2-core
# box, then nginx; and the worker's MNIST load before `ready:`.
READY_TIMEOUT = 150.0
PROGRESS_TOPIC = "lrcore-progress"  # lrcore.engine.tasks: one "start" message per execution


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc: the children of the children too)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses.
        parents[int(text.split(" ", 1)[0])] = int(text.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        found |= kids
        todo.extend(kids)
    return found


def _get(port: int, path: str = "/_stcore/health", cookie: str | None = None):
    """(status, headers) of one GET through the proxy; headers as a list of pairs."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheaders()
    finally:
        conn.close()


def _header(headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def _backend_cookie(headers) -> str | None:
    for k, v in headers:
        if k.lower() == "set-cookie" and v.startswith("lr_backend="):
            return v.split(";", 1)[0]
    return None


class Served:
    """A running ``deploy/serve.py`` and the lines it has printed."""

    def __init__(self, proc: subprocess.Popen, port: int, run_dir: Path):
        self.proc, self.port, self.run_dir = proc, port, run_dir
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self.lines.append(None)  # end of output
            self._cv.notify_all()

    def wait_line(self, pattern: str, timeout: float) -> re.Match:
        """The first printed line matching ``pattern`` (waits for it)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in self.lines:
                    if line is None:
                        break
                    if m := rx.search(line):
                        return m
                if None in self.lines:
                    pytest.fail(f"serve.py exited (status {self.proc.wait()}) without "
                                f"printing {pattern!r}:\n" + "\n".join(self.lines[:-1]))
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no {pattern!r} from serve.py in {timeout:g} s:\n" +
                                "\n".join(self.lines))
                self._cv.wait(left)

    def app_pids(self) -> dict[str, int]:
        """App name -> its current PID (after restarts, the latest)."""
        with self._cv:
            lines = [line for line in self.lines if line]
        pids = {}
        for line in lines:
            if m := re.match(r"(app \d+): pid (\d+)", line):
                pids[m[1]] = int(m[2])
            elif m := re.match(r"(app \d+) \(pid \d+\) .*restarted: pid (\d+)", line):
                pids[m[1]] = int(m[2])
        return pids

    def scheduler(self) -> str:
        return self.wait_line(r"^scheduler: pid \d+, (tcp://127\.0\.0\.1:\d+)$", 1)[1]

    def workers_pid(self) -> int:
        """PID of the ``dask worker`` command (the nannies), after restarts the latest."""
        with self._cv:
            lines = [line for line in self.lines if line]
        pid = None
        for line in lines:
            if m := re.match(r"workers: pid (\d+)", line) or re.match(
                    r"workers \(pid \d+\) .*restarted: pid (\d+)", line):
                pid = int(m[1])
        return pid

    def app_ports(self) -> dict[str, int]:
        with self._cv:
            lines = [line for line in self.lines if line]
        return {m[1]: int(m[2]) for line in lines
                if (m := re.match(r"(app \d+): pid \d+, http://127\.0\.0\.1:(\d+)/", line))}


def _need_nginx() -> None:
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        need("Debian's nginx (apt-get install -y nginx; tests/run.sh does it)")


def _serve(mnist_dir: Path, tmp: Path, *args: str) -> subprocess.Popen:
    """``deploy/serve.py ARGS`` on 127.0.0.1 with a small default model."""
    env = {**os.environ, "MNIST_DIR": str(mnist_dir), "LR_DEFAULT_TRAIN_SIZE": "2000",
           "LR_DATA_DIR": str(tmp / "data"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "deploy/serve.py", "--host", "127.0.0.1", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen) -> None:
    """serve.py stops its whole tree on SIGTERM: give it time (a test may have failed
    before stopping it itself)."""
    stop_app(proc, timeout=60)


@pytest.fixture(scope="module")
def served(mnist_dir, tmp_path_factory):
    _need_nginx()
    tmp = tmp_path_factory.mktemp("deploy")
    port = free_port()
    proc = _serve(mnist_dir, tmp, "--processes", "2", "--workers", "1", "--port", str(port),
                  "--run-dir", str(tmp / "run"))
    s = Served(proc, port, tmp / "run")
    try:
        s.wait_line(rf"^ready: http://127\.0\.0\.1:{port} \(2 app processes, engine: "
                    r"scheduler \+ 1 worker\)$", READY_TIMEOUT)
        yield s
    finally:
        _stop(proc)


# ----------------------------------------------------------------------------- tests
def test_both_app_processes_serve_and_the_cookie_keeps_one(served):
    ports = served.app_ports()
    assert len(ports) == 2
    backends = {f"127.0.0.1:{p}" for p in ports.values()}

    # Without a cookie each request is assigned at random: within 60 both must show up.
    seen: dict[str, str] = {}  # backend -> a cookie that led there
    for _ in range(60):
        status, headers = _get(served.port)
        assert status == 200
        cookie = _backend_cookie(headers)
        assert cookie is not None, "no lr_backend cookie for a request without one"
        seen.setdefault(_header(headers, "X-LR-Backend"), cookie)
        if len(seen) == 2:
            break
    assert set(seen) == backends

    # With its cookie a client stays where it was sent, and is given no new cookie.
    for backend, cookie in seen.items():
        for path in ("/_stcore/health", "/", "/draw"):
            status, headers = _get(served.port, path, cookie)
            assert status == 200
            assert _header(headers, "X-LR-Backend") == backend
            assert _backend_cookie(headers) is None


def _client(address: str):
    from distributed import Client

    return Client(address, timeout="20s", set_as_default=False)


def _cookie_per_backend(served) -> dict[str, str]:
    """backend -> an lr_backend cookie ("lr_backend=...") that nginx sends there."""
    seen: dict[str, str] = {}
    for _ in range(60):
        _, headers = _get(served.port)
        seen.setdefault(_header(headers, "X-LR-Backend"), _backend_cookie(headers))
        if len(seen) == 2:
            return seen
    pytest.fail(f"60 requests reached only {sorted(seen)}")


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def test_every_app_process_is_given_the_one_scheduler(served):
    address = served.scheduler()
    assert re.search(r"^workers: pid \d+, 1 worker of [\d,]+ MB each$",
                     "\n".join(x for x in served.lines if x), re.M)
    for name, pid in served.app_pids().items():
        assert _environ(pid).get("LR_SCHEDULER") == address, name
    with _client(address) as c:
        assert list(c.nthreads().values()) == [1]  # one worker, one thread
    # The worker loaded MNIST before `ready:` (the first Train does not wait for it).
    warm = (served.run_dir / "engine-probe.log").read_text()
    assert '"warm"' in warm and "no data" not in warm, warm


def test_a_browser_session_through_the_proxy(served, browser, tmp_path, mnist_dir):
    context = browser.new_context(base_url=served.url, viewport=VIEWPORT)
    try:
        page = context.new_page()
        first = page.goto("/draw")
        backend = first.headers["x-lr-backend"]
        wait_idle(page, SHELL_MARKER, TIMEOUT_MS)
        wait_idle(page, "Scoring with", TIMEOUT_MS)
        page.locator("canvas.upper-canvas").wait_for(timeout=TIMEOUT_MS)
        draw(page, vertical_stroke())
        page.locator(".scores .prediction").first.wait_for(timeout=TIMEOUT_MS)
        wait_idle(page)
        assert_no_error(page)

        # Another page and back in the same session (websocket messages only).
        nav_click(page, "Weights", "What the model learned")
        assert_no_error(page)
        nav_click(page, "Draw", "Scoring with")
        assert_no_error(page)

        # A reload is a new Streamlit session, on the same process.
        for _ in range(2):
            again = page.reload()
            assert again.headers["x-lr-backend"] == backend
            wait_idle(page, "Scoring with", TIMEOUT_MS)
            assert_no_error(page)

        # An upload: an HTTP PUT that must carry Streamlit's XSRF cookie and token and
        # reach the process holding the session.
        model = tmp_path / "model.npz"
        subprocess.run([sys.executable, "-m", "lrcore", "train", "--train-size", "500",
                        "--test-size", "500", "--max-iter", "20", "--data", "idx",
                        "--data-dir", str(mnist_dir), "--out", str(model)],
                       cwd=ROOT, check=True, capture_output=True, timeout=120)
        nav_click(page, "Train", "Train a model")
        page.locator(".st-key-train_upload input[type='file']").set_input_files(str(model))
        outcome = page.get_by_text(re.compile(r"model\.npz was (not )?added"))
        try:
            outcome.first.wait_for(timeout=TIMEOUT_MS)
        except PlaywrightTimeout:  # e.g. "AxiosError: ... status code 500": say why
            pytest.fail("the upload did not arrive:\n" +
                        page.locator(".st-key-train_upload").inner_text() + "\nnginx: " +
                        (served.run_dir / "nginx.log").read_text()[-2000:])
        wait_idle(page)
        assert "was added as" in outcome.first.inner_text()
        assert_no_error(page)

        key = next(c["value"] for c in context.cookies() if c["name"] == "lr_backend")
    finally:
        context.close()  # closes the websocket, so nginx logs it

    # Every request of this browser, websockets and the upload included, went to one
    # process (nginx logs a websocket when it closes: wait for the last one).
    log = served.run_dir / "access.log"
    deadline = time.monotonic() + 10
    while True:
        mine = [line for line in log.read_text().splitlines() if f"key={key}" in line]
        # One websocket per session: the first load and the two reloads.
        streams = [line for line in mine if '"GET /_stcore/stream' in line]
        if len(streams) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(streams) >= 3, "\n".join(mine)  # more if one reconnected
    assert any('"PUT /_stcore/upload_file' in line for line in mine), "\n".join(mine)
    upstreams = {re.search(r"upstream=(\S+)", line)[1] for line in mine}
    assert upstreams == {backend}, "\n".join(mine)


def test_identical_settings_from_two_app_processes_train_once(served, browser):
    """Two browsers, one on each app process, press Train with the same settings: the
    scheduler has one task for them, wanted by both processes, and ran it once."""
    contexts, pages = [], []
    try:
        for backend, cookie in _cookie_per_backend(served).items():
            context = browser.new_context(base_url=served.url, viewport=VIEWPORT)
            contexts.append(context)
            name, value = cookie.split("=", 1)
            context.add_cookies([{"name": name, "value": value, "url": served.url}])
            page = context.new_page()
            assert page.goto("/train?train_size=2000&max_iter=30").headers[
                "x-lr-backend"] == backend
            pages.append(page)
        for page in pages:
            wait_idle(page, SHELL_MARKER, TIMEOUT_MS)
            wait_idle(page, "Train a model", TIMEOUT_MS)
            page.locator(".st-key-train_go button:enabled >> visible=true").first.wait_for(
                timeout=TIMEOUT_MS)
        pressed = time.time()  # the workers are on this host: the same clock
        for page in pages:
            click_button(page, "train_go")
        accuracies = []
        for page in pages:
            metric = page.locator("[data-testid='stMetric']").filter(has_text="Test accuracy")
            metric.first.wait_for(timeout=MODEL_TIMEOUT_MS)
            wait_idle(page)
            assert_no_error(page)
            accuracies.append(metric.first.locator("[data-testid='stMetricValue']").inner_text())
        assert accuracies[0] == accuracies[1] and accuracies[0].endswith("%"), accuracies
    finally:
        for context in contexts:
            context.close()

    def wanted(dask_scheduler=None):  # runs on the scheduler (shipped by value)
        return {k: sorted(c.client_key for c in ts.who_wants)
                for k, ts in dask_scheduler.tasks.items()
                if isinstance(k, str) and k.startswith("train-")}

    with _client(served.scheduler()) as c:
        wants = {k: set(who) - {c.id} for k, who in c.run_on_scheduler(wanted).items()}
        starts = [msg for _, msg in c.get_events(PROGRESS_TOPIC)
                  if isinstance(msg, dict) and msg.get("kind") == "start"]
    # Every execution of a training sends one "start" (with its own run id).
    since = Counter(m["key"] for m in starts if m["t"] >= pressed - 1.0)
    assert len(since) == 1 and list(since.values()) == [1], (since, wants)
    (key,) = since
    assert len(wants[key]) == 2, wants  # both app processes' engines asked for it
    assert max(Counter(m["key"] for m in starts).values()) == 1  # nothing ran twice


def test_a_killed_worker_is_restarted_by_its_nanny_and_a_killed_dask_worker_by_serve(served):
    address = served.scheduler()
    nannies = served.workers_pid()
    with _client(address) as c:
        (before,) = _worker_pids(c).values()
        os.kill(before, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while True:  # the nanny starts a new worker process, which joins the scheduler
            try:
                now = list(_worker_pids(c).values())
            except Exception:  # noqa: BLE001 - between the loss and the new worker
                now = []
            if len(now) == 1 and now[0] != before:
                (second,) = now
                break
            assert time.monotonic() < deadline, "no new worker after the kill"
            time.sleep(0.5)
        assert served.workers_pid() == nannies and _alive(nannies)
        assert not any(x and x.startswith("workers (pid") for x in served.lines)

        # The `dask worker` command itself: serve.py restarts it, like an app process.
        os.kill(nannies, signal.SIGKILL)
        served.wait_line(rf"^workers \(pid {nannies}\) exited with signal SIGKILL; "
                         r"restarted: pid \d+", 30)
        c.wait_for_workers(1, timeout=120)
        deadline = time.monotonic() + 60
        while len(c.nthreads()) != 1:  # the lost one's removal may lag behind
            assert time.monotonic() < deadline, c.nthreads()
            time.sleep(0.5)
    assert not _alive(second)  # went with its nanny


def test_a_killed_app_process_is_restarted(served):
    before = served.app_pids()
    port = served.app_ports()["app 1"]
    os.kill(before["app 1"], signal.SIGKILL)
    served.wait_line(rf"^app 1 \(pid {before['app 1']}\) exited .*restarted: pid \d+", 30)
    after = served.app_pids()
    assert after["app 1"] != before["app 1"] and after["app 2"] == before["app 2"]
    deadline = time.monotonic() + 60
    while True:  # back on its port, so the upstream list is unchanged
        try:
            if _get(port)[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the restarted app process did not answer"
        time.sleep(0.2)
    assert _get(served.port)[0] == 200


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_sigterm_stops_nginx_every_app_process_and_the_engine(served):
    pids = served.app_pids()
    children = _descendants(served.proc.pid)
    nginx_master = int(served.wait_line(r"^nginx: pid (\d+)", 1)[1])
    scheduler = int(served.wait_line(r"^scheduler: pid (\d+)", 1)[1])
    assert set(pids.values()) | {nginx_master, scheduler, served.workers_pid()} <= children
    # two apps, nginx's master and its worker, the scheduler, the nannies and their worker
    assert len(children) >= 7
    # One engine: no app process started a cluster of its own.
    commands = [_cmdline(p) for p in children]
    assert sum(" dask scheduler " in c for c in commands) == 1, commands
    assert sum(" dask worker " in c for c in commands) == 1, commands

    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=60) == 0
    served.wait_line(r"^stopped$", 5)
    assert [p for p in children if _alive(p)] == []
    assert _port_free(served.port)
    assert not served.run_dir.exists()


def test_a_taken_port_is_one_line_and_status_2(mnist_dir, tmp_path):
    _need_nginx()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _serve(mnist_dir, tmp_path, "--processes", "1", "--port", str(port))
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert out.strip() == f"serve.py: port {port} is taken on 127.0.0.1: choose another with --port"


def test_an_unreachable_scheduler_is_one_line_and_status_2(mnist_dir, tmp_path):
    _need_nginx()
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    proc = _serve(mnist_dir, tmp_path, "--processes", "1", "--port", str(free_port()),
                  "--scheduler", address, "--run-dir", str(tmp_path / "run"))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert out.strip().startswith(f"serve.py: cannot reach the scheduler at {address}: ")
    assert len(out.strip().splitlines()) == 1, out
    assert not (tmp_path / "run").exists()


def test_an_external_scheduler_is_used_and_no_engine_started(mnist_dir, tmp_path):
    """The several-hosts layout: --scheduler points the apps at an existing scheduler."""
    _need_nginx()
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
         address.rsplit(":", 1)[1], "--no-dashboard"], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with _client(address):  # listening (the client waits up to its timeout)
            pass
        port = free_port()
        s = Served(_serve(mnist_dir, tmp_path, "--processes", "1", "--port", str(port),
                          "--scheduler", address), port, tmp_path)
        try:
            s.wait_line(rf"^note: the scheduler at {address} has no workers yet", READY_TIMEOUT)
            s.wait_line(rf"^ready: http://127\.0\.0\.1:{port} \(1 app process, engine: "
                        rf"scheduler at {address}, 0 workers\)$", READY_TIMEOUT)
            (app,) = s.app_pids().values()
            assert _environ(app).get("LR_SCHEDULER") == address
            commands = [_cmdline(p) for p in _descendants(s.proc.pid)]
            assert not [c for c in commands if " dask " in c], commands
            s.proc.send_signal(signal.SIGTERM)
            assert s.proc.wait(timeout=60) == 0
        finally:
            _stop(s.proc)
        assert scheduler.poll() is None  # not serve.py's to stop
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)


def test_when_nginx_dies_everything_stops(mnist_dir, tmp_path):
    _need_nginx()
    port = free_port()
    s = Served(_serve(mnist_dir, tmp_path, "--processes", "1", "--workers", "1", "--port",
                      str(port), "--run-dir", str(tmp_path / "run")), port, tmp_path / "run")
    try:
        s.wait_line(r"^ready: ", READY_TIMEOUT)
        nginx = int(s.wait_line(r"^nginx: pid (\d+)", 1)[1])
        children = _descendants(s.proc.pid)
        assert len(children) >= 6  # the app, nginx (master, worker), the engine's three
        os.kill(nginx, signal.SIGKILL)  # its worker is left holding the port
        assert s.proc.wait(timeout=60) == 1
        s.wait_line(rf"^serve.py: nginx \(pid {nginx}\) exited with signal SIGKILL", 5)
        s.wait_line(r"^serve.py: stopping everything$", 5)
        assert [p for p in children if _alive(p)] == []
        assert _port_free(port)
        assert not s.run_dir.exists()
    finally:
        _stop(s.proc)
