"""Train: choose the settings, train a softmax regression live, stop it, keep every run.

The training runs on the training engine (lrcore.engine, Dask workers), not in this
script: the Train button submits a job, whose key waits in ``st.session_state[JOB]``, and a
fragment polls it twice a second to draw the queue place or the live curves. So a click, a
rerun or another page never interrupts the training: it goes on, the sidebar of every
page shows it, and when it ends its model is stored as a run whatever page is open
(:func:`pages.common.adopt_finished_job`). Stop asks the worker to stop after the current
iteration and keeps the model as of then. Identical settings pressed by several students
are one training that all of them watch.

Settings live in widgets with explicit keys, are validated field by field through
:meth:`~lrcore.config.TrainConfig.field_errors` (its messages appear under the control
concerned), and are mirrored in the URL's query parameters
(:meth:`~lrcore.config.TrainConfig.to_query`) so that one link reproduces them. What
needs no Streamlit (defaults, validation, the link, speeds, the runs table, reading a
model file) lives in :mod:`lrcore.train_form`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import streamlit as st

from lrcore import labels
from lrcore.config import (
    C_MAX,
    C_MIN,
    MIN_TRAIN_SIZE,
    PREPROCESS_MODES,
    QUERY_FIELDS,
    TrainConfig,
)
from lrcore.data import MnistData, sample_indices
from lrcore.modelcache import recompute_metrics
from lrcore.figures.training import RUN_METRICS as plots_metrics
from lrcore.figures.training import (objective_scale, predictions_html, runs_overlay,
                                     training_curves)
from lrcore.train import TrainedModel, WarmStart
from lrcore.train_form import (
    C_GRID,
    MULTI_CLASS_LABELS,
    PENALTY_LABELS,
    PREPROCESS_LABELS,
    SPEEDS,
    TOL_GRID,
    advice,
    continue_config,
    fmt_number,
    latest_test,
    page_defaults,
    read_model_file,
    runs_table,
    share_url,
    snap_C,
    speed_control,
    speed_of,
    validate,
)
from pages.common import (
    CONTINUED,
    CURRENT,
    DEFAULT_ID,
    JOB,
    JOB_NOTICE,
    LAST_TRAINED,
    ORIGINS,
    add_run,
    adopt_finished_job,
    config_label,
    current_id,
    engine,
    engine_error,
    get_data,
    job_notice,
    job_queued,
    job_stop_button,
    model_label,
    owner,
    require_app_shell,
    runs,
    sentence,
    session_job,
    stop_session_job,
)

require_app_shell()

# ----------------------------------------------------------------------------- keys
# TrainConfig field -> widget key. These fields, and only these, go into the URL.
WIDGET_KEYS = {
    "penalty": "train_penalty",
    "C": "train_C",
    "l1_ratio": "train_l1_ratio",
    "multi_class": "train_multi_class",
    "preprocess": "train_preprocess",
    "train_size": "train_size",
    "test_size": "train_test_size",
    "shuffle": "train_shuffle",
    "seed": "train_seed",
    "tol": "train_tol",
    "max_iter": "train_max_iter",
}
FIELDS = tuple(WIDGET_KEYS)
assert FIELDS == QUERY_FIELDS  # the page's controls are exactly what a link carries
K_C_SLIDER = "train_C_slider"

URL_READ = "train_url_read"  # the URL has been read once in this session
UPLOADS = "train_uploads_seen"  # file_id -> (kind, message) of processed uploads
SELECT_NEXT = "train_select_next"  # run id to select in the runs selectbox on the next run
SELECTED_LAST = "train_selected_last"  # LAST_TRAINED when it was last selected automatically
NOTICE = "train_notice"  # (kind, message) shown once after a rerun

K_SPEED = "train_speed"  # the speed a new training starts at
K_LIVE_SPEED = "train_live_speed"  # the running training's speed
LIVE_SPEED_FOR = "train_live_speed_for"  # the job K_LIVE_SPEED was set for
K_MORE = "train_more_iter"
N_SAMPLE = 2  # test digits per class in the live "what the model reads" strip
# How often the live panel polls the engine: twice a second is smooth enough for curves
# and keeps a class of watching students cheap for the server (one small rerun each).
POLL_SECONDS = 0.5


# ----------------------------------------------------------------------------- settings
def widget_values(cfg: TrainConfig) -> dict[str, Any]:
    """Widget key -> value showing ``cfg``."""
    C = cfg.C if math.isfinite(cfg.C) else 1.0  # no penalty: keep a usable C in the box
    values = {
        "penalty": "none" if cfg.penalty is None else cfg.penalty,
        "C": fmt_number(C),
        "l1_ratio": float(cfg.l1_ratio),
        "multi_class": cfg.multi_class,
        "preprocess": cfg.preprocess,
        "train_size": int(cfg.train_size),
        "test_size": int(cfg.test_size),
        "shuffle": bool(cfg.shuffle),
        "seed": int(cfg.seed),
        "tol": float(cfg.tol),
        "max_iter": int(cfg.max_iter),
    }
    out = {WIDGET_KEYS[f]: v for f, v in values.items()}
    out[K_C_SLIDER] = snap_C(C)
    return out


def _settings_from_url(data: MnistData) -> list[str]:
    """On the session's first visit, give every settings widget its value from the URL (or
    the defaults). Afterwards the widgets keep their values themselves, also while hidden
    or while the user is on another page (``persist_state="session"``). Returns notes about
    the link's parameters that could not be used as given."""
    ss = st.session_state
    if ss.get(URL_READ):
        return []
    ss[URL_READ] = True
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    cfg, notes = TrainConfig.from_query(params, page_defaults(data), data.n_train, data.n_test)
    for key, v in widget_values(cfg).items():
        ss[key] = v
    return notes


