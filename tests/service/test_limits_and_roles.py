"""Keys, roles and input limits: every refusal is a clear 4xx, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.conftest import Service, start_service


def test_health_needs_no_key_everything_else_does(service: Service) -> None:
    client = service.client
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["model_version"] == service.state.router.version
    for path in ("/v1/proposals", "/v1/review", "/v1/model", "/metrics", "/v1/export/training-data", "/v1/keys"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "API key" in response.json()["detail"]
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
        ({"title": "", "body": "  "}, 422, "empty"),
        ({"title": 12, "body": "正文"}, 422, "string"),
        ({"body": ["列表"]}, 422, "string"),
        ({"body": "正文", "unexpected": 1}, 422, "unexpected"),
        ([], 422, "empty"),
        ({"body": "长" * 20_001}, 422, "20000"),
        ([{"body": f"第{i}件"} for i in range(101)], 413, "at most 100"),
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
    assert huge.status_code == 413 and "bytes" in huge.json()["detail"]


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
