"""Classroom load benchmark: what N students drawing at once do to one server (not a test).

Run (from the repository root; every figure is wall-clock on whatever else the machine does):

    MNIST_DIR=/work/shared/mnist python bench/classroom.py --sessions 1,10 --seconds 20
    MNIST_DIR=/work/shared/mnist python bench/classroom.py            # N = 1,10,30,60, 30 s each
    ... --processes 3          # K app processes behind nginx (deploy/serve.py) instead of one
    ... --reuse-server         # one server for every N (RSS figures then carry over)
    ... --json figures.json    # every figure, per N and per session kind

``MNIST_DIR`` must hold the full MNIST (the four IDX .gz files); unset, ``../shared/mnist``
beside the checkout is used (and the run says so). ``LR_DEFAULT_TRAIN_SIZE`` is passed
through to the app, so a quick trial can shrink the default model (the figures are then not
the classroom's).

What one N does (``scenario_draw``):

1. A fresh server (``streamlit run app.py``, or ``deploy/serve.py --processes K``), healthy.
2. Warm-up and recording: one Chromium tab opens ``/draw`` (the first visit trains or loads
   the process's default model), draws a vertical stroke, a ring and a "7" on the same canvas
   (so each stroke changes the picture), and Playwright records the websocket frames it sends:
   the page-load ``rerun_script`` BackMsg and, per stroke, the ``rerun_script`` carrying the
   canvas value (``widget_states``, ``fragment_id``, ``page_script_hash``). The scores the page
   shows after each stroke become that stroke's expected answer. The tab is then closed.
   With K > 1 app processes, light clients then load /draw until every process has served
   one (nginx's ``X-LR-Backend`` header says which), so every process is warm.
3. N sessions connect and load ``/draw``: one real Chromium tab and N-1 light clients. A light
   client speaks Streamlit's protocol on its own websocket (``/_stcore/stream``, subprotocol
   ``streamlit``, same-origin ``Origin``): it sends the recorded page-load rerun, waits for
   ``script_finished``, and later replays the recorded stroke messages in turn, declaring in
   ``cached_message_hashes`` the cacheable messages it has received (as the browser does, so
   the server sends big plotly figures by reference just as it would to a browser).
4. Drawing: every session makes a stroke every 1.6-2.4 s (uniform; the first after 0-2 s) for
   ``--seconds``; the tab draws real mouse strokes (vertical, ring, 7, then Clear, again), a
   light client replays the three recorded strokes in turn. Then each session's latest stroke
   gets ``--answer-timeout`` (30 s) after its last send for its answer.

Figures, one row per N (``--json`` has them all, plus per-session-kind details):

- ``tab p50/p95``: real tab, mouse-up -> the scores on screen (``.scores .prediction`` text and
  ``.scores .bar[data-p]``) equal that stroke's expected scores, both read inside the page with
  ``performance.now()`` (includes the canvas's own 200 ms debounce). Scores matching no
  recorded stroke also count as the answer (they can only be this stroke's), and are counted
  as unmatched in the JSON.
- ``light p50/p95``: light clients, websocket send of the stroke -> the ForwardMsg delta holding
  that stroke's scores (``class='scores'`` markup whose prediction and percentages equal the
  recorded answer, in a run whose ``new_session`` came after the send, so neither an older
  run's scores nor a stale one counts).
- ``sent / answered / superseded / lost``: all sessions. Superseded: the session sent a newer
  stroke (or the tab pressed Clear) before the answer came (Streamlit interrupts the old rerun:
  fine). Lost: a session's latest stroke with no answer ``--answer-timeout`` s after its send.
- ``CPU ms/stroke``: server CPU seconds (user+sys of the server process(es) and all their
  children, psutil) during the drawing phase (first stroke to the last answer or loss),
  divided by strokes answered. ``cores``: server CPU seconds / wall seconds while the
  sessions were sending (the wait for late answers is left out of it).
- ``health p50/p95``: a poller GETs ``/_stcore/health`` every 0.25-0.5 s during drawing
  (``fail`` = errors or non-200 within 10 s).
- Memory (MB, RSS): ``before`` = the warmed-up server with no session connected; ``idle`` =
  once the N sessions have loaded /draw; ``end`` = at the end of drawing. ``/idle`` and
  ``/draw`` are (idle - before) / N and (end - before) / N, per session. ``web`` is the app
  process(es) alone (the streamlit process; with K > 1 the app processes serve.py started),
  ``total`` adds every child (Dask workers, nginx, ...).
- ``bench cores``: CPU of this benchmark process (the light clients, the health poller,
  Playwright's Python side) / wall; ``loop lag p95``: how late the light clients' event loop
  woke up. If either is high, the figures measure the benchmark, not the server. The
  browser's own CPU (Chromium and Playwright's driver) is in the JSON.

Every wait has a timeout, so a collapsing server gives long latencies and "lost" strokes, not
a hang. Servers are started and stopped by their own PIDs.

The Train scenario (``--scenario train``): K students press Train at the same moment
-------------------------------------------------------------------------------------

    MNIST_DIR=/work/shared/mnist python bench/classroom.py --scenario train --trainers 1,10
    ... --scenario train --trainers 10 --identical     # one link for all: one shared job
    ... --train-size 3000 --max-iter 20                # a quick trial (not the classroom's)

What one K does (``scenario_train``), on a fresh server unless ``--reuse-server``:

1. Warm-up as above (``/draw``: the default model, and the draw recording for the tab), then
   a Chromium tab opens a tiny-training link (``TRAIN_RECORD_QUERY``), presses Train and
   waits for its run; its websocket frames give the page-load rerun and the press
   (``record_train``). Unless a K=1 row of this run already did, a lone training (one
   session, a full-MNIST link of its own) is measured first: its press -> run is T, its
   server CPU the "lone CPU".
2. K light clients (``TrainerClient``) each load their own link
   ``/train?penalty=l2&C=<C>&train_size=60000&max_iter=100``: the recorded page-load rerun
   with ``rerun_script.query_string`` set to the link's (the page reads its settings from
   it on the session's first run). C = 0.01 * (1 + j/100), one j per session, numbered on
   across rows; with ``--identical`` one j for all K. Never C=0.01: on all digits that is
   the default model's settings, whose finished job the engine keeps, so a press would get
   that run at once. One real tab opens /draw.
3. All K send the recorded press at once, with the button's trigger as the only widget
   state (every setting stays the session's own). From then on each client does what the
   browser does with ``st.fragment(run_every=...)``: each ``auto_rerun`` ForwardMsg (the
   live panel's 0.5 s, the sidebar's 1 s) starts a timer sending that fragment's rerun
   (``is_auto_rerun``, the cacheable messages it holds declared), until a full run (which
   registers them again) or ``stop_auto_rerun``. A session is done when the last-run
   panel's ``Test accuracy`` metric arrives; it got no run if the page says the training
   was cancelled, could not be started, ... Meanwhile the tab draws every 1.6-2.4 s.
4. ``--train-timeout`` (900 s) after the presses, a session with neither is "never
   answered"; its state is in the JSON, and the server is then stopped with SIGABRT so
   that its threads' stacks land in the server log (``PYTHONFAULTHANDLER``).

Figures, one row per K:

- ``runs``: sessions whose run arrived / K. ``first``/``mean``/``max s``: press -> the
  metric, per session. ``expect s``: FIFO over the S worker slots (the engine's
  ``default_workers()``, i.e. ``LR_ENGINE_WORKERS`` or the cores) from T:
  T * mean(j // S + 1) ~ T * (K/S + 1) / 2 for distinct links, T for one shared link;
  ``mean/exp`` their ratio. Trainings side by side share the cores, so > 1 is expected.
- ``tab p50/p95``: the real tab's mouse-up -> scores (as in the draw scenario) while the
  trainings run.
- ``CPU s``: user+sys CPU of the server tree (web process, engine scheduler, nanny and
  workers) from the presses to the last run; ``CPU/lone``: over the lone training's.
- Memory: RSS of the web process and of the whole tree sampled every 0.5 s through the
  row; ``peak`` is from the presses to 10 s after the last run, ``idle->after`` the total
  just before the presses and 10 s after the last run (all sessions still connected).
- The JSON also has each session's queue texts, time queued, run label (checked against its
  own C), accuracy, the page's warnings, and log lines of the server and of the engine's
  ``cluster.log`` that look like trouble.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The browser and server helpers of the Playwright tests, and the Draw page's DOM contract
# (the guess and every class's percentage).
from tools.browser import SCORES_SIG_JS as SIG_JS  # noqa: E402
from tools.browser import (  # noqa: E402
    CANVAS,
    VIEWPORT,
    click_button,
    draw,
    free_port,
    ink,
    launch_chromium,
    ring,
    stop_app,
    streamlit_command,
    vertical_stroke,
    wait_empty_canvas,
    wait_idle,
)

SHAPES = ("vertical", "ring", "seven")
# A stroke every 1.6-2.4 s: students do not draw in step, and neither must the sessions.
INTERVAL = (1.6, 2.4)
FIRST_OFFSET = (0.0, 2.0)
HEALTH_INTERVAL = (0.25, 0.5)
HTTP_TIMEOUT = 10.0
SERVER_START_TIMEOUT = 180.0
WARMUP_TIMEOUT_MS = 300_000  # the first /draw trains the default model on all of MNIST
LOAD_TIMEOUT = 120.0  # N sessions loading /draw at once
STEP_TIMEOUT_MS = 30_000  # one browser action (a click, a stroke's answer while recording)

# In the real tab: each canvas mouse-up pushes {up, target, t}; t is set (performance.now())
# on the first animation frame where the scores on screen equal that stroke's expected
# scores, or show scores that match no recorded stroke at all (a stroke the mouse drew a
# little differently: then it can only be this stroke's answer; counted as "unmatched").
# Only the latest stroke can be answered: an older one was superseded.
TAB_JS = """known => {
    window.__strokes = []; window.__target = null; window.__known = known;
    if (window.__classroom) return;
    window.__classroom = true;
    const sig = """ + SIG_JS + """;
    // The canvas is in a shadow root; mouse events are composed, so they reach here. Only
    // mouse-ups on the canvas are strokes (not the Clear button).
    document.addEventListener('mouseup', e => {
        if (!e.composedPath().some(el => el.classList && el.classList.contains('upper-canvas')))
            return;
        window.__strokes.push({up: performance.now(), target: window.__target, t: null,
                               unmatched: null});
    }, true);
    const tick = () => {
        const s = window.__strokes, last = s[s.length - 1];
        if (last && last.t === null) {
            const now = sig();
            if (now === last.target) last.t = performance.now();
            else if (now !== null && !window.__known.includes(now)) {
                last.t = performance.now(); last.unmatched = now;
            }
        }
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""

_SCORES_RE = re.compile(rb"class=[\"']scores[\"']")
_PRED_RE = re.compile(rb"class=[\"'][^\"']*\bprediction\b[^\"']*[\"'][^>]*>\s*([^<]*?)\s*<")
_BAR_RE = re.compile(rb"<[^>]*class=[\"']bar[\"'][^>]*>")
_P_RE = re.compile(rb"data-p=[\"']([^\"']*)[\"']")


# ----------------------------------------------------------------------------- small helpers
def scores_signature(raw: bytes) -> str | None:
    """The DOM signature (guess ``|`` percentages, as SIG_JS computes it) of the scores markup
    inside a raw ForwardMsg frame, or None if the frame holds no scores.

    Works on the frame's bytes (protobuf strings are plain UTF-8 in them), so it does not
    matter which element type carries the markup."""
    m = _SCORES_RE.search(raw)
    if m is None:
        return None
    rest = raw[m.start():]
    pred = _PRED_RE.search(rest)
    if pred is None:
        return None
    ps = []
    for bar in _BAR_RE.finditer(rest):
        p = _P_RE.search(bar.group(0))
        if p:
            ps.append(p.group(1).decode())
    return pred.group(1).decode().strip() + "|" + ",".join(ps)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation between ranks); None if empty."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def parse_sessions(text: str) -> list[int]:
    """``"1,10,30"`` -> [1, 10, 30]; every N >= 1."""
    try:
        ns = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sessions wants integers like 1,10,30: {text!r}")
    if not ns or min(ns) < 1:
        raise argparse.ArgumentTypeError(f"--sessions wants integers >= 1: {text!r}")
    return ns


@dataclass
class Stroke:
    """One stroke of one session. Times in seconds (perf_counter, or the page's clock)."""
    shape: int  # index into the recording's strokes
    sent: float
    answered: float | None = None
    status: str = "pending"  # answered | superseded | lost

    @property
    def latency_ms(self) -> float | None:
        return None if self.answered is None else 1000 * (self.answered - self.sent)


def count_strokes(strokes: Sequence[Stroke]) -> dict[str, int]:
    out = {"sent": len(strokes), "answered": 0, "superseded": 0, "lost": 0}
    for s in strokes:
        if s.status in out:
            out[s.status] += 1
    return out


def settle(strokes: list[Stroke], answer_timeout: float, now: float) -> None:
    """Final statuses: a pending stroke that is not the latest was superseded; the latest
    is lost if it had no answer within ``answer_timeout`` of its send."""
    for s in strokes[:-1]:
        if s.status == "pending":
            s.status = "superseded"
    if strokes and strokes[-1].status == "pending" and now - strokes[-1].sent >= answer_timeout:
        strokes[-1].status = "lost"


def stroke_points(shape: str, size: float = 280) -> list[tuple[float, float]]:
    """Mouse path of a recorded shape, in canvas pixels."""
    if shape == "vertical":
        return vertical_stroke(size)
    if shape == "ring":
        return ring(size)
    if shape == "seven":  # a bar across the top, then down and to the left
        pts = [(size * (0.25 + 0.05 * i), 0.22 * size) for i in range(11)]
        return pts + [(size * (0.75 - 0.3 * i / 14), size * (0.22 + 0.58 * i / 14))
                      for i in range(1, 15)]
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- servers
class Server:
    """The app under test: ``streamlit run app.py`` (K = 1) or ``deploy/serve.py`` (K > 1).

    Started and stopped by its own PID; :meth:`processes` finds the app process(es) and
    every descendant for the CPU and memory figures."""

    def __init__(self, mnist_dir: str, processes: int = 1):
        self.mnist_dir = mnist_dir
        self.k = processes
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.log = tempfile.NamedTemporaryFile("w+", prefix="classroom-server-", suffix=".log",
                                               delete=False)
        # A scenario that saw the server stuck sets this: stop() then sends SIGABRT, and
        # PYTHONFAULTHANDLER (set for K = 1) writes every thread's stack into the log.
        self.dump_threads_on_stop = False

    def start(self) -> "Server":
        env = {**os.environ, "MNIST_DIR": self.mnist_dir, "PYTHONFAULTHANDLER": "1"}
        port = free_port()
        if self.k == 1:
            cmd = streamlit_command(port)
            self.url = f"http://127.0.0.1:{port}"
        else:
            serve = ROOT / "deploy" / "serve.py"
            if not serve.exists():
                raise SystemExit(f"--processes {self.k} needs {serve.relative_to(ROOT)} (several "
                                 "app processes behind nginx), which does not exist yet; "
                                 "run with --processes 1")
            cmd = [sys.executable, str(serve), "--processes", str(self.k), "--port", str(port),
                   "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        # Copy the output to the log file from a thread (the pipe must never fill up), and
        # catch serve.py's "ready ... URL" line.
        ready = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:
                self.log.write(line)
                self.log.flush()
                if self.k > 1 and not ready.is_set() and "ready" in line.lower():
                    m = re.search(r"https?://[^\s'\"]+", line)
                    if m:
                        self.url = m.group(0).rstrip("/.,;")
                        ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        if self.k > 1:
            while not ready.wait(0.2):
                self._check_alive()
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"deploy/serve.py printed no 'ready <URL>' line in "
                                       f"{SERVER_START_TIMEOUT:g} s; log: {self.log.name}")
        while True:
            self._check_alive()
            if http_status(self.url + "/_stcore/health") == 200:
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server was not healthy in {SERVER_START_TIMEOUT:g} s; "
                                   f"log: {self.log.name}")
            time.sleep(0.2)

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {self.proc.returncode}; "
                               f"log: {self.log.name}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.dump_threads_on_stop and self.k == 1:
            _log(f"the server looked stuck: SIGABRT, its threads' stacks go to {self.log.name}")
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                pass
        stop_app(self.proc, timeout=20)  # SIGTERM by its own PID; SIGKILL after 20 s

    def processes(self) -> tuple[list, list]:
        """(web, all): the app process(es), and those plus every descendant (psutil)."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            everything = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return [], []
        if self.k == 1:
            return [root], everything
        web = []
        for c in root.children():
            try:
                if "streamlit" in " ".join(c.cmdline()):
                    web.append(c)
            except psutil.Error:
                pass
        return web, everything


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def rss_mb(procs: Sequence) -> float:
    import psutil

    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def cpu_seconds(procs: Sequence) -> dict[tuple[int, float], float]:
    """(pid, create_time) -> user+sys CPU seconds, per live process."""
    import psutil

    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[(p.pid, p.create_time())] = t.user + t.system
        except psutil.Error:
            pass
    return out


def cpu_used(before: dict, after: dict) -> float:
    """CPU seconds spent between two :func:`cpu_seconds` snapshots (a process born in
    between counts from zero; one that died in between is not counted)."""
    return sum(v - before.get(k, 0.0) for k, v in after.items())


def memory(server: Server) -> dict[str, float]:
    web, everything = server.processes()
    return {"web_mb": rss_mb(web), "total_mb": rss_mb(everything)}


# ----------------------------------------------------------------------------- recording
@dataclass
class Recording:
    """What a real browser sent for /draw: the page-load rerun and one rerun per stroke,
    with the scores (DOM signature) each stroke must produce."""
    page_load: bytes
    strokes: list[bytes]
    expected: list[str]
    shapes: list[str] = field(default_factory=lambda: list(SHAPES))


def record_draw(browser, url: str) -> Recording:
    """Warm the server up and record a browser drawing on /draw (see the module docstring)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    sent: list[tuple[float, bytes]] = []

    def on_ws(ws) -> None:
        if ws.url.endswith("/_stcore/stream"):
            ws.on("framesent", lambda payload: sent.append(
                (time.perf_counter(), payload if isinstance(payload, bytes) else payload.encode())))

    ctx = browser.new_context(viewport=VIEWPORT, base_url=url)
    try:
        page = ctx.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.on("websocket", on_ws)
        page.goto("/draw")
        wait_idle(page, "Scoring with", timeout=WARMUP_TIMEOUT_MS)
        page.locator(CANVAS).wait_for()
        reruns = []
        for msg_t, payload in sent:
            m = BackMsg()
            m.ParseFromString(payload)
            if m.WhichOneof("type") == "rerun_script":
                reruns.append(payload)
        if not reruns:
            raise RuntimeError("recording: the browser sent no rerun_script while loading /draw")
        page_load = reruns[0]
        strokes, expected = [], []
        for shape in SHAPES:
            before = page.evaluate(SIG_JS)
            t0 = time.perf_counter()
            draw(page, stroke_points(shape))
            page.wait_for_function(f"before => ({SIG_JS})() !== null && ({SIG_JS})() !== before",
                                   arg=before, timeout=STEP_TIMEOUT_MS)
            wait_idle(page, settle_ms=300)
            sig = page.evaluate(SIG_JS)
            mine = []
            for msg_t, payload in sent:
                if msg_t < t0:
                    continue
                m = BackMsg()
                m.ParseFromString(payload)
                if m.WhichOneof("type") == "rerun_script" and m.rerun_script.widget_states.widgets:
                    mine.append(m)
            if not mine:
                raise RuntimeError(f"recording: no rerun_script was sent for the {shape} stroke")
            # The browser's cache is its own: each light client declares what it has received.
            msg = mine[-1]
            del msg.rerun_script.cached_message_hashes[:]
            strokes.append(msg.SerializeToString())
            expected.append(sig)
        if len(set(expected)) < len(expected):
            _log(f"warning: two recorded strokes gave the same scores {expected}; answers are "
                 "then matched by run order only")
        click_button(page, "draw_clear")
        page.wait_for_function(f"() => ({SIG_JS})() === null", timeout=STEP_TIMEOUT_MS)
        return Recording(page_load, strokes, expected)
    finally:
        ctx.close()