def _read_values() -> dict[str, Any]:
    return {f: st.session_state[k] for f, k in WIDGET_KEYS.items()}


def _sync_url(cfg: TrainConfig) -> None:
    """Write the settings into the URL; only what changed (each write is a message)."""
    qp = st.query_params
    want = cfg.to_query()
    for k in FIELDS:
        if k in want and qp.get(k) != want[k]:
            qp[k] = want[k]
        elif k not in want and k in qp:
            del qp[k]


def _share_link(cfg: TrainConfig) -> None:
    """The settings as a link with a copy button: what a teacher sends to a class."""
    with st.popover("Share these settings", icon=":material/link:", width="stretch"):
        st.caption("Anyone who opens this link gets the Train page with exactly these "
                   "settings (the copy button is at the right of the box).")
        st.code(share_url(st.context.url or "/train", cfg), language=None, wrap_lines=True)


def _on_C_slider() -> None:
    st.session_state[WIDGET_KEYS["C"]] = fmt_number(st.session_state[K_C_SLIDER])


def _on_C_text() -> None:
    try:
        C = float(st.session_state[WIDGET_KEYS["C"]])
    except (TypeError, ValueError):
        return  # the message appears under the box; the slider stays where it was
    if math.isfinite(C) and C > 0:
        st.session_state[K_C_SLIDER] = snap_C(C)


def _submit(cfg: TrainConfig, **kw: Any) -> Any:
    """Submit a training for this session; the job, or None (a notice says why)."""
    eng = engine()
    if eng is None:
        return None  # the page shows why
    try:
        job = eng.submit_training(cfg, get_data(), owner=owner(),
                                  control=speed_control(st.session_state.get(K_SPEED)), **kw)
    except ValueError as e:
        st.session_state[JOB_NOTICE] = ("error", f"The training could not be started: {e}")
        return None
    except Exception as e:  # noqa: BLE001 - the engine went away between two clicks
        st.session_state[JOB_NOTICE] = ("error", f"The training could not be started: {e}")
        return None
    st.session_state[JOB] = job.key
    return job


