"""Where the class board lives: the database URL, the engine, and migrations on first use.

``LR_BOARD_DB`` (environment) is a SQLAlchemy URL, e.g.
``postgresql+psycopg://board:secret@db.school.lan/board`` when several app processes or
hosts serve one class. Without it the board is a SQLite file in the app's data directory
(:func:`lrcore.modelcache.data_dir`), created on first use: no extra command. SQLite runs
in WAL mode with a busy timeout because the app processes of one host
(``deploy/serve.py``) share that file: readers then never block the writer, and a writer
waits for another instead of failing at once with "database is locked".

The schema is made and changed by Alembic revisions (``migrations/versions``), applied by
:func:`migrate` the first time a process opens the database. Two processes starting at once
serialise on a lock (a lock file beside a SQLite database, an advisory lock on PostgreSQL),
so the second finds the schema at head and does nothing.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DB_ENV = "LR_BOARD_DB"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_MS = 15_000
# Any constant: the key of the PostgreSQL advisory lock held while migrating.
_PG_LOCK_KEY = 7_211_011


class BoardUnavailable(RuntimeError):
    """No database for the board (no writable data directory and no LR_BOARD_DB)."""


def default_url() -> str:
    """``$LR_BOARD_DB``, else a SQLite file ``board.sqlite`` in the app's data directory."""
    url = os.environ.get(DB_ENV, "").strip()
    if url:
        return url
    from lrcore.modelcache import data_dir

    directory = data_dir()
    if directory is None:
        raise BoardUnavailable("the class board needs a writable data directory "
                               "(LR_DATA_DIR) or a database URL (LR_BOARD_DB)")
    return f"sqlite:///{directory / 'board.sqlite'}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default :func:`default_url`), schema migrated to head."""
    url = url or default_url()
    u = make_url(url)
    kw: dict = {"pool_pre_ping": True}
    if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
        # An unreachable server fails a page in seconds, not after the OS's TCP timeout.
        kw["connect_args"] = {"connect_timeout": 5}
    if u.get_backend_name() == "sqlite":
        kw = {"connect_args": {"timeout": SQLITE_BUSY_MS / 1000}}
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kw)
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    return engine


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, even on a crash
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Apply every Alembic revision the database lacks (none: nothing happens)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    db = engine.url.database
    if engine.dialect.name == "sqlite" and db and db != ":memory:":
        with _file_lock(Path(db + ".migrate.lock")), engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": "board_alembic_version"}).get_current_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()
