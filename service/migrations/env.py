"""Alembic environment: runs on the engine the caller hands over (service.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from proposal_router.service.db.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through `proposal-router db upgrade` (service.db.migrate)")

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
