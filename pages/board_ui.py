"""Streamlit helpers of the class board: the board object per process, the session's class
and teacher token, the cached board snapshot, and the Draw page's "add to my class's digits"
panel (:func:`drawing_panel`). lrcore.board does the work; this only holds session state.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets

import numpy as np
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from lrcore.board import Board, BoardError, ClassInfo, Snapshot
from lrcore.board.db import BoardUnavailable, default_url

# Session-state keys (one place, so pages and tests agree).
CLASS = "board_class"  # join code of the class this session joined
TEACHER = "board_teacher_token"  # the class's teacher token, if this session holds it
SID = "board_session_id"  # random id of this browser session (publish limits count by it)
SEEN_QUERY = "board_seen_query"  # (class, token) of the link already taken in
BOARD_ERROR = "board_error"  # why the board could not be opened (for the page)
LAST_DRAWING = "board_last_drawing"  # hash of the drawing last added (no double add)
# Seconds between two checks of the board's version by a viewer (one integer read).
POLL_S = float(os.environ.get("LR_BOARD_POLL_S", 3))


@st.cache_resource(show_spinner=False)
def _board_at(url: str) -> Board:
    return Board.open(url)


def get_board() -> Board:
    """One board (one connection pool) per app process and database; the schema is
    migrated on first use. ``LR_BOARD_DB`` chooses the database (default: SQLite in the
    data directory)."""
    return _board_at(default_url())


def board_or_none() -> Board | None:
    """The board, or None (with the reason in BOARD_ERROR) when there is no database or
    it cannot be reached: the page says so instead of failing."""
    try:
        return get_board()
    except (BoardUnavailable, SQLAlchemyError, OSError) as e:
        st.session_state[BOARD_ERROR] = str(e).splitlines()[0][:200] if str(e) else repr(e)
        return None


@st.cache_resource(show_spinner="Scoring the class's runs…", max_entries=64)
def _snapshot_at(url: str, code: str, version: int, include_hidden: bool, _data) -> Snapshot:
    return _board_at(url).snapshot(code, _data, include_hidden=include_hidden)


def cached_snapshot(code: str, version: int, include_hidden: bool, data) -> Snapshot:
    """The board of a class at one version: built once per process for all its viewers
    (the version changes with every publish, drawing or moderation). ``data`` is the one
    MnistData of the process (not hashed: it is the same object for every call)."""
    return _snapshot_at(default_url(), code, version, include_hidden, data)


_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$:")


def md_escape(text: str) -> str:
    """User text (a nickname, a title) safe inside Markdown: every Markdown character
    backslash-escaped, so it shows as typed and never becomes a link, an image or HTML."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


def session_id() -> str:
    sid = st.session_state.get(SID)
    if sid is None:
        sid = st.session_state[SID] = secrets.token_urlsafe(16)
    return sid


def joined() -> ClassInfo | None:
    """The class this session has joined (None if none, or if it no longer exists)."""
    code = st.session_state.get(CLASS)
    board = board_or_none() if code else None
    if board is None:
        return None
    try:
        return board.join(code)
    except BoardError:
        st.session_state.pop(CLASS, None)
        return None


def teacher_token() -> str | None:
    """The session's teacher token for the joined class, if it is the right one."""
    code, token = st.session_state.get(CLASS), st.session_state.get(TEACHER)
    board = board_or_none()
    if code and token and board is not None and board.is_teacher(code, token):
        return token
    return None


def join(code: str, token: str | None = None) -> ClassInfo:
    """Join a class (BoardError if no such code); with a valid token, as its teacher."""
    info = get_board().join(code)
    st.session_state[CLASS] = info.code
    if token and get_board().is_teacher(info.code, token):
        st.session_state[TEACHER] = token
    elif st.session_state.get(TEACHER) and not get_board().is_teacher(
            info.code, st.session_state[TEACHER]):
        st.session_state.pop(TEACHER, None)
    return info


def leave() -> None:
    for k in (CLASS, TEACHER):
        st.session_state.pop(k, None)


def drawing_panel(image_png: bytes | None) -> None:
    """On the Draw page: "Add to my class's digits: I meant [digit] [Add]" once the session
    has joined a class and something is drawn. ``image_png`` is the canvas's PNG."""
    if image_png is None or not st.session_state.get(CLASS):
        return
    info = joined()
    if info is None:
        return
    from PIL import Image

    from lrcore.preprocess import canvas_to_mnist

    pixels = canvas_to_mnist(np.asarray(Image.open(io.BytesIO(image_png))))
    if pixels is None:
        return
    if info.closed:
        st.caption(f"Your class “{md_escape(info.title)}” is closed: it takes no more digits.")
        return
    key = hashlib.blake2b(np.asarray(pixels).tobytes(), digest_size=12).hexdigest()
    with st.container(border=True, key="board_draw_panel"):
        st.markdown(f"**Add this drawing to the digits of your class** “{md_escape(info.title)}”")
        row = st.container(horizontal=True, vertical_alignment="bottom")
        label = row.selectbox("I meant", list(range(10)), index=None, placeholder="digit",
                              key="board_draw_label", width=130)
        row.button("Add to my class's digits", key="board_draw_add", icon=":material/add:",
                   disabled=label is None, on_click=_add_drawing,
                   args=(info.code, np.asarray(pixels), key))
        for kind, text in st.session_state.pop(DRAW_FLASH, []):
            getattr(st, kind)(text)


DRAW_FLASH = "board_draw_flash"


def _add_drawing(code: str, pixels: np.ndarray, key: str) -> None:
    label = st.session_state.get("board_draw_label")
    if label is None:
        return
    if st.session_state.get(LAST_DRAWING) == key:
        st.session_state[DRAW_FLASH] = [("info", "This drawing is already in the class's "
                                                  "digits.")]
        return
    try:
        get_board().add_drawing(code, session_id(), pixels, int(label))
    except BoardError as e:
        st.session_state[DRAW_FLASH] = [("warning", str(e))]
        return
    st.session_state[LAST_DRAWING] = key
    st.session_state[DRAW_FLASH] = [("success", f"Added your {label} to the class's digits.")]