def _start_training() -> None:
    """The Train button: submit the settings to the engine (nothing runs in this script)."""
    data = get_data()
    cfg, errors = validate(_read_values(), data.n_train, data.n_test)
    if cfg is not None:
        _submit(cfg)


def _continue(rid: str) -> None:
    """Continue training run ``rid`` (warm start: same settings, from its weights)."""
    model = runs().get(rid)
    if model is None:
        return
    try:
        cfg = continue_config(model, st.session_state.get(K_MORE, 100))
    except ValueError as e:
        st.session_state[JOB_NOTICE] = ("error", f"{rid} cannot be continued: {e}")
        return
    job = _submit(cfg, warm_start=WarmStart.from_model(model))
    if job is not None:
        st.session_state.setdefault(CONTINUED, {})[job.key] = rid


def _pause_or_resume() -> None:
    job = session_job()
    if job is not None and job.active:
        (job.resume if job.control.get("paused") else job.pause)(owner())


def _step() -> None:
    job = session_job()
    if job is not None and job.active:
        job.step(owner())


def _on_live_speed() -> None:
    job = session_job()
    speed = st.session_state.get(K_LIVE_SPEED) or "full"
    if job is None or not job.active:
        return
    delay = SPEEDS[speed][1]
    if delay is None:
        job.pause(owner())
    else:
        job.set_speed(owner(), delay)
        if job.control.get("paused"):
            job.resume(owner())


# ----------------------------------------------------------------------------- runs
def _make_current() -> None:
    rid = st.session_state.get("train_run_select")
    if rid in runs():
        st.session_state[CURRENT] = rid


def _use_default() -> None:
    st.session_state[CURRENT] = DEFAULT_ID


def _delete() -> None:
    rid = st.session_state.get("train_run_select")
    if rid not in runs():
        return
    del runs()[rid]
    st.session_state.get(ORIGINS, {}).pop(rid, None)
    if st.session_state.get(CURRENT) == rid:
        st.session_state[CURRENT] = DEFAULT_ID
    remaining = list(runs())
    if remaining:
        st.session_state["train_run_select"] = remaining[-1]
    st.session_state[NOTICE] = ("info", f"Deleted {rid}.")


# ----------------------------------------------------------------------------- drawing
def _message(errors: Mapping[str, str], warnings: Mapping[str, str], name: str) -> None:
    if name in errors:
        st.error(errors[name])
    elif name in warnings:
        st.warning(warnings[name])


