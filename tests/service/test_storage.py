"""Migrations and the command-line side of the service: schema, keys, and clear refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Integer, inspect, select, text
from sqlalchemy.exc import DBAPIError

from proposal_router.service.cli import main
from proposal_router.service.db.engine import make_engine, session_factory
from proposal_router.service.db.migrate import current_revision, upgrade
from proposal_router.service.db.models import AuditEvent, Base, now
from proposal_router.service.domain import keys


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        upgrade(engine)  # idempotent: a restarted service upgrades again
        assert current_revision(engine) == "0009"
        tables = {"proposals", "reviews", "audit_log", "api_keys", "batch_jobs", "batch_rows", "batch_uploads"}
        tables |= {"web_sessions", "batch_upload_parts"}
        assert tables <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == [], "models and migrations differ: add an Alembic revision"
    finally:
        engine.dispose()


def test_every_integer_column_is_64_bit(database_url: str) -> None:
    """The API takes ids and versions up to 2^63-1; PostgreSQL's INTEGER and SERIAL stop at 2^31-1."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        widths = {"BIGINT": 64, "INTEGER": 64 if engine.dialect.name == "sqlite" else 32}
        columns = inspect(engine)
        narrow = [
            f"{table}.{column['name']} {column['type']}"
            for table in Base.metadata.tables
            for column in columns.get_columns(table)
            if isinstance(column["type"], Integer) and widths[str(column["type"])] != 64
        ]
        assert narrow == []
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT sequencename, data_type FROM pg_sequences")).all()
            sequences = {str(name): str(kind) for name, kind in rows}
            assert sequences and set(sequences.values()) == {"bigint"}, sequences
    finally:
        engine.dispose()


def test_upgrading_renames_keys_that_share_a_name_and_the_log_stays_append_only(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as connection:
            for i, name in enumerate(["screener", "screener", "王科长", "screener", "screener #4"]):
                connection.execute(
                    text(
                        "INSERT INTO api_keys (name, role, key_hash, prefix, created_at) "
                        "VALUES (:name, 'screener', :hash, 'pr_x', :at)"
                    ),
                    {"name": name, "hash": f"{i:064d}", "at": now()},
                )
        upgrade(engine)
        with session_factory(engine)() as session:
            names = [k.name for k in keys.list_keys(session)]
            renames = session.scalars(select(AuditEvent).where(AuditEvent.action == "key.rename")).all()
        assert names == ["screener", "screener #2", "王科长", "screener #4-1", "screener #4"]
        assert [(e.details["key_id"], e.details["old_name"], e.details["name"]) for e in renames] == [
            (2, "screener", "screener #2"),
            (4, "screener", "screener #4-1"),
        ]
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
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
            found = keys.authenticate(session, key)
            assert found is not None and (found.role, found.name) == ("reviewer", "复核员甲")
            assert found.key_hash != key and key not in found.key_hash
        assert main(["keys", "list", "--db", database_url]) == 0
        listing = capsys.readouterr().out
        assert "reviewer" in listing and "复核员甲" in listing and key not in listing
        assert main(["keys", "revoke", "--prefix", found.prefix, "--db", database_url]) == 0
        with session_factory(engine)() as session:
            assert keys.authenticate(session, key) is None
    finally:
        engine.dispose()
    assert main(["keys", "revoke", "--prefix", "pr_nothing", "--db", database_url]) == 2
    assert "没有以 pr_nothing 开头的有效密钥" in capsys.readouterr().err


def test_cli_refuses_a_second_key_with_a_name_already_taken(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--role", "reviewer", "--name", "复核员甲", "--db", database_url]) == 0
    prefix = capsys.readouterr().out.strip().splitlines()[-1][:10]
    assert main(["keys", "revoke", "--prefix", prefix, "--db", database_url]) == 0
    capsys.readouterr()
    # a revoked key keeps its name: the audit log's events by that name still mean that key
    for name in ("复核员甲", " 复核员甲 "):
        assert main(["keys", "create", "--role", "admin", "--name", name, "--db", database_url]) == 2
        captured = capsys.readouterr()
        assert "已有名为“复核员甲”的密钥" in captured.err and "--name" in captured.err and "pr_" not in captured.out
    assert main(["keys", "create", "--role", "screener", "--db", database_url]) == 0  # named after the role
    assert main(["keys", "create", "--role", "screener", "--db", database_url]) == 2
    assert "已有名为“screener”的密钥" in capsys.readouterr().err
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            assert [(k.name, k.role) for k in keys.list_keys(session)] == [
                ("复核员甲", "reviewer"),
                ("screener", "screener"),
            ]
    finally:
        engine.dispose()


def test_serve_without_a_model_says_how_to_give_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["serve", "--model", str(tmp_path / "missing"), "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "missing" in capsys.readouterr().err


def test_the_service_runs_without_torch(demo_bundle: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from proposal_router.service.api.app import create_app\n"
        "from proposal_router.service.config import Settings\n"
        f"app = create_app(Settings(model={str(demo_bundle)!r}, database_url={f'sqlite:///{tmp_path}/s.db'!r}))\n"
        "assert TestClient(app).get('/readyz').status_code == 200\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
