"""Alembic environment: runs on a connection handed over by `domain.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import domain.models  # noqa: F401  (registers every table on the metadata)
from domain.database import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:
    # Offline tooling (autogenerate from the command line) gets a sync URL.
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is required when no connection is given")
    with create_engine(url).connect() as sync_connection:
        _configure(sync_connection)
        sync_connection.commit()
