"""Alembic environment: run by medcode.app.db.upgrade with an open connection (no alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from medcode.app.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # `alembic -x url=... revision --autogenerate` by a developer
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("give the database as `alembic -x url=...`")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("medcode migrations run online only (medcode db upgrade)")
run_migrations_online()
