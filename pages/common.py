"""Streamlit-only helpers shared by every page: data, the default model, session state,
the sidebar. Pages import this; lrcore never does.

Sharing rules for a hosted classroom demo (STYLE.md section 6):
- MNIST (uint8, read-only) and the default model live in ``st.cache_resource``: one copy
  per server process, shared by all sessions.
- A student's own runs, the current model and settings live in ``st.session_state``.
"""
from __future__ import annotations

import gc
import json
import os
import time
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lrcore.config import TrainConfig
from lrcore.data import MnistData, load_mnist
from lrcore import labels
from lrcore.engine import Engine, EngineUnavailable, get_engine
from lrcore.labels import config_label  # noqa: F401  (pages import it from here)
from lrcore.modelcache import cached_model, recompute_metrics
from lrcore.threads import limit_process_blas
from lrcore.train import TrainedModel

limit_process_blas()  # the web process's own GEMMs (scoring strokes, rescoring)

DEFAULT_ID = "default"
# Session-state keys (one place, so pages and tests agree).
RUNS = "runs"  # dict[str, TrainedModel]: this session's runs, in order
CURRENT = "current_run"  # id of the current model: a key of RUNS or DEFAULT_ID
RUN_COUNTER = "run_counter"  # last run number given out in this session
JOB = "training_job"  # engine key of this session's training until its run is stored
JOB_NOTICE = "training_job_notice"  # (kind, message) about how the last training ended
LAST_TRAINED = "last_trained_run"  # id of the run most recently trained in this session
ORIGINS = "train_run_origins"  # run id -> where it came from ("uploaded x.npz", ...)
CONTINUED = "training_continued"  # engine key of a continued training -> the run it continues
THEORY_DIGIT = "theory_drawn_digit"  # {"pixels": uint8 (784,), "label": int} sent from Draw
DEFAULT_OWNER = "app:default-model"  # the engine owner of the default model's training


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
    """The model every session starts with: the app's defaults (TrainConfig's: L2, C=0.01,
    pixels/255) on all the data. ``LR_DEFAULT_TRAIN_SIZE`` / ``LR_DEFAULT_MAX_ITER``
    (environment) shrink it for tests."""
    size = int(os.environ.get("LR_DEFAULT_TRAIN_SIZE", data.n_train))
    return TrainConfig(train_size=min(size, data.n_train), test_size=data.n_test,
                       max_iter=int(os.environ.get("LR_DEFAULT_MAX_ITER",
                                                   TrainConfig().max_iter)))


# ----------------------------------------------------------------------------- engine
# Every training runs on the training engine (lrcore.engine: Dask workers), never in this
# web process: a page submits a job and polls it. One engine per server process.
ENGINE_RETRY_SECONDS = 30.0  # after a failed start, pages retry this often (not every run)
_engine_failure: dict[str, Any] = {"at": 0.0, "message": ""}


@st.cache_resource(show_spinner="Starting the training engine…")
def _engine() -> Engine:
    return get_engine()


def engine() -> Engine | None:
    """The process's training engine, or None while it cannot be reached or started
    (:func:`engine_error` then says why, for the page to show)."""
    if time.time() - _engine_failure["at"] < ENGINE_RETRY_SECONDS:
        return None
    try:
        eng = _engine()
    except (EngineUnavailable, ValueError) as e:  # ValueError: a bad LR_ENGINE_* setting
        _engine_failure.update(at=time.time(), message=str(e))
        return None
    _engine_failure["message"] = ""
    return eng


def engine_error() -> str:
    """Why :func:`engine` returned None ("" when it did not)."""
    return _engine_failure["message"]


def owner() -> str:
    """This browser session's name for the engine (its queue allows one job per owner)."""
    ctx = get_script_run_ctx()
    return f"session:{ctx.session_id if ctx is not None else 'bare'}"


@st.cache_resource
def _default_models() -> dict[str, TrainedModel]:
    """The default model of this process, once it exists (config key -> model)."""
    return {}


def _default_key(cfg: TrainConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True, default=str)


