"""The Experiments and Theory pages through Streamlit's AppTest, on the genuine MNIST.

Every experiment here is tiny (a few hundred training digits, two or three values of C, at
most 30 iterations): these tests are about the page (validation, Run, the session's cache,
charts, CSV download, the regularization path's weights); what the experiments find is
tested in tests/test_experiments.py. The Theory page's numbers are checked against the
model itself (predict_proba, decision_function), not against lrcore.theory.

Settings are changed in a run of their own before Run is clicked, as a browser does: the
click's run disables every setting while the experiment runs, and Streamlit discards a
value that arrives for a disabled widget.
"""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests import apptest

from lrcore import experiments as ex
from lrcore.config import TrainConfig
from lrcore.train import TrainedModel, train
from tests.apptest import figures
from tests.apptest import open_page as _open_page

RUNS, CURRENT = "runs", "current_run"
SHOWN, CACHE, JOB = "exp_shown", "exp_cache", "exp_job"
FINISHED = "Result: finished."
FROM_CACHE = ("Result: finished earlier with these settings (from this session's "
              "cache).")


@pytest.fixture(autouse=True)
def env(monkeypatch, mnist_dir):
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    monkeypatch.setenv("LR_DEFAULT_TRAIN_SIZE", "2000")
    monkeypatch.setenv("LR_DEFAULT_MAX_ITER", "30")


@pytest.fixture
def served(monkeypatch) -> dict:
    """What the download buttons serve: {url: MemoryFile}. AppTest drops its media store
    after each run; this one remembers every file it handed out a URL for."""
    files: dict = {}

    class Recording(MemoryMediaFileStorage):
        def get_url(self, file_id: str) -> str:
            url = super().get_url(file_id)
            files[url] = self.get_file(file_id)
            return url

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return files


def open_page(page: str, session: dict | None = None) -> AppTest:
    return _open_page(page, session, timeout=120)  # experiments run inside the test