# ----------------------------------------------------------------------------- real tab
class BrowserTab:
    """The one real student: a Chromium tab drawing mouse strokes on /draw (main thread)."""

    def __init__(self, browser, url: str, rec: Recording):
        self.browser, self.url, self.rec = browser, url, rec
        self.ctx = self.page = None
        self.strokes: list[Stroke] = []
        self.clear_failures = 0
        self.errors: list[str] = []
        self.unexpected: list[str] = []  # answers on screen that match no recorded stroke
        self.clears = 0
        self.blank_canvas = 0  # strokes that found the canvas blank though it had strokes

    def open(self) -> None:
        self.ctx = self.browser.new_context(viewport=VIEWPORT, base_url=self.url)
        self.page = self.ctx.new_page()
        self.page.set_default_timeout(STEP_TIMEOUT_MS)
        self.page.goto("/draw")
        wait_idle(self.page, "Scoring with", timeout=LOAD_TIMEOUT * 1000)
        self.page.locator(CANVAS).wait_for()
        self.page.evaluate(TAB_JS, self.rec.expected)

    def close(self) -> None:
        if self.ctx is not None:
            try:
                self.ctx.close()
            except Exception:  # the browser may be gone already
                pass

    def _clear(self) -> None:
        self.clears += 1
        try:
            click_button(self.page, "draw_clear")
            self.page.wait_for_function(f"() => ({SIG_JS})() === null", timeout=STEP_TIMEOUT_MS)
            wait_empty_canvas(self.page, timeout=5)
            # A student does not draw within milliseconds of the canvas going blank: let the
            # Clear's rerun finish first.
            wait_idle(self.page, settle_ms=300, timeout=STEP_TIMEOUT_MS)
        except Exception as e:  # a collapsing server: carry on, the next strokes will tell
            self.clear_failures += 1
            self.errors.append(f"clear: {type(e).__name__}: {str(e)[:200]}")

    def draw_loop(self, t_start: float, t_end: float, rng: random.Random,
                  answer_timeout: float, until: Callable[[], bool] | None = None) -> None:
        """Strokes vertical, ring, 7, Clear, ... until ``t_end`` (or until ``until()`` is
        true); then wait for the latest stroke's answer (at most ``answer_timeout`` after
        it)."""
        n = len(self.rec.strokes)
        k = 0
        t = t_start + rng.uniform(*FIRST_OFFSET)
        while True:
            _sleep_until(t, until)
            if time.perf_counter() >= t_end or (until is not None and until()):
                break
            try:
                if k and k % n == 0:
                    self._clear()
                elif k % n and ink(self.page) == 0:
                    # The earlier strokes since the Clear vanished from the canvas: this
                    # stroke's answer will match no recording (see "unmatched").
                    self.blank_canvas += 1
                self.page.evaluate("t => { window.__target = t; }", self.rec.expected[k % n])
                draw(self.page, stroke_points(self.rec.shapes[k % n]))
            except Exception as e:
                self.errors.append(f"stroke: {type(e).__name__}: {str(e)[:200]}")
            k += 1
            t = max(t + rng.uniform(*INTERVAL), time.perf_counter())
        self._drain(answer_timeout)

    def _drain(self, answer_timeout: float) -> None:
        deadline = time.perf_counter() + answer_timeout + 1
        raw: list[dict] = []
        while True:
            try:
                raw, now = self.page.evaluate("() => [window.__strokes, performance.now()]")
            except Exception as e:
                self.errors.append(f"drain: {type(e).__name__}: {str(e)[:200]}")
                break
            last = raw[-1] if raw else None
            if last is None or last["t"] is not None or now - last["up"] >= answer_timeout * 1000:
                break
            if time.perf_counter() > deadline:
                break
            time.sleep(0.2)
        self.strokes = []
        self.unexpected = [s["unmatched"] for s in raw if s.get("unmatched")]
        for i, s in enumerate(raw):
            st = Stroke(shape=i % len(self.rec.strokes), sent=s["up"] / 1000)
            if s["t"] is not None:
                st.answered, st.status = s["t"] / 1000, "answered"
            self.strokes.append(st)
        # Page clock: the latest stroke is lost if it is still unanswered after the drain.
        settle(self.strokes, answer_timeout, now=math.inf)


