"""Streamlit-only helpers shared by every page: data, the default model, session state,
the sidebar. Pages import this; lrcore never does.

Sharing rules for a hosted classroom demo (STYLE.md section 6):
- MNIST (uint8, read-only) and the default model live in ``st.cache_resource``: one copy
  per server process, shared by all sessions.
- A student's own runs, the current model and settings live in ``st.session_state``.
"""
from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from threadpoolctl import threadpool_limits

from lrcore.config import TrainConfig
from lrcore.data import MnistData, load_mnist
from lrcore.modelcache import cached_model
from lrcore.train import TrainedModel, Training

# One BLAS thread per training. OpenBLAS threads busy-wait for work; in this server they
# compete with other sessions' trainings and, on a laptop, with the browser redrawing the
# live chart, and then every GEMM stalls: measured on 2 shared cores, a 5,000-digit live
# training took 85-109 s with OpenBLAS's 2 threads and 7-12 s with 1. Parallelism comes from
# sessions training side by side. An explicit *_NUM_THREADS in the environment wins.
if not any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                       "MKL_NUM_THREADS")):
    threadpool_limits(limits=1, user_api="blas")

DEFAULT_ID = "default"
# Session-state keys (one place, so pages and tests agree).
RUNS = "runs"  # dict[str, TrainedModel]: this session's runs, in order
CURRENT = "current_run"  # id of the current model: a key of RUNS or DEFAULT_ID
RUN_COUNTER = "run_counter"  # last run number given out in this session
# A training a page is running or was running when a click, a Stop or a page switch cut it
# short: {"training": Training, "progress": latest Progress, "model": TrainedModel | None}.
PENDING = "pending_training"
LAST_TRAINED = "last_trained_run"  # id of the run most recently trained in this session


def require_app_shell() -> None:
    """First call of every page: make sure it runs inside app.py's ``st.navigation``.

    Streamlit (1.36-1.67 at least) starts a server whose entry script sits next to a folder
    named ``pages/`` in its legacy multipage mode, and stays there until some session runs
    ``st.navigation``. So the very first visitor of a fresh server who opens a deep link
    (``/train?C=0.1``, shared by a teacher) would get ``pages/train.py`` on its own: no
    sidebar, no data label, and every helper file listed as a page. Here the page notices it
    was started that way, switches the process to app.py's navigation and reruns; the rerun
    keeps the URL path, so the same page is drawn, with its query parameters, inside the
    shell. (tests/e2e: test_deep_link_on_a_fresh_server.)
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the legacy mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource(show_spinner="Loading MNIST…")
def get_data() -> MnistData:
    """MNIST once per server process: MNIST_DIR, else the OpenML cache/download, else the
    bundled sample (lrcore.data.load_mnist("auto") decides and says which)."""
    data = load_mnist("auto")
    freeze_heap()
    return data


def freeze_heap() -> None:
    """Move every object alive now into the collector's permanent generation.

    Called once the long-lived objects of a process exist (modules, MNIST, the default
    model). Python's full collections then no longer walk them: with Streamlit's own
    per-rerun ``gc.collect()`` switched off (.streamlit/config.toml, runner.postScriptGC)
    the collections that remain are over what sessions create, not the whole heap.
    """
    gc.collect()
    gc.freeze()


def default_config(data: MnistData) -> TrainConfig:
    """The model every session starts with: L2 softmax (C=0.01) on pixels/255, all data.

    ``LR_DEFAULT_TRAIN_SIZE`` (environment) shrinks it for tests.
    """
    size = int(os.environ.get("LR_DEFAULT_TRAIN_SIZE", data.n_train))
    # C=0.01 rather than sklearn's default 1: the weight images are then recognisable
    # digit templates (C=1 looks like noise) at the same test accuracy (0.903 vs 0.905 on
    # 10,000 digits) and in half the iterations.
    return TrainConfig(penalty="l2", C=0.01, preprocess="unit",
                       train_size=min(size, data.n_train), test_size=data.n_test,
                       max_iter=int(os.environ.get("LR_DEFAULT_MAX_ITER", 100)), tol=1e-4)


@dataclass
class _DefaultSlot:
    """The process-wide default model and the training that produces it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    model: TrainedModel | None = None
    progress: Any = None  # latest Progress while training (for sessions that wait)
    error: str | None = None


@st.cache_resource
def _default_slot() -> _DefaultSlot:
    return _DefaultSlot()


