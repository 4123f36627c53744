"""The Train page (pages/train.py) through Streamlit's AppTest, on the genuine MNIST.

What only a browser shows (the chart redrawn live, a real Stop click) is checked with
Playwright elsewhere; here: validation messages, the Train button, runs and their table,
URL query parameters, uploads, and a training cut short by an interruption.
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lrcore.config import TrainConfig
from lrcore.train import Training, train
from pages.common import LAST_TRAINED as LAST
from pages.common import PENDING
from pages.train import (
    WIDGET_KEYS,
    config_from_params,
    page_defaults,
    read_model_file,
    url_params,
    validate,
)

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


def test_validate_reports_every_bad_field():
    values = {"penalty": "l2", "C": "x", "l1_ratio": 0.5, "multi_class": "multinomial",
              "preprocess": "unit", "train_size": 50, "test_size": 100, "shuffle": False,
              "seed": 0, "tol": 1e-4, "max_iter": 0}
    cfg, errs = validate(values, 60000, 10000)
    assert cfg is None and set(errs) == {"C", "train_size", "max_iter"}


# ----------------------------------------------------------------------------- training
def test_training_a_small_model_adds_a_run_with_metrics(at):
    widget(at, "train_size").set_value(500).run()
    widget(at, "max_iter").set_value(20).run()
    assert at.button(key="train_stop").disabled  # nothing to stop yet

    at.button(key="train_go").click().run()

    assert not at.exception, at.exception
    runs = at.session_state[RUNS]
    assert len(runs) == 1
    (rid, model), = runs.items()
    assert at.session_state[CURRENT] == rid and at.session_state[LAST] == rid
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
    assert not at.button(key="train_go").disabled and at.button(key="train_stop").disabled


def test_an_interrupted_training_is_kept_as_stopped(at, mnist):
    cfg = TrainConfig(train_size=300, test_size=500, max_iter=50)
    run = Training(cfg, mnist)
    it = iter(run)
    for _ in range(3):
        progress = next(it)
    at.session_state[PENDING] = {"training": run, "progress": progress}

    at.run()

    assert not at.exception
    runs = at.session_state[RUNS]
    assert len(runs) == 1
    model = next(iter(runs.values()))
    assert model.summary["status"] == "stopped" and model.summary["n_iter"] == 3
    assert "test_accuracy" in model.summary
    assert PENDING not in at.session_state
    assert any("stopped by the user after 3 iterations" in w.value.lower() for w in at.warning)
    assert list(at.dataframe[0].value["status"]) == ["stopped by the user"]


def test_an_interruption_inside_the_loop_keeps_the_model(at, monkeypatch):
    """A click during training raises inside the loop (here: at the 2nd redraw); the
    finally clause stores the model before the interruption leaves the script."""
    import lrcore.plots
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    real, calls = lrcore.plots.training_curves, []

    def interrupting(history, **kw):
        calls.append(len(history))
        if len(calls) == 2:
            raise StopException()
        return real(history, **kw)

    monkeypatch.setattr(lrcore.plots, "training_curves", interrupting)
    widget(at, "train_size").set_value(2000).run()
    widget(at, "max_iter").set_value(200).run()
    at.button(key="train_go").click().run()

    runs = at.session_state[RUNS]
    assert len(runs) == 1
    model = next(iter(runs.values()))
    assert model.summary["status"] == "stopped" and model.summary["n_iter"] >= 1
    assert "test_accuracy" in model.summary
    at.run()
    assert not at.exception
    assert not at.button(key="train_go").disabled


def test_the_next_page_adopts_a_training_cut_short_by_a_page_switch(env, mnist):
    """A page switch stops the Train page with a StopException that fires again at every
    st.* call, so its finally clause can only compute the model; the next run of any page
    (here Home, through the shared sidebar) stores it and makes it current."""
    run = Training(TrainConfig(train_size=300, test_size=500, max_iter=50), mnist)
    it = iter(run)
    for _ in range(4):
        progress = next(it)
    model = run.result()
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.session_state[PENDING] = {"training": run, "progress": progress, "model": model}
    at.run()
    assert not at.exception
    (rid, kept), = at.session_state[RUNS].items()
    assert kept is model and at.session_state[CURRENT] == rid
    assert kept.summary["status"] == "stopped" and kept.summary["n_iter"] == 4
    assert any(rid in m.value for m in at.sidebar.markdown)
    assert PENDING not in at.session_state


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
    assert at.warning.len == 0 or not any("link" in w.value for w in at.warning)
    assert not at.button(key="train_go").disabled


@pytest.mark.parametrize("query", [
    {"C": "abc"}, {"penalty": "l3"}, {"train_size": "999999"}, {"max_iter": "-4"},
])
def test_invalid_query_params_warn_and_use_defaults(env, query):
    at = open_train(query)
    assert any("could not be used" in w.value for w in at.warning)
    assert widget(at, "penalty").value == "l2" and widget(at, "C").value == "1"
    assert widget(at, "max_iter").value == 100
    assert not at.button(key="train_go").disabled
    assert at.query_params["max_iter"] == "100"  # the URL now shows what is used


def test_url_params_round_trip(mnist):
    cfg = TrainConfig(penalty="elasticnet", C=0.02, l1_ratio=0.3, train_size=5000,
                      test_size=2000, shuffle=True, seed=3, tol=1e-5, max_iter=40,
                      preprocess="standardize", multi_class="ovr")
    params = url_params(cfg)
    assert all(isinstance(v, str) for v in params.values())
    back, warning = config_from_params(params, page_defaults(mnist), mnist)
    assert warning is None and back == cfg


# ----------------------------------------------------------------------------- runs
@pytest.mark.parametrize("raw, words", [
    (b"", "empty"), (b"hello", "not a zip"), (b"PK\x03\x04broken", "corrupt"),
])
def test_read_model_file_rejects_bad_files_clearly(raw, words):
    with pytest.raises(ValueError, match=words):
        read_model_file(raw)


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
    assert at.dataframe[0].value["origin"][0] == "uploaded mine.npz"
    at.run()  # the same file still in the uploader is not added twice
    assert len(at.session_state[RUNS]) == 1


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
    assert links == ["Train a model", "Draw a digit"]
    text = " ".join(m.value for m in at.markdown)
    assert "60,000 training" in text and "Default model" in text