def _controls(data: MnistData, values: Mapping[str, Any], errors: Mapping[str, str],
              busy: bool) -> None:
    warn = advice(values)
    no_penalty = values["penalty"] == "none"
    st.radio("Penalty", tuple(PENALTY_LABELS), format_func=PENALTY_LABELS.get,
             key=WIDGET_KEYS["penalty"], persist_state="session", horizontal=True,
             disabled=busy,
             help="L2 shrinks all weights; L1 sets many exactly to zero; elastic-net mixes "
                  "both; none fits the training digits as closely as it can.")
    _message(errors, warn, "penalty")
    st.select_slider("C (log scale)", options=C_GRID, format_func=fmt_number,
                     key=K_C_SLIDER, persist_state="session", on_change=_on_C_slider,
                     disabled=busy or no_penalty,
                     help="Inverse penalty strength. Small C: strong penalty, small and "
                          "smooth weights. Large C: weak penalty, the model fits the training "
                          "digits closely.")
    st.text_input("C, exact value", key=WIDGET_KEYS["C"], persist_state="session",
                  on_change=_on_C_text, disabled=busy or no_penalty,
                  help=f"Any number from {C_MIN:g} to {C_MAX:g}, e.g. 0.05 or 2e3. "
                       "The slider moves to the nearest stop.")
    if no_penalty:
        st.caption("C is not used without a penalty.")
    else:
        _message(errors, warn, "C")
    if values["penalty"] == "elasticnet":
        st.slider("l1_ratio: 0 = pure L2, 1 = pure L1", 0.0, 1.0, step=0.05,
                  key=WIDGET_KEYS["l1_ratio"], persist_state="session", disabled=busy)
        _message(errors, warn, "l1_ratio")

    a, b = st.columns(2)
    with a:
        st.number_input("Training digits", min_value=MIN_TRAIN_SIZE, step=1000,
                        key=WIDGET_KEYS["train_size"], persist_state="session",
                        disabled=busy, help=f"{MIN_TRAIN_SIZE} to {data.n_train:,} (all)")
    with b:
        st.number_input("Max iterations", min_value=1, max_value=100_000, step=10,
                        key=WIDGET_KEYS["max_iter"], persist_state="session", disabled=busy)
    for name in ("train_size", "max_iter"):
        _message(errors, warn, name)
    st.selectbox("Preprocessing", PREPROCESS_MODES, format_func=PREPROCESS_LABELS.get,
                 key=WIDGET_KEYS["preprocess"], persist_state="session", disabled=busy,
                 help="Stored with the model: a drawn digit goes through the same steps.")
    _message(errors, warn, "preprocess")

    # Open when something in it needs attention or differs from the defaults (e.g. a
    # teacher's link changed the tolerance): nothing that matters hides behind a fold.
    more = ("test_size", "multi_class", "tol", "shuffle", "seed")
    usual = widget_values(page_defaults(data))
    changed = any(values[n] != usual[WIDGET_KEYS[n]] for n in more)
    with st.expander("More settings", expanded=changed or any(n in errors for n in more)):
        st.radio("Classes", tuple(MULTI_CLASS_LABELS), format_func=MULTI_CLASS_LABELS.get,
                 key=WIDGET_KEYS["multi_class"], persist_state="session", horizontal=True,
                 disabled=busy,
                 help="softmax: one model whose 10 probabilities sum to 1; one-vs-rest: 10 "
                      "separate yes/no models.")
        _message(errors, warn, "multi_class")
        a, b = st.columns(2)
        with a:
            st.number_input("Test digits", min_value=1, step=1000,
                            key=WIDGET_KEYS["test_size"], persist_state="session",
                            disabled=busy, help=f"1 to {data.n_test:,} (all)")
        with b:
            tol_options = sorted(set(TOL_GRID) | {float(values["tol"])})
            st.select_slider("Tolerance", options=tol_options, format_func=lambda v: f"{v:g}",
                             key=WIDGET_KEYS["tol"], persist_state="session", disabled=busy,
                             help="Training stops when the largest gradient entry is below it.")
        for name in ("test_size", "tol"):
            _message(errors, warn, name)
        a, b = st.columns(2, vertical_alignment="bottom")
        with a:
            st.checkbox("Shuffle", key=WIDGET_KEYS["shuffle"], persist_state="session",
                        disabled=busy,
                        help="Off: the first digits of each set. On: a random subset drawn "
                             "with the seed.")
        with b:
            st.number_input("Seed", min_value=0, max_value=2**32 - 1, step=1,
                            key=WIDGET_KEYS["seed"], persist_state="session",
                            disabled=busy or not values["shuffle"])
        for name in ("shuffle", "seed"):
            _message(errors, warn, name)


@st.cache_resource(max_entries=256, show_spinner=False)
def _curves(key: str, n: int, _history: tuple, _config: TrainConfig) -> Any:
    """The live chart of a job after ``n`` records: built once per (job, n) for every
    student watching the same training."""
    return training_curves(list(_history), objective_scale=objective_scale(_config))


