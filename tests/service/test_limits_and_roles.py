"""Keys, roles and input limits: every refusal is a clear 4xx, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from proposal_router.service import store
from proposal_router.service.db.models import AuditEvent, ProposalRecord
from proposal_router.service.schemas import INT64_MAX
from tests.service.conftest import Service, start_service
from tests.service.test_proposals_api import intake
from tests.service.test_web import log_in, submit_intake


def test_health_needs_no_key_everything_else_does(service: Service) -> None:
    client = service.client
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["model_version"] == service.state.router.version
    for path in ("/v1/proposals", "/v1/review", "/v1/model", "/metrics", "/v1/export/training-data", "/v1/keys"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "API 密钥" in response.json()["detail"]
    assert client.get("/v1/proposals", headers={"X-API-Key": "pr_not-a-key"}).status_code == 401


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/proposals", {"screener", "reviewer", "analyst", "admin"}),
        ("/v1/review", {"reviewer", "analyst", "admin"}),
        ("/v1/model", {"analyst", "admin"}),
        ("/v1/export/training-data", {"analyst", "admin"}),
        ("/metrics", {"analyst", "admin"}),
        ("/v1/keys", {"admin"}),
    ],
)
def test_roles(service: Service, path: str, allowed: set[str]) -> None:
    for role in service.keys:
        response = service.client.get(path, headers=service.headers(role))
        assert response.status_code == (200 if role in allowed else 403), (path, role, response.text)
        if role not in allowed:
            assert role in response.json()["detail"]


def test_bearer_header_and_revoked_keys(service: Service) -> None:
    client = service.client
    made = client.post("/v1/keys", json={"name": "临时", "role": "screener"}, headers=service.headers("admin"))
    assert made.status_code == 201
    key = made.json()["key"]
    assert client.get("/v1/proposals", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.delete(f"/v1/keys/{made.json()['prefix']}", headers=service.headers("admin")).status_code == 200
    assert client.get("/v1/proposals", headers={"Authorization": f"Bearer {key}"}).status_code == 401


@pytest.mark.parametrize(
    ("payload", "status", "says"),
    [
        ({"title": "", "body": "  "}, 422, "都为空"),
        ({"title": 12, "body": "正文"}, 422, "string"),
        ({"body": ["列表"]}, 422, "string"),
        ({"body": "正文", "unexpected": 1}, 422, "unexpected"),
        ([], 422, "提案列表为空"),
        ({"body": "长" * 20_001}, 422, "20000"),
        ([{"body": f"第{i}件"} for i in range(101)], 413, "最多 100 件"),
        ("just a string", 422, ""),
        (None, 422, ""),
    ],
)
def test_bad_submissions_are_refused_clearly(service: Service, payload: object, status: int, says: str) -> None:
    response = service.client.post("/v1/proposals", json=payload, headers=service.headers("screener"))
    assert response.status_code == status, response.text
    assert says in response.text


def test_malformed_json_and_oversized_bodies(service: Service) -> None:
    headers = {**service.headers("screener"), "content-type": "application/json"}
    broken = service.client.post("/v1/proposals", content=b'{"body": "unterminated', headers=headers)
    assert broken.status_code == 422
    not_utf8 = service.client.post("/v1/proposals", content='{"body": "正文"}'.encode("gbk"), headers=headers)
    assert not_utf8.status_code in (400, 422)
    huge = service.client.post("/v1/proposals", content=b"x" * 5_000_000, headers=headers)
    assert huge.status_code == 413 and "字节的上限" in huge.json()["detail"]


def test_small_body_limit_is_configurable(database_url: str, demo_bundle: Path) -> None:
    running = start_service(database_url, demo_bundle, max_body_bytes=2_000)
    try:
        response = running.client.post(
            "/v1/proposals", json={"body": "文" * 1_000}, headers=running.headers("screener")
        )
        assert response.status_code == 413
    finally:
        running.client.close()
        running.state.engine.dispose()


BIG_IDS = [2**31, 2**32 + 1, INT64_MAX]  # past PostgreSQL's INTEGER; the largest the API takes


@pytest.mark.parametrize("number", BIG_IDS)
def test_ids_past_32_bits_are_not_found_not_overflowed(service: Service, number: int) -> None:
    client = service.client
    reviewer = service.headers("reviewer")
    for path in (f"/v1/proposals/{number}", f"/v1/proposals/{number}/explanation"):
        assert client.get(path, headers=reviewer).status_code == 404, path
    for path in (f"/v1/batches/{number}", f"/v1/batches/{number}/result"):
        response = client.get(path, headers=service.headers("screener"))
        assert response.status_code == 404 and str(number) in response.json()["detail"], path
    answer = client.post(f"/v1/review/{number}", json={"action": "accept", "version": number}, headers=reviewer)
    assert answer.status_code == 404
    csrf = log_in(service)
    assert client.get(f"/ui/proposals/{number}").status_code == 404
    form = {"csrf": csrf, "action": "accept", "version": str(number)}
    assert client.post(f"/ui/proposals/{number}", data=form).status_code == 404


@pytest.mark.parametrize("number", BIG_IDS)
def test_a_version_past_32_bits_is_a_conflict(service: Service, number: int) -> None:
    item = submit_intake(service)[0]
    answer = service.client.post(
        f"/v1/review/{item['id']}", json={"action": "accept", "version": number}, headers=service.headers("reviewer")
    )
    assert answer.status_code == 409 and "版本 1" in answer.json()["detail"]
    csrf = log_in(service)
    form = {"csrf": csrf, "action": "accept", "version": str(number)}
    page = service.client.post(f"/ui/proposals/{item['id']}", data=form)
    assert page.status_code == 409
    with service.state.sessions() as session:
        assert store.get(session, int(item["id"])).status == "pending"  # type: ignore[call-overload]


def test_a_proposal_stored_under_a_64_bit_id_is_read_and_decided(service: Service) -> None:
    item = submit_intake(service)[0]
    with service.state.engine.begin() as connection:
        connection.execute(
            update(ProposalRecord).where(ProposalRecord.id == item["id"]).values(id=INT64_MAX, version=2**40)
        )
    headers = service.headers("reviewer")
    read = service.client.get(f"/v1/proposals/{INT64_MAX}", headers=headers)
    assert read.status_code == 200 and read.json()["version"] == 2**40
    decided = service.client.post(
        f"/v1/review/{INT64_MAX}", json={"action": "accept", "version": 2**40}, headers=headers
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["proposal"]["version"] == 2**40 + 1


def test_ids_keep_counting_past_32_bits(service: Service) -> None:
    """The id sequences are 64-bit too: SERIAL made PostgreSQL's 32-bit (SQLite continues from the largest id)."""
    first, second = intake(2)
    made = service.client.post("/v1/proposals", json=first, headers=service.headers("screener")).json()
    past = 2**31 + 7
    with service.state.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for table in ("proposals", "audit_log"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {past})"))
        else:
            connection.execute(update(ProposalRecord).where(ProposalRecord.id == made["id"]).values(id=past))
    answer = service.client.post("/v1/proposals", json=second, headers=service.headers("screener"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["id"] == past + 1
    got = service.client.get(f"/v1/proposals/{past + 1}", headers=service.headers("screener"))
    assert got.status_code == 200 and got.json()["external_id"] == second["external_id"]
    with service.state.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.proposal_id == past + 1)).one()
        assert event.action == "route"