def default_model() -> TrainedModel:
    """The default model: loaded from the data directory if a process of this host has
    trained it, else trained on the engine with a visible progress bar. Every session that
    asks meanwhile gets the same job (identical settings are one training) and waits for it.
    """
    data = get_data()
    cfg = default_config(data)
    models = _default_models()
    model = models.get(_default_key(cfg))
    if model is not None:
        return model
    bar = st.progress(0.0, text="Loading the default model…")

    def train_on_engine() -> TrainedModel:
        eng = engine()
        if eng is None:
            st.error(f"The default model cannot be trained: {engine_error()}")
            st.stop()
        job = eng.submit_training(cfg, data, owner=DEFAULT_OWNER)
        while job.active:
            eng.touch(DEFAULT_OWNER)  # queued work of an owner nobody touches is dropped
            last = job.latest
            text = (f"Training the default model on {cfg.train_size:,} digits: "
                    + (f"iteration {last['iteration']}" if last else job.describe()))
            bar.progress(min((last or {}).get("iteration", 0) / cfg.max_iter, 1.0), text=text)
            time.sleep(0.25)
        result = job.result()
        if result is None or job.state == "error":
            st.error(f"The default model could not be trained: {job.error}")
            st.stop()
        result.name = "default"
        return result

    # One training per host: the other app processes load its file.
    model = cached_model(
        "default-model", cfg, data, train_on_engine,
        on_wait=lambda: bar.progress(0.0, text="Another app process is training the "
                                               "default model; waiting for it…"))
    bar.empty()
    models[_default_key(cfg)] = model
    freeze_heap()
    return model


def default_model_status() -> TrainedModel | None:
    """The default model if this process has it, without training it."""
    data = get_data()
    return _default_models().get(_default_key(default_config(data)))


# ----------------------------------------------------------------------------- runs
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


def session_job():
    """This session's training on the engine (queued, running, or finished and not yet
    adopted), or None."""
    key = st.session_state.get(JOB)
    eng = engine() if key else None
    if eng is not None:
        # Polled by the live panels (fragments, which skip the sidebar's touch): a student
        # waiting in line is alive, so the queue must not drop their job.
        eng.touch(owner())
    job = eng.job(key) if eng is not None else None
    if key and job is None and eng is not None:  # forgotten by the engine: nothing to keep
        st.session_state.pop(JOB, None)
    return job


def adopt_finished_job() -> str | None:
    """Once this session's training has ended, store its model as a run (the current one)
    and return the run's id; None while it is queued or running, or if there is none.

    Called at the start of every script run (the sidebar) and by the live panels, so the
    run appears whatever page the student is on when it ends. Idempotent."""
    job = session_job()
    if job is None or job.active:
        return None
    st.session_state.pop(JOB, None)
    model = job.result()
    if model is None:  # cancelled before it started, or failed before one iteration
        st.session_state[JOB_NOTICE] = ("warning" if job.state == "cancelled" else "error",
                                        _job_outcome(job))
        return None
    rid = add_run(model)
    st.session_state[LAST_TRAINED] = rid
    source = st.session_state.get(CONTINUED, {}).pop(job.key, None)
    if source is not None:
        st.session_state.setdefault(ORIGINS, {})[rid] = (
            f"{source} continued to iteration {model.summary.get('n_iter', '?')}")
    if job.state == "error" or job.notice:
        st.session_state[JOB_NOTICE] = ("warning", f"{rid}: {_job_outcome(job)}")
    return rid


def _job_outcome(job) -> str:
    if job.state == "cancelled":
        return "The training was cancelled before it started."
    text = job.error or job.notice or job.describe()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def stop_session_job() -> None:
    """Stop (running) or cancel (queued) this session's training. A run shared with other
    students goes on for them; this student keeps the model as of now."""
    job = session_job()
    if job is None or not job.active:
        return
    if not job.stop(owner=owner()):  # others still want it: keep the latest iterate here
        snap = job.snapshot()
        st.session_state.pop(JOB, None)
        if snap is not None:
            rid = add_run(recompute_metrics(snap, get_data()))
            st.session_state[LAST_TRAINED] = rid


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
    """Short human label, e.g. "run 2: L1, C=0.01, 5,000 digits" (lrcore.labels')."""
    return labels.model_label(labels.DEFAULT_MODEL_NAME if rid == DEFAULT_ID else rid,
                              model.config)


