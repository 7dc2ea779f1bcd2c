"""Bring a database to the newest schema with the Alembic migrations shipped in the package."""

from __future__ import annotations

from importlib.resources import as_file, files

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

MIGRATIONS = files("proposal_router.service") / "migrations"


def alembic_config(engine: Engine, script_location: str) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with as_file(MIGRATIONS) as location:
        command.upgrade(alembic_config(engine, str(location)), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])
