"""lrcore.board on a real SQLite database in a tmp dir: classes, joining, publishing, caps,
closed classes, moderation by token only, hidden and corrupt entries, scores computed from
the model file (never trusted), class digits, CSV, migrations.

tests/test_board_postgres.py runs these same tests against a real PostgreSQL server: every
test here takes the ``board`` fixture and nothing SQLite-specific.
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from sqlalchemy import inspect, update

from lrcore.board import db as boarddb
from lrcore.board import service
from lrcore.board.models import Entry
from lrcore.board.service import (
    Board,
    BoardError,
    ClassClosed,
    ClassNotFound,
    LimitReached,
    NotTeacher,
    clean_settings,
    clean_text,
)
from lrcore.config import TrainConfig
from lrcore.data import load_mnist
from lrcore.train import train


@pytest.fixture(scope="module")
def data():
    return load_mnist("sample")


@pytest.fixture(scope="module")
def models(data):
    """Two small real models: L2 (dense) and L1 (sparse)."""
    l2 = train(TrainConfig(penalty="l2", C=0.01, train_size=600, test_size=200, shuffle=True,
                           max_iter=30), data)
    l1 = train(TrainConfig(penalty="l1", C=0.05, train_size=600, test_size=200, shuffle=True,
                           max_iter=30), data)
    return l2, l1


@pytest.fixture
def board(tmp_path):
    b = Board.open(f"sqlite:///{tmp_path / 'board.sqlite'}")
    yield b
    b.close_engine()


@pytest.fixture
def klass(board):
    info, token = board.create_class("Math 1B", "Best with 50% zeros", min_sparsity=50)
    return info, token


def test_create_and_join(board, klass):
    info, token = klass
    assert len(info.code) == 6 and set(info.code) <= set(service.CODE_ALPHABET)
    assert len(token) >= 30
    joined = board.join(info.code.lower()[:3] + "-" + info.code.lower()[3:] + " ")
    assert joined.code == info.code and joined.title == "Math 1B"
    assert joined.min_sparsity == 50 and not joined.closed
    with pytest.raises(ClassNotFound):
        board.join("ZZZZZZ" if info.code != "ZZZZZZ" else "YYYYYY")


def test_teacher_token_is_hashed_and_required(board, klass):
    info, token = klass
    with board.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT teacher_hash FROM board_classes").scalar()
    assert token not in stored and len(stored) == 64
    assert board.is_teacher(info.code, token)
    assert not board.is_teacher(info.code, info.code)  # the join code cannot moderate
    assert not board.is_teacher(info.code, None)
    for bad in (None, "", info.code, token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(NotTeacher):
            board.close(info.code, bad)
        with pytest.raises(NotTeacher):
            board.export_csv(info.code, bad, None)
    assert not board.join(info.code).closed


def test_publish_scores_come_from_the_model_not_the_file(board, klass, models, data):
    info, _ = klass
    l2, l1 = models
    # A student edits the claims inside the file: the board never reads them.
    l2.summary["test_accuracy"] = 0.999
    l2.summary["sparsity"] = 99.0
    eid = board.publish_run(info.code, "sess-a", "Ada", l2, data)
    snap = board.snapshot(info.code, data)
    (row,) = snap.rows
    assert row.id == eid and row.nickname == "Ada" and row.penalty == "l2" and row.C == 0.01
    X, y = data.X_test, data.y_test
    expected = np.mean(l2.classes[np.argmax(l2.predict_proba_pixels(X), 1)] == y)
    assert row.test_accuracy == pytest.approx(expected)
    assert row.test_accuracy < 0.99 and row.test_size == data.n_test
    assert row.sparsity == pytest.approx(float(100 * np.mean(l2.model.coef_ == 0)))
    # The stored file is slim (no snapshots, no history) and carries no metrics.
    stored = board.model(eid)
    assert stored.snapshot_coef.size == 0 and stored.history == [] and stored.summary == {}
    np.testing.assert_array_equal(stored.model.coef_, l2.model.coef_)


def test_best_for_the_challenge(board, klass, models, data):
    info, _ = klass
    l2, l1 = models
    a = board.publish_run(info.code, "s1", "dense", l2, data)
    b = board.publish_run(info.code, "s2", "sparse", l1, data)
    snap = board.snapshot(info.code, data)
    rows = {r.id: r for r in snap.rows}
    assert rows[b].sparsity >= 50 > rows[a].sparsity
    assert snap.best_id == b  # the only run with >= 50% zeros wins, even if less accurate


def test_nicknames_are_plain_capped_text(board, klass, models, data):
    info, _ = klass
    eid = board.publish_run(info.code, "s", "  <b>Bo\x00b</b>\u202e\n" + "x" * 100,
                            models[0], data)
    (row,) = board.snapshot(info.code, data).rows
    assert "\x00" not in row.nickname and "\u202e" not in row.nickname
    assert "\n" not in row.nickname and len(row.nickname) <= service.NICKNAME_MAX
    assert row.nickname.startswith("<b>Bo b</b>")  # stored as text; the page escapes it
    with pytest.raises(BoardError):
        board.publish_run(info.code, "s", " \t\x07 ", models[0], data)
    assert clean_text("a" * 500, service.CHALLENGE_MAX) == "a" * service.CHALLENGE_MAX
    assert eid


def test_per_session_limit(board, klass, models, data, monkeypatch):
    info, _ = klass
    monkeypatch.setattr(service, "RUNS_PER_SESSION", 2)
    monkeypatch.setattr(service, "DRAWINGS_PER_SESSION", 3)
    board.publish_run(info.code, "s", "a", models[0], data)
    board.publish_run(info.code, "s", "a", models[1], data)
    with pytest.raises(LimitReached):
        board.publish_run(info.code, "s", "a", models[0], data)
    board.publish_run(info.code, "other", "b", models[0], data)  # another session may
    img = np.zeros(784)
    img[300:320] = 1.0
    for _ in range(3):
        board.add_drawing(info.code, "s", img, 1)
    with pytest.raises(LimitReached):
        board.add_drawing(info.code, "s", img, 1)
    assert board.session_counts(info.code, "s") == (2, 3)


def test_closed_class_accepts_nothing(board, klass, models, data):
    info, token = klass
    v = board.version(info.code)
    board.close(info.code, token)
    assert board.join(info.code).closed and board.version(info.code) > v
    with pytest.raises(ClassClosed):
        board.publish_run(info.code, "s", "a", models[0], data)
    img = np.full(784, 0.5)
    with pytest.raises(ClassClosed):
        board.add_drawing(info.code, "s", img, 3)
    board.close(info.code, token, closed=False)
    board.publish_run(info.code, "s", "a", models[0], data)


def test_hide_and_delete(board, klass, models, data):
    info, token = klass
    a = board.publish_run(info.code, "s1", "a", models[0], data)
    b = board.publish_run(info.code, "s2", "b", models[1], data)
    with pytest.raises(NotTeacher):
        board.hide(info.code, info.code, a)
    v = board.version(info.code)
    board.hide(info.code, token, a)
    assert board.version(info.code) == v + 1
    assert [r.id for r in board.snapshot(info.code, data).rows] == [b]
    both = board.snapshot(info.code, data, include_hidden=True).rows
    assert {r.id: r.hidden for r in both} == {a: True, b: False}
    board.hide(info.code, token, a, hidden=False)
    board.delete_entry(info.code, token, b)
    assert [r.id for r in board.snapshot(info.code, data, include_hidden=True).rows] == [a]
    other, other_token = board.create_class("Other class")
    with pytest.raises(NotTeacher):  # one class's token moderates only that class
        board.hide(info.code, other_token, a)
    with pytest.raises(BoardError):
        board.hide(other.code, other_token, a)  # not an entry of that class


def test_corrupt_entry_is_skipped_with_a_note(board, klass, models, data):
    info, _ = klass
    a = board.publish_run(info.code, "s1", "broken", models[0], data)
    b = board.publish_run(info.code, "s2", "fine", models[1], data)
    with board.engine.begin() as conn:
        conn.execute(update(Entry).where(Entry.id == a).values(model_npz=b"PK\x03\x04junk"))
    fresh = Board(board.engine)  # another process: nothing cached
    snap = fresh.snapshot(info.code, data)
    assert [r.id for r in snap.rows] == [b]
    assert len(snap.notes) == 1 and "broken" in snap.notes[0] and "skipped" in snap.notes[0]


def test_invalid_model_files_are_refused(board, klass, data, models):
    info, _ = klass
    with pytest.raises(BoardError):
        board.publish_run(info.code, "s", "x", b"not a model", data)
    # A pickle is never unpickled: it is simply not a valid model file.
    import pickle

    with pytest.raises(BoardError):
        board.publish_run(info.code, "s", "x", pickle.dumps({"a": 1}), data)
    # The bytes of a valid file are accepted like the model itself.
    eid = board.publish_run(info.code, "s", "x", models[0].to_bytes(), data)
    assert board.model(eid).config.penalty == "l2"


def test_class_digits_and_their_confusion(board, klass, models, data):
    info, token = klass
    l2 = models[0]
    a = board.publish_run(info.code, "s1", "a", l2, data)
    digits = data.X_test[:12]
    labels = data.y_test[:12]
    for x, y in zip(digits, labels):
        board.add_drawing(info.code, "s2", x.astype(np.uint8), int(y))
    # Floats in [0, 1] (canvas_to_mnist's scale) are stored as uint8 too.
    board.add_drawing(info.code, "s3", digits[0] / 255.0, int(labels[0]))
    snap = board.snapshot(info.code, data)
    assert snap.drawing_images.shape == (13, 28, 28) and snap.drawing_images.dtype == np.uint8
    np.testing.assert_array_equal(snap.drawing_images[0].ravel(), digits[0])
    np.testing.assert_array_equal(snap.drawing_images[12], snap.drawing_images[0])
    (row,) = snap.rows
    pred = l2.classes[np.argmax(l2.predict_proba_pixels(snap.drawing_images.reshape(13, -1)
                                                        .astype(float)), 1)]
    assert row.class_correct == int(np.sum(pred == snap.drawing_labels))
    assert row.class_accuracy == pytest.approx(row.class_correct / 13)
    cm = snap.confusions[a]
    assert cm.sum() == 13 and np.trace(cm) == row.class_correct
    for bad, label in ((np.zeros(784), 1), (np.ones(10), 1), (np.full(784, 2.0), 1),
                       (np.full(784, 0.5), 10)):
        with pytest.raises(BoardError):
            board.add_drawing(info.code, "s4", bad, label)
    board.delete_drawing(info.code, token, int(snap.drawing_ids[0]))
    assert len(board.snapshot(info.code, data).drawing_ids) == 12


def test_scores_are_cached_per_data(board, klass, models, data, monkeypatch):
    info, _ = klass
    board.publish_run(info.code, "s1", "a", models[0], data)
    calls = []
    real = service._test_scores
    monkeypatch.setattr(service, "_test_scores", lambda m, d: calls.append(1) or real(m, d))
    fresh = Board(board.engine)
    fresh.snapshot(info.code, data)
    fresh.snapshot(info.code, data)
    assert calls == []  # computed at publish, stored for this data's fingerprint


def test_export_csv(board, klass, models, data):
    info, token = klass
    a = board.publish_run(info.code, "s1", "=HYPERLINK(\"x\")", models[0], data)
    b = board.publish_run(info.code, "s2", "Bea", models[1], data)
    board.hide(info.code, token, a)
    rows = list(csv.DictReader(io.StringIO(board.export_csv(info.code, token, data))))
    assert [r["id"] for r in rows] == [str(a), str(b)]
    assert rows[0]["nickname"].startswith("'=")  # no formula in a spreadsheet
    assert rows[0]["hidden"] == "1" and rows[1]["hidden"] == "0"
    assert rows[1]["best_for_challenge"] == "1"
    assert float(rows[1]["test_accuracy"]) > 0.2  # well above chance (0.1)


def test_settings_pass_through_known_names_only(board):
    q = clean_settings("https://x.example/train?penalty=l1&C=0.1&evil=<script>&C=0.2")
    assert q == "penalty=l1&C=0.2"
    info, _ = board.create_class("T", settings="penalty=l1&C=0.1")
    assert service.join_query(info) == {"class": info.code, "penalty": "l1", "C": "0.1"}
    assert service.join_query(info, "tok")["t"] == "tok"


def test_bad_class_settings(board):
    for bad in (-1, 101, "x"):
        with pytest.raises(BoardError):
            board.create_class("T", min_sparsity=bad)
    info, _ = board.create_class("<i>x</i>\x1b[31m" + "t" * 300, "")
    assert len(info.title) <= service.TITLE_MAX and "\x1b" not in info.title
    assert info.challenge == "Highest test accuracy"


def test_migrations_run_on_a_fresh_db_and_are_idempotent(board):
    tables = set(inspect(board.engine).get_table_names())
    assert {"board_classes", "board_entries", "board_entry_scores", "board_drawings",
            "board_alembic_version"} <= tables
    assert boarddb.current_revision(board.engine) == boarddb.head_revision()
    info, _ = board.create_class("kept")
    boarddb.migrate(board.engine)  # again: nothing happens, nothing is lost
    boarddb.migrate(board.engine)
    assert board.join(info.code).title == "kept"


def test_schema_matches_the_models(board):
    """The Alembic revisions create exactly what the ORM models describe (a model change
    without a revision fails here)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from lrcore.board.models import Base

    with board.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "board_alembic_version"})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_default_url_is_sqlite_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(boarddb.DB_ENV, raising=False)
    monkeypatch.setenv("LR_DATA_DIR", str(tmp_path / "d"))
    assert boarddb.default_url() == f"sqlite:///{tmp_path / 'd' / 'board.sqlite'}"
    monkeypatch.setenv(boarddb.DB_ENV, "postgresql+psycopg://u@h/db")
    assert boarddb.default_url() == "postgresql+psycopg://u@h/db"


