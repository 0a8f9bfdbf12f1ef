"""Alembic environment of the service's database: runs on the connection :func:`wattbit.api.db.migrate` passes."""

from __future__ import annotations

from alembic import context

from wattbit.api.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the service always passes its connection
    raise RuntimeError("run migrations through wattbit.api.db.migrate(engine)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
