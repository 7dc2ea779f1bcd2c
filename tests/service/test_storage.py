"""Migrations and the command-line side of the service: schema, keys, and clear refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service import store
from service.cli import main
from service.db.engine import make_engine, session_factory
from service.db.migrate import current_revision, upgrade
from service.db.models import Base


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        upgrade(engine)  # idempotent: a restarted service upgrades again
        assert current_revision(engine) == "0003"
        tables = {"proposals", "reviews", "audit_log", "api_keys", "batch_jobs", "batch_rows", "batch_uploads"}
        assert tables <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == [], "models and migrations differ: add an Alembic revision"
    finally:
        engine.dispose()


def test_cli_creates_a_key_once_and_stores_only_its_hash(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", database_url]) == 0
    assert main(["keys", "create", "--role", "reviewer", "--name", "复核员甲", "--db", database_url]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("pr_") and len(key) > 40
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            found = store.authenticate(session, key)
            assert found is not None and (found.role, found.name) == ("reviewer", "复核员甲")
            assert found.key_hash != key and key not in found.key_hash
        assert main(["keys", "list", "--db", database_url]) == 0
        listing = capsys.readouterr().out
        assert "reviewer" in listing and "复核员甲" in listing and key not in listing
        assert main(["keys", "revoke", "--prefix", found.prefix, "--db", database_url]) == 0
        with session_factory(engine)() as session:
            assert store.authenticate(session, key) is None
    finally:
        engine.dispose()
    assert main(["keys", "revoke", "--prefix", "pr_nothing", "--db", database_url]) == 2
    assert "no active key" in capsys.readouterr().err


def test_serve_without_a_model_says_how_to_give_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["serve", "--model", str(tmp_path / "missing"), "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "missing" in capsys.readouterr().err


def test_the_service_runs_without_torch(demo_bundle: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from service.api.app import create_app\n"
        "from service.config import Settings\n"
        f"app = create_app(Settings(model={str(demo_bundle)!r}, database_url={f'sqlite:///{tmp_path}/s.db'!r}))\n"
        "assert TestClient(app).get('/readyz').status_code == 200\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
