"""The audit log names the key that acted by name and id, and records key changes, log-ins (refused ones with
the prefix of the key tried, never the key), training-data exports, batch uploads and result downloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from proposal_router.service.db.models import ApiKey, AuditEvent
from tests.service.conftest import Service
from tests.service.test_batches import intake as intake_file
from tests.service.test_batches_api import upload, wait_done
from tests.service.test_proposals_api import intake
from tests.service.test_web import log_in


def key_id(service: Service, role: str) -> int:
    with service.state.sessions() as session:
        found = session.scalar(select(ApiKey.id).where(ApiKey.name == f"{role} tester"))
    assert found is not None
    return found


def events(service: Service, action: str) -> list[AuditEvent]:
    with service.state.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def everything_logged(service: Service) -> str:
    with service.state.sessions() as session:
        rows = session.scalars(select(AuditEvent)).all()
    return json.dumps([[e.actor, e.action, e.details] for e in rows], ensure_ascii=False)


def test_key_changes_name_both_the_admin_and_the_key(service: Service) -> None:
    admin = service.headers("admin")
    made = service.client.post("/v1/keys", json={"name": "督查室", "role": "reviewer"}, headers=admin).json()
    assert service.client.delete(f"/v1/keys/{made['prefix']}", headers=admin).status_code == 200
    with service.state.sessions() as session:
        new_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "督查室"))
    (created,) = [e for e in events(service, "key.create") if e.details["name"] == "督查室"]
    (revoked,) = events(service, "key.revoke")
    for event in (created, revoked):
        assert (event.actor, event.actor_key_id) == ("admin tester", key_id(service, "admin"))
        assert event.details["key_id"] == new_id and event.details["prefix"] == made["prefix"]
    assert created.details["role"] == "reviewer"
    assert made["key"] not in everything_logged(service)


def test_routing_and_reviews_carry_the_key_id(service: Service) -> None:
    posted = service.client.post("/v1/proposals", json=intake(8), headers=service.headers("screener")).json()
    screener = key_id(service, "screener")
    assert {(e.actor, e.actor_key_id) for e in events(service, "route")} == {("screener tester", screener)}
    item = next(p for p in posted if p["status"] == "pending")
    decided = service.client.post(
        f"/v1/review/{item['id']}", json={"action": "accept"}, headers=service.headers("reviewer")
    )
    assert decided.status_code == 200, decided.text
    (review,) = events(service, "review.accept")
    assert (review.actor, review.actor_key_id, review.proposal_id) == (
        "reviewer tester",
        key_id(service, "reviewer"),
        item["id"],
    )


def test_log_ins_are_recorded_and_refused_ones_never_log_the_key(service: Service) -> None:
    log_in(service)
    (done,) = events(service, "web.login")
    assert (done.actor, done.actor_key_id, done.details) == (
        "reviewer tester",
        key_id(service, "reviewer"),
        {"role": "reviewer"},
    )

    mistyped = service.keys["reviewer"][:-1] + "x"
    for tried in (mistyped, "hunter2", service.keys["screener"]):
        assert service.client.post("/ui/login", data={"key": tried}).status_code == 401
    refused = events(service, "web.login_failed")
    assert [(e.actor, e.actor_key_id, e.details["reason"]) for e in refused] == [
        ("anonymous", None, "unknown_or_revoked_key"),
        ("anonymous", None, "unknown_or_revoked_key"),
        ("screener tester", key_id(service, "screener"), "role"),
    ]
    assert refused[0].details["prefix"] == mistyped[:10]  # what `keys list` shows of the key it resembles
    assert refused[1].details["prefix"] == "h"  # a short string is never logged whole
    logged = everything_logged(service)
    assert mistyped not in logged and "hunter2" not in logged and service.keys["screener"] not in logged


def test_training_exports_are_recorded(service: Service) -> None:
    service.client.post("/v1/proposals", json=intake(6), headers=service.headers("screener"))
    exported = service.client.get("/v1/export/training-data", headers=service.headers("analyst"))
    assert exported.status_code == 200
    since = "2025-01-01T00:00:00+00:00"
    later = service.client.get(
        "/v1/export/training-data", params={"format": "jsonl", "since": since}, headers=service.headers("analyst")
    )
    assert later.status_code == 200
    first, second = events(service, "export.training_data")
    assert (first.actor, first.actor_key_id) == ("analyst tester", key_id(service, "analyst"))
    assert first.details == {"format": "csv", "since": None, "rows": len(exported.text.splitlines()) - 1}
    assert second.details == {"format": "jsonl", "since": since, "rows": len(later.text.splitlines())}


def test_batch_uploads_and_result_downloads_are_recorded(service: Service, tmp_path: Path) -> None:
    key = service.keys["screener"]
    created = upload(service.client, key, intake_file(tmp_path / "年度提案.csv", 5))
    assert created.status_code == 202, created.text
    job: dict[str, Any] = created.json()
    assert wait_done(service.client, key, job["id"])["status"] == "done"
    (uploaded,) = events(service, "batch.upload")
    assert (uploaded.actor, uploaded.actor_key_id) == ("screener tester", key_id(service, "screener"))
    assert uploaded.details["batch"] == job["id"] and uploaded.details["file"] == "年度提案.csv"
    assert uploaded.details["bytes"] == (tmp_path / "年度提案.csv").stat().st_size
    assert events(service, "batch.result") == []  # reading progress is not a download

    for _ in range(2):
        response = service.client.get(f"/v1/batches/{job['id']}/result", headers={"X-API-Key": key})
        assert response.status_code == 200
    downloads = events(service, "batch.result")
    assert [(e.actor_key_id, e.details) for e in downloads] == [(key_id(service, "screener"), {"batch": job["id"]})] * 2