def default_model() -> TrainedModel:
    """The default model, training it (with a visible progress bar) if this session is the
    first to ask. Sessions arriving meanwhile wait and see the same progress."""
    slot = _default_slot()
    if slot.model is not None:
        return slot.model
    data = get_data()
    if slot.lock.acquire(blocking=False):
        try:
            if slot.model is None:
                cfg = default_config(data)
                bar = st.progress(0.0, text="Loading the default model…")

                def train_here() -> TrainedModel:
                    run = Training(cfg, data, name="default")
                    for p in run:
                        slot.progress = p
                        bar.progress(min(p.iteration / cfg.max_iter, 1.0),
                                     text=f"Training the default model on {cfg.train_size:,} "
                                          f"digits: iteration {p.iteration}, test accuracy "
                                          f"{(p.test_accuracy or 0):.3f}")
                    return run.result()

                # One training per host: the other app processes load its file.
                slot.model = cached_model(
                    "default-model", cfg, data, train_here,
                    on_wait=lambda: bar.progress(0.0, text="Another app process is training "
                                                           "the default model; waiting for it…"))
                bar.empty()
                freeze_heap()
        finally:
            slot.lock.release()
        return slot.model
    bar = st.progress(0.0, text="Another visitor started the default model; waiting for it…")
    while slot.model is None and slot.lock.locked():
        p = slot.progress
        if p is not None:
            bar.progress(min(p.iteration / 100, 1.0),
                         text=f"Default model: iteration {p.iteration}")
        time.sleep(0.2)
    bar.empty()
    if slot.model is None:  # the other session was interrupted: train it here
        return default_model()
    return slot.model


def default_model_status() -> tuple[TrainedModel | None, Any]:
    """(model, progress) of the default model without training it: the model if ready,
    else the latest Progress of a training in flight in some session (None if none)."""
    slot = _default_slot()
    if slot.model is not None:
        return slot.model, None
    return None, slot.progress if slot.lock.locked() else None


def runs() -> dict[str, TrainedModel]:
    """This session's runs (id -> model), oldest first."""
    return st.session_state.setdefault(RUNS, {})


def add_run(model: TrainedModel, *, make_current: bool = True) -> str:
    """Store a model in this session; returns its id (e.g. "run 3").

    Numbers count per session (a student's first run is "run 1" however many others
    trained before) and are never reused after a delete, so downloaded files stay distinct.
    """
    n = st.session_state.get(RUN_COUNTER, 0) + 1
    while f"run {n}" in runs():
        n += 1
    st.session_state[RUN_COUNTER] = n
    rid = f"run {n}"
    model.name = model.name or rid
    runs()[rid] = model
    if make_current:
        st.session_state[CURRENT] = rid
    return rid


def adopt_pending_training() -> str | None:
    """Turn the training left in ``st.session_state[PENDING]`` into a run (the current one)
    and return its id; None if there is none or it never finished an iteration.

    Called by the sidebar, i.e. at the start of every script run: a page switch stops the
    training page with a StopException that keeps firing at every ``st.*`` call until the
    run ends, so that page can compute the model (plain Python) but not store it; the next
    run, whatever its page, does. Idempotent, so a half-done call is simply repeated.
    """
    pending = st.session_state.get(PENDING)
    if pending is None:
        return None
    model = pending.get("model")
    if model is None:
        run = pending["training"]
        if run.latest is None:  # stopped before the first iteration: nothing to keep
            st.session_state.pop(PENDING, None)
            return None
        model = pending["model"] = run.result()  # test metrics: ~1 s
    rid = next((r for r, m in runs().items() if m is model), None) or add_run(model)
    st.session_state[LAST_TRAINED] = rid
    st.session_state.pop(PENDING, None)
    return rid


def current_id() -> str:
    rid = st.session_state.get(CURRENT, DEFAULT_ID)
    if rid != DEFAULT_ID and rid not in runs():
        rid = DEFAULT_ID
        st.session_state[CURRENT] = rid
    return rid


def current_model() -> tuple[str, TrainedModel]:
    """(id, model) of the current model; the default model if the session has none."""
    rid = current_id()
    if rid == DEFAULT_ID:
        return DEFAULT_ID, default_model()
    return rid, runs()[rid]


def model_label(rid: str, model: TrainedModel) -> str:
    """Short human label, e.g. "run 2: L1, C=0.01, 5,000 digits"."""
    c = model.config
    pen = {"l2": "L2", "l1": "L1", "elasticnet": "elastic-net", None: "no penalty"}[c.penalty]
    C = "" if c.penalty is None else f", C={c.C:g}"
    head = "default model" if rid == DEFAULT_ID else rid
    return f"{head}: {pen}{C}, {c.train_size:,} digits"


def sidebar(slot: Any = None) -> None:
    """Data in use and current model, on every page.

    ``slot`` is an ``st.sidebar.empty()`` placeholder: app.py draws into it before the page
    runs and again after, so what a page changed (the default model trained, another run
    made current) shows at once instead of on the next rerun.
    """
    data = get_data()
    try:
        adopt_pending_training()
    except Exception as e:  # never break every page over one lost run
        st.session_state.pop(PENDING, None)
        st.sidebar.error(f"An interrupted training could not be kept: {e}")
    with (slot.container() if slot is not None else st.sidebar):
        st.caption("**Data in use**")
        st.write(f"{data.source}  \n{data.n_train:,} training / {data.n_test:,} test digits")
        for note in data.notes:
            st.caption(note)
        rid = current_id()
        st.caption("**Current model**")
        if rid == DEFAULT_ID:
            default = _default_slot().model
            if default is not None:
                st.write(model_label(DEFAULT_ID, default)
                         + f"  \ntest accuracy {default.summary.get('test_accuracy', 0):.3f}")
            else:
                st.write("default model (trained when first needed)")
        else:
            m = runs()[rid]
            st.write(model_label(rid, m)
                     + f"  \ntest accuracy {m.summary.get('test_accuracy', 0):.3f}")
