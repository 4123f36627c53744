"""bench/classroom.py's pure helpers: how answers are recognised and strokes counted.

No server, browser or timing here: the benchmark itself is run by hand (see its docstring).
"""
from __future__ import annotations

import argparse
import math

import pytest

from bench.classroom import (
    SHAPES,
    Stroke,
    count_strokes,
    parse_sessions,
    percentile,
    scores_signature,
    settle,
    stroke_points,
)


def scores_markup(pred: str, ps: list[float]) -> str:
    """Like lrcore.figures.draw.scores_html: a prediction and one bar per class."""
    bars = "".join(f"<div class='bar' data-class='{i}' data-p='{p:.2f}' style='height:3px'>"
                   f"<span>{p:.0f}%</span></div>" for i, p in enumerate(ps))
    return (f"<div class='scores'><div><span class='prediction' style='font-size:4rem'>{pred}"
            f"</span><span class='confidence'>sure</span></div><div>{bars}</div></div>")


def test_scores_signature_reads_markup_inside_a_protobuf_frame():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ps = [0.11, 88.36, 1.43, 2.78, 0.36, 1.21, 1.22, 2.48, 0.44, 1.6]
    msg = ForwardMsg()
    msg.delta.new_element.markdown.body = scores_markup("1", ps)
    msg.metadata.delta_path.extend([0, 1, 0])
    sig = scores_signature(msg.SerializeToString())
    # The same string as SIG_JS reads from the page: guess | data-p of every bar.
    assert sig == "1|0.11,88.36,1.43,2.78,0.36,1.21,1.22,2.48,0.44,1.60"


def test_scores_signature_accepts_double_quotes_and_ignores_other_frames():
    html = scores_markup("7", [10.0] * 10).replace("'", '"')
    assert scores_signature(html.encode()).startswith("7|10.00,")
    assert scores_signature(b"<div class='caption'>Scoring with the default model</div>") is None


def test_percentile_interpolates_and_handles_empty():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 95) == pytest.approx(95)


def test_parse_sessions():
    assert parse_sessions("1,10, 30") == [1, 10, 30]
    for bad in ("", "0,5", "a"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_sessions(bad)


def test_settle_and_count():
    strokes = [Stroke(0, sent=0.0, answered=0.3, status="answered"),
               Stroke(1, sent=2.0),  # a newer stroke came before its answer
               Stroke(2, sent=4.0)]  # the latest, never answered
    settle(strokes, answer_timeout=30, now=20.0)
    assert [s.status for s in strokes] == ["answered", "superseded", "pending"]
    settle(strokes, answer_timeout=30, now=34.0)
    assert count_strokes(strokes) == {"sent": 3, "answered": 1, "superseded": 1, "lost": 1}
    assert strokes[0].latency_ms == pytest.approx(300)
    assert strokes[2].latency_ms is None


@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_stay_on_the_canvas(shape):
    pts = stroke_points(shape)
    assert len(pts) > 10
    assert all(0 < x < 280 and 0 < y < 280 and not math.isnan(x) for x, y in pts)


def test_set_cookies_from_a_response():
    from bench.classroom import response_headers, set_cookies

    raw = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
           b"Set-Cookie: lr_backend=abc123; Path=/; HttpOnly; SameSite=Lax\r\n"
           b"X-LR-Backend: 127.0.0.1:40001\r\nset-cookie: _streamlit_xsrf=2|x|y; Path=/\r\n"
           b"\r\n<html>Set-Cookie: not=a-header</html>")
    assert set_cookies(raw) == ["lr_backend=abc123", "_streamlit_xsrf=2|x|y"]
    assert dict(response_headers(raw))["x-lr-backend"] == "127.0.0.1:40001"
    assert set_cookies(b"HTTP/1.1 200 OK\r\n\r\n") == []


# ----------------------------------------------------------------------------- train scenario
def test_train_links_are_distinct_and_never_the_default_model():
    from bench.classroom import train_query, trainer_Cs

    Cs = trainer_Cs(10, first=1, identical=False)
    assert len({f"{C:.6g}" for C in Cs}) == 10
    assert 0.01 not in Cs  # the default model's settings: the engine keeps that run
    assert trainer_Cs(3, first=5, identical=True) == [pytest.approx(0.0105)] * 3
    # The next row starts where this one stopped: no row gets an earlier row's kept run.
    assert not set(trainer_Cs(2, first=11, identical=False)) & set(Cs)
    assert train_query(0.0101) == "penalty=l2&C=0.0101&train_size=60000&max_iter=100"


