"""Experiments: why does a linear model do so well on MNIST? One tab per question, each
answered by a live experiment from :mod:`lrcore.experiments`.

Every tab follows one pattern (:func:`_experiment_block`): controls with explicit keys,
read into the keyword arguments of the experiment (:mod:`lrcore.experiments.inputs`);
**Run** and **Stop**; while it runs, a fragment that polls it (queue place, progress bar,
the rows so far); then the result table, its chart, its lesson (``result.notes``) and a
CSV download.

Running. Run submits the experiment to the training engine as one job
(``Engine.submit_experiment``, owner = this session): it runs on a worker, in the same
queue as the trainings, and identical experiments of several students are one run. The
job's key is in ``st.session_state[JOB]`` until its end is filed into the section's slot.
Stop asks the job to stop after its current progress record (or, when other students
watch the same run, keeps the rows so far here and leaves it running for them).

Caching. A finished result is stored in ``st.session_state[CACHE]`` under the experiment's
key (its name and settings), so Run with the same settings shows it at once. Results are
per session (a student's own runs), never in a cache shared by all users (STYLE.md 6).
A stopped result shows the rows finished so far, marked "stopped", and is not cached: the
same settings run in full next time.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

from lrcore import experiments as ex
from lrcore import labels
from lrcore.config import MIN_TRAIN_SIZE, PREPROCESS_MODES
from lrcore.data import MnistData
from lrcore.experiments.inputs import (C_GRID, check_size, default_sizes, fmt_C, log_grid, parse_C,
                                       parse_sizes)
from lrcore.figures import experiments as xp
from lrcore.figures.weights import weight_images
from pages.common import (engine, engine_error, get_data, job_notice, job_queued,
                          job_stop_button, owner, require_app_shell, sentence)

require_app_shell()

# ----------------------------------------------------------------------------- state keys
CACHE = "exp_cache"  # {Experiment.key: ExperimentResult}, finished runs only
SHOWN = "exp_shown"  # {section id: {"result", "status", "key", ...}}: what each tab shows
JOB = "exp_job"  # {"section", "job", "key", "settings"}: this session's experiment on the engine
CLICKED = "exp_clicked"  # section whose Run was clicked (set by the button's callback)
K_TABS = "exp_tabs"
POLL_SECONDS = 0.5

# The names are lrcore.labels' (one table for the whole app), in this page's order.
PREPROCESS_LABELS = {m: labels.PREPROCESS[m]
                     for m in ("raw", "unit", "standardize", "deskew")}
PENALTY_LABELS = {p: labels.PENALTY[p] for p in ("l2", "l1")}
STATUS_TEXT = {"complete": "finished", "cached": "finished earlier with these settings "
               "(from this session's cache)", "stopped": "stopped"}
# The factory of each experiment's name (the name is what the engine is sent).
NAMES = {factory: name for name, factory in ex.EXPERIMENTS.items()}


# ----------------------------------------------------------------------------- state
def _cache() -> dict:
    return st.session_state.setdefault(CACHE, {})


def _shown() -> dict:
    return st.session_state.setdefault(SHOWN, {})


def _session_experiment() -> tuple[dict | None, Any]:
    """(what this session submitted, its job) while the engine keeps it; (None, None)."""
    pending = st.session_state.get(JOB)
    if not pending:
        return None, None
    eng = engine()
    if eng is None:
        return pending, None
    eng.touch(owner())  # a fragment skips the sidebar's touch: keep this session alive
    job = eng.job(pending["job"])
    if job is None:  # forgotten by the engine (or another engine): nothing to file
        st.session_state.pop(JOB, None)
        return None, None
    return pending, job


def _file(pending: dict, job: Any, result: Any = None) -> None:
    """Put the ended job's result (or ``result``) into its section's slot, and a finished
    one into the cache; the session has no running experiment any more."""
    result = result or job.result() or job.snapshot()  # None: cancelled before it started
    entry = {"result": result, "key": pending["key"], "settings": pending["settings"]}
    if job.state == "done" and result.complete:
        _cache()[pending["key"]] = result
        entry["status"] = "complete"
    else:
        entry.update(status="stopped", done=job.progress["done"], total=job.total)
        if job.state == "error":
            entry["error"] = f"The experiment failed: {job.error}"
    _shown()[pending["section"]] = entry
    st.session_state.pop(JOB, None)


def _request(sid: str) -> None:
    st.session_state[CLICKED] = sid


def _busy() -> str | None:
    """The section whose experiment is queued or running; files one that has ended."""
    pending, job = _session_experiment()
    if pending is None or job is None:
        return None if pending is None else pending["section"]
    if not job.active:
        _file(pending, job)
        return None
    return pending["section"]


def _stop() -> None:
    """Stop (or cancel) this session's experiment. A run shared with other students goes
    on for them; this student keeps the rows finished so far."""
    pending, job = _session_experiment()
    if job is None or not job.active:
        return
    if not job.stop(owner=owner()):  # it goes on for others: file the rows so far here
        _file(pending, job, job.snapshot())


# ----------------------------------------------------------------------------- widgets
def _C_input(sid: str, busy: bool, default: str = "1") -> str:
    st.session_state.setdefault(f"exp_{sid}_C", default)
    # A short label: in a narrow column a long one wraps and pushes the box out of line.
    return st.text_input("C", key=f"exp_{sid}_C", disabled=busy,
                         help="Inverse penalty strength: small C = strong penalty. Any number "
                              "from 1e-6 to 1e8.")


def _size_input(sid: str, busy: bool, default: int, data: MnistData,
                label: str = "Training digits", key: str | None = None) -> int:
    key = key or f"exp_{sid}_train_size"
    st.session_state.setdefault(key, min(default, data.n_train))
    return st.number_input(label, min_value=0, step=1000, key=key, disabled=busy,
                           help=f"{MIN_TRAIN_SIZE:,} to {data.n_train:,}; the first digits "
                                "of the training set.")


def _preprocess_input(sid: str, busy: bool, default: str) -> str:
    st.session_state.setdefault(f"exp_{sid}_preprocess", default)
    return st.selectbox("Preprocessing", PREPROCESS_MODES, key=f"exp_{sid}_preprocess",
                        format_func=PREPROCESS_LABELS.get, disabled=busy)


def _max_iter_input(sid: str, busy: bool, default: int) -> int:
    st.session_state.setdefault(f"exp_{sid}_max_iter", default)
    return st.number_input("Max iterations per fit", min_value=1, max_value=5000, step=50,
                           key=f"exp_{sid}_max_iter", disabled=busy)


def _fit_inputs(sid: str, busy: bool, data: MnistData, cols: list, *,
                preprocess: str | None = "unit") -> tuple[dict, list[str]]:
    """Training digits, C, preprocessing (unless ``preprocess`` is None) and max iterations,
    one per column of ``cols``. Returns the experiment's keyword arguments for them and the
    messages of the fields that are not valid."""
    cols = iter(cols)
    with next(cols):
        n = _size_input(sid, busy, 10000, data)
    with next(cols):
        C_text = _C_input(sid, busy)
    if preprocess is not None:
        with next(cols):
            preprocess = _preprocess_input(sid, busy, preprocess)
    with next(cols):
        max_iter = _max_iter_input(sid, busy, 300)
    size, e1 = check_size(n, data.n_train)
    C, e2 = parse_C(C_text)
    params = dict(train_size=size, C=C)
    if preprocess is not None:
        params["preprocess"] = preprocess
    params["max_iter"] = int(max_iter)
    return params, [e for e in (e1, e2) if e]


def _C_range_inputs(sid: str, busy: bool, lo: float, hi: float, points: int
                    ) -> tuple[list[float] | None, str | None]:
    st.session_state.setdefault(f"exp_{sid}_points", points)
    a, b = st.columns([3, 1])
    # value= rather than a session-state default: AppTest loses a range set that way.
    lo, hi = a.select_slider("Range of C (log scale)", options=C_GRID, value=(lo, hi),
                             key=f"exp_{sid}_C_range", format_func=fmt_C, disabled=busy)
    n = b.number_input("Values of C", min_value=1, max_value=20, step=1,
                       key=f"exp_{sid}_points", disabled=busy)
    if lo == hi and n > 1:
        return None, "Choose a range of C (two different ends) or a single value of C."
    return log_grid(lo, hi, int(n)), None


# ----------------------------------------------------------------------------- the pattern
def _experiment_block(sid: str, factory: Callable[..., Any], settings: dict | None,
                      errors: list[str], draw: Callable[[Any], None], busy: str | None,
                      data: MnistData) -> None:
    """Run / Stop buttons, the live job when this section's experiment runs, the result.

    ``settings`` are the keyword arguments of ``factory(data, **settings)`` (None if the
    widgets could not be read; ``errors`` say why). Building the experiment validates them
    (lrcore's messages, shown here) and costs nothing: it runs only on the engine.
    """
    # Every tab is drawn in every run, so a click is taken by the run it started (or, if
    # that run was cut short, by the next one).
    clicked = st.session_state.get(CLICKED) == sid
    if clicked:
        del st.session_state[CLICKED]
    experiment = None
    eng = engine()
    if settings is not None and eng is None:
        errors = [*errors, f"The training engine is unavailable: {engine_error()}"]
        settings = None
    if settings is not None:
        try:
            experiment = factory(data, **settings)
        except ValueError as e:
            errors = [*errors, sentence(str(e))]
    for e in errors:
        st.error(e)
    running = busy == sid
    a, b, c = st.columns([1, 1, 3], vertical_alignment="center")
    a.button("Run", key=f"exp_{sid}_run", type="primary", on_click=_request, args=(sid,),
             disabled=experiment is None or busy is not None, width="stretch")
    with b:
        job_stop_button(f"exp_{sid}_stop", _stop, disabled=not running, width="stretch",
                        help="Stops after the step in progress; the rows finished so far "
                             "are kept.")
    if experiment is None:
        c.caption("Fix the settings above to run.")
    elif (_cache().get(experiment.key) is not None and not running
          and _shown().get(sid, {}).get("key") != experiment.key):
        c.caption("Already run with these settings: Run shows it at once.")
    if running:
        _live(sid)
        return
    if clicked and experiment is not None:
        cached = _cache().get(experiment.key)
        if cached is not None:
            _shown()[sid] = {"result": cached, "status": "cached", "key": experiment.key,
                             "settings": settings}
        else:
            try:
                job = eng.submit_experiment(NAMES[factory], settings, data, owner=owner())
            except Exception as e:  # noqa: BLE001 - the engine went away between two runs
                st.error(f"The experiment could not be started: {e}")
                return
            st.session_state[JOB] = {"section": sid, "job": job.key, "key": experiment.key,
                                     "settings": settings}
        # Every tab's settings and Run buttons are drawn again, disabled while it runs.
        st.rerun()
    _show(sid, None if experiment is None else experiment.key, draw)


@st.fragment(run_every=POLL_SECONDS)
def _live(sid: str) -> None:
    """This section's experiment, polled from the engine: its place in the queue, or its
    progress and the rows so far. When it has ended, the whole page reruns to show it."""
    pending, job = _session_experiment()
    if job is None or not job.active:
        if job is not None:
            _file(pending, job)
        elif pending is not None:
            st.error(f"The training engine is unavailable: {engine_error()}")
            return
        st.rerun()
    if job.state == "queued":
        job_queued(job, key=f"exp_{sid}_cancel", on_cancel=_stop, what="experiment",
                   after="; you can visit other tabs and pages meanwhile")
        return
    p = job.progress
    st.progress(min(max(p["done"] / p["total"] if p["total"] else 1.0, 0.0), 1.0),
                text=(f"Step {min(p['done'] + 1, p['total'])} of {p['total']}: {p['message']}"
                      if p["message"] else "Starting…"))
    job_notice(job)
    rows = job.rows
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"exp_{sid}_live_{len(rows)}")


def _describe(settings: dict) -> str:
    out = []
    for k, v in settings.items():
        if isinstance(v, (list, tuple)):
            v = ", ".join(fmt_C(x) if isinstance(x, float) else str(x) for x in v)
        elif isinstance(v, float):
            v = fmt_C(v)
        out.append(f"{k.replace('_', ' ')} = {v}")
    return "; ".join(out)


def _show(sid: str, key: str | None, draw: Callable[[Any], None]) -> None:
    shown = _shown().get(sid)
    if not shown:
        st.caption("No result yet: press **Run**. Results stay here for this session, and "
                   "running the same settings again is instant.")
        return
    result, status = shown["result"], shown["status"]
    if shown.get("error"):
        st.error(shown["error"])
    notes = [n for n in result.notes if not n.startswith("Incomplete")]
    if status == "stopped" or not result.complete:
        done, total = shown.get("done"), shown.get("total")
        when = f" after {done} of {total} steps" if total else ""
        st.warning(f"**Stopped**{when}: the table holds the {len(result.table)} rows finished "
                   "by then. Not cached: Run again to complete it.")
    else:
        st.caption(f"Result: {STATUS_TEXT[status]}.")
    if shown["key"] != key:
        st.caption(f"These results are for other settings ({_describe(shown['settings'])}); "
                   "press **Run** for the current ones.")
    if len(result.table) == 0:
        return
    draw(result)
    if notes:
        st.markdown("**What this shows**\n\n" + "\n".join(f"- {n}" for n in notes))
    with st.expander("Table", expanded=False):
        st.dataframe(result.table, hide_index=True, key=f"exp_{sid}_table")
    st.download_button("Download CSV", data=result.to_csv(),
                       file_name=f"{result.name}{'' if result.complete else '-stopped'}.csv",
                       mime="text/csv", key=f"exp_{sid}_download", on_click="ignore")


# ----------------------------------------------------------------------------- sections
def _section_size(data: MnistData, busy: str | None) -> None:
    st.markdown("#### How much does more data help?")
    st.markdown(
        "The same model trained on more and more digits. Test accuracy climbs quickly and then "
        "flattens: a linear model has only 7,850 numbers to learn, so it soon runs out of "
        "things more data could teach it, while the fit time keeps growing.")
    sid = "size"
    dis = busy is not None
    st.session_state.setdefault("exp_size_sizes", default_sizes(data.n_train))
    sizes_text = st.text_input("Training-set sizes (comma-separated)", key="exp_size_sizes",
                               disabled=dis)
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        st.session_state.setdefault("exp_size_penalty", "l2")
        penalty = st.selectbox("Penalty", ["l2", "l1"], key="exp_size_penalty",
                               format_func=PENALTY_LABELS.get, disabled=dis)
    with c2:
        C_text = _C_input(sid, dis)
    with c3:
        preprocess = _preprocess_input(sid, dis, "unit")
    with c4:
        max_iter = _max_iter_input(sid, dis, 200)
    sizes, e1 = parse_sizes(sizes_text, data.n_train)
    C, e2 = parse_C(C_text)
    errors = [e for e in (e1, e2) if e]
    params = None if errors else dict(sizes=sizes, penalty=penalty, C=C, preprocess=preprocess,
                                      max_iter=int(max_iter))

    def draw(result):
        st.plotly_chart(xp.size_curve(result.table), key="exp_size_chart", width="stretch")

    _experiment_block(sid, ex.training_size_curve, params, errors,
                      draw, busy, data)


def _section_regularization(data: MnistData, busy: str | None) -> None:
    st.markdown("#### What does C do, and what does L1 buy?")
    st.markdown(
        "The same data fitted with a range of penalty strengths. Small C (strong penalty) "
        "underfits; large C lets training accuracy run ahead of test accuracy. L1 sets "
        "weights to exactly zero: it buys a sparse model (ignoring the border pixels) at "
        "little cost in accuracy. **Click a point** to see that model's ten weight images.")
    sid = "reg"
    dis = busy is not None
    Cs, e1 = _C_range_inputs(sid, dis, 0.001, 10.0, 7)
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        st.session_state.setdefault("exp_reg_penalties", ["l1", "l2"])
        penalties = st.multiselect("Penalties", ["l1", "l2"], key="exp_reg_penalties",
                                   format_func=PENALTY_LABELS.get, disabled=dis)
    with c2:
        n = _size_input(sid, dis, 5000, data)
    with c3:
        preprocess = _preprocess_input(sid, dis, "standardize")
    with c4:
        max_iter = _max_iter_input(sid, dis, 300)
    size, e2 = check_size(n, data.n_train)
    e3 = None if penalties else "Choose at least one penalty."
    errors = [e for e in (e1, e2, e3) if e]
    params = None if errors else dict(Cs=Cs, penalties=list(penalties), train_size=size,
                                      preprocess=preprocess, max_iter=int(max_iter))
    _experiment_block(sid, ex.regularization_path, params, errors,
                      _draw_regularization, busy, data)


def _draw_regularization(result) -> None:
    table = result.table.reset_index(drop=True)
    event = st.plotly_chart(xp.regularization_path(table), key="exp_reg_chart",
                            on_select="rerun", selection_mode="points", width="stretch")
    coefs = (result.models or {}).get("coef")
    if coefs is None or len(coefs) == 0:
        return
    n = min(len(coefs), len(table))
    names = {i: f"{labels.penalty_label(str(table.loc[i, 'penalty']))}, C = "
                f"{fmt_C(float(table.loc[i, 'C']))} — test accuracy "
                f"{labels.pct(table.loc[i, 'test_accuracy'])}" for i in range(n)}
    clicked = xp.point_row(event.selection if event is not None else None)
    if st.session_state.get("exp_reg_for") != id(result):
        # A new result: start from its most accurate model of the first penalty (with L1,
        # the interesting sparse one), whatever was selected in the previous result.
        first = table.loc[:n - 1]
        first = first[first["penalty"] == first["penalty"].iloc[0]]
        st.session_state["exp_reg_point"] = int(first["test_accuracy"].idxmax())
        st.session_state["exp_reg_for"] = id(result)
        st.session_state["exp_reg_clicked"] = clicked
    # A click moves the selectbox to that point; the selectbox also works without a mouse.
    if clicked is not None and clicked != st.session_state.get("exp_reg_clicked") \
            and clicked in names:
        st.session_state["exp_reg_point"] = clicked
    st.session_state["exp_reg_clicked"] = clicked
    if st.session_state.get("exp_reg_point") not in names:
        st.session_state["exp_reg_point"] = n - 1
    row = st.selectbox("Weights of the model at", list(names), key="exp_reg_point",
                       format_func=names.get)
    classes = (result.models or {}).get("classes")
    if classes is None:
        classes = np.arange(np.asarray(coefs[row]).shape[0])
    coef = np.asarray(coefs[row])
    zero = float(np.mean(coef == 0))
    st.caption(f"{names[row]} · {zero:.1%} of the weights are exactly 0. Red = evidence "
               "for the class, blue = against, white = 0 (ignored pixel).")
    st.plotly_chart(weight_images(coef, classes), key="exp_reg_weights", width="stretch")


def _section_cv(data: MnistData, busy: str | None) -> None:
    st.markdown("#### Choosing C by cross-validation")
    st.markdown(
        "Choosing C by the test score would make the test score optimistic. Instead split "
        "the training digits into folds, train on all but one and score on the one left out, "
        "for each C; pick the C with the best mean, refit on all the training digits, and "
        "only then look at the test set once.")
    sid = "cv"
    dis = busy is not None
    Cs, e1 = _C_range_inputs(sid, dis, 0.001, 10.0, 5)
    c1, c2, c3, c4, c5 = st.columns(5)
    with c1:
        st.session_state.setdefault("exp_cv_folds", 5)
        folds = st.number_input("Folds", min_value=2, max_value=10, step=1, key="exp_cv_folds",
                                disabled=dis)
    with c2:
        n = _size_input(sid, dis, 5000, data)
    with c3:
        st.session_state.setdefault("exp_cv_penalty", "l2")
        penalty = st.selectbox("Penalty", ["l2", "l1"], key="exp_cv_penalty",
                               format_func=PENALTY_LABELS.get, disabled=dis)
    with c4:
        preprocess = _preprocess_input(sid, dis, "standardize")
    with c5:
        st.session_state.setdefault("exp_cv_seed", 0)
        seed = st.number_input("Seed (fold split)", min_value=0, max_value=2**31 - 1, step=1,
                               key="exp_cv_seed", disabled=dis)
    st.session_state.setdefault("exp_cv_sklearn", True)
    compare = st.checkbox("Also run scikit-learn's LogisticRegressionCV on the same Cs and folds",
                          key="exp_cv_sklearn", disabled=dis,
                          help="Checks that both choose the same C; adds its own run time.")
    size, e2 = check_size(n, data.n_train)
    errors = [e for e in (e1, e2) if e]
    params = None if errors else dict(Cs=Cs, folds=int(folds), train_size=size, penalty=penalty,
                                      preprocess=preprocess, seed=int(seed),
                                      compare_sklearn=bool(compare))

    def draw(result):
        s = result.summary
        best, refit = s.get("best_C"), s.get("test_accuracy_of_refit")
        st.plotly_chart(xp.cv_curve(result.table, best_C=best,
                                    test_accuracy={best: refit} if refit is not None else None),
                        key="exp_cv_chart", width="stretch")
        cols = st.columns(4)
        if best is not None:
            cols[0].metric("Best C (ours)", fmt_C(best))
            cols[1].metric("Its mean CV accuracy", labels.pct(s['best_mean_accuracy']))
        if refit is not None:
            cols[2].metric("Test accuracy of the refit", labels.pct(refit),
                           help="The best C refitted on all the training digits, scored "
                                "once on the test set.")
        if "sklearn_best_C" in s:
            cols[3].metric("LogisticRegressionCV picks", fmt_C(s["sklearn_best_C"]),
                           delta="same C" if s.get("same_choice") else "a different C",
                           delta_color="off",
                           help="scikit-learn's own cross-validation on the same Cs and folds.")

    _experiment_block(sid, ex.cross_validate_C, params, errors, draw, busy, data)


def _section_ovr(data: MnistData, busy: str | None) -> None:
    st.markdown("#### Is one softmax better than ten sigmoids?")
    st.markdown(
        "Softmax trains the ten classes together, so their probabilities compete and add up "
        "to one. One-vs-rest trains ten independent 'is it a k?' sigmoids and normalizes "
        "afterwards. Compare their accuracy, their log-loss (how honest the probabilities "
        "are) and their cost.")
    sid = "ovr"
    dis = busy is not None
    fit, errors = _fit_inputs(sid, dis, data, st.columns(4))
    params = None if errors else fit

    def draw(result):
        t = result.table
        left, right = st.columns(2)
        with left:
            st.plotly_chart(xp.dot_comparison(t, "method", {"test_accuracy": "test accuracy",
                                                            "train_accuracy": "train accuracy"}),
                            key="exp_ovr_acc", width="stretch")
        with right:
            st.plotly_chart(xp.dot_comparison(t, "method", {"test_log_loss": "test log-loss"},
                                              x_title="test log-loss (lower is better)",
                                              percent=False),
                            key="exp_ovr_loss", width="stretch")

    _experiment_block(sid, ex.softmax_vs_ovr, params, errors, draw, busy,
                      data)

    st.markdown("##### A binary detector: is it a *d*?")
    st.markdown(
        "One sigmoid answering a yes/no question. Beware the **base rate**: only about one "
        "digit in ten is a *d*, so a 'detector' that always says *no* is already 90% "
        "accurate. Precision and recall tell the real story.")
    sid = "bin"
    c1, *cols = st.columns(5)
    with c1:
        st.session_state.setdefault("exp_bin_digit", 1)
        digit = st.selectbox("Digit d", list(range(10)), key="exp_bin_digit", disabled=dis)
    fit, errors = _fit_inputs(sid, dis, data, cols)
    params = None if errors else dict(digit=int(digit), **fit)

    def draw_bin(result):
        st.plotly_chart(xp.dot_comparison(
            result.table, "model", {"test_accuracy": "accuracy", "precision": "precision",
                                    "recall": "recall", "f1": "F1"}, x_title="score"),
            key="exp_bin_chart", width="stretch")

    _experiment_block(sid, ex.binary_detector, params, errors, draw_bin,
                      busy, data)


def _section_preprocessing(data: MnistData, busy: str | None) -> None:
    st.markdown("#### Does preprocessing matter?")
    st.markdown(
        "The model is the same; only its input changes. Raw 0-255 pixels make the problem "
        "badly scaled (slow, and C means something else), /255 fixes the scale, "
        "standardizing gives every pixel unit variance, and deskewing straightens slanted "
        "digits so one template per class fits better.")
    sid = "pre"
    dis = busy is not None
    c1, *cols = st.columns([2, 1, 1, 1])
    with c1:
        st.session_state.setdefault("exp_pre_modes", list(PREPROCESS_LABELS))
        modes = st.multiselect("Preprocessing modes", list(PREPROCESS_LABELS), key="exp_pre_modes",
                               format_func=PREPROCESS_LABELS.get, disabled=dis)
    fit, errors = _fit_inputs(sid, dis, data, cols, preprocess=None)
    if not modes:
        errors.append("Choose at least one preprocessing mode.")
    params = None if errors else dict(modes=list(modes), **fit)

    def draw(result):
        t = result.table
        left, right = st.columns(2)
        with left:
            st.plotly_chart(xp.dot_comparison(t, "preprocess",
                                              {"test_accuracy": "test accuracy",
                                               "train_accuracy": "train accuracy"}),
                            key="exp_pre_acc", width="stretch")
        with right:
            st.plotly_chart(xp.time_bars(t, "preprocess", {"n_iter": "iterations"},
                                         x_title="solver iterations", log=False),
                            key="exp_pre_iter", width="stretch")
        st.plotly_chart(xp.time_bars(t, "preprocess", {"fit_seconds": "fit time"}),
                        key="exp_pre_time", width="stretch")

    _experiment_block(sid, ex.preprocessing_comparison, params,
                      errors, draw, busy, data)


def _section_models(data: MnistData, busy: str | None) -> None:
    st.markdown("#### How good is linear, compared with other models?")
    st.markdown(
        "The same digits for a k-nearest-neighbours classifier, a linear SVM, an RBF-kernel "
        "SVM and a decision tree. Non-linear models win on accuracy, but look at what they "
        "cost: kNN keeps every training digit and compares each new one with all of them; "
        "the linear model is 7,850 numbers and one matrix product.")
    sid = "cmp"
    dis = busy is not None
    c1, c2, c3 = st.columns(3)
    with c1:
        n = _size_input(sid, dis, 10000, data)
    with c2:
        st.session_state.setdefault("exp_cmp_test_size", min(2000, data.n_test))
        m = st.number_input("Test digits", min_value=0, step=500, key="exp_cmp_test_size",
                            disabled=dis)
    with c3:
        st.session_state.setdefault("exp_cmp_max_slow", min(5000, data.n_train))
        slow = st.number_input("At most this many for the slow models", min_value=0, step=1000,
                               key="exp_cmp_max_slow", disabled=dis,
                               help="Kernel SVM and kNN grow quadratically; they train on a "
                                    "subsample of this size (noted in the table).")
    size, e1 = check_size(n, data.n_train)
    test_size, e2 = check_size(m, data.n_test, "Test digits", low=1)
    max_slow, e3 = check_size(slow, data.n_train, "Digits for the slow models")
    errors = [e for e in (e1, e2, e3) if e]
    params = None if errors else dict(train_size=size, test_size=test_size,
                                      max_slow_train=max_slow)

    def draw(result):
        t = result.table
        left, right = st.columns(2)
        with left:
            st.plotly_chart(xp.dot_comparison(t, "model", {"test_accuracy": "test accuracy"}),
                            key="exp_cmp_acc", width="stretch")
        with right:
            st.plotly_chart(xp.time_bars(t, "model", {"fit_seconds": "fit",
                                                      "predict_seconds": "predict"}),
                            key="exp_cmp_time", width="stretch")

    _experiment_block(sid, ex.model_comparison, params, errors, draw, busy,
                      data)


SECTIONS: list[tuple[str, Callable[[MnistData, str | None], None]]] = [
    ("Training-set size", _section_size),
    ("Regularization path", _section_regularization),
    ("Choosing C (cross-validation)", _section_cv),
    ("Softmax vs one-vs-rest", _section_ovr),
    ("Preprocessing", _section_preprocessing),
    ("Linear vs other models", _section_models),
]


# ----------------------------------------------------------------------------- page
def run() -> None:
    data = get_data()
    st.title("Why does a linear model do so well on MNIST?")
    st.markdown(
        "Six questions, each answered by an experiment you run here on the digits in use "
        f"({data.source}). Every experiment shows its progress, can be stopped (the finished "
        "rows are kept), remembers its result for the same settings, and downloads as CSV.")
    busy = _busy()
    tabs = st.tabs([label for label, _ in SECTIONS], key=K_TABS)
    for tab, (_, section) in zip(tabs, SECTIONS):
        with tab:
            section(data, busy)


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
