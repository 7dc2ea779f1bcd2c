"""The service on a real database: every test runs against SQLite and, when a server is given, PostgreSQL.

`scripts/test.sh` starts a throwaway PostgreSQL server (Debian's package) and sets
PROPOSAL_ROUTER_TEST_POSTGRES_URL; each test gets a database of its own on it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from proposal_router.model.router import Router
from proposal_router.service.api.app import create_app
from proposal_router.service.api.state import AppState
from proposal_router.service.cli import main
from proposal_router.service.config import Settings
from proposal_router.service.domain import keys
from proposal_router.service.security import ROLES
from tests.conftest import REPO

POSTGRES_ENV = "PROPOSAL_ROUTER_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF-IDF bundle on the demo proposals: real department names, 审查立案 learned from the demo's rejections."""
    out = tmp_path_factory.mktemp("service") / "model"
    data, rejections = (REPO / "data" / "demo" / name for name in ("train.csv", "rejections.csv"))
    args = ["--data", str(data), "--rejections", str(rejections), "--out", str(out), "--model-type", "baseline"]
    assert main(["train", *args]) == 0
    return out


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL run needs a server: set {POSTGRES_ENV} (scripts/test.sh starts one)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    server = make_url(postgres_url())
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Service:
    client: TestClient
    state: AppState
    keys: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def start_service(url: str, bundle: Path, **settings: object) -> Service:
    router = Router(bundle)
    router.manifest.routing.lead_threshold = 0.9  # so that both auto-routing and the review queue occur
    settings.setdefault("audit_rate", 0.0)  # no audit items (抽查) in the queue unless a test asks for them
    app = create_app(Settings(database_url=url, **settings), router)  # type: ignore[arg-type]
    state: AppState = app.state.services
    with state.sessions() as session:
        made: dict[str, str] = {r: keys.create_key(session, f"{r} tester", r, "test")[1] for r in ROLES}
    return Service(TestClient(app), state, made)


@pytest.fixture
def service(database_url: str, demo_bundle: Path) -> Iterator[Service]:
    running = start_service(database_url, demo_bundle)
    running.client.__enter__()  # runs the app's lifespan, which starts (and at the end stops) the batch worker
    try:
        yield running
    finally:
        running.client.__exit__(None, None, None)
        running.client.close()
        running.state.engine.dispose()
