"""Alembic environment for the station's store.

The station runs migrations programmatically (``Database.upgrade``), handing over a live
connection in ``config.attributes["connection"]``. The stock ``alembic`` command works too,
given an ini file whose ``sqlalchemy.url`` names the database; it then opens the database
the same way the station does (WAL, foreign keys, busy timeout).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from station.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from station.store.database import open_database

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url in the alembic configuration")
    database = open_database(url)
    try:
        with database.engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        database.dispose()


if context.is_offline_mode():
    raise RuntimeError("the station's migrations run online only (they create dialect-specific triggers)")
run_migrations_online()