def model_heading(rid: str, model: TrainedModel) -> str:
    """:func:`model_label` to open a caption: "Model: run 2: L1, C=0.01, 5,000 digits", or
    "Default model: L2, C=0.01, 60,000 digits" (not "Model: default model: ...")."""
    label = model_label(rid, model)
    return sentence(label)[:-1] if rid == DEFAULT_ID else f"Model: {label}"


def accuracy_text(model: TrainedModel) -> str:
    """ "test accuracy 91.90%", or why there is none (a run rebuilt after a lost worker)."""
    acc = model.summary.get("test_accuracy")
    return "test metrics not computed" if acc is None else f"test accuracy {labels.pct(acc)}"


def sidebar(slot: Any = None) -> None:
    """Data in use and current model, on every page.

    ``slot`` is an ``st.sidebar.empty()`` placeholder: app.py draws into it before the page
    runs and again after, so what a page changed (the default model trained, another run
    made current) shows at once instead of on the next rerun.
    """
    data = get_data()
    eng = engine()
    if eng is not None:
        eng.touch(owner())  # this session is alive: its queued work stays in line
    try:
        adopt_finished_job()
    except Exception as e:  # never break every page over one lost run
        st.session_state.pop(JOB, None)
        st.session_state[JOB_NOTICE] = ("error", f"A finished training could not be kept: {e}")
    with (slot.container() if slot is not None else st.sidebar):
        st.caption("**Data in use**")
        st.write(f"{data.source}  \n{data.n_train:,} training / {data.n_test:,} test digits")
        for note in data.notes:
            st.caption(note)
        if eng is None:
            st.error(f"Training is unavailable: {engine_error()}")
        rid = current_id()
        st.caption("**Current model**")
        if rid == DEFAULT_ID:
            default = default_model_status()
            if default is not None:
                st.write(model_label(DEFAULT_ID, default) + "  \n" + accuracy_text(default))
            else:
                st.write("default model (trained when first needed)")
        else:
            m = runs()[rid]
            st.write(model_label(rid, m) + "  \n" + accuracy_text(m))


def training_status() -> None:
    """This session's training in the sidebar of every page, live, with Stop; once it ends
    the whole page reruns (the run is stored and shown). Nothing at all without a training,
    so an idle session costs no periodic reruns."""
    notice = st.session_state.pop(JOB_NOTICE, None)
    if notice:
        getattr(st.sidebar, notice[0])(notice[1])
    if session_job() is not None:
        with st.sidebar:
            _training_status()


@st.fragment(run_every=1.0)
def _training_status() -> None:
    job = session_job()
    if job is None or not job.active:
        adopt_finished_job()
        st.rerun()
    st.caption("**Training**")
    st.write(f"{config_label(job.config)}  \n{job.describe()}")
    st.button("Stop" if job.state == "running" else "Cancel", key="sidebar_training_stop",
              on_click=stop_session_job, icon=":material/stop:",
              help="Stops after the current iteration and keeps the model so far.")


# ----------------------------------------------------------------------------- polled jobs
# What a page draws for an engine job it polls from a fragment (a training, an experiment):
# one look for the queue, the notices and Stop on every page.


def sentence(text: str) -> str:
    """``text`` capitalized, with a final full stop."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def job_queued(job: Any, *, key: str, on_cancel: Any, what: str = "training",
               after: str = "") -> None:
    """A queued job: its place in line and when it should start, and Cancel (``key``)."""
    st.info(f"Waiting for a free worker: {job.describe()}. The {what} starts by itself"
            f"{after}.", icon=":material/hourglass_top:")
    st.button("Cancel", key=key, on_click=on_cancel, icon=":material/close:")


def job_notice(job: Any) -> None:
    """A job's notice (e.g. restarted after a lost worker) and its error, if any."""
    if job.notice:
        st.warning(sentence(job.notice))
    if job.state == "error" and job.error:
        st.error(sentence(job.error))


def job_stop_button(key: str, on_click: Any, *, disabled: bool = False,
                    help: str = "Stops after the current iteration and keeps the model so "
                                "far.", **kw: Any) -> None:
    """Stop for a running job (``kw``: e.g. ``width="stretch"``)."""
    st.button("Stop", key=key, on_click=on_click, disabled=disabled, icon=":material/stop:",
              help=help, **kw)