@st.fragment(run_every=POLL_SECONDS)
def _live_panel() -> None:
    """The session's training, polled from the engine: its place in the queue, or its live
    curves; Stop / Cancel. When it has ended, the whole page reruns to show the run."""
    job = session_job()
    if job is None or not job.active:
        adopt_finished_job()
        st.rerun()
    st.subheader(f"Training: {config_label(job.config)}")
    if job.state == "queued":
        job_queued(job, key="train_cancel", on_cancel=stop_session_job,
                   after="; you can visit other pages meanwhile (the sidebar shows it)")
        return
    history = job.history
    st.plotly_chart(_curves(job.key, len(history), tuple(history), job.config),
                    key="train_live")
    coef = job.latest_coef
    if coef is not None:
        st.html(_sample_predictions(job.key, coef[0], job))
    last = history[-1] if history else None
    test = latest_test(history)
    text = (f"Iteration {last['iteration']} of at most {job.config.max_iter} · "
            f"{last['elapsed']:.1f} s" if last else "Starting…")
    if test is not None:
        text += f" · test accuracy {labels.pct(test[1])} (at iteration {test[0]})"
    frac = min(last["iteration"] / job.config.max_iter, 1.0) if last else 0.0
    st.progress(frac, text=text)
    job_notice(job)
    _run_controls(job)


def _run_controls(job: Any) -> None:
    """Pause / Resume, Step, Stop and the speed of the running training."""
    mine = job.controllable(owner())
    control = job.control
    paused = bool(control.get("paused"))
    if st.session_state.get(LIVE_SPEED_FOR) != job.key:
        st.session_state[LIVE_SPEED_FOR] = job.key
        st.session_state[K_LIVE_SPEED] = speed_of(control)
    # Buttons as wide as their labels, wrapping on a phone (three equal columns cut
    # "Resume" at 1024 px).
    row = st.container(horizontal=True, wrap=True, gap="small")
    row.button("Resume" if paused else "Pause", key="train_pause", on_click=_pause_or_resume,
               icon=":material/play_arrow:" if paused else ":material/pause:",
               disabled=not mine,
               help="Pause after the current iteration; the model waits on its worker.")
    row.button("Step", key="train_step", on_click=_step, icon=":material/skip_next:",
               disabled=not (mine and paused),
               help="While paused: one more iteration, then pause again.")
    with row:
        job_stop_button("train_stop", stop_session_job)
    st.segmented_control("Speed", tuple(SPEEDS), format_func=lambda k: SPEEDS[k][0],
                         key=K_LIVE_SPEED, on_change=_on_live_speed, disabled=not mine)
    if not mine:
        st.caption("Other students pressed exactly these settings and are watching this "
                   "same run, so it cannot be paused or slowed for them. Choose a speed "
                   "below Train before pressing it to get a run of your own.")
    elif paused and job.latest:
        st.caption(f"Paused at iteration {job.latest['iteration']}. The worker "
                   "waits for you (Step, Resume or Stop); after a few minutes it stops by "
                   "itself and keeps the model, so the class is not kept waiting.")


@st.cache_resource(show_spinner=False)
def _sample_digits() -> tuple[Any, Any]:
    """The test digits of the live strip: the first N_SAMPLE of each class."""
    data = get_data()
    idx = sample_indices(data.y_test, N_SAMPLE)
    return data.X_test[idx], data.y_test[idx]


@st.cache_resource(max_entries=256, show_spinner=False)
def _sample_predictions(key: str, iteration: int, _job: Any) -> str:
    """The live strip for the job's weights at ``iteration`` (once for every watcher)."""
    X, y = _sample_digits()
    model = _job.snapshot()
    return predictions_html(model.predict_proba_pixels(X), model.classes, X, y)