def test_sqlite_is_in_wal_mode_and_shared_by_two_engines(tmp_path, data, models):
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    one, two = Board.open(url), Board.open(url)  # two app processes on one file
    try:
        with one.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == \
                boarddb.SQLITE_BUSY_MS
        info, _ = one.create_class("shared")
        v = two.version(info.code)
        one.publish_run(info.code, "s", "a", models[0], data)
        assert two.version(info.code) == v + 1
        assert [r.nickname for r in two.snapshot(info.code, data).rows] == ["a"]
    finally:
        one.close_engine()
        two.close_engine()


def test_the_board_core_knows_nothing_of_streamlit():
    import subprocess
    import sys

    code = ("import sys, lrcore.board, lrcore.board.charts; "
            "assert 'streamlit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_concurrent_changes_from_two_processes_all_count(board, klass, models, data):
    """Two app processes (two engines on one database) publishing at the same time: every
    publish is stored and counted once in the version (no lost increment)."""
    import threading

    info, _ = klass
    other = Board.open(board.engine.url.render_as_string(hide_password=False))
    v0 = board.version(info.code)
    errors: list[Exception] = []

    def publish_three(b: Board, who: str) -> None:
        try:
            for i in range(3):
                b.publish_run(info.code, f"{who}{i}", who, models[i % 2], data)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=publish_three, args=(b, w))
               for b, w in ((board, "a"), (other, "b"))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close_engine()
    assert errors == []
    assert board.version(info.code) == v0 + 6
    assert len(board.snapshot(info.code, data).rows) == 6