def _sleep_until(t: float, until: Callable[[], bool] | None = None) -> None:
    while True:
        d = t - time.perf_counter()
        if d <= 0 or (until is not None and until()):
            return
        time.sleep(min(d, 0.1) if until is not None else d)


# ----------------------------------------------------------------------------- light clients
class LightClient:
    """One student as a Streamlit websocket client replaying the recorded messages."""

    def __init__(self, url: str, rec: Recording):
        self.url, self.rec = url, rec
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.loaded = asyncio.Event()
        self.answered = asyncio.Event()
        self.strokes: list[Stroke] = []
        self.pending: Stroke | None = None
        self.run_started: float | None = None  # latest new_session
        self.runs_finished = 0
        self.cache: dict[str, int] = {}  # hash of a cacheable message -> run it was last seen in
        self.ref_sigs: dict[str, str] = {}
        self.stale = 0  # scores of an older run that arrived after a send
        self.unexpected = 0  # scores that match no recorded stroke
        self.error: str | None = None
        self.backend: str | None = None
        self.bytes_in = 0  # websocket payload received
        self.refs = 0  # messages the server sent by reference (we had them cached)
        self._stroke_msgs = None
        self.path = "/draw"  # the page (and query string) this session opens

    async def connect(self, timeout: float) -> None:
        from websockets.asyncio.client import connect

        # Like a browser, first fetch the page: its cookies (deploy/serve.py's sticky-session
        # cookie, Streamlit's XSRF cookie) go with the websocket.
        response = await asyncio.wait_for(http_get(self.url, self.path), timeout)
        cookies = set_cookies(response)
        # deploy/serve.py's nginx names the app process that answered (None without it).
        self.backend = dict(response_headers(response)).get("x-lr-backend")
        ws_url = "ws" + self.url[len("http"):] + "/_stcore/stream"
        # What the browser does: subprotocol "streamlit" (Streamlit reads its second and third
        # entries as XSRF token and session to resume: none here), a same-origin Origin.
        headers = {"Cookie": "; ".join(cookies)} if cookies else None
        self.ws = await connect(ws_url, subprotocols=["streamlit"], origin=self.url,
                                additional_headers=headers, max_size=None, ping_interval=None,
                                proxy=None, open_timeout=timeout, close_timeout=2)
        self.reader = asyncio.create_task(self._read())

    async def load(self, timeout: float) -> None:
        """Send the recorded page-load rerun and wait until the page has run."""
        await self.ws.send(self.rec.page_load)
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self._on_frame(frame, time.perf_counter())
        except Exception as e:  # closed by the server, or by us
            if self.error is None:
                self.error = f"{type(e).__name__}: {str(e)[:200]}"
        finally:
            if self.error is None:
                self.error = "websocket closed"

    def _on_frame(self, raw: bytes, now: float) -> None:
        """Parse a ForwardMsg, keep the run's bookkeeping, hand it to :meth:`_on_message`."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.bytes_in += len(raw)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.run_started = now
        elif kind == "script_finished":
            self.runs_finished += 1
            if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                self.loaded.set()
        self._on_message(msg, kind, raw, now)

    def _on_message(self, msg: Any, kind: str, raw: bytes, now: float) -> None:
        """A drawing student's messages: the scores of each stroke."""
        if kind in ("delta", "ref_hash"):
            self._note_cacheable(msg, kind)
            if kind == "ref_hash":
                sig = self.ref_sigs.get(msg.ref_hash)
            else:
                sig = scores_signature(raw)
                if sig is not None and msg.metadata.cacheable:
                    self.ref_sigs[msg.hash] = sig
            if sig is not None:
                self._on_scores(sig, now)

    def _note_cacheable(self, msg, kind: str) -> None:
        """Remember the cacheable messages received (declared on the next reruns)."""
        if msg.metadata.cacheable:
            self.cache[msg.hash] = self.runs_finished
        if kind == "ref_hash":
            self.refs += 1
            self.cache[msg.ref_hash] = self.runs_finished

    def _cached_hashes(self) -> list[str]:
        # Like the browser's message cache: what arrived in the last two runs.
        return [h for h, run in self.cache.items() if self.runs_finished - run <= 2]

    def _on_scores(self, sig: str, now: float) -> None:
        s = self.pending
        if sig not in self.rec.expected:
            self.unexpected += 1
        if s is None:
            return
        if self.run_started is None or self.run_started < s.sent:
            self.stale += 1
            return
        if sig == self.rec.expected[s.shape]:
            s.answered, s.status = now, "answered"
            self.pending = None
            self.answered.set()

    def _message(self, shape: int) -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if self._stroke_msgs is None:
            self._stroke_msgs = []
            for raw in self.rec.strokes:
                m = BackMsg()
                m.ParseFromString(raw)
                self._stroke_msgs.append(m)
        m = self._stroke_msgs[shape]
        del m.rerun_script.cached_message_hashes[:]
        m.rerun_script.cached_message_hashes.extend(self._cached_hashes())
        return m.SerializeToString()

    async def draw_loop(self, t_start: float, t_end: float, rng: random.Random,
                        answer_timeout: float) -> None:
        n = len(self.rec.strokes)
        k = 0
        t = t_start + rng.uniform(*FIRST_OFFSET)
        while self.error is None:
            await asyncio.sleep(max(0.0, t - time.perf_counter()))
            if time.perf_counter() >= t_end:
                break
            if self.pending is not None:
                self.pending.status = "superseded"
            payload = self._message(k % n)
            s = Stroke(shape=k % n, sent=time.perf_counter())
            self.pending = s
            self.strokes.append(s)
            self.answered.clear()
            try:
                await asyncio.wait_for(self.ws.send(payload), HTTP_TIMEOUT)
            except Exception as e:
                self.error = f"send: {type(e).__name__}: {str(e)[:200]}"
                break
            k += 1
            t = max(t + rng.uniform(*INTERVAL), time.perf_counter())
        if self.pending is not None:
            left = self.pending.sent + answer_timeout - time.perf_counter()
            try:
                await asyncio.wait_for(self.answered.wait(), max(0.0, left))
            except asyncio.TimeoutError:
                pass
        settle(self.strokes, answer_timeout, time.perf_counter())
        if self.strokes and self.strokes[-1].status == "pending":  # the connection died
            self.strokes[-1].status = "lost"

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:
                pass
        if self.reader is not None:
            self.reader.cancel()