def _last_run_panel() -> None:
    rid = st.session_state.get(LAST_TRAINED)
    if rid not in runs():
        st.info("Choose the settings on the left and press **Train**: the loss and "
                "accuracy curves are drawn here while the model learns. **Stop** keeps "
                "the model as it is at that moment.")
        return
    m = runs()[rid]
    s = m.summary
    st.subheader(model_label(rid, m))
    if m.history:
        st.plotly_chart(training_curves(m.history, objective_scale=objective_scale(m.config)),
                        key="train_last_chart")
        st.caption("Dots mark the iterations where the test digits were scored (some are "
                   "skipped to keep that under a tenth of the training time). The dotted "
                   "grey line is the objective the solver minimizes, per training digit: "
                   "it always falls, even when the training log-loss alone does not (with "
                   "L1 the penalty term trades against it).")
    acc, ll, sp = s.get("test_accuracy"), s.get("test_log_loss"), s.get("sparsity")
    # A row that wraps, each number as wide as it needs (equal columns cut "91.06%" to
    # "91.…" at 1024 px with the sidebar open).
    row = st.container(horizontal=True, wrap=True, gap="medium")
    row.metric("Test accuracy", "–" if acc is None else labels.pct(acc), width="content")
    row.metric("Test log-loss", "–" if ll is None else f"{ll:.4f}", width="content")
    row.metric("Zero weights", "–" if sp is None else f"{sp:.1f}%", width="content",
               help="Share of the weights that are exactly 0 (L1 makes many).")
    row.metric("Iterations", s.get("n_iter", "–"), width="content")
    row.metric("Seconds", f"{s.get('fit_seconds', 0):.1f}", width="content")
    row.metric("Converged", "yes" if s.get("converged") else "no", width="content")
    status, message = s.get("status"), s.get("message", "")
    if status == "converged":
        st.success(sentence(message))
    elif status == "stopped":
        st.warning(sentence(message))
    elif message:
        st.info(sentence(message))
    _continue_panel(rid, m)


def _continue_panel(rid: str, m: TrainedModel) -> None:
    """Continue training this run from its weights (same settings: the same objective)."""
    converged = m.summary.get("status") == "converged"
    a, b = st.columns([1, 2], vertical_alignment="bottom")
    st.session_state.setdefault(K_MORE, 100)
    a.number_input("More iterations", min_value=1, max_value=10_000, step=50, key=K_MORE,
                   disabled=converged)
    b.button("Continue training", key="train_continue", on_click=_continue, args=(rid,),
             icon=":material/resume:", disabled=converged or engine() is None,
             help="Starts from this run's weights with the same settings (the same "
                  "objective) and carries its curves on; the result is a new run.")
    if converged:
        st.caption("Converged: more iterations would not change it at this tolerance.")


def _overlay(items: Mapping[str, TrainedModel]) -> None:
    """Several runs' curves on one chart (the last three at first)."""
    st.markdown("**Compare the curves of several runs**")
    ids = list(items)
    chosen = [r for r in st.session_state.get("train_overlay_runs", ids[-3:]) if r in ids]
    st.session_state["train_overlay_runs"] = chosen
    a, b = st.columns([3, 2])
    picked = a.multiselect("Runs", ids, key="train_overlay_runs",
                           format_func=lambda r: model_label(r, items[r]))
    metric = b.selectbox("Curve", tuple(plots_metrics), key="train_overlay_metric",
                         format_func=lambda m: plots_metrics[m][0])
    if picked:
        st.plotly_chart(runs_overlay({model_label(r, items[r]): items[r].history
                                      for r in picked}, metric), key="train_overlay_chart")


