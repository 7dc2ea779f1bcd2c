"""Several server processes on one database, on SQLite and PostgreSQL: each job is claimed by one of them, a
job whose owner died is taken over, and every row is routed and stored exactly once (service/claims.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from proposal_router.model.intake.records import ColumnMap, read_proposals
from proposal_router.model.intake.tables import read_table
from proposal_router.service import batches, claims
from proposal_router.service.db.engine import make_engine, session_factory
from proposal_router.service.db.migrate import upgrade
from proposal_router.service.db.models import AuditEvent, BatchJob, BatchRow, ProposalRecord, now
from proposal_router.service.domain import keys
from proposal_router.service.engine import LocalEngine
from proposal_router.service.security import ROLES
from tests.conftest import REPO
from tests.service.conftest import Service
from tests.service.test_batches import intake
from tests.service.test_batches_api import results, upload, wait_done

LEASE = timedelta(seconds=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(bundle: Path, db: str, port: int) -> subprocess.Popen[bytes]:
    command = ["proposal-router", "serve", "--model", str(bundle), "--db", db, "--port", str(port)]
    env = {**os.environ, "PROPOSAL_ROUTER_JOB_POLL_SECONDS": "0.2"}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.2)


@contextmanager
def serving(bundle: Path, db: str) -> Iterator[httpx.Client]:
    port = _free_port()
    process = _serve(bundle, db, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _key(db: str) -> str:
    engine = make_engine(db)
    upgrade(engine)
    with session_factory(engine)() as session:
        key = keys.create_key(session, "督查室", ROLES[0], "test")[1]
    engine.dispose()
    return key


def _stored(db: str) -> tuple[int, int, int, set[str | None]]:
    """Proposals stored, route events written, rows left unlinked, and the owners that ended the jobs."""
    engine = make_engine(db)
    with session_factory(engine)() as session:
        proposals = session.scalar(select(func.count()).select_from(ProposalRecord)) or 0
        routed = session.scalar(select(func.count()).where(AuditEvent.action == "route")) or 0
        unlinked = session.scalar(select(func.count()).where(BatchRow.proposal_id.is_(None)))
        owners = set(session.scalars(select(BatchJob.owner)))
    engine.dispose()
    return proposals, routed, unlinked or 0, owners


def test_two_servers_share_the_jobs_and_route_every_row_once(
    database_url: str, demo_bundle: Path, tmp_path: Path
) -> None:
    key, files, n = _key(database_url), 6, 300
    with serving(demo_bundle, database_url) as first, serving(demo_bundle, database_url) as second:
        jobs = [  # all uploaded to the first server: the second finds them by polling the database
            upload(first, key, intake(tmp_path / f"intake-{i}.csv", n, first=i * n)).json()["id"] for i in range(files)
        ]
        states = [wait_done(second, key, job) for job in jobs]
        rows = [results(first, key, job) for job in jobs]
    assert [s["status"] for s in states] == ["done"] * files, states
    assert [len(r) for r in rows] == [n] * files
    proposals, routed, unlinked, owners = _stored(database_url)
    assert proposals == routed == files * n and unlinked == 0
    assert len(owners) == 2, f"one server routed every job: {owners}"


def test_a_killed_servers_job_is_taken_over_and_every_row_routed_once(
    database_url: str, demo_bundle: Path, tmp_path: Path
) -> None:
    key, n = _key(database_url), 4000
    port = _free_port()
    server = _serve(demo_bundle, database_url, port)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        job = upload(client, key, intake(tmp_path / "intake.csv", n)).json()
        deadline = time.monotonic() + 120
        while client.get(f"/v1/batches/{job['id']}", headers={"X-API-Key": key}).json()["done_rows"] < 200:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    with serving(demo_bundle, database_url) as client:
        state = client.get(f"/v1/batches/{job['id']}", headers={"X-API-Key": key}).json()
        assert state["done_rows"] < n, "the job finished before the kill: use a larger file"
        assert wait_done(client, key, job["id"])["status"] == "done"
        rows = results(client, key, job["id"])
    assert [r[0] for r in rows] == [f"2026-{i:05d}" for i in range(n)]
    proposals, routed, unlinked, owners = _stored(database_url)
    assert proposals == routed == n and unlinked == 0
    assert len(owners) == 1 and str(server.pid) not in next(iter(owners)).split(":")  # type: ignore[union-attr]


def _job(service: Service, path: Path) -> int:
    columns = ColumnMap(id="编号", title=["提案标题"], body=["提案内容"])
    table = read_table(path)
    rows, issues = read_proposals(table, columns)
    with service.state.sessions() as session:
        return batches.create_job(session, path.name, path.name, table, rows, issues, columns, "tester").id


def test_of_two_claimants_exactly_one_takes_a_job(idle_service: Service, tmp_path: Path) -> None:
    job_id = _job(idle_service, intake(tmp_path / "intake.csv", 3))
    with idle_service.state.sessions() as one, idle_service.state.sessions() as other:
        assert claims.claim_next(one, "host-a:1:a", LEASE) == job_id
        assert claims.claim_next(other, "host-b:1:b", LEASE) is None
        assert claims.claim(other, job_id, "host-b:1:b", LEASE) == "host-a:1:a"


def test_a_lapsed_claim_is_taken_over_and_its_old_owner_stores_nothing(idle_service: Service, tmp_path: Path) -> None:
    sessions = idle_service.state.sessions
    job_id = _job(idle_service, intake(tmp_path / "intake.csv", 20))
    engine = LocalEngine(idle_service.state.router)
    with sessions() as session:
        assert claims.claim_next(session, "host-a:1:a", LEASE) == job_id
        session.execute(update(BatchJob).values(heartbeat_at=now() - 2 * LEASE))  # host-a paused past its lease
        session.commit()
        assert claims.claim_next(session, "host-b:1:b", LEASE) == job_id
    batches.run_job(sessions, engine, job_id, "tester", 8, owner="host-a:1:a")  # the old owner wakes up
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProposalRecord)) == 0
    batches.run_job(sessions, engine, job_id, "tester", 8, owner="host-b:1:b")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProposalRecord)) == 20
        assert session.get(BatchJob, job_id).status == "done"  # type: ignore[union-attr]


def test_a_stopping_server_releases_its_job_for_another(idle_service: Service, tmp_path: Path) -> None:
    job_id = _job(idle_service, intake(tmp_path / "intake.csv", 3))
    with idle_service.state.sessions() as session:
        assert claims.claim_next(session, "host-a:1:a", LEASE) == job_id
        claims.release(session, job_id, "host-a:1:a")
        assert claims.claim_next(session, "host-b:1:b", LEASE) == job_id


@pytest.fixture
def idle_service(database_url: str, demo_bundle: Path) -> Iterator[Service]:
    """The service without its lifespan, so its own worker claims nothing while a test claims by hand."""
    from tests.service.conftest import start_service

    running = start_service(database_url, demo_bundle)
    try:
        yield running
    finally:
        running.client.close()
        running.state.engine.dispose()