class AsyncRunner:
    """An asyncio loop in a background thread (the main thread drives Playwright)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def _host_port(url: str) -> tuple[str, int]:
    m = re.match(r"http://([^:/]+):(\d+)", url)
    if m is None:
        raise ValueError(f"expected http://host:port, got {url!r}")
    return m.group(1), int(m.group(2))


async def http_get(url: str, path: str) -> bytes:
    """A plain HTTP/1.1 GET on a new connection; the whole response (headers and body)."""
    host, port = _host_port(url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        return await reader.read()
    finally:
        writer.close()


def response_headers(response: bytes) -> list[tuple[str, str]]:
    """(lower-case name, value) of every header of an HTTP response."""
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    out = []
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        out.append((name.strip().lower(), value.strip()))
    return out


def set_cookies(response: bytes) -> list[str]:
    """``name=value`` of every Set-Cookie header of an HTTP response."""
    return [v.split(";", 1)[0] for k, v in response_headers(response) if k == "set-cookie" and v]


async def poll_health(url: str, stop: asyncio.Event, rng: random.Random,
                      out: dict[str, list]) -> None:
    """GET /_stcore/health every 0.25-0.5 s until ``stop``; latencies (ms) and failures."""
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            data = await asyncio.wait_for(http_get(url, "/_stcore/health"), HTTP_TIMEOUT)
            if data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"):
                out["ms"].append(1000 * (time.perf_counter() - t0))
            else:
                out["fail"].append(data[:40].decode("latin-1"))
        except Exception as e:
            out["fail"].append(type(e).__name__)
        try:
            await asyncio.wait_for(stop.wait(), rng.uniform(*HEALTH_INTERVAL))
        except asyncio.TimeoutError:
            pass


async def watch_loop_lag(stop: asyncio.Event, out: list[float]) -> None:
    """How late a 100 ms sleep wakes up (ms): the light clients' own responsiveness."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.1)
        out.append(1000 * (time.perf_counter() - t - 0.1))


# ----------------------------------------------------------------------------- scenarios
@dataclass
class Env:
    """What a scenario gets: the server, the browser, the async loop, the options."""
    server: Server
    browser: Any
    runner: AsyncRunner
    args: argparse.Namespace
    rng: random.Random
    shared: dict = field(default_factory=dict)  # carried from one row to the next


async def connect_clients(clients: Sequence[Any]) -> list[str | None]:
    """Connect every light client and load its page, all at once: per client None, or
    what went wrong (a client that fails does not stop the others)."""
    async def one(c: Any) -> str | None:
        try:
            await c.connect(LOAD_TIMEOUT)
            await c.load(LOAD_TIMEOUT)
            return None
        except Exception as e:
            return f"{type(e).__name__}: {str(e)[:200]}"
    return await asyncio.gather(*(one(c) for c in clients))


