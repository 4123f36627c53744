"""The Train page (pages/train.py) through Streamlit's AppTest, on the genuine MNIST.

What only a browser shows (the chart redrawn live, a real Stop click) is checked with
Playwright elsewhere; here: validation messages, the Train button, trainings on the real
training engine (a Dask LocalCluster this test process starts on first use), Stop, a
training that goes on while the student is on another page, runs and their table, URL query
parameters, uploads.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests import apptest

from lrcore.config import TrainConfig
from lrcore.labels import pct
from lrcore.train import train
from pages.common import JOB
from pages.common import LAST_TRAINED as LAST
from lrcore.train_form import read_model_file
from pages.train import WIDGET_KEYS

RUNS, CURRENT = "runs", "current_run"


@pytest.fixture
def env(monkeypatch, mnist_dir):
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    monkeypatch.setenv("LR_DEFAULT_TRAIN_SIZE", "2000")
    monkeypatch.setenv("LR_DEFAULT_MAX_ITER", "30")


def open_train(query: dict | None = None) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=60)
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def at(env) -> AppTest:
    return open_train()


@pytest.fixture(scope="module")
def small_models(mnist):
    """Two tiny trained models (fast) to put into a session."""
    out = []
    for penalty in ("l2", "l1"):
        cfg = TrainConfig(penalty=penalty, C=0.5, train_size=300, test_size=500, max_iter=5)
        out.append(train(cfg, mnist))
    return out


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def widget(at: AppTest, field: str):
    key = WIDGET_KEYS[field]
    for kind in ("text_input", "number_input", "radio", "selectbox", "select_slider",
                 "checkbox", "slider"):
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return found[0]
    raise LookupError(key)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad, words", [
    ("abc", "must be a number"), ("", "must be a number"), ("0", "greater than 0"),
    ("-1", "greater than 0"), ("nan", "must be a number"), ("1e12", "between"),
])
def test_bad_C_shows_error_disables_train_and_keeps_other_settings(at, bad, words):
    widget(at, "penalty").set_value("l1").run()
    widget(at, "train_size").set_value(3000).run()
    widget(at, "C").input("0.05").run()
    assert at.query_params["C"] == "0.05"

    widget(at, "C").input(bad).run()

    assert not at.exception
    assert any(words in e and "C" in e for e in errors(at)), errors(at)
    assert at.button(key="train_go").disabled
    assert widget(at, "penalty").value == "l1"
    assert widget(at, "train_size").value == 3000
    assert at.query_params["C"] == "0.05"  # the link keeps the last working settings

    widget(at, "C").input("2").run()
    assert errors(at) == []
    assert not at.button(key="train_go").disabled


def test_C_slider_and_exact_value_follow_each_other(at):
    at.select_slider(key="train_C_slider").set_value(100.0).run()
    assert widget(at, "C").value == "100"
    widget(at, "C").input("0.03").run()
    assert at.select_slider(key="train_C_slider").value == 0.02  # nearest stop, log scale
    assert at.query_params["C"] == "0.03"  # the exact value is what trains


def test_C_is_ignored_without_penalty(at):
    widget(at, "C").input("abc").run()
    assert at.button(key="train_go").disabled
    widget(at, "penalty").set_value("none").run()
    assert errors(at) == []
    assert not at.button(key="train_go").disabled
    assert "C" not in at.query_params
    assert any("Without a penalty" in w.value for w in at.warning)


def test_l1_ratio_only_for_elastic_net_and_remembered(at):
    assert not [s for s in at.slider if s.key == "train_l1_ratio"]
    widget(at, "penalty").set_value("elasticnet").run()
    widget(at, "l1_ratio").set_value(0.8).run()
    assert at.query_params["l1_ratio"] == "0.8"
    widget(at, "penalty").set_value("l2").run()
    assert "l1_ratio" not in at.query_params
    widget(at, "penalty").set_value("elasticnet").run()
    assert widget(at, "l1_ratio").value == 0.8


@pytest.mark.parametrize("field, value, words", [
    ("train_size", 70000, "at most 60000"),
    ("test_size", 10001, "at most 10000"),
])
def test_sizes_beyond_the_data_are_explained(at, field, value, words):
    widget(at, field).set_value(value).run()
    assert not at.exception
    assert any(words in e for e in errors(at)), errors(at)
    assert at.button(key="train_go").disabled


# ----------------------------------------------------------------------------- training
def run_until(at: AppTest, done, timeout: float = 180.0) -> None:
    apptest.run_until(at, done, timeout, what="the training")


def has_runs(n: int = 1):
    return lambda at: RUNS in at.session_state and len(at.session_state[RUNS]) >= n


def test_training_a_small_model_adds_a_run_with_metrics(at):
    widget(at, "train_size").set_value(500).run()
    widget(at, "max_iter").set_value(20).run()

    at.button(key="train_go").click().run()

    assert not at.exception, at.exception
    assert JOB in at.session_state or has_runs()(at)  # on the engine, not in this script
    run_until(at, has_runs())
    runs = at.session_state[RUNS]
    assert len(runs) == 1
    (rid, model), = runs.items()
    assert at.session_state[CURRENT] == rid and at.session_state[LAST] == rid
    assert JOB not in at.session_state
    assert model.config.train_size == 500 and model.config.max_iter == 20
    s = model.summary
    assert 0.5 < s["test_accuracy"] <= 1 and s["test_log_loss"] > 0
    assert s["n_iter"] <= 20 and "sparsity" in s
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) >= {"Test accuracy", "Test log-loss", "Zero weights", "Iterations",
                            "Seconds", "Converged"}
    if not s["converged"]:  # explained in words
        assert any("did not converge" in i.value.lower() for i in at.info)
    table = at.dataframe[0].value
    assert list(table["run"]) == [rid] and table["train digits"][0] == 500
    assert not at.button(key="train_go").disabled


def start_long_training(at: AppTest) -> None:
    """A training that takes many iterations (stopped by the tests long before its end)."""
    widget(at, "train_size").set_value(3000).run()
    widget(at, "max_iter").set_value(5000).run()
    widget(at, "tol").set_value(1e-8).run()
    at.button(key="train_go").click().run()
    assert not at.exception, at.exception
    assert at.button(key="train_go").disabled  # one training per student at a time


def test_stop_keeps_the_model_as_of_then(at):
    start_long_training(at)
    run_until(at, lambda at: any("Iteration" in p.proto.text and "Iteration 1 " not in
                                 p.proto.text for p in at.get("progress")))
    at.button(key="train_stop").click().run()
    run_until(at, has_runs())
    (rid, model), = at.session_state[RUNS].items()
    s = model.summary
    assert s["status"] == "stopped" and 1 <= s["n_iter"] < 5000
    assert 0.5 < s["test_accuracy"] <= 1
    assert any("stopped by the user" in w.value.lower() for w in at.warning)
    assert list(at.dataframe[0].value["status"]) == ["stopped by the user"]
    assert not at.button(key="train_go").disabled


def test_a_training_goes_on_while_the_student_is_on_another_page(at):
    """Leaving the Train page no longer stops the training: the sidebar shows it, and the
    run is stored on whatever page is open when it ends."""
    widget(at, "train_size").set_value(2000).run()
    widget(at, "max_iter").set_value(60).run()
    at.button(key="train_go").click().run()
    at.switch_page("pages/home.py").run()
    assert not at.exception
    if JOB in at.session_state:  # still running: the sidebar says so and offers Stop
        assert any("Training" in c.value for c in at.sidebar.caption)
    run_until(at, has_runs())
    (rid, model), = at.session_state[RUNS].items()
    assert model.summary["n_iter"] >= 1 and at.session_state[CURRENT] == rid
    assert any(rid in m.value for m in at.sidebar.markdown)


def test_two_students_with_the_same_settings_share_one_training(env):
    a, b = open_train(), open_train()
    for at in (a, b):
        widget(at, "train_size").set_value(1500).run()
        widget(at, "max_iter").set_value(25).run()
    a.button(key="train_go").click().run()
    b.button(key="train_go").click().run()
    key_a = a.session_state[JOB] if JOB in a.session_state else None
    key_b = b.session_state[JOB] if JOB in b.session_state else None
    if key_a and key_b:
        assert key_a == key_b  # one job on the engine
    run_until(a, has_runs())
    run_until(b, has_runs())
    (_, ma), = a.session_state[RUNS].items()
    (_, mb), = b.session_state[RUNS].items()
    assert ma is not mb  # each session has its own copy ...
    np.testing.assert_array_equal(ma.model.coef_, mb.model.coef_)  # ... of the same run


def test_a_queued_training_says_its_place_and_can_be_cancelled(at, mnist):
    from pages.common import _engine

    eng = _engine()
    blockers = [eng.submit_training(TrainConfig(train_size=3000, test_size=500, max_iter=5000,
                                                tol=1e-8, seed=s, shuffle=True), mnist,
                                    owner=f"test:blocker{s}") for s in range(eng.slots)]
    try:
        widget(at, "train_size").set_value(700).run()
        at.button(key="train_go").click().run()
        run_until(at, lambda at: any("in line" in i.value or "Waiting" in i.value
                                     for i in at.info), timeout=60)
        at.button(key="train_cancel").click().run()
        # The run that notices the end says so once, in the sidebar.
        if JOB in at.session_state:
            run_until(at, lambda at: JOB not in at.session_state, timeout=60)
        assert any("cancelled" in w.value for w in at.sidebar.warning)
        assert RUNS not in at.session_state or not at.session_state[RUNS]
    finally:
        for job in blockers:
            job.stop()


def test_settings_survive_a_page_switch(at):
    widget(at, "train_size").set_value(3000).run()
    widget(at, "preprocess").set_value("deskew").run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/train.py").run()
    assert widget(at, "train_size").value == 3000
    assert widget(at, "preprocess").value == "deskew"


# ----------------------------------------------------------------------------- URL
def test_query_params_restore_the_settings(env):
    at = open_train({"penalty": "l1", "C": "0.05", "train_size": "3000",
                     "preprocess": "deskew", "max_iter": "50", "shuffle": "true",
                     "seed": "7", "multi_class": "ovr", "tol": "0.001"})
    assert widget(at, "penalty").value == "l1"
    assert widget(at, "C").value == "0.05"
    assert at.select_slider(key="train_C_slider").value == 0.05
    assert widget(at, "train_size").value == 3000
    assert widget(at, "preprocess").value == "deskew"
    assert widget(at, "max_iter").value == 50
    assert widget(at, "shuffle").value is True and widget(at, "seed").value == 7
    assert widget(at, "multi_class").value == "ovr"
    assert widget(at, "tol").value == 0.001
    assert not any("link" in w.value for w in at.warning)
    assert not at.button(key="train_go").disabled


@pytest.mark.parametrize("query, named", [
    ({"C": "abc", "penalty": "l1"}, "C='abc'"), ({"penalty": "l3", "C": "0.5"}, "penalty='l3'"),
    ({"max_iter": "-4", "penalty": "l1"}, "max_iter='-4'"), ({"C": "inf"}, "C='inf'"),
])
def test_a_bad_link_parameter_is_named_and_the_others_kept(env, query, named):
    at = open_train(query)
    (warning,) = [w.value for w in at.warning if "link" in w.value]
    assert named in warning and "the other settings were applied" in warning
    for k, v in query.items():  # the valid ones are used
        if f"{k}=" not in warning and k in ("penalty", "C"):
            assert str(widget(at, k).value) == v
    assert not at.button(key="train_go").disabled
    assert at.query_params["max_iter"] == "300"  # the URL now shows what is used


def test_a_link_asking_for_more_digits_than_the_data_has_is_clamped(env):
    at = open_train({"penalty": "l1", "C": "0.01", "preprocess": "standardize",
                     "train_size": "99999999"})
    assert widget(at, "penalty").value == "l1" and widget(at, "C").value == "0.01"
    assert widget(at, "preprocess").value == "standardize"
    assert widget(at, "train_size").value == 60000
    assert any("this data has 60,000" in w.value for w in at.warning)


# ----------------------------------------------------------------------------- runs
def test_corrupt_upload_is_explained_and_runs_are_kept(at, small_models):
    at.session_state[RUNS] = {"run 1": small_models[0]}
    at.run()
    at.file_uploader(key="train_upload").set_value(("broken.npz", b"junk", "application/zip"))
    at.run()
    assert not at.exception
    assert any("broken.npz was not added" in e and "not a zip" in e for e in errors(at))
    assert list(at.session_state[RUNS]) == ["run 1"]


def test_good_upload_joins_the_runs(at, small_models):
    raw = small_models[1].to_bytes()
    at.file_uploader(key="train_upload").set_value(("mine.npz", raw, "application/zip"))
    at.run()
    assert not at.exception
    runs = at.session_state[RUNS]
    assert len(runs) == 1
    (rid, model), = runs.items()
    assert model.config.penalty == "l1"
    assert any(f"added as {rid}" in s.value for s in at.success)
    assert at.dataframe[0].value["origin"][0].startswith("uploaded mine.npz (test metrics "
                                                         "computed here")
    at.run()  # the same file still in the uploader is not added twice
    assert len(at.session_state[RUNS]) == 1


def test_an_uploaded_files_claims_are_not_believed(at, small_models):
    import copy

    liar = copy.deepcopy(small_models[0])
    liar.summary.update(test_accuracy=1.5, test_log_loss=-3.0)
    at.file_uploader(key="train_upload").set_value(("liar.npz", liar.to_bytes(),
                                                     "application/zip"))
    at.run()
    (rid, model), = at.session_state[RUNS].items()
    acc = model.summary["test_accuracy"]
    assert 0 < acc < 1 and model.summary["test_log_loss"] > 0
    assert at.dataframe[0].value["test accuracy"][0] == pytest.approx(acc)
    at.selectbox(key="train_run_select").set_value(rid).run()
    at.button(key="train_make_current").click().run()
    assert any("test accuracy 1.5" not in m.value and f"test accuracy {pct(acc)}" in m.value
               for m in at.sidebar.markdown)


def test_make_current_and_delete(at, small_models):
    at.session_state[RUNS] = {"run 1": small_models[0], "run 2": small_models[1]}
    at.session_state[CURRENT] = "run 2"
    at.run()
    at.selectbox(key="train_run_select").set_value("run 1").run()
    at.button(key="train_make_current").click().run()
    assert at.session_state[CURRENT] == "run 1"
    assert list(at.dataframe[0].value["current"]) == ["✓", ""]

    at.button(key="train_delete").click().run()
    assert not at.exception
    assert list(at.session_state[RUNS]) == ["run 2"]
    assert at.session_state[CURRENT] == "default"  # the deleted run was current
    assert at.selectbox(key="train_run_select").value == "run 2"

    at.button(key="train_make_current").click().run()
    assert at.session_state[CURRENT] == "run 2"
    at.button(key="train_use_default").click().run()
    assert at.session_state[CURRENT] == "default"


def test_download_is_offered_for_the_selected_run(at, small_models):
    at.session_state[RUNS] = {"run 4": small_models[0]}
    at.run()
    btn = at.get("download_button")[0]
    assert btn.proto.label == "Download model file"
    # The file itself is produced on click; it is the model's safe .npz bytes.
    assert read_model_file(small_models[0].to_bytes()).config == small_models[0].config


def test_home_page_offers_train_and_draw(env):
    at = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not at.exception
    links = [el.proto.label for el in at.get("page_link")]
    assert links == ["**Train a model**", "**Draw a digit**"]
    text = " ".join(m.value for m in at.markdown)
    assert "60,000 training" in text and "Default model" in text


def test_the_settings_can_be_shared_as_a_link(at):
    widget(at, "penalty").set_value("l1").run()
    widget(at, "C").input("0.05").run()
    (code,) = [c.value for c in at.code]
    assert "penalty=l1" in code and "C=0.05" in code


def test_several_runs_curves_overlaid(at, small_models):
    at.session_state[RUNS] = {"run 1": small_models[0], "run 2": small_models[1]}
    at.run()
    assert at.multiselect(key="train_overlay_runs").value == ["run 1", "run 2"]
    import json

    (chart,) = [c for c in at.get("plotly_chart") if "train_overlay_chart" in c.proto.id]
    names = [tr["name"] for tr in json.loads(chart.proto.spec)["data"]]
    assert len(names) == 2 and names[0].startswith("run 1")
    at.multiselect(key="train_overlay_runs").set_value(["run 2"]).run()
    assert not at.exception


# ------------------------------------------------------------------------ pause, speed, continue
def live_iteration(at: AppTest) -> int:
    for p in at.get("progress"):
        text = p.proto.text
        if text.startswith("Iteration "):
            return int(text.split()[1])
    return 0


def test_pause_step_resume_and_stop_from_the_page(at):
    start_long_training(at)
    run_until(at, lambda at: live_iteration(at) >= 2)
    at.button(key="train_pause").click().run()
    assert not at.exception, at.exception
    # The worker reads its controls every 0.5 s: wait until the iteration stops moving
    # (on a loaded machine that can take longer than a second), then it must stay put.
    deadline, held = time.monotonic() + 30, None
    while True:
        time.sleep(1.0)
        at.run()
        now = live_iteration(at)
        if now == held:
            break
        held = now
        assert time.monotonic() < deadline, "the training did not pause"
    time.sleep(1.5)
    at.run()
    assert live_iteration(at) == held, "the training went on while paused"
    assert at.button(key="train_pause").label == "Resume"
    assert not at.button(key="train_step").disabled
    assert any("Paused at iteration" in c.value for c in at.caption)
    at.button(key="train_step").click().run()
    run_until(at, lambda at: live_iteration(at) == held + 1)
    at.button(key="train_pause").click().run()  # Resume
    run_until(at, lambda at: live_iteration(at) >= held + 10)
    at.button(key="train_stop").click().run()
    run_until(at, has_runs())
    (_, model), = at.session_state[RUNS].items()
    assert model.summary["status"] == "stopped" and model.summary["n_iter"] > held


def test_a_slow_motion_training_and_the_live_test_digits(at):
    widget(at, "train_size").set_value(1000).run()
    widget(at, "max_iter").set_value(400).run()
    widget(at, "tol").set_value(1e-8).run()
    at.selectbox(key="train_speed").set_value("slow").run()
    at.button(key="train_go").click().run()
    run_until(at, lambda at: live_iteration(at) >= 1)
    t0, i0 = time.monotonic(), live_iteration(at)
    time.sleep(3.0)
    at.run()
    rate = (live_iteration(at) - i0) / (time.monotonic() - t0)
    assert rate <= 3.5, f"{rate:.1f} iterations/s in slow motion (2 per second)"
    assert at.segmented_control(key="train_live_speed").value == "slow"
    # The test digits as the model reads them now (ConvNetJS's live predictions).
    run_until(at, lambda at: any("sample-predictions" in h.proto.body for h in at.get("html")))
    strip = next(h.proto.body for h in at.get("html") if "sample-predictions" in h.proto.body)
    assert strip.count("<figure") == 20 and "test digits read right" in strip
    at.segmented_control(key="train_live_speed").set_value("full").run()
    run_until(at, has_runs(), timeout=120)


def test_continue_training_carries_the_run_on_to_convergence(at, mnist):
    widget(at, "train_size").set_value(1000).run()
    widget(at, "max_iter").set_value(8).run()
    at.button(key="train_go").click().run()
    # Until the page has drawn the stored run (the run that notices the end reruns).
    run_until(at, lambda at: has_runs()(at) and any(
        w.key == "train_more_iter" for w in at.number_input))
    (first_id, first), = at.session_state[RUNS].items()
    assert first.summary["status"] == "max_iter" and first.summary["n_iter"] == 8
    at.number_input(key="train_more_iter").set_value(500).run()
    at.button(key="train_continue").click().run()
    assert not at.exception, at.exception
    run_until(at, lambda at: has_runs(2)(at) and any(
        b.key == "train_continue" for b in at.button), timeout=120)
    (cid, cont), = [(r, m) for r, m in at.session_state[RUNS].items() if r != first_id]
    assert cont.summary["status"] == "converged" and cont.summary["n_iter"] > 8
    assert cont.config.max_iter == 508 and cont.history[:8] == first.history
    assert [r["iteration"] for r in cont.history] == list(range(1, cont.summary["n_iter"] + 1))
    ref = train(cont.config, mnist)  # the same settings in one go: the same optimum
    assert cont.summary["objective"] == pytest.approx(ref.summary["objective"], rel=1e-5)
    table = at.dataframe[0].value
    origin = table.loc[table["run"] == cid, "origin"].iloc[0]
    assert origin == f"{first_id} continued to iteration {cont.summary['n_iter']}"
    assert at.button(key="train_continue").disabled  # converged: nothing more to gain
