"""The class board's tables (SQLAlchemy 2.x ORM): classes, their published runs, their digits.

The schema itself is created and changed only by the Alembic revisions in
``lrcore/board/migrations/versions`` (run by :func:`lrcore.board.db.migrate`); these classes
describe it for queries. A test checks that the two agree (``alembic check`` style).

What is stored and why:
- a class keeps only a hash of its teacher token (a leaked database does not give
  moderation rights) and a ``version`` that every change increments: viewers poll that one
  integer to learn whether to redraw (:meth:`lrcore.board.service.Board.version`);
- an entry keeps the model in the pickle-free ``.npz`` format of :mod:`lrcore.persist`
  (never a pickle) and the settings read from it when it was published; its scores are
  not columns here: they are computed from the file on the data in use, and cached in
  ``entry_scores`` per data fingerprint so 30 viewers and several app processes compute
  them once;
- a drawing is the 28x28 digit as 784 uint8 bytes with the label its author meant.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class BoardClass(Base):
    __tablename__ = "board_classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(120))
    challenge: Mapped[str] = mapped_column(String(400), default="")
    # The challenge's rule: highest test accuracy among runs with at least this share of
    # zero weights (0-100, a percentage like lrcore.metrics.sparsity).
    min_sparsity: Mapped[float] = mapped_column(Float, default=0.0)
    # Train settings for the join link ("penalty=l1&C=0.1"), already filtered to known names.
    settings_query: Mapped[str] = mapped_column(String(600), default="")
    teacher_hash: Mapped[str] = mapped_column(String(64))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    entries: Mapped[list["Entry"]] = relationship(back_populates="board_class",
                                                  cascade="all, delete-orphan")
    drawings: Mapped[list["Drawing"]] = relationship(back_populates="board_class",
                                                     cascade="all, delete-orphan")


class Entry(Base):
    __tablename__ = "board_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("board_classes.id", ondelete="CASCADE"),
                                          index=True)
    nickname: Mapped[str] = mapped_column(String(64))
    session: Mapped[str] = mapped_column(String(64), index=True)  # hash of the session's id
    model_npz: Mapped[bytes] = mapped_column(LargeBinary)
    # Read from the model file by this code when it was published (for the table/CSV).
    penalty: Mapped[str] = mapped_column(String(16))
    C: Mapped[float | None] = mapped_column(Float, nullable=True)
    l1_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    train_size: Mapped[int] = mapped_column(Integer)
    preprocess: Mapped[str] = mapped_column(String(32))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    board_class: Mapped[BoardClass] = relationship(back_populates="entries")


class EntryScore(Base):
    """Test metrics of one entry on one data set (by lrcore.modelcache.data_fingerprint)."""

    __tablename__ = "board_entry_scores"
    __table_args__ = (UniqueConstraint("entry_id", "data_fp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("board_entries.id", ondelete="CASCADE"),
                                          index=True)
    data_fp: Mapped[str] = mapped_column(String(32))
    test_accuracy: Mapped[float] = mapped_column(Float)
    test_size: Mapped[int] = mapped_column(Integer)
    sparsity: Mapped[float] = mapped_column(Float)


class Drawing(Base):
    __tablename__ = "board_drawings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("board_classes.id", ondelete="CASCADE"),
                                          index=True)
    label: Mapped[int] = mapped_column(Integer)
    pixels: Mapped[bytes] = mapped_column(LargeBinary)  # 784 bytes: 28x28 uint8, row-major
    session: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    board_class: Mapped[BoardClass] = relationship(back_populates="drawings")
