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
    """Like lrcore.explain.scores_html: a prediction and one bar per class."""
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
