"""Alembic environment: migrations run only on a connection handed over by common.storage.

Invariant: no engine is created here and no URL is read from a file; ``Storage.migrate``
opens the transaction (and takes the lock) and passes its connection in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through common.storage.Storage.migrate()")
_run(_connection)