def test_fifo_mean_wait():
    from bench.classroom import fifo_mean_wait

    assert fifo_mean_wait(10.0, 1, 2) == 10.0
    # 10 trainings on 2 slots end at T, T, 2T, 2T, ..., 5T: mean 3T = T * (K/S + 1) / 2.
    assert fifo_mean_wait(10.0, 10, 2) == pytest.approx(30.0)
    assert fifo_mean_wait(10.0, 30, 2) == pytest.approx(10.0 * (30 / 2 + 1) / 2)
    assert fifo_mean_wait(10.0, 3, 2) == pytest.approx(40 / 3)


def _delta(fill) -> "ForwardMsg":
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg()
    fill(msg.delta.new_element)
    return msg


def test_train_signals_reads_metric_progress_alert_heading():
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from bench.classroom import train_signals

    def metric(el):
        el.metric.label, el.metric.body = "Test accuracy", "92.01%"

    def alert(el):
        el.alert.body, el.alert.format = "Waiting for a free worker: next in line.", Alert.INFO

    assert train_signals(_delta(metric)) == {"metric": ("Test accuracy", "92.01%")}
    assert train_signals(_delta(alert)) == {
        "alert": ("INFO", "Waiting for a free worker: next in line.")}
    assert train_signals(_delta(lambda el: setattr(el.progress, "text", "Iteration 3"))) == {
        "progress": "Iteration 3"}
    assert train_signals(_delta(lambda el: setattr(el.heading, "body", "run 1: L2"))) == {
        "heading": "run 1: L2"}
    other = ForwardMsg()
    other.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    assert train_signals(other) == {}


def _recording():
    from streamlit.proto.BackMsg_pb2 import BackMsg

    from bench.classroom import TrainRecording

    load = BackMsg()
    load.rerun_script.query_string = "penalty=l2&C=0.5&train_size=500&max_iter=5"
    load.rerun_script.page_script_hash = "h"
    press = BackMsg()
    press.CopyFrom(load)
    w = press.rerun_script.widget_states.widgets.add()
    w.id, w.trigger_value = "$$ID-abc-train_go", True
    w = press.rerun_script.widget_states.widgets.add()
    w.id, w.string_value = "$$ID-def-train_C", "0.5"  # the recorder's C: never replayed
    return TrainRecording(load.SerializeToString(), press.SerializeToString(),
                          "$$ID-abc-train_go")


def test_trainer_messages_carry_the_sessions_link_and_only_the_trigger():
    from streamlit.proto.BackMsg_pb2 import BackMsg

    from bench.classroom import TrainerClient, train_query

    q = train_query(0.0107)
    c = TrainerClient("http://127.0.0.1:1", _recording(), q, 0.0107)
    assert c.path == "/train?" + q
    c.cache = {"old": 0, "recent": 3}
    c.runs_finished = 4

    def parse(raw):
        m = BackMsg()
        m.ParseFromString(raw)
        return m.rerun_script

    load = parse(c._rerun(load=True))
    assert load.query_string == q and load.page_script_hash == "h"
    press = parse(c._rerun(press=True))
    assert [w.id for w in press.widget_states.widgets] == ["$$ID-abc-train_go"]
    assert press.query_string == q and not press.fragment_id and not press.is_auto_rerun
    assert list(press.cached_message_hashes) == ["recent"]
    poll = parse(c._rerun(fragment_id="frag"))
    assert not poll.widget_states.widgets  # a poll triggers nothing
    assert poll.fragment_id == "frag" and poll.is_auto_rerun


def test_trainer_is_done_on_the_metric_or_on_a_no_run_notice():
    from bench.classroom import TrainerClient

    c = TrainerClient("http://127.0.0.1:1", _recording(), "C=1", 1.0)
    c.pressed = 10.0
    c._on_signals({"alert": ("INFO", "Waiting for a free worker: 3rd in line, starts in "
                                     "about 15 s. The training starts by itself; ...")}, 10.5)
    c._on_signals({"progress": "Iteration 1 of at most 100 · 0.4 s"}, 12.0)
    c._on_signals({"heading": "run 1: L2, C=1, 60,000 digits"}, 30.0)
    assert not c.finished.is_set()
    c._on_signals({"metric": ("Test accuracy", "92.01%")}, 30.0)
    assert c.finished.is_set() and c.wait_s == pytest.approx(20.0)
    assert c.queue_texts == ["3rd in line, starts in about 15 s"]
    assert c.started == 12.0 and c.result == "92.01%" and c.run_label.startswith("run 1")

    d = TrainerClient("http://127.0.0.1:1", _recording(), "C=1", 1.0)
    d.pressed = 0.0
    d._on_signals({"alert": ("WARNING", "The training was cancelled before it started.")}, 5)
    assert d.finished.is_set() and d.wait_s is None and "cancelled" in d.failed


def test_problem_lines():
    from bench.classroom import problem_lines

    text = "ok\n2026 WARNING something\nfine\nTraceback (most recent call last):\n"
    assert problem_lines(text) == ["2026 WARNING something", "Traceback (most recent call last):"]
