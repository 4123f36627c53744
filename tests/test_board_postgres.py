"""The class board's service tests (tests/test_board.py) against a real PostgreSQL server:
the path a class takes when several app processes or hosts share one board (LR_BOARD_DB).

The server is a throwaway cluster made with Debian's own binaries (``initdb``, ``pg_ctl``
from /usr/lib/postgresql/*/bin; tests/run.sh installs the ``postgresql`` package) in a tmp
dir, listening on a free port on 127.0.0.1 only, stopped at the end. As root the cluster
must belong to the ``postgres`` user (PostgreSQL refuses to run as root): the commands run
through ``runuser -u postgres --``. Each test gets a database of its own.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine

import tests.test_board as sqlite_cases
from lrcore.board import db as boarddb
from lrcore.board.service import Board
from tests.conftest import need
from tools.browser import free_port

SQLITE_ONLY = {"test_default_url_is_sqlite_in_the_data_dir",
               "test_sqlite_is_in_wal_mode_and_shared_by_two_engines"}
# The same tests, collected again here with the ``board`` fixture below.
for _name in dir(sqlite_cases):
    if _name.startswith("test_") and _name not in SQLITE_ONLY:
        globals()[_name] = getattr(sqlite_cases, _name)
data = sqlite_cases.data
models = sqlite_cases.models
klass = sqlite_cases.klass


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="module")
def pg_server():
    """A PostgreSQL server for this module; yields the URL of its maintenance database."""
    bindir = _bin_dir()
    if bindir is None:
        need("Debian's postgresql (apt-get install -y postgresql; tests/run.sh does it)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root and shutil.which("runuser") is None:
        need("runuser (util-linux), to run PostgreSQL as the postgres user")
    top = Path(tempfile.mkdtemp(prefix="lr-board-pg-"))
    datadir, sock = top / "data", top / "sock"
    sock.mkdir()
    if as_root:
        shutil.chown(top, "postgres")
        shutil.chown(sock, "postgres")
    port = free_port()
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True,
                                      text=True, timeout=120)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(datadir), "-U", "board", "--auth=trust",
            "-E", "UTF8", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(top / "server.log"), "-w",
            "-t", "60", "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    except subprocess.CalledProcessError as e:
        shutil.rmtree(top, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {e.stderr or e.stdout}")
    try:
        yield f"postgresql+psycopg://board@127.0.0.1:{port}"
    finally:
        # pg_ctl stops this cluster's own postmaster (the PID in its postmaster.pid).
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def board(pg_server):
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    b = Board.open(f"{pg_server}/{name}")
    yield b
    b.close_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def test_it_is_postgresql(board):
    assert board.engine.dialect.name == "postgresql"
    assert boarddb.current_revision(board.engine) == boarddb.head_revision()


def test_two_processes_migrating_at_once(pg_server, data, models):
    """Two app processes opening a fresh database together: the advisory lock lets one
    migrate, the other finds the schema at head."""
    import threading

    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    boards, errors = [], []

    def open_one():
        try:
            boards.append(Board.open(f"{pg_server}/{name}"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and len(boards) == 3
        info, _ = boards[0].create_class("shared")
        boards[1].publish_run(info.code, "s", "a", models[0], data)
        assert [r.nickname for r in boards[2].snapshot(info.code, data).rows] == ["a"]
    finally:
        for b in boards:
            b.close_engine()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()