def _runs_section(busy: bool) -> None:
    st.subheader("This session's runs")
    items = runs()
    current = current_id()
    if not items:
        st.caption("No runs yet: train one above or upload a model file below.")
    else:
        st.dataframe(
            runs_table(items, current, st.session_state.get(ORIGINS, {})),
            hide_index=True, key="train_runs_table",
            column_config={
                "status": st.column_config.TextColumn(width="medium"),
                "C": st.column_config.NumberColumn(format="%g"),
                "tol": st.column_config.NumberColumn(format="%g"),
                "test accuracy": st.column_config.NumberColumn(format="percent"),
                "test log-loss": st.column_config.NumberColumn(format="%.4f"),
                "zero weights %": st.column_config.NumberColumn(format="%.1f"),
                "seconds": st.column_config.NumberColumn(format="%.1f"),
            })
        ids = list(items)
        nxt = st.session_state.pop(SELECT_NEXT, None)  # a new upload: select it
        last = st.session_state.get(LAST_TRAINED)
        if last in items and st.session_state.get(SELECTED_LAST) != last:
            st.session_state[SELECTED_LAST] = nxt = last  # a new training: select it
        if nxt in items:
            st.session_state["train_run_select"] = nxt
        elif st.session_state.get("train_run_select") not in items:
            st.session_state["train_run_select"] = ids[-1]
        rid = st.selectbox("Run", ids, key="train_run_select", disabled=busy,
                           format_func=lambda r: model_label(r, items[r]))
        # Their own row: beside the selectbox a projector's width cut their labels.
        b, c, d = st.columns(3, vertical_alignment="bottom")
        model = items[rid]
        b.button("Make current", key="train_make_current", on_click=_make_current,
                 disabled=busy or rid == current, width="stretch")
        c.button("Delete", key="train_delete", on_click=_delete, disabled=busy,
                 width="stretch")
        d.download_button("Download model file", data=model.to_bytes,
                          file_name=f"mnist-softmax-{rid.replace(' ', '')}.npz",
                          mime="application/octet-stream", key="train_download",
                          on_click="ignore", disabled=busy, width="stretch")
        if current != DEFAULT_ID:
            st.button("Use the default model again", key="train_use_default",
                      on_click=_use_default, disabled=busy)
        if len(items) >= 2:
            _overlay(items)

    up = st.file_uploader("Add a model file (.npz, as downloaded here)", type=["npz"],
                          key="train_upload", disabled=busy)
    if up is not None:
        seen = st.session_state.setdefault(UPLOADS, {})
        if up.file_id not in seen:
            try:
                m = read_model_file(up.getvalue())
                # What a file says about its own accuracy is never shown: rescored here.
                m = recompute_metrics(m, get_data(), test_size=get_data().n_test)
            except ValueError as e:
                seen[up.file_id] = ("error", f"{up.name} was not added: {e}")
            else:
                rid = add_run(m, make_current=False)
                st.session_state.setdefault(ORIGINS, {})[rid] = (
                    f"uploaded {up.name} (test metrics computed here on all "
                    f"{get_data().n_test:,} test digits)")
                st.session_state[SELECT_NEXT] = rid
                seen[up.file_id] = ("success", f"{up.name} was added as {rid}; select it "
                                               "above to make it the current model.")
                st.rerun()  # show it in the table above
        kind, text = seen[up.file_id]
        (st.error if kind == "error" else st.success)(text)


# ----------------------------------------------------------------------------- page
def run() -> None:
    data = get_data()
    st.title("Train a model")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        getattr(st, notice[0])(notice[1])
    for note in _settings_from_url(data):
        st.warning(note)
    eng = engine()
    if eng is None:
        st.error(f"Training is unavailable right now: {engine_error()}")

    values = _read_values()
    cfg, errors = validate(values, data.n_train, data.n_test)
    busy = session_job() is not None

    # The settings need ~210 px for two fields side by side: at 1024 px with the sidebar
    # open a third of the page (156 px) cut "Tolerance" and "Shuffle".
    left, right = st.columns([1, 1.6], gap="large")
    with left:
        _controls(data, values, errors, busy)
        st.button("Train", key="train_go", type="primary", on_click=_start_training,
                  disabled=cfg is None or busy or eng is None, width="stretch")
        st.session_state.setdefault(K_SPEED, "full")
        st.selectbox("Speed", tuple(SPEEDS), format_func=lambda k: SPEEDS[k][0],
                     key=K_SPEED, disabled=busy,
                     help="Slow motion or one iteration at a time, to watch (and stop) "
                          "the model at any moment. A slowed run is yours alone; at full "
                          "speed, identical settings pressed by others are one shared run.")
        if "" in errors:
            st.error(errors[""])
        elif cfg is None:
            st.caption("Fix the settings marked in red to train.")
    if cfg is not None:
        _sync_url(cfg)
        with left:
            _share_link(cfg)

    st.divider()
    _runs_section(busy)

    with right:
        if busy:
            _live_panel()
        else:
            _last_run_panel()


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
