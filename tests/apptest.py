"""Helpers shared by the AppTest page tests (tests/test_pages_*.py)."""
from __future__ import annotations

import json
import time

from streamlit.testing.v1 import AppTest


def open_page(page: str, session: dict | None = None, timeout: float = 60,
              query: dict | None = None) -> AppTest:
    """Run app.py (the shell and its sidebar), then switch to ``page`` ("pages/x.py"),
    with ``query`` as the URL's parameters and ``session`` put into session state first;
    fails on any exception."""
    at = AppTest.from_file("../app.py", default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def figures(at: AppTest) -> dict[str, dict]:
    """Plotly figures on the page, by the key they were drawn with."""
    return {el.proto.id.rsplit("-", 1)[-1]: json.loads(el.proto.spec)
            for el in at.get("plotly_chart")}


def run_until(at: AppTest, done, timeout: float = 180.0, what: str = "the job") -> None:
    """Rerun the page (as its polling fragment does in a browser) until ``done(at)``;
    fails on any exception, or when ``what`` has not ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        assert time.monotonic() < deadline, f"{what} did not end in time"
        time.sleep(0.2)