async def close_clients(clients: Sequence[Any]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


async def _make_event() -> asyncio.Event:
    return asyncio.Event()  # created inside the loop that waits on it


def _bench_cpu() -> tuple[float, float]:
    """(this process, its children: Chromium and Playwright's driver) CPU seconds."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    kids = sum(cpu_seconds(me.children(recursive=True)).values())
    return t.user + t.system, kids


def warm_all(env: Env, rec: Recording) -> None:
    """With K app processes, load /draw once on each (each loads MNIST and the default model
    when its first session arrives), so that "before" is a warm server. Sticky keys are
    random per new visitor: new clients come until every process has answered one."""
    async def go() -> set[str]:
        warmed: set[str] = set()
        for _ in range(8 * env.server.k):
            c = LightClient(env.server.url, rec)
            try:
                await c.connect(LOAD_TIMEOUT)
                if c.backend is None or c.backend not in warmed:
                    await c.load(WARMUP_TIMEOUT_MS / 1000)
                    warmed.add(c.backend or "?")
            finally:
                await c.close()
            if c.backend is None or len(warmed) >= env.server.k:
                break
        return warmed

    warmed = env.runner.run(go(), 8 * env.server.k * (LOAD_TIMEOUT + WARMUP_TIMEOUT_MS / 1000))
    _log(f"warmed up app processes: {', '.join(sorted(warmed))}")
    if len(warmed) < env.server.k:
        _log(f"warning: only {len(warmed)} of {env.server.k} app processes were seen")


def scenario_draw(env: Env, n: int) -> dict[str, Any]:
    """N students on the Draw page: one real tab and N-1 light clients drawing every ~2 s."""
    args, server, runner = env.args, env.server, env.runner
    _log(f"N={n}: warm-up and recording on {server.url}/draw")
    t = time.perf_counter()
    rec = record_draw(env.browser, server.url)
    warmup_s = time.perf_counter() - t
    _log(f"N={n}: recorded {len(rec.strokes)} strokes in {warmup_s:.1f} s, expected "
         + "; ".join(rec.expected))
    if server.k > 1:
        warm_all(env, rec)
    time.sleep(1.0)  # let the recorder's session go
    mem_before = memory(server)

    tab = BrowserTab(env.browser, server.url, rec)
    clients = [LightClient(server.url, rec) for _ in range(n - 1)]

    try:
        _log(f"N={n}: connecting 1 tab + {n - 1} light clients")
        t = time.perf_counter()
        fut = runner.submit(connect_clients(clients))
        try:
            tab.open()
        except Exception as e:
            raise RuntimeError(f"the real tab could not load /draw: {e}") from e
        load_errors = [e for e in fut.result(LOAD_TIMEOUT * 2 + 30) if e]
        connect_s = time.perf_counter() - t
        live = [c for c in clients if c.loaded.is_set()]
        if load_errors:
            _log(f"N={n}: {len(load_errors)} light clients failed to load /draw: "
                 f"{load_errors[0]}")
        time.sleep(1.0)
        mem_idle = memory(server)

        # ---- drawing phase
        web, everything = server.processes()
        bytes0 = sum(c.bytes_in for c in live)
        refs0 = sum(c.refs for c in live)
        cpu0, bench0, wall0 = cpu_seconds(everything), _bench_cpu(), time.perf_counter()
        health: dict[str, list] = {"ms": [], "fail": []}
        lag: list[float] = []
        t_start = time.perf_counter() + 0.5
        t_end = t_start + args.seconds

        tab_done = runner.run(_make_event(), 5)

        # Every session its own jitter, drawn here (random.Random is not shared across threads).
        rngs = [random.Random(env.rng.random()) for _ in range(len(live) + 2)]

        async def drawing() -> None:
            stop = asyncio.Event()
            health_rng = rngs[-1]
            side = [asyncio.create_task(poll_health(server.url, stop, health_rng, health)),
                    asyncio.create_task(watch_loop_lag(stop, lag))]
            await asyncio.gather(*(c.draw_loop(t_start, t_end, r, args.answer_timeout)
                                   for c, r in zip(live, rngs)))
            # The health poller runs until the tab is done too.
            try:
                await asyncio.wait_for(tab_done.wait(), args.seconds + args.answer_timeout + 30)
            except asyncio.TimeoutError:
                pass
            stop.set()
            await asyncio.gather(*side)

        # Cores used: over the sending window only (the wait for late answers would dilute it).
        at_end: dict[str, Any] = {}
        snap = threading.Timer(max(0.0, t_end - time.perf_counter()), lambda: at_end.update(
            cpu=cpu_seconds(server.processes()[1]), t=time.perf_counter()))
        snap.start()
        _log(f"N={n}: drawing for {args.seconds:g} s")
        fut = runner.submit(drawing())
        try:
            tab.draw_loop(t_start, t_end, rngs[-2], args.answer_timeout)
        finally:
            runner.loop.call_soon_threadsafe(tab_done.set)
        fut.result(args.seconds + args.answer_timeout + 60)
        wall = time.perf_counter() - wall0
        snap.join(10)
        cores = (cpu_used(cpu0, at_end["cpu"]) / (at_end["t"] - wall0)) if at_end else None
        # Processes of the server that appeared during the phase count too.
        cpu = cpu_used(cpu0, cpu_seconds(server.processes()[1]))
        bench1 = _bench_cpu()
        mem_end = memory(server)
        tab_errors = tab.errors[:5]
        # Before closing: our own close must not count as a client's error.
        light_errors = [c.error for c in live if c.error][:5]
    finally:  # also when something above failed or timed out
        tab.close()
        runner.run(close_clients(clients), 30)

    light_strokes = [s for c in live for s in c.strokes]
    counts_tab, counts_light = count_strokes(tab.strokes), count_strokes(light_strokes)
    total = {k: counts_tab[k] + counts_light[k] for k in counts_tab}
    tab_ms = [s.latency_ms for s in tab.strokes if s.latency_ms is not None]
    light_ms = [s.latency_ms for s in light_strokes if s.latency_ms is not None]

    def per_session(a: dict, b: dict) -> dict[str, float]:
        return {k: (a[k] - b[k]) / n for k in a}

    row = {
        "sessions": n,
        "light_clients_loaded": len(live),
        "load_errors": load_errors[:5],
        "warmup_and_recording_s": warmup_s,
        "connect_s": connect_s,
        "drawing_wall_s": wall,
        "tab_ms": {"p50": percentile(tab_ms, 50), "p95": percentile(tab_ms, 95),
                   "max": max(tab_ms, default=None), "n": len(tab_ms)},
        "light_ms": {"p50": percentile(light_ms, 50), "p95": percentile(light_ms, 95),
                     "max": max(light_ms, default=None), "n": len(light_ms)},
        "strokes": total, "strokes_tab": counts_tab, "strokes_light": counts_light,
        "light_stale_scores": sum(c.stale for c in live),
        "light_unexpected_scores": sum(c.unexpected for c in live),
        "light_kb_received_per_stroke": (sum(c.bytes_in for c in live) - bytes0) / 1024
                                        / counts_light["sent"] if counts_light["sent"] else None,
        "light_messages_by_reference": sum(c.refs for c in live) - refs0,
        "light_clients_per_backend": _per_backend(live),
        "light_errors": light_errors,
        "tab_errors": tab_errors, "tab_clear_failures": tab.clear_failures,
        "tab_clears": tab.clears,
        "tab_unmatched_answers": len(tab.unexpected),
        "tab_canvas_found_blank": tab.blank_canvas,
        "tab_unmatched_examples": tab.unexpected[:3],
        "server_cpu_s": cpu,
        "server_cpu_ms_per_answered": 1000 * cpu / total["answered"] if total["answered"] else None,
        "server_cores": cores,
        "server_cores_incl_drain": cpu / wall,
        "health_ms": {"p50": percentile(health["ms"], 50), "p95": percentile(health["ms"], 95),
                      "max": max(health["ms"], default=None), "n": len(health["ms"]),
                      "failures": len(health["fail"])},
        "memory_mb": {"before": mem_before, "idle": mem_idle, "end": mem_end,
                      "per_idle_session": per_session(mem_idle, mem_before),
                      "per_drawing_session": per_session(mem_end, mem_before)},
        "bench_cores": (bench1[0] - bench0[0]) / wall,
        "browser_cores": (bench1[1] - bench0[1]) / wall,
        "loop_lag_ms": {"p95": percentile(lag, 95), "max": max(lag, default=None)},
        "expected_scores": rec.expected,
    }
    for c in live:  # free the recorded messages' copies
        c._stroke_msgs = None
    return row


def _per_backend(clients: Sequence[LightClient]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in clients:
        out[c.backend or "?"] = out.get(c.backend or "?", 0) + 1
    return out


# ----------------------------------------------------------------------------- train scenario
# The recorder's own press: a tiny training (it must not occupy a worker during the figures).
TRAIN_RECORD_QUERY = "penalty=l2&C=0.5&train_size=500&max_iter=5"
TRAIN_PAGE_MARKER = "Train a model"
DONE_LABEL = "Test accuracy"  # the last-run panel's st.metric: the session has its run
MEMORY_INTERVAL = 0.5
AFTER_SECONDS = 10.0  # memory "after" is read this long after the last training ended
# What the Train page shows when a press gets no run (pages/common.py's notices).
NO_RUN_TEXTS = ("cancelled before it started", "could not be started",
                "could not be trained", "could not be kept")
_QUEUE_RE = re.compile(r"Waiting for a free worker: (.*?)\. The training")
_RUN_LABEL_RE = re.compile(r"^run \d+: ")


def train_query(C: float, train_size: int = 60_000, max_iter: int = 100) -> str:
    """The query string of a student's link to the Train page (full MNIST by default)."""
    return f"penalty=l2&C={C:.6g}&train_size={train_size}&max_iter={max_iter}"


def trainer_Cs(k: int, first: int, identical: bool) -> list[float]:
    """C of each of ``k`` sessions: 0.01 * (1 + j/100) for j = first, first+1, ... (one j
    for all of them if ``identical``).

    Never 0.01 itself: C=0.01 on all digits is the default model's settings, whose finished
    job the engine keeps (and the draw tab's warm-up has just trained it): a press would get
    that run back at once, trained by nobody. Numbers go on across the rows of one run so
    that no row gets an earlier row's kept run (``--reuse-server``)."""
    if identical:
        return [0.01 * (1 + first / 100)] * k
    return [0.01 * (1 + (first + i) / 100) for i in range(k)]


def fifo_mean_wait(lone_s: float, k: int, slots: int) -> float:
    """Mean press -> done wait of ``k`` trainings of ``lone_s`` seconds each, run first in,
    first out on ``slots`` worker slots: the j-th (from 0) ends at lone_s * (j // slots + 1),
    about lone_s * (k / slots + 1) / 2. (Trainings side by side on shared cores run slower
    than a lone one, so this is a floor rather than a promise.)"""
    return lone_s * sum(j // slots + 1 for j in range(k)) / k


def train_signals(msg) -> dict[str, Any]:
    """What the Train scenario reads from one ForwardMsg: ``metric`` (label, value),
    ``progress`` text, ``alert`` (format name, body), ``heading``, ``exception`` text."""
    from streamlit.proto.Alert_pb2 import Alert

    out: dict[str, Any] = {}
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return out
    el = msg.delta.new_element
    kind = el.WhichOneof("type")
    if kind == "metric":
        out["metric"] = (el.metric.label, el.metric.body)
    elif kind == "progress":
        out["progress"] = el.progress.text
    elif kind == "alert":
        out["alert"] = (Alert.Format.Name(el.alert.format), el.alert.body)
    elif kind == "heading":
        out["heading"] = el.heading.body
    elif kind == "exception":
        out["exception"] = f"{el.exception.type}: {el.exception.message}"[:300]
    return out


@dataclass
class TrainRecording:
    """What a real browser sent on /train: the page-load rerun and the Train press (whose
    widget states are the button's trigger only when replayed: every other value comes
    from each session's own link)."""
    page_load: bytes
    press: bytes
    button_id: str
    fragment_rerun: bytes | None = None  # one auto-rerun of the live panel, if seen


def record_train(browser, url: str) -> TrainRecording:
    """A Chromium tab opens a tiny-training link, presses Train, and its websocket frames
    are kept; the tab waits for that run (warming the Train path up) and closes."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    sent: list[tuple[float, bytes]] = []

    def on_ws(ws) -> None:
        if ws.url.endswith("/_stcore/stream"):
            ws.on("framesent", lambda payload: sent.append(
                (time.perf_counter(), payload if isinstance(payload, bytes) else payload.encode())))

    def reruns(since: int) -> list[Any]:
        out = []
        for _, payload in sent[since:]:
            m = BackMsg()
            m.ParseFromString(payload)
            if m.WhichOneof("type") == "rerun_script":
                out.append(m)
        return out

    ctx = browser.new_context(viewport=VIEWPORT, base_url=url)
    try:
        page = ctx.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.on("websocket", on_ws)
        page.goto("/train?" + TRAIN_RECORD_QUERY)
        wait_idle(page, TRAIN_PAGE_MARKER, timeout=WARMUP_TIMEOUT_MS)
        loads = reruns(0)
        if not loads:
            raise RuntimeError("recording: the browser sent no rerun_script while loading /train")
        n0 = len(sent)
        click_button(page, "train_go")
        page.wait_for_function(f"() => document.body.innerText.includes({DONE_LABEL!r})",
                               timeout=WARMUP_TIMEOUT_MS)
        press = button = None
        fragment = None
        for m in reruns(n0):
            for w in m.rerun_script.widget_states.widgets:
                if press is None and w.id.endswith("train_go") and w.WhichOneof("value") \
                        == "trigger_value" and w.trigger_value:
                    press, button = m, w.id
            if fragment is None and m.rerun_script.fragment_id:
                fragment = m
        if press is None:
            raise RuntimeError("recording: no rerun_script carried the train_go trigger")
        for m in (press, fragment):
            if m is not None:
                del m.rerun_script.cached_message_hashes[:]
        return TrainRecording(loads[0].SerializeToString(), press.SerializeToString(), button,
                              fragment.SerializeToString() if fragment is not None else None)
    finally:
        ctx.close()


class TrainerClient(LightClient):
    """One student on the Train page, as a websocket client.

    It loads its own link (the recorded page-load rerun with the link's query string: the
    page reads the settings from it), presses Train (the recorded press with only the
    button's trigger, so the session's own settings are used), and then behaves like the
    browser: every ``auto_rerun`` the server sends (the live panel's 0.5 s fragment, the
    sidebar's 1 s one) becomes a timer sending that fragment's rerun, until a full run
    (which registers its fragments again) or ``stop_auto_rerun``. The URL follows
    ``page_info_changed``. Done = the ``Test accuracy`` metric of the last-run panel."""

    def __init__(self, url: str, rec: TrainRecording, query: str, C: float):
        super().__init__(url, rec)  # type: ignore[arg-type]
        self.query, self.C = query, C
        self.path = "/train?" + query
        self.pressed: float | None = None
        self.started: float | None = None  # first "Iteration ..." progress after the press
        self.done_at: float | None = None
        self.result: str | None = None  # the metric's value, e.g. "92.01%"
        self.run_label: str | None = None  # "run 1: L2, C=0.0101, 60,000 digits"
        self.failed: str | None = None  # the notice when the press got no run
        self.failed_at: float | None = None
        self.queue_texts: list[str] = []  # "3rd in line, starts in about 15 s", as they changed
        self.notes: list[str] = []  # warnings and errors the page showed
        self.exceptions: list[str] = []
        self.finished = asyncio.Event()
        self.timers: dict[str, asyncio.Task] = {}
        self.polls = 0
        self.last_text = ""  # the latest progress or alert text (for a session's state)

    # -- messages
    def _rerun(self, *, load: bool = False, press: bool = False, fragment_id: str = "") -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        m = BackMsg()
        m.ParseFromString(self.rec.page_load if load else self.rec.press)
        rs = m.rerun_script
        rs.query_string = self.query
        if rs.HasField("context_info") and rs.context_info.HasField("url"):
            rs.context_info.url = f"{self.url}/train?{self.query}"
        if not load:
            keep = [w for w in rs.widget_states.widgets if press and w.id == self.rec.button_id]
            del rs.widget_states.widgets[:]
            rs.widget_states.widgets.extend(keep)
            rs.fragment_id = fragment_id
            rs.is_auto_rerun = bool(fragment_id)
        del rs.cached_message_hashes[:]
        rs.cached_message_hashes.extend(self._cached_hashes())
        return m.SerializeToString()

    async def load(self, timeout: float) -> None:
        await self.ws.send(self._rerun(load=True))
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def press(self) -> None:
        payload = self._rerun(press=True)
        self.pressed = time.perf_counter()
        try:
            await asyncio.wait_for(self.ws.send(payload), HTTP_TIMEOUT)
        except Exception as e:
            self.error = f"press: {type(e).__name__}: {str(e)[:200]}"
            self.failed = self.failed or "the press could not be sent"
            self.finished.set()

    # -- fragment timers, as the browser keeps them
    def _start_timer(self, fragment_id: str, interval: float) -> None:
        t = self.timers.get(fragment_id)
        if t is None or t.done():
            self.timers[fragment_id] = asyncio.get_running_loop().create_task(
                self._auto_rerun(fragment_id, interval))

    def _stop_timers(self, ids: Sequence[str] | None = None) -> None:
        for fid in list(self.timers) if ids is None else ids:
            t = self.timers.pop(fid, None)
            if t is not None:
                t.cancel()

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        while self.error is None:
            await asyncio.sleep(max(interval, 0.05))
            try:
                await asyncio.wait_for(self.ws.send(self._rerun(fragment_id=fragment_id)),
                                       HTTP_TIMEOUT)
            except Exception as e:
                if self.error is None:
                    self.error = f"auto-rerun: {type(e).__name__}: {str(e)[:200]}"
                return
            self.polls += 1

    # -- what arrives
    def _on_message(self, msg: Any, kind: str, raw: bytes, now: float) -> None:
        """A training student's messages: fragment timers, the URL, the live panel."""
        if kind == "new_session":
            if not msg.metadata.run.fragment_ids:
                self._stop_timers()  # a full run registers its fragments' timers again
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            self._stop_timers(list(msg.stop_auto_rerun.fragment_ids))
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind in ("delta", "ref_hash"):
            self._note_cacheable(msg, kind)
            if kind == "delta" and self.pressed is not None:
                self._on_signals(train_signals(msg), now)

    def _on_signals(self, sig: dict[str, Any], now: float) -> None:
        if "progress" in sig or "alert" in sig:
            self.last_text = (sig.get("progress") or sig["alert"][1])[:120]
        if "metric" in sig and sig["metric"][0] == DONE_LABEL and self.done_at is None:
            self.done_at, self.result = now, sig["metric"][1]
            self.finished.set()
        elif "progress" in sig and sig["progress"].startswith("Iteration") \
                and self.started is None:
            self.started = now
        elif "heading" in sig and _RUN_LABEL_RE.match(sig["heading"]):
            self.run_label = sig["heading"]
        elif "exception" in sig and len(self.exceptions) < 10:
            self.exceptions.append(sig["exception"])
        elif "alert" in sig:
            fmt, body = sig["alert"]
            q = _QUEUE_RE.search(body)
            if q:
                if not self.queue_texts or self.queue_texts[-1] != q.group(1):
                    if len(self.queue_texts) < 100:
                        self.queue_texts.append(q.group(1))
            elif fmt in ("ERROR", "WARNING") and body not in self.notes and len(self.notes) < 20:
                self.notes.append(body)
            if any(t in body for t in NO_RUN_TEXTS) and self.done_at is None \
                    and self.failed is None:
                self.failed, self.failed_at = body, now
                self.finished.set()

    def state(self) -> dict[str, Any]:
        """Where this session is (for the JSON, and for a session that never finished)."""
        return {"C": f"{self.C:.6g}", "wait_s": self.wait_s,
                "no_run_after_s": (self.failed_at - self.pressed)
                if self.failed_at is not None and self.pressed is not None else None,
                "queued_s": (self.started - self.pressed) if self.started and self.pressed
                else None, "failed": self.failed, "result": self.result,
                "run_label": self.run_label, "queue": self.queue_texts[-1:],
                "last_text": self.last_text, "polls": self.polls,
                "timers": sorted(f for f, t in self.timers.items() if not t.done()),
                "runs_finished": self.runs_finished, "error": self.error,
                "notes": self.notes[:3]}

    @property
    def wait_s(self) -> float | None:
        if self.pressed is None or self.done_at is None:
            return None
        return self.done_at - self.pressed

    async def close(self) -> None:
        self._stop_timers()
        await super().close()


class MemorySampler:
    """RSS of the web process(es) and of the whole server tree (the engine's scheduler,
    nannies and workers included) every ``interval`` seconds, in a thread."""

    def __init__(self, server: Server, interval: float = MEMORY_INTERVAL):
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, float, float, int]] = []  # (t, web MB, total MB, procs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "MemorySampler":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            web, everything = self.server.processes()
            self.samples.append((time.perf_counter(), rss_mb(web), rss_mb(everything),
                                 len(everything)))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def peak(self, t0: float = -math.inf, t1: float = math.inf) -> dict[str, float | None]:
        window = [s for s in self.samples if t0 <= s[0] <= t1]
        return {"web_mb": max((s[1] for s in window), default=None),
                "total_mb": max((s[2] for s in window), default=None),
                "max_processes": max((s[3] for s in window), default=None),
                "samples": len(window)}


_LOG_PROBLEM_RE = re.compile(r"error|exception|traceback|warn|killed|restart|lost|timed? ?out",
                             re.IGNORECASE)


def problem_lines(text: str, limit: int = 30) -> list[str]:
    """The log lines that look like trouble (the last ``limit``)."""
    return [ln.rstrip() for ln in text.splitlines() if _LOG_PROBLEM_RE.search(ln)][-limit:]


def engine_log(server: Server) -> str:
    """The embedded engine's cluster.log (in the working directory of its dask processes),
    read while the server runs (it is deleted when the engine stops); "" if not found."""
    import psutil

    seen = set()
    for p in server.processes()[1]:
        try:
            if "dask" not in " ".join(p.cmdline()):
                continue
            path = Path(p.cwd()) / "cluster.log"
        except psutil.Error:
            continue
        if path not in seen and path.exists():
            seen.add(path)
            try:
                return path.read_text(errors="replace")
            except OSError:
                pass
    return ""


def _train_phase(env: Env, rec_draw: Recording, rec: TrainRecording, k: int,
                 identical: bool, sampler: MemorySampler) -> dict[str, Any]:
    """K sessions press Train at once (and the draw tab draws) until every one has its run
    or ``--train-timeout``; figures of that phase."""
    args, server, runner, shared = env.args, env.server, env.runner, env.shared
    first = shared.get("next_c", 1)
    Cs = trainer_Cs(k, first, identical)
    shared["next_c"] = first + (1 if identical else k)
    links = [train_query(C, args.train_size, args.max_iter) for C in Cs]
    clients = [TrainerClient(server.url, rec, q, C) for q, C in zip(links, Cs)]
    tab = BrowserTab(env.browser, server.url, rec_draw)
    mem_before = memory(server)

    all_done = threading.Event()
    at_done: dict[str, Any] = {}
    try:
        _log(f"K={k}: 1 draw tab + {k} trainers loading their links "
             f"(C={Cs[0]:.6g}{'' if identical or k == 1 else f' .. {Cs[-1]:.6g}'})")
        fut = runner.submit(connect_clients(clients))
        try:
            tab.open()
        except Exception as e:
            raise RuntimeError(f"the real tab could not load /draw: {e}") from e
        load_errors = [e for e in fut.result(LOAD_TIMEOUT * 2 + 30) if e]
        live = [c for c in clients if c.loaded.is_set()]
        if load_errors:
            _log(f"K={k}: {len(load_errors)} trainers failed to load /train: {load_errors[0]}")
        time.sleep(1.0)
        mem_idle = memory(server)
        cpu0, bench0 = cpu_seconds(server.processes()[1]), _bench_cpu()
        web0 = cpu_seconds(server.processes()[0])

        async def trainings() -> None:
            await asyncio.gather(*(c.press() for c in live))
            deadline = time.perf_counter() + args.train_timeout
            waiting = asyncio.ensure_future(asyncio.gather(*(c.finished.wait() for c in live)))
            while not waiting.done():
                left = deadline - time.perf_counter()
                if left <= 0:
                    waiting.cancel()
                    break
                await asyncio.wait([waiting], timeout=min(30.0, left))
                if not waiting.done():
                    _log(f"K={k}: {sum(c.done_at is not None for c in live)} runs, "
                         f"{sum(c.failed is not None for c in live)} without, "
                         f"{sum(c.started is not None for c in live)} started, "
                         f"{time.perf_counter() - t_press:.0f} s after the presses")
            web, everything = server.processes()
            at_done.update(t=time.perf_counter(), cpu=cpu_seconds(everything),
                           web=cpu_seconds(web))
            all_done.set()

        _log(f"K={k}: {len(live)} sessions press Train")
        t_press = time.perf_counter()
        fut = runner.submit(trainings())
        try:
            tab.draw_loop(t_press, t_press + args.train_timeout + 30, random.Random(env.rng.random()),
                          args.answer_timeout, until=all_done.is_set)
        finally:
            all_done.wait(args.train_timeout + 60)
        fut.result(60)
        dones = [c.done_at for c in live if c.done_at is not None]
        t_last = max(dones, default=at_done.get("t", time.perf_counter()))
        _sleep_until(t_last + AFTER_SECONDS)
        mem_after = memory(server)
        t_after = time.perf_counter()
        bench1 = _bench_cpu()
        light_errors = [c.error for c in live if c.error][:5]
        tab_errors = tab.errors[:5]
    finally:
        all_done.set()
        tab.close()
        runner.run(close_clients(clients), 30)

    cpu = cpu_used(cpu0, at_done["cpu"]) if at_done else None
    train_wall = (at_done["t"] - t_press) if at_done else None
    waits = [c.wait_s for c in live if c.wait_s is not None]
    queued = [c.started - c.pressed for c in live if c.started is not None and c.pressed]
    tab_ms = [s.latency_ms for s in tab.strokes if s.latency_ms is not None]
    counts_tab = count_strokes(tab.strokes)
    own_run = sum(1 for c in live if c.run_label and f"C={c.C:g}," in c.run_label)
    phase_peak = sampler.peak(t_press, t_after)
    return {
        "trainers": k, "identical": identical, "Cs": [f"{C:.6g}" for C in Cs],
        "link_example": "/train?" + links[0],
        "loaded": len(live), "load_errors": load_errors[:5],
        "done": len(waits), "no_run": [c.failed for c in live if c.failed][:10],
        "never_answered": sum(1 for c in live if c.done_at is None and c.failed is None),
        "wait_s": {"first": min(waits, default=None),
                   "mean": sum(waits) / len(waits) if waits else None,
                   "p50": percentile(waits, 50), "max": max(waits, default=None),
                   "each": sorted(round(w, 2) for w in waits)},
        "queued_s": {"mean": sum(queued) / len(queued) if queued else None,
                     "max": max(queued, default=None)},
        "first_queue_texts": [c.queue_texts[0] for c in live if c.queue_texts][:k],
        "sessions_with_own_run_label": own_run,
        "distinct_results": sorted({c.result for c in live if c.result}),
        "page_notes": sorted({n for c in live for n in c.notes})[:10],
        "page_exceptions": sorted({e for c in live for e in c.exceptions})[:5],
        "fragment_polls": sum(c.polls for c in live),
        "sessions": [c.state() for c in live],
        "kb_received_per_session": sum(c.bytes_in for c in live) / 1024 / max(1, len(live)),
        "train_wall_s": train_wall,
        "server_cpu_s": cpu,
        "web_cpu_s": cpu_used(web0, at_done["web"]) if at_done else None,
        "server_cores": cpu / train_wall if cpu is not None and train_wall else None,
        "tab_ms": {"p50": percentile(tab_ms, 50), "p95": percentile(tab_ms, 95),
                   "max": max(tab_ms, default=None), "n": len(tab_ms)},
        "strokes_tab": counts_tab, "tab_errors": tab_errors,
        "tab_unmatched_answers": len(tab.unexpected),
        "light_errors": light_errors,
        "memory_mb": {"before": mem_before, "idle": mem_idle, "after": mem_after,
                      "after_minus_idle": {m: mem_after[m] - mem_idle[m] for m in mem_idle},
                      "peak": phase_peak},
        "bench_cores": (bench1[0] - bench0[0]) / (t_after - t_press),
        "browser_cores": (bench1[1] - bench0[1]) / (t_after - t_press),
    }


def scenario_train(env: Env, k: int) -> dict[str, Any]:
    """K students press Train at the same moment on full-MNIST links (distinct C, or one
    link with ``--identical``) while a real tab draws on /draw; see the module docstring."""
    from lrcore.engine import default_workers

    args, server, shared = env.args, env.server, env.shared
    identical = bool(args.identical) and k > 1
    log_start = os.path.getsize(server.log.name)
    sampler = MemorySampler(server).start()
    t_row = time.perf_counter()
    try:
        _log(f"K={k}: warm-up (default model) and draw recording on {server.url}/draw")
        rec_draw = record_draw(env.browser, server.url)
        _log(f"K={k}: recording a Train press (a {TRAIN_RECORD_QUERY} training)")
        rec = record_train(env.browser, server.url)
        warmup_s = time.perf_counter() - t_row
        time.sleep(1.0)
        lone_phase = None
        if k > 1 and "lone" not in shared:
            _log(f"K={k}: a lone training first (the reference time and CPU)")
            lone_phase = _train_phase(env, rec_draw, rec, 1, False, sampler)
            if lone_phase["done"]:
                shared["lone"] = lone_phase
        row = _train_phase(env, rec_draw, rec, k, identical, sampler)
        if k == 1 and row["done"]:
            shared["lone"] = row
        try:
            text = Path(server.log.name).read_text(errors="replace")[log_start:]
        except OSError:
            text = ""
        if row["never_answered"]:
            server.dump_threads_on_stop = True  # main() stops it after this row
        row["server_log"] = server.log.name
        row["server_log_problems"] = problem_lines(text)
        row["engine_log_problems"] = problem_lines(engine_log(server))
    finally:
        sampler.stop()
    lone = shared.get("lone")
    slots = default_workers()
    T = lone["wait_s"]["first"] if lone else None
    lone_cpu = lone["server_cpu_s"] if lone else None
    expect = None if T is None else (T if identical else fifo_mean_wait(T, k, slots))
    row.update({
        "warmup_and_recording_s": warmup_s, "slots": slots,
        "lone_s": T, "lone_cpu_s": lone_cpu, "lone_phase": lone_phase,
        "expected_mean_s": expect,
        "mean_over_expected": (row["wait_s"]["mean"] / expect
                               if expect and row["wait_s"]["mean"] is not None else None),
        "cpu_over_lone": (row["server_cpu_s"] / lone_cpu
                          if lone_cpu and row["server_cpu_s"] is not None else None),
        "memory_peak_row": sampler.peak(t_row),
    })
    return row


def format_train_table(rows: list[dict[str, Any]]) -> str:
    """One line per K: waits, the draw tab's latency, CPU and memory."""
    t = [("K", "links", "runs", "first s", "mean s", "expect s", "mean/exp", "max s",
          "tab p50/p95 ms", "CPU s", "CPU/lone", "peak MB total/web", "idle->after MB")]
    for r in rows:
        m = r["memory_mb"]
        t.append((str(r["trainers"]), "same" if r["identical"] else "distinct",
                  f"{r['done']}/{r['trainers']}",
                  _f(r["wait_s"]["first"], ".1f"), _f(r["wait_s"]["mean"], ".1f"),
                  _f(r["expected_mean_s"], ".1f"), _f(r["mean_over_expected"], ".2f"),
                  _f(r["wait_s"]["max"], ".1f"),
                  f"{_f(r['tab_ms']['p50'])}/{_f(r['tab_ms']['p95'])}",
                  _f(r["server_cpu_s"], ".0f"), _f(r["cpu_over_lone"], ".2f"),
                  f"{_f(m['peak']['total_mb'])}/{_f(m['peak']['web_mb'])}",
                  f"{_f(m['idle']['total_mb'])}->{_f(m['after']['total_mb'])}"))
    w = [max(len(x[i]) for x in t) for i in range(len(t[0]))]
    return "\n".join("  ".join(c.rjust(w[i]) for i, c in enumerate(x)) for x in t)


def train_notes(r: dict[str, Any]) -> list[str]:
    notes = []
    if r["load_errors"]:
        notes.append(f"{len(r['load_errors'])}+ trainers did not load /train: "
                     f"{r['load_errors'][0]}")
    if r["no_run"]:
        notes.append(f"{len(r['no_run'])} sessions got no run: {r['no_run'][0]!r}")
    if r["never_answered"]:
        notes.append(f"{r['never_answered']} sessions saw no end within --train-timeout")
    if r["done"] and r["sessions_with_own_run_label"] < r["done"]:
        notes.append(f"only {r['sessions_with_own_run_label']} of {r['done']} runs were "
                     "labelled with the session's own C")
    if r["identical"] and len(r["distinct_results"]) > 1:
        notes.append(f"identical settings gave different accuracies {r['distinct_results']}")
    stuck = [x for x in r.get("sessions", []) if x["wait_s"] is None and not x["failed"]]
    if stuck:
        notes.append(f"a session that saw no end: {stuck[0]}")
    for key in ("page_exceptions", "page_notes", "light_errors", "tab_errors",
                "server_log_problems", "engine_log_problems"):
        if r.get(key):
            notes.append(f"{key.replace('_', ' ')} ({len(r[key])}): {r[key][-1][:200]}")
    return notes


SCENARIOS: dict[str, Callable[[Env, int], dict[str, Any]]] = {"draw": scenario_draw,
                                                                "train": scenario_train}


# ----------------------------------------------------------------------------- report
def _f(v: float | None, spec: str = ".0f") -> str:
    return "n/a" if v is None else format(v, spec)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The printed report: latencies and strokes, then server resources."""
    a = [("N", "tab p50/p95 ms", "light p50/p95 ms", "sent", "answ", "supers", "lost",
          "health p50/p95 ms", "bench cores", "lag p95 ms")]
    b = [("N", "CPU ms/stroke", "cores", "web MB before/idle/end", "total MB before/idle/end",
          "web MB /idle /draw", "total MB /idle /draw")]
    for r in rows:
        s, m = r["strokes"], r["memory_mb"]
        hf = f" ({r['health_ms']['failures']} fail)" if r["health_ms"]["failures"] else ""
        a.append((str(r["sessions"]),
                  f"{_f(r['tab_ms']['p50'])}/{_f(r['tab_ms']['p95'])}",
                  f"{_f(r['light_ms']['p50'])}/{_f(r['light_ms']['p95'])}",
                  str(s["sent"]), str(s["answered"]), str(s["superseded"]), str(s["lost"]),
                  f"{_f(r['health_ms']['p50'], '.1f')}/{_f(r['health_ms']['p95'], '.1f')}{hf}",
                  _f(r["bench_cores"], ".2f"), _f(r["loop_lag_ms"]["p95"], ".1f")))
        b.append((str(r["sessions"]), _f(r["server_cpu_ms_per_answered"]),
                  _f(r["server_cores"], ".2f"),
                  "/".join(_f(m[k]["web_mb"]) for k in ("before", "idle", "end")),
                  "/".join(_f(m[k]["total_mb"]) for k in ("before", "idle", "end")),
                  f"{_f(m['per_idle_session']['web_mb'], '.1f')} "
                  f"{_f(m['per_drawing_session']['web_mb'], '.1f')}",
                  f"{_f(m['per_idle_session']['total_mb'], '.1f')} "
                  f"{_f(m['per_drawing_session']['total_mb'], '.1f')}"))

    def table(t: list[tuple]) -> str:
        w = [max(len(x[i]) for x in t) for i in range(len(t[0]))]
        return "\n".join("  ".join(c.rjust(w[i]) for i, c in enumerate(x)) for x in t)

    return table(a) + "\n\n" + table(b)


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=parse_sessions, default=[1, 10, 30, 60],
                    help="comma-separated numbers of concurrent sessions (default 1,10,30,60)")
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of drawing per N")
    ap.add_argument("--processes", type=int, default=1,
                    help="app processes; > 1 runs deploy/serve.py (nginx, sticky sessions)")
    ap.add_argument("--reuse-server", action="store_true",
                    help="one server for every N instead of a fresh one per N")
    ap.add_argument("--answer-timeout", type=float, default=30.0,
                    help="a session's latest stroke is lost after this many seconds")
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="draw")
    ap.add_argument("--trainers", type=parse_sessions, default=[1, 10, 30],
                    help="train scenario: comma-separated numbers of sessions pressing Train "
                         "at once (default 1,10,30)")
    ap.add_argument("--identical", action="store_true",
                    help="train scenario: all K sessions use one link (one shared job)")
    ap.add_argument("--train-size", type=int, default=60_000,
                    help="train scenario: training digits in the links (a trial may shrink it; "
                         "the figures are then not the classroom's)")
    ap.add_argument("--max-iter", type=int, default=100, help="train scenario: max_iter of the links")
    ap.add_argument("--train-timeout", type=float, default=900.0,
                    help="train scenario: seconds after the presses before a session with "
                         "no run counts as never answered")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="FILE", help="write every figure to this JSON file")
    args = ap.parse_args(argv)
    if args.processes < 1:
        ap.error("--processes must be >= 1")

    mnist_dir = os.environ.get("MNIST_DIR")
    if not mnist_dir:
        mnist_dir = str(ROOT.parent / "shared" / "mnist")
        _log(f"MNIST_DIR is not set: using {mnist_dir}")
    if not (Path(mnist_dir) / "train-images-idx3-ubyte.gz").exists():
        _log(f"warning: {mnist_dir} has no train-images-idx3-ubyte.gz; the app will fall back "
             "to another data source")
    if args.processes > 1 and not (ROOT / "deploy" / "serve.py").exists():
        ap.error("--processes > 1 needs deploy/serve.py, which does not exist yet")

    from playwright.sync_api import sync_playwright

    rng = random.Random(args.seed)
    ns = args.trainers if args.scenario == "train" else args.sessions
    shared: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    runner = AsyncRunner()
    server: Server | None = None
    t0 = time.perf_counter()
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for n in ns:
                if server is None:
                    _log(f"starting a server ({args.processes} app process(es))")
                    server = Server(mnist_dir, args.processes).start()
                env = Env(server, browser, runner, args, rng, shared)
                try:
                    row = SCENARIOS[args.scenario](env, n)
                except Exception as e:
                    _log(f"N={n} failed: {type(e).__name__}: {e}; server log: {server.log.name}")
                    row = None
                if not args.reuse_server or row is None:
                    server.stop()
                    server = None
                if row is not None:
                    row["processes"] = args.processes
                    rows.append(row)
                    line = (format_train_table(rows[-1:]) if args.scenario == "train" else
                            format_table(rows[-1:]).split("\n\n")[0]).splitlines()[-1]
                    print(line, file=sys.stderr)
            browser.close()
    finally:
        if server is not None:
            server.stop()
        runner.close()

    if args.scenario == "train":
        report_train(rows, args, mnist_dir, time.perf_counter() - t0)
    else:
        report_draw(rows, args, mnist_dir, time.perf_counter() - t0)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: v for k, v in vars(args).items()},
                                               "mnist_dir": mnist_dir, "cores": os.cpu_count(),
                                               "rows": rows}, indent=2, default=str))
        print(f"figures written to {args.json}")
    return 0 if len(rows) == len(ns) else 1


def report_train(rows: list[dict[str, Any]], args: argparse.Namespace, mnist_dir: str,
                 elapsed: float) -> None:
    print(f"\nClassroom benchmark: scenario train ({'one shared link' if args.identical else 'distinct links'}), "
          f"{args.processes} app process(es), {os.cpu_count()} cores, data {mnist_dir}, "
          f"{elapsed:.0f} s in all")
    if rows:
        print(format_train_table(rows))
    print("runs = sessions whose last-run panel showed 'Test accuracy'; wait = press -> that "
          "metric; expect = FIFO mean over the worker slots from a lone training's wait "
          "(T * mean(j // S + 1)), or T for one shared link; CPU = the server tree from the "
          "presses to the last run; tab = real Chromium drawing on /draw meanwhile (mouse-up "
          "-> scores); peak = RSS sampled every 0.5 s; after = 10 s after the last run")
    for r in rows:
        lone = f"T={_f(r['lone_s'], '.1f')} s, lone CPU {_f(r['lone_cpu_s'], '.0f')} s"
        lone += (f"; CPU of the web process {_f(r.get('web_cpu_s'), '.0f')} s, server cores "
                 f"{_f(r['server_cores'], '.2f')}; tab strokes answered "
                 f"{r['strokes_tab']['answered']}/{r['strokes_tab']['sent']}")
        print(f"  K={r['trainers']}: S={r['slots']} slots, {lone}; mean queued "
              f"{_f(r['queued_s']['mean'], '.1f')} s; idle->after web "
              f"{_f(r['memory_mb']['idle']['web_mb'])}->{_f(r['memory_mb']['after']['web_mb'])} MB"
              f"; row peak total {_f(r['memory_peak_row']['total_mb'])} MB; "
              f"bench cores {_f(r['bench_cores'], '.2f')}")
        for note in train_notes(r):
            print(f"    {note}")


def report_draw(rows: list[dict[str, Any]], args: argparse.Namespace, mnist_dir: str,
                elapsed: float) -> None:
    print(f"\nClassroom benchmark: scenario {args.scenario}, {args.seconds:g} s of drawing per N, "
          f"{args.processes} app process(es), {os.cpu_count()} cores, data {mnist_dir}, "
          f"{elapsed:.0f} s in all")
    if rows:
        print(format_table(rows))
    print("tab = real Chromium (mouse-up -> scores on screen); light = websocket clients (send "
          "-> scores delta); MB per session = growth / N")
    for r in rows:
        notes = []
        if r["load_errors"]:
            notes.append(f"{len(r['load_errors'])}+ light clients did not load")
        if r["light_unexpected_scores"]:
            notes.append(f"{r['light_unexpected_scores']} scores matched no recorded stroke")
        if r["tab_unmatched_answers"]:
            notes.append(f"tab: {r['tab_unmatched_answers']} answers matched no recorded stroke "
                         "(counted as answers); the canvas was found blank before "
                         f"{r['tab_canvas_found_blank']} strokes that should have drawn on "
                         "earlier ones")
        if r["tab_errors"]:
            notes.append(f"tab: {r['tab_errors'][0]}")
        if r["light_errors"]:
            notes.append(f"light: {r['light_errors'][0]}")
        if notes:
            print(f"  N={r['sessions']}: " + "; ".join(notes))


if __name__ == "__main__":
    sys.exit(main())
