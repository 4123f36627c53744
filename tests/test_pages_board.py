"""AppTest of the class board page (pages/board.py) and the Draw page's panel
(pages/board_ui.drawing_panel): create a class, join by code and by link, publish, caps,
plain-text nicknames, moderation only with the teacher token, digits from the Draw page.

Each test gets its own SQLite board (LR_BOARD_DB in a tmp dir) and a small default model.
"""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lrcore.board import Board
from pages import board_ui
from tests.apptest import figures, open_page
from tests.test_pages_draw import inject, stroke

PAGE = "pages/board.py"


@pytest.fixture
def env(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    monkeypatch.setenv("LR_DEFAULT_TRAIN_SIZE", "2000")
    monkeypatch.setenv("LR_DEFAULT_MAX_ITER", "30")
    url = f"sqlite:///{tmp_path / 'board.sqlite'}"
    monkeypatch.setenv("LR_BOARD_DB", url)
    board = Board.open(url)
    yield board
    board.close_engine()


def page(query: dict | None = None, session: dict | None = None) -> AppTest:
    return open_page(PAGE, session, timeout=90, query=query)


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [h.value for h in at.subheader]
    parts += [str(x.value) for x in at.get("metric")] if at.get("metric") else []
    return "\n".join(parts)


def create(at: AppTest, title="Math 1B", sparsity=0.0, settings="") -> tuple[str, str]:
    at.text_input(key="board_new_title").input(title)
    at.number_input(key="board_new_sparsity").set_value(sparsity)
    at.text_input(key="board_new_settings").input(settings)
    at.button(key="board_create").click().run()
    assert not at.exception, at.exception
    return at.session_state[board_ui.CLASS], at.session_state[board_ui.TEACHER]


def publish(at: AppTest, nick: str) -> None:
    at.text_input(key="board_nickname").input(nick)
    at.button(key="board_publish").click().run()
    assert not at.exception, at.exception


def table(at: AppTest):
    return at.dataframe[0].value


def test_teacher_creates_a_class_and_sees_the_links(env):
    at = page()
    code, token = create(at, "Math <b>1B</b>", 50, "https://h/train?penalty=l1&C=0.1&x=1")
    assert env.is_teacher(code, token)
    shown = texts(at)
    assert code in shown and "Math \\<b\\>1B\\</b\\>" in shown  # escaped, not HTML
    assert "at least 50% zero weights" in shown
    links = [c.value for c in at.code]
    assert any(f"class={code}" in v and "t=" not in v and "penalty=l1" in v for v in links)
    assert any(f"t={token}" in v for v in links)
    assert "Moderation (teacher)" in shown and _has(at, "board_close")


def test_join_publish_hide_as_teacher_only(env):
    teacher = page()
    code, token = create(teacher, "T")
    student = page(query={"class": code})
    assert student.session_state[board_ui.CLASS] == code
    assert board_ui.TEACHER not in student.session_state
    assert not _has(student, "board_close")
    publish(student, "[Ada](javascript:x)")
    df = table(student)
    assert list(df["nickname"]) == ["[Ada](javascript:x)"]  # plain text in the table
    assert 0.8 < float(df["MNIST test accuracy"][0]) < 1
    assert "board_chart" in figures(student)
    publish(page(query={"class": code}), "Bo")
    teacher.run()
    assert list(table(teacher)["nickname"]) == ["[Ada](javascript:x)", "Bo"]
    teacher.selectbox(key="board_mod_entry").set_value(
        int(table(teacher)["#"][0])).run()
    teacher.button(key="board_hide").click().run()
    assert not teacher.exception
    assert list(table(teacher)["hidden"]) == [True, False]
    student.run()
    assert list(table(student)["nickname"]) == ["Bo"]
    assert "hidden" not in table(student).columns


def _has(at: AppTest, key: str) -> bool:
    try:
        at.button(key=key)
        return True
    except KeyError:
        return False


def test_a_join_code_is_no_teacher_link(env):
    info, token = env.create_class("T")
    student = page(query={"class": info.code, "t": "not-the-token"})
    assert student.session_state[board_ui.CLASS] == info.code
    assert board_ui.TEACHER not in student.session_state
    assert not _has(student, "board_close") and not _has(student, "board_hide")
    teacher = page(query={"class": info.code, "t": token})
    assert _has(teacher, "board_close")
    assert "t" not in teacher.query_params  # taken out of the address bar
    teacher.run()
    assert _has(teacher, "board_close")


def test_join_by_code_and_bad_code(env):
    info, _ = env.create_class("Typed code")
    at = page()
    at.text_input(key="board_join_code").input("zzzzzz" if info.code != "ZZZZZZ" else "yyyyyy")
    at.button(key="board_join").click().run()
    assert at.error and "No class has this code" in at.error[0].value
    at.text_input(key="board_join_code").input(info.code.lower())
    at.button(key="board_join").click().run()
    assert at.session_state[board_ui.CLASS] == info.code
    assert "Typed code" in texts(at)


def test_closed_class_and_session_limit(env, monkeypatch):
    from lrcore.board import service

    info, token = env.create_class("T")
    monkeypatch.setattr(service, "RUNS_PER_SESSION", 1)
    at = page(query={"class": info.code})
    publish(at, "a")
    publish(at, "a")
    assert at.warning and "limit" in at.warning[0].value
    assert len(table(at)) == 1
    env.close(info.code, token)
    at.run()
    assert not _has(at, "board_publish")
    assert any("closed" in i.value for i in at.info)


def test_draw_page_adds_to_the_class_digits(env):
    info, _ = env.create_class("Digits")
    at = page(query={"class": info.code})
    at.switch_page("pages/draw.py").run()
    assert not _has(at, "board_draw_add")  # nothing drawn yet
    inject(at, stroke)
    at.run()
    assert at.button(key="board_draw_add").disabled  # no digit chosen yet
    at.selectbox(key="board_draw_label").set_value(1).run()
    at.button(key="board_draw_add").click().run()
    assert not at.exception, at.exception
    assert at.success and "Added your 1" in at.success[0].value
    at.button(key="board_draw_add").click().run()  # the same drawing again: not added
    snap = env.snapshot(info.code, _data())
    assert list(snap.drawing_labels) == [1]
    assert snap.drawing_images[0].max() > 200 and snap.drawing_images.dtype == np.uint8
    at.switch_page(PAGE).run()
    publish(at, "me")
    assert "Our own digits (1)" in texts(at)
    assert {"board_vs_mnist", "board_confusion"} <= set(figures(at))


def _data():
    from pages.common import get_data

    return get_data()


def test_a_corrupt_entry_is_a_note_not_a_broken_board(env):
    from sqlalchemy import update

    from lrcore.board.models import Entry

    info, token = env.create_class("T")
    at = page(query={"class": info.code})
    publish(at, "broken")
    publish(at, "fine")
    first = int(table(at)["#"][0])
    with env.engine.begin() as conn:
        conn.execute(update(Entry).where(Entry.id == first).values(model_npz=b"junk"))
    env.hide(info.code, token, first, hidden=False)  # a new version: the board is rebuilt
    board_ui.get_board()._models.clear()  # as in a freshly started app process
    at.run()
    assert not at.exception, at.exception
    assert list(table(at)["nickname"]) == ["fine"]
    assert any("broken" in w.value and "skipped" in w.value for w in at.warning)


def test_an_unreachable_database_is_a_message(mnist_dir, monkeypatch):
    import socket

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    monkeypatch.setenv("LR_BOARD_DB", f"postgresql+psycopg://nobody@127.0.0.1:{port}/x")
    at = page()
    assert at.error and "not available" in at.error[0].value
