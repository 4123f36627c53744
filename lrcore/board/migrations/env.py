"""Alembic environment of the class board. Run programmatically by lrcore.board.db.migrate,
which passes its own open connection in ``config.attributes["connection"]`` (no alembic.ini,
no logging setup: the app's logging stays as it is)."""
from __future__ import annotations

from alembic import context

from lrcore.board.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` on the command line is not how this package is used
    raise RuntimeError("run board migrations through lrcore.board.db.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch mode rebuilds a table when a revision needs it.
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="board_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