def arr(value) -> np.ndarray:
    """A figure's data array: plotly sends numpy arrays as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return a.reshape([int(n) for n in str(shape).split(",")]) if shape else a
    return np.asarray(value)


def widget(at: AppTest, key: str):
    for kind in ("text_input", "number_input", "selectbox", "multiselect", "select_slider",
                 "checkbox"):
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return found[0]
    raise LookupError(key)


def configure(at: AppTest, settings: dict) -> None:
    for key, value in settings.items():
        w = widget(at, key)
        w.input(value) if w.type == "text_input" else w.set_value(value)
    at.run()
    assert not at.exception, at.exception


def run_until(at: AppTest, done, timeout: float = 240.0) -> None:
    apptest.run_until(at, done, timeout, what="the experiment")


def idle(at: AppTest) -> bool:
    return JOB not in at.session_state


def run_experiment(at: AppTest, sid: str) -> None:
    """Click Run and poll until the experiment has ended (it runs on the engine)."""
    assert not at.button(key=f"exp_{sid}_run").disabled, errors(at)
    at.button(key=f"exp_{sid}_run").click().run()
    assert not at.exception, at.exception
    if not idle(at):  # submitted: every Run is disabled until it ends
        assert at.button(key=f"exp_{sid}_run").disabled
        assert not at.button(key=f"exp_{sid}_stop").disabled
        run_until(at, idle)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def shown(at: AppTest, sid: str):
    """The result the section shows (the page's per-session slot)."""
    return at.session_state[SHOWN][sid]["result"]


def csv_of(at: AppTest, served: dict, sid: str) -> tuple[dict, pd.DataFrame, object]:
    """(header, table, file) of the section's Download CSV button, as served."""
    button = at.download_button(key=f"exp_{sid}_download")
    assert button.label == "Download CSV"
    file = served[button.proto.url]
    text = file.content.decode()
    first, _ = text.split("\n", 1)
    assert first.startswith("# ")
    return json.loads(first[2:]), pd.read_csv(io.StringIO(text), comment="#"), file


# ----------------------------------------------------------------------------- six experiments
# Small settings per section, the experiment's name (CSV header), its table and charts.

N_TEST = 10_000  # the experiments score on all test digits of the genuine MNIST


def _check_size(t: pd.DataFrame, figs: dict, mnist) -> None:
    assert list(t.train_size) == [100, 200]
    assert (t.n_iter <= 10).all()
    fig = figs["exp_size_chart"]
    assert [tr["name"] for tr in fig["data"]] == ["train accuracy", "test accuracy",
                                                  "fit time"]
    assert list(arr(fig["data"][1]["x"])) == [100, 200]
    np.testing.assert_allclose(arr(fig["data"][1]["y"]), t.test_accuracy)
    assert fig["layout"]["xaxis"]["type"] == "log"


def _check_reg(t: pd.DataFrame, figs: dict, mnist) -> None:
    assert list(t.penalty) == ["l1", "l1", "l2", "l2"]
    assert list(t.C) == [0.01, 0.1, 0.01, 0.1]
    assert (t.sparsity[t.penalty == "l1"] > t.sparsity[t.penalty == "l2"].max()).all()
    assert len(figs["exp_reg_chart"]["data"]) == 6
    assert len(figs["exp_reg_weights"]["data"]) == 10


def _check_cv(t: pd.DataFrame, figs: dict, mnist) -> None:
    np.testing.assert_allclose(t.C, [1e-4, 1e-3, 1e-2])
    folds = t[["fold_1", "fold_2", "fold_3"]].to_numpy()
    np.testing.assert_allclose(t.mean_accuracy, folds.mean(axis=1))
    assert t.sklearn_mean_accuracy.notna().all()
    names = [tr["name"] for tr in figs["exp_cv_chart"]["data"]]
    assert "test accuracy of the refit" in names
    assert "scikit-learn LogisticRegressionCV (mean)" in names


def _check_ovr(t: pd.DataFrame, figs: dict, mnist) -> None:
    assert list(t.method) == ["softmax", "one-vs-rest"]
    assert (t.test_log_loss > 0).all() and (t.test_accuracy > 0.6).all()
    acc = figs["exp_ovr_acc"]["data"][0]
    assert list(acc["y"]) == ["softmax", "one-vs-rest"]
    np.testing.assert_allclose(arr(acc["x"]), t.test_accuracy)
    np.testing.assert_allclose(arr(figs["exp_ovr_loss"]["data"][0]["x"]), t.test_log_loss)


def _check_bin(t: pd.DataFrame, figs: dict, mnist) -> None:
    assert list(t.model) == ["always no", "logistic detector"]
    # The baseline's accuracy is the share of test digits that are not 3s; it finds none.
    assert t.test_accuracy[0] == pytest.approx(np.mean(mnist.y_test != 3))
    assert t.recall[0] == 0 and t.f1[0] == 0
    assert t.recall[1] > 0.3
    assert [tr["name"] for tr in figs["exp_bin_chart"]["data"]] == [
        "accuracy", "precision", "recall", "F1"]


def _check_pre(t: pd.DataFrame, figs: dict, mnist) -> None:
    assert list(t.preprocess) == ["unit", "standardize"]
    # The chart names the modes as every page does, never by their codes.
    assert list(figs["exp_pre_acc"]["data"][0]["y"]) == ["pixels / 255", "standardized per pixel"]
    assert list(arr(figs["exp_pre_iter"]["data"][0]["x"])) == list(t.n_iter)
    assert figs["exp_pre_time"]["layout"]["xaxis"]["type"] == "log"


def _check_cmp(t: pd.DataFrame, figs: dict, mnist) -> None:
    assert len(t) == 5 and t.model[0] == "softmax regression (ours)"
    used = dict(zip(t.model, t.train_size_used))
    assert used["RBF-kernel SVM (SVC)"] == 200  # the slow model's subsample
    assert used["k-nearest neighbours (k=5)"] == 300
    assert len(figs["exp_cmp_acc"]["data"][0]["y"]) == 5
    assert figs["exp_cmp_time"]["layout"]["xaxis"]["type"] == "log"


SECTIONS = {
    "size": ({"exp_size_sizes": "100, 200", "exp_size_max_iter": 10}, "size",
             ["train_size", "train_accuracy", "test_accuracy", "fit_seconds", "n_iter",
              "converged"], _check_size),
    "reg": ({"exp_reg_C_range": (0.01, 0.1), "exp_reg_points": 2, "exp_reg_train_size": 300,
             "exp_reg_max_iter": 30}, "c-path",
            ["penalty", "C", "train_accuracy", "test_accuracy", "sparsity", "n_iter",
             "fit_seconds", "converged"], _check_reg),
    "cv": ({"exp_cv_C_range": (1e-4, 1e-2), "exp_cv_points": 3, "exp_cv_folds": 3,
            "exp_cv_train_size": 400}, "cv",
           ["C", "mean_accuracy", "std_accuracy", "fold_1", "fold_2", "fold_3",
            "sklearn_mean_accuracy"], _check_cv),
    "ovr": ({"exp_ovr_train_size": 300, "exp_ovr_max_iter": 30}, "ovr",
            ["method", "train_accuracy", "test_accuracy", "test_log_loss", "fit_seconds",
             "n_iter", "converged"], _check_ovr),
    "bin": ({"exp_bin_digit": 3, "exp_bin_train_size": 300, "exp_bin_max_iter": 30},
            "binary", ["model", "test_accuracy", "precision", "recall", "f1"], _check_bin),
    "pre": ({"exp_pre_modes": ["unit", "standardize"], "exp_pre_train_size": 300,
             "exp_pre_max_iter": 30}, "preprocess",
            ["preprocess", "test_accuracy", "train_accuracy", "n_iter", "fit_seconds",
             "converged"], _check_pre),
    "cmp": ({"exp_cmp_train_size": 300, "exp_cmp_test_size": 300, "exp_cmp_max_slow": 200},
            "models", ["model", "train_size_used", "test_accuracy", "fit_seconds",
                       "predict_seconds"], _check_cmp),
}


def test_every_section_starts_empty_with_run_enabled_and_stop_disabled():
    at = open_page("pages/experiments.py")
    assert errors(at) == []
    assert [t.label for t in at.tabs] == [
        "Training-set size", "Regularization path", "Choosing C (cross-validation)",
        "Softmax vs one-vs-rest", "Preprocessing", "Linear vs other models"]
    for sid in SECTIONS:
        assert not at.button(key=f"exp_{sid}_run").disabled, sid
        assert at.button(key=f"exp_{sid}_stop").disabled, sid
    assert sum("No result yet" in c for c in captions(at)) == len(SECTIONS)
    assert not at.get("download_button") and not figures(at)


@pytest.mark.parametrize("sid", list(SECTIONS))
def test_section_runs_to_a_finished_result_with_chart_and_csv(sid, served, mnist):
    settings, name, columns, check = SECTIONS[sid]
    at = open_page("pages/experiments.py")
    configure(at, settings)
    run_experiment(at, sid)

    assert errors(at) == [] and not at.warning
    assert FINISHED in captions(at)
    # Finished: every Run is available again, no Stop, no progress bar left over.
    assert not at.button(key=f"exp_{sid}_run").disabled
    assert at.button(key=f"exp_{sid}_stop").disabled
    assert not at.get("progress")
    result = shown(at, sid)
    assert result.complete and result.name == name
    assert at.session_state[CACHE][at.session_state[SHOWN][sid]["key"]] is result

    header, table, file = csv_of(at, served, sid)
    assert file.filename == f"{name}.csv" and file.mimetype == "text/csv"
    assert header["experiment"] == name and header["complete"] is True
    assert header["n_test_available"] == N_TEST
    assert list(table.columns) == columns
    pd.testing.assert_frame_equal(table, result.table.reset_index(drop=True),
                                  check_dtype=False)
    check(table, figures(at), mnist)
    assert any(m.value.startswith("**What this shows**") for m in at.markdown)


# ----------------------------------------------------------------------------- cache


def test_same_settings_again_come_from_the_cache(monkeypatch):
    at = open_page("pages/experiments.py")
    configure(at, SECTIONS["size"][0])
    run_experiment(at, "size")
    first = shown(at, "size")

    # Other settings: the old result stays, labelled as such, until Run.
    configure(at, {"exp_size_C": "0.5"})
    assert any(c.startswith("These results are for other settings (sizes = 100, 200; "
                            "penalty = l2; C = 1;") for c in captions(at)), captions(at)
    run_experiment(at, "size")
    second = shown(at, "size")
    assert second is not first and second.params["C"] == 0.5
    assert len(at.session_state[CACHE]) == 2

    # Back to the first settings: the page says it knows them; Run must not recompute
    # (here or on the engine).
    from lrcore.engine import Engine

    def no_recomputing(self, *args, **kwargs):
        raise AssertionError(f"{args[:1]} recomputed although cached")

    monkeypatch.setattr(ex.Experiment, "__iter__", no_recomputing)
    monkeypatch.setattr(Engine, "submit_experiment", no_recomputing)
    configure(at, {"exp_size_C": "1"})
    assert "Already run with these settings: Run shows it at once." in captions(at)
    run_experiment(at, "size")
    assert FROM_CACHE in captions(at)
    assert shown(at, "size") is first and idle(at)
    assert at.session_state[SHOWN]["size"]["status"] == "cached"
    # Nothing is running any more: settings, Run and Stop are as before the click.
    assert not at.text_input(key="exp_size_C").disabled
    assert not at.button(key="exp_size_run").disabled and not at.button(key="exp_cmp_run").disabled
    assert at.button(key="exp_size_stop").disabled
    # And once more, right away.
    run_experiment(at, "size")
    assert FROM_CACHE in captions(at) and shown(at, "size") is first
    assert "exp_size_chart" in figures(at) and at.download_button(key="exp_size_download")


def test_stop_keeps_the_rows_so_far_marked_stopped_and_not_cached(served):
    sizes = [100, 200, 400, 800, 1600, 3200, 6400, 12800]
    at = open_page("pages/experiments.py")
    configure(at, {"exp_size_sizes": ", ".join(map(str, sizes)), "exp_size_max_iter": 60})
    at.button(key="exp_size_run").click().run()
    assert not at.exception, at.exception
    assert at.button(key="exp_size_run").disabled and at.button(key="exp_cmp_run").disabled
    # Live: the progress bar says how far it got once the first point has finished.
    run_until(at, lambda at: any(p.proto.text.startswith(("Step 2 of 8", "Step 3 of 8"))
                                 for p in at.get("progress")), timeout=180)
    at.button(key="exp_size_stop").click().run()
    run_until(at, idle, timeout=120)
    slot = at.session_state[SHOWN]["size"]
    result = slot["result"]
    assert slot["status"] == "stopped" and not result.complete
    assert 1 <= len(result.table) < len(sizes)
    assert list(result.table.train_size) == sizes[:len(result.table)]
    assert slot["key"] not in at.session_state.get(CACHE, {})  # a stopped run is not cached
    assert any(w.value.startswith(f"**Stopped** after {slot['done']} of 8 steps: the table "
                                  f"holds the {len(result.table)} rows") for w in at.warning)
    assert not at.get("progress") and not at.button(key="exp_size_run").disabled
    header, table, file = csv_of(at, served, "size")
    assert file.filename == "size-stopped.csv" and header["complete"] is False
    assert list(table.train_size) == list(result.table.train_size)


# ----------------------------------------------------------------------------- bad input

# (section, widget key, bad value, the error it shows, a good value to go back to)
BAD = [
    ("size", "exp_size_C", "abc", "C must be a number, e.g. 1 or 0.01; got 'abc'", "1"),
    ("size", "exp_size_C", "", "C must be a number, e.g. 1 or 0.01; got ''", "1"),
    ("size", "exp_size_C", "0", "C must be a number greater than 0; got '0'", "1"),
    ("size", "exp_size_C", "-1", "C must be a number greater than 0; got '-1'", "1"),
    ("size", "exp_size_C", "1e9", "C must be between 1e-06 and 1e+08; got 1e+09", "1"),
    ("size", "exp_size_sizes", "50, 200", "Each training-set size must be between 100 and "
                                          "60,000 (the training digits this data has); "
                                          "got 50", "100, 200"),
    ("size", "exp_size_sizes", "200, 70000", "Each training-set size must be between 100 "
                                             "and 60,000", "100, 200"),
    ("size", "exp_size_sizes", "200, many", "Training-set sizes must be whole numbers "
                                            "separated by commas; got 'many'", "100, 200"),
    ("size", "exp_size_sizes", "200.5", "Training-set sizes must be whole numbers; got "
                                        "'200.5'", "100, 200"),
    ("size", "exp_size_sizes", " , ", "Give at least one training-set size", "100, 200"),
    ("ovr", "exp_ovr_C", "-1", "C must be a number greater than 0; got '-1'", "1"),
    ("ovr", "exp_ovr_train_size", 50, "Training digits must be between 100 and 60,000",
     300),
    ("reg", "exp_reg_C_range", (0.1, 0.1), "Choose a range of C (two different ends) or a "
                                           "single value of C.", (0.01, 0.1)),
    ("reg", "exp_reg_penalties", [], "Choose at least one penalty.", ["l1", "l2"]),
]


@pytest.mark.parametrize("sid, key, bad, message, good", BAD,
                         ids=[f"{s}-{k[4:]}-{b!r}" for s, k, b, *_ in BAD])
def test_bad_settings_show_an_error_disable_run_and_keep_the_result(sid, key, bad, message,
                                                                   good):
    at = open_page("pages/experiments.py")
    configure(at, SECTIONS[sid][0])
    run_experiment(at, sid)
    before = shown(at, sid)

    configure(at, {key: bad})

    assert any(message in e for e in errors(at)), errors(at)
    assert len(errors(at)) == 1
    assert at.button(key=f"exp_{sid}_run").disabled
    assert "Fix the settings above to run." in captions(at)
    # The last result is still shown, said to be for other settings.
    assert shown(at, sid) is before
    assert FINISHED in captions(at)
    assert any(c.startswith("These results are for other settings") for c in captions(at))
    assert at.download_button(key=f"exp_{sid}_download")
    assert f"exp_{sid}_chart" in figures(at) or f"exp_{sid}_acc" in figures(at)
    # Other sections are not affected.
    assert not at.button(key="exp_cmp_run").disabled

    configure(at, {key: good})
    assert errors(at) == [] and not at.button(key=f"exp_{sid}_run").disabled
    assert not any(c.startswith("These results are for other settings") for c in captions(at))


def test_a_single_value_of_C_is_not_a_range_error():
    at = open_page("pages/experiments.py")
    configure(at, {"exp_reg_C_range": (0.1, 0.1)})
    assert errors(at) and at.button(key="exp_reg_run").disabled
    configure(at, {"exp_reg_points": 1})
    assert errors(at) == [] and not at.button(key="exp_reg_run").disabled


# ----------------------------------------------------------------------------- regularization


def heatmap_z(fig: dict) -> np.ndarray:
    return np.array([arr(t["z"]).astype(float).ravel() for t in fig["data"]
                     if t["type"] == "heatmap"])


def weights_caption(at: AppTest) -> str:
    return next(c for c in captions(at) if "of the weights are exactly 0" in c)


def test_regularization_path_weights_follow_the_selectbox():
    at = open_page("pages/experiments.py")
    configure(at, SECTIONS["reg"][0])
    run_experiment(at, "reg")
    result = shown(at, "reg")
    t, coefs = result.table, result.models["coef"]
    point = at.selectbox(key="exp_reg_point")
    assert point.options == [
        f"{p.upper()}, C = {c:g} — test accuracy {a:.2%}"
        for p, c, a in zip(t.penalty, t.C, t.test_accuracy)]
    # It starts on the most accurate L1 model (the first penalty).
    best_l1 = int(t[t.penalty == "l1"].test_accuracy.idxmax())
    assert point.value == best_l1
    np.testing.assert_allclose(heatmap_z(figures(at)["exp_reg_weights"]),
                               coefs[best_l1].reshape(10, 784))
    zero = float(np.mean(coefs[best_l1] == 0))
    assert 0.3 < zero < 1  # L1 zeroes many weights, not all
    assert weights_caption(at).startswith(point.options[best_l1] + f" · {zero:.1%} of ")
    assert f"{t.sparsity[best_l1]:.1f}%" in weights_caption(at)  # agrees with the table

    # An L2 model: other weights, far fewer zeros (only never-inked pixels).
    at.selectbox(key="exp_reg_point").set_value(3).run()
    assert not at.exception
    np.testing.assert_allclose(heatmap_z(figures(at)["exp_reg_weights"]),
                               coefs[3].reshape(10, 784))
    zero_l2 = float(np.mean(coefs[3] == 0))
    assert zero_l2 < zero
    assert weights_caption(at).startswith(f"L2, C = 0.1 — test accuracy "
                                          f"{t.test_accuracy[3]:.2%} · {zero_l2:.1%} of ")
    # A rerun keeps the choice.
    at.run()
    assert at.selectbox(key="exp_reg_point").value == 3


def test_cross_validation_agrees_with_logistic_regression_cv():
    at = open_page("pages/experiments.py")
    configure(at, SECTIONS["cv"][0])
    run_experiment(at, "cv")
    result = shown(at, "cv")
    t, s = result.table, result.summary
    ours = float(t.C[t.mean_accuracy.idxmax()])
    assert s["best_C"] == ours
    theirs = float(t.C[t.sklearn_mean_accuracy.idxmax()])
    assert s["sklearn_best_C"] == theirs and s["same_choice"]

    metrics = {m.label: m for m in at.metric}
    assert metrics["Best C (ours)"].value == f"{ours:g}" == "0.01"
    assert metrics["LogisticRegressionCV picks"].value == f"{theirs:g}"
    assert metrics["LogisticRegressionCV picks"].delta == "same C"
    assert metrics["Its mean CV accuracy"].value == f"{t.mean_accuracy.max():.2%}"
    assert metrics["Test accuracy of the refit"].value == f"{s['test_accuracy_of_refit']:.2%}"
    assert any("picks the same C=0.01" in m.value for m in at.markdown)
    # The chart marks the chosen C (a shape on a log axis takes the data value).
    lay = figures(at)["exp_cv_chart"]["layout"]
    assert lay["shapes"][0]["x0"] == pytest.approx(0.01)
    assert lay["xaxis"]["type"] == "log"


# ----------------------------------------------------------------------------- theory


@pytest.fixture(scope="module")
def small_models(mnist) -> dict[str, TrainedModel]:
    """Tiny models of each kind the Theory page draws differently."""
    base = dict(train_size=300, test_size=500, max_iter=30)
    return {
        "l2": train(TrainConfig(penalty="l2", C=0.1, **base), mnist),
        "ovr": train(TrainConfig(penalty="l2", C=0.1, multi_class="ovr", **base), mnist),
        "l1": train(TrainConfig(penalty="l1", C=1.0, **base), mnist),
    }


def with_model(model: TrainedModel) -> dict:
    return {RUNS: {"run 1": model}, CURRENT: "run 1"}


def verdict(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("The model says"))


def predicted(model: TrainedModel, X: np.ndarray) -> np.ndarray:
    return model.model.predict(model.features(X))


SOFTMAX_HEADERS = ["1 · Scores: logits  z = Wx + b", "2 · Probabilities: softmax",
                   "3 · Loss: cross-entropy of the true class",
                   "4 · Gradient: how each weight should move",
                   "5 · The penalty and the whole objective"]


def test_theory_shows_the_five_formulas_for_the_default_model():
    at = open_page("pages/theory.py")
    assert [s.value for s in at.subheader] == SOFTMAX_HEADERS
    assert captions(at)[0].startswith("Default model: L2, C=0.01, ")
    latex = " ".join(x.value for x in at.latex)
    assert len(at.latex) >= 12
    for formula in (r"\operatorname{softmax}(z)_k", r"-\log p_y",
                    r"\frac{\partial \ell}{\partial z_k} = p_k - y_k", r"\lVert W\rVert_F^2"):
        assert formula in latex
    assert {"theory_logits", "theory_proba", "theory_grad", "theory_step"} <= set(figures(at))
    # Test digit 0 of MNIST is a 7.
    assert at.number_input(key="theory_index").value == 0
    assert at.get("image")[0].proto.imgs[0].caption == "test digit #0: a 7"
    assert {m.label: m.value for m in at.metric}["True class"] == "7"


def test_theory_index_changes_digit_and_numbers(small_models, mnist):
    model = small_models["l2"]
    at = open_page("pages/theory.py", with_model(model))
    assert "run 1: L2, C=0.1, 300 digits" in captions(at)[0]
    texts = {}
    for i in (0, 1, 18):
        at.number_input(key="theory_index").set_value(i).run()
        assert not at.exception
        y = int(mnist.y_test[i])
        p = model.predict_proba_pixels(mnist.X_test[i:i + 1])[0]
        pred = int(predicted(model, mnist.X_test[i:i + 1])[0])
        texts[i] = verdict(at)
        assert texts[i] == (f"The model says **{pred}** ({'correct' if pred == y else 'wrong'});"
                            f" it gives the true class {y} a probability of **{p[y]:.2%}**, so "
                            f"this digit's loss is **{-np.log(p[y]):.4f}**.")
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["True class"] == str(y) and metrics[f"p(true = {y})"] == f"{p[y]:.2%}"
        assert at.get("image")[0].proto.imgs[0].caption == f"test digit #{i}: a {y}"
        proba = arr(figures(at)["theory_proba"]["data"][0]["y"])
        np.testing.assert_allclose(proba, p, rtol=1e-5)
    assert len(set(texts.values())) == 3


def test_theory_gradient_step_moves_the_logits_against_the_error(small_models, mnist):
    model = small_models["l2"]
    at = open_page("pages/theory.py", with_model(model))
    at.number_input(key="theory_index").set_value(8).run()
    at.select_slider(key="theory_eta").set_value(0.1).run()
    assert not at.exception
    x = model.features(mnist.X_test[8:9])
    z = model.model.decision_function(x)[0]
    p = model.model.predict_proba(x)[0]
    e = np.eye(10)[int(mnist.y_test[8])]
    fig = figures(at)["theory_step"]
    np.testing.assert_allclose(arr(fig["data"][0]["y"]), z, rtol=1e-5, atol=1e-6)
    # dl/dW = (p - y) x^T, dl/db = p - y: one step changes z by -eta (|x|^2 + 1)(p - y).
    expected = z - 0.1 * (float(x[0] @ x[0]) + 1) * (p - e)
    np.testing.assert_allclose(arr(fig["data"][1]["y"]), expected, rtol=1e-4, atol=1e-4)
    assert any(c.startswith("With η = 0.1 this digit's loss changes by ") for c in captions(at))
    # The gradient images show the step -dl/dW = -(p - y) x^T in the Weights page's colours:
    # red (positive) = the step raises the weight, so the true class's image is red.
    grad = figures(at)["theory_grad"]
    k_true = int(mnist.y_test[8])
    np.testing.assert_allclose(arr(grad["data"][k_true]["z"]).ravel(),
                               -(p[k_true] - 1.0) * x[0], rtol=1e-4, atol=1e-6)
    assert "raises w" in grad["data"][0]["colorbar"]["title"]["text"]
    assert any("red = this step raises the weight" in m.value for m in at.markdown)


def test_next_mistake_jumps_to_the_next_misclassified_digit(small_models, mnist):
    model = small_models["l2"]
    pred = predicted(model, mnist.X_test)
    wrong = np.flatnonzero(pred != mnist.y_test)
    assert len(wrong) > 2
    at = open_page("pages/theory.py", with_model(model))
    # On a mistake already: "next" is the one after it.
    at.number_input(key="theory_index").set_value(int(wrong[0])).run()
    assert "(wrong)" in verdict(at)

    at.button(key="theory_next_mistake").click().run()
    assert not at.exception
    i = at.number_input(key="theory_index").value
    assert i == wrong[1]
    assert pred[i] != mnist.y_test[i]
    assert (pred[wrong[0] + 1:i] == mnist.y_test[wrong[0] + 1:i]).all()
    assert "(wrong)" in verdict(at)
    assert f"test digit #{i}: a {mnist.y_test[i]}" == at.get("image")[0].proto.imgs[0].caption

    # From the last digit it wraps around to the first mistake.
    at.number_input(key="theory_index").set_value(len(mnist.y_test) - 1).run()
    at.button(key="theory_next_mistake").click().run()
    assert at.number_input(key="theory_index").value == wrong[0]


def test_one_vs_rest_model_shows_the_sigmoid_version(small_models, mnist):
    model = small_models["ovr"]
    assert model.model.kind_ == "ovr"
    at = open_page("pages/theory.py", with_model(model))
    assert [s.value for s in at.subheader] == ["Scores, sigmoids and loss", "Gradient",
                                               "5 · The penalty and the whole objective"]
    assert any("one-vs-rest" in i.value for i in at.info)
    latex = " ".join(x.value for x in at.latex)
    assert r"\sigma(z) = \frac{1}{1 + e^{-z}}" in latex
    assert {"theory_logits", "theory_proba", "theory_grad"} <= set(figures(at))
    assert "theory_step" not in figures(at)  # the softmax step is not shown
    # The loss this model minimizes: the ten sigmoids' binary losses, summed.
    x = model.features(mnist.X_test[:1])
    z = model.model.decision_function(x)[0]
    s = np.where(model.classes == mnist.y_test[0], 1.0, -1.0)
    loss = float(np.logaddexp(0, -s * z).sum())
    assert verdict(at).endswith(f"so this digit's loss is **{loss:.4f}**.")
    np.testing.assert_allclose(arr(figures(at)["theory_logits"]["data"][0]["y"]), z, rtol=1e-5)
    # Another digit redraws without trouble.
    at.button(key="theory_next_mistake").click().run()
    assert not at.exception and "(wrong)" in verdict(at)


def test_l1_model_penalty_section_reports_its_zero_weights(small_models, mnist):
    model = small_models["l1"]
    W = model.model.coef_
    zero = float(np.mean(W == 0))
    assert 0 < zero < 1
    at = open_page("pages/theory.py", with_model(model))
    assert SOFTMAX_HEADERS[4] in [s.value for s in at.subheader]
    md = " ".join(m.value for m in at.markdown)
    assert "This model: **L1** penalty, $C = 1$, $r = 1$, $n$ = 300 training digits." in md
    assert f"{zero:.1%} of the weights are exactly 0." in md
    latex = " ".join(x.value for x in at.latex)
    # r = 1: the penalty is ||W||_1, and per digit ||W||_1 / (C n).
    l1 = float(np.abs(W).sum())
    assert rf"\lVert W\rVert_1 = {l1:.4g}" in latex
    assert rf"\text{{penalty}} = {l1:.4g}" in latex
    assert rf"= {l1 / (1.0 * 300):.4g}" in latex
