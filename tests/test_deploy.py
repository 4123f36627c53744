"""deploy/serve.py: two app processes behind Debian's nginx, driven through the proxy.

One serve.py runs for the module (the tests run in file order; the last one stops it):
plain HTTP shows that both processes serve and that the ``lr_backend`` cookie keeps a
browser on one of them; headless Chromium draws, switches pages and uploads a model file
through the proxy (the upload needs Streamlit's XSRF cookie and the session's process);
a killed app process is restarted; SIGTERM leaves no process behind and frees the port.
Two short runs of their own: a taken port is refused in one line, and when nginx dies
serve.py stops the rest and says so.
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
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import need
from tests.e2e.conftest import (  # noqa: F401  (the fixture points Playwright at Chromium)
    SHELL_MARKER,
    TIMEOUT_MS,
    VIEWPORT,
    assert_no_error,
    browser_type_launch_args,
    draw,
    nav_click,
    vertical_stroke,
    wait_idle,
)

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 90.0  # two cold Streamlit starts on a busy 2-core box, then nginx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    if proc.poll() is None:  # a test failed before stopping it
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def served(mnist_dir, tmp_path_factory):
    _need_nginx()
    tmp = tmp_path_factory.mktemp("deploy")
    port = _free_port()
    proc = _serve(mnist_dir, tmp, "--processes", "2", "--port", str(port),
                  "--run-dir", str(tmp / "run"))
    s = Served(proc, port, tmp / "run")
    try:
        s.wait_line(rf"^ready: http://127\.0\.0\.1:{port} \(2 app processes\)$",
                    READY_TIMEOUT)
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


def test_sigterm_stops_nginx_and_every_app_process(served):
    pids = served.app_pids()
    children = _descendants(served.proc.pid)
    nginx_master = int(served.wait_line(r"^nginx: pid (\d+)", 1)[1])
    assert set(pids.values()) | {nginx_master} <= children
    assert len(children) >= 4  # two apps, nginx's master and its worker

    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=30) == 0
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


def test_when_nginx_dies_everything_stops(mnist_dir, tmp_path):
    _need_nginx()
    port = _free_port()
    s = Served(_serve(mnist_dir, tmp_path, "--processes", "1", "--port", str(port),
                      "--run-dir", str(tmp_path / "run")), port, tmp_path / "run")
    try:
        s.wait_line(r"^ready: ", READY_TIMEOUT)
        nginx = int(s.wait_line(r"^nginx: pid (\d+)", 1)[1])
        children = _descendants(s.proc.pid)
        assert len(children) >= 3  # the app, nginx's master and its worker
        os.kill(nginx, signal.SIGKILL)  # its worker is left holding the port
        assert s.proc.wait(timeout=30) == 1
        s.wait_line(rf"^serve.py: nginx \(pid {nginx}\) exited with signal SIGKILL", 5)
        s.wait_line(r"^serve.py: stopping everything$", 5)
        assert [p for p in children if _alive(p)] == []
        assert _port_free(port)
        assert not s.run_dir.exists()
    finally:
        _stop(s.proc)
