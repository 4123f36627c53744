"""The class board: a class compares what its students found (issue 11).

A teacher creates a class (a short join code, a private teacher link); students publish
their current model under a nickname and add drawings of their own digits; the board
rescores every model on the data in use and on the class's digits. Plain Python over
SQLAlchemy (no Streamlit): :mod:`.service` is the API the page calls, :mod:`.db` the
database and its migrations, :mod:`.models` the tables, :mod:`.charts` the figures.
"""
from lrcore.board.service import (  # noqa: F401
    Board,
    BoardError,
    ClassClosed,
    ClassInfo,
    ClassNotFound,
    EntryRow,
    LimitReached,
    NotTeacher,
    Snapshot,
)
