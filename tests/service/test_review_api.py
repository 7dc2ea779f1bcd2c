"""The review queue and reviewers' decisions: who, when, what changed, and the model's original answer."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from proposal_router.service.db.models import AuditEvent, ReviewRecord
from tests.service.conftest import Service
from tests.service.test_proposals_api import intake


def pending(service: Service, n: int = 20) -> list[dict[str, Any]]:
    posted = service.client.post("/v1/proposals", json=intake(n), headers=service.headers("screener")).json()
    waiting = [p for p in posted if p["status"] == "pending"]
    assert len(waiting) >= 3, "the demo intake should put several proposals under review at threshold 0.9"
    return waiting


def decide(service: Service, proposal_id: int, role: str = "reviewer", **decision: Any) -> Any:
    return service.client.post(f"/v1/review/{proposal_id}", json=decision, headers=service.headers(role))


def test_queue_is_most_uncertain_first_or_oldest_first(service: Service) -> None:
    waiting = pending(service)
    queue = service.client.get("/v1/review?limit=100", headers=service.headers("reviewer")).json()
    assert queue["total"] == len(waiting)
    confidences = [p["routing"]["lead_department"]["confidence"] for p in queue["items"]]
    assert confidences == sorted(confidences)
    oldest = service.client.get("/v1/review?order=oldest&limit=100", headers=service.headers("reviewer")).json()
    assert [p["id"] for p in oldest["items"]] == sorted(p["id"] for p in waiting)
    department = waiting[0]["routing"]["lead_department"]["name"]
    filtered = service.client.get("/v1/review", params={"department": department}, headers=service.headers("reviewer"))
    assert {p["routing"]["lead_department"]["name"] for p in filtered.json()["items"]} == {department}


def test_accept_keeps_the_model_answer_and_records_who_and_when(service: Service) -> None:
    item = pending(service)[0]
    response = decide(service, item["id"], action="accept")
    assert response.status_code == 200, response.text
    decided = response.json()["proposal"]
    assert decided["status"] == "reviewed" and decided["decided_by"] == "reviewer tester"
    assert decided["assignment"]["lead_department"] == item["routing"]["lead_department"]["name"]
    assert decided["routing"] == item["routing"]  # the model's answer is never overwritten
    assert decided["version"] == item["version"] + 1
    queue = service.client.get("/v1/review?limit=100", headers=service.headers("reviewer")).json()
    assert item["id"] not in {p["id"] for p in queue["items"]}


def test_correction_resolves_aliases_and_keeps_the_original_answer(service: Service) -> None:
    item = pending(service)[0]
    response = decide(
        service,
        item["id"],
        action="correct",
        lead_department="市住建局",  # an alias in data/taxonomy.yaml
        co_departments=["市财政局", "市住房和城乡建设局"],
        topic="城乡建设",
    )
    assert response.status_code == 200, response.text
    assignment = response.json()["proposal"]["assignment"]
    assert assignment == {
        "topic": "城乡建设",
        "lead_department": "市住房和城乡建设局",
        "co_departments": ["市财政局"],  # the lead is not also its own co-handler
    }
    with service.state.sessions() as session:
        review = session.scalars(select(ReviewRecord).where(ReviewRecord.proposal_id == item["id"])).one()
    assert review.model_answer["lead_department"] == item["routing"]["lead_department"]["name"]
    assert review.changes["lead_department"] == {
        "model": item["routing"]["lead_department"]["name"],
        "final": "市住房和城乡建设局",
    }
    assert review.reviewer == "reviewer tester" and review.at is not None


def test_unknown_department_gets_suggestions(service: Service) -> None:
    item = pending(service)[0]
    response = decide(service, item["id"], action="correct", lead_department="市教育")
    assert response.status_code == 422
    assert "市教育局" in response.json()["detail"]
    assert (
        service.client.get(f"/v1/proposals/{item['id']}", headers=service.headers("reviewer")).json()["status"]
        == "pending"
    )


@pytest.mark.parametrize(
    "decision",
    [
        {"action": "reject"},
        {"action": "reject", "reason": "   "},
        {"action": "correct"},
        {"action": "accept", "lead_department": "市财政局"},
        {"action": "approve"},
    ],
)
def test_incomplete_decisions_are_refused(service: Service, decision: dict[str, Any]) -> None:
    item = pending(service)[0]
    assert decide(service, item["id"], **decision).status_code == 422


def test_reject_as_not_a_proposal(service: Service) -> None:
    item = pending(service)[0]
    response = decide(service, item["id"], action="reject", reason="属个人诉求，建议通过12345热线反映")
    assert response.status_code == 200
    decided = response.json()["proposal"]
    assert decided["status"] == "rejected" and decided["assignment"] is None
    assert decided["rejection_reason"] == "属个人诉求，建议通过12345热线反映"


def test_second_decision_is_a_conflict_and_the_first_is_kept(service: Service) -> None:
    item = pending(service)[0]
    assert decide(service, item["id"], action="accept").status_code == 200
    late = decide(service, item["id"], action="correct", lead_department="市财政局")
    assert late.status_code == 409 and "already decided by reviewer tester" in late.json()["detail"]
    stale = pending(service, 30)[0]
    assert decide(service, stale["id"], action="accept", version=stale["version"] + 5).status_code == 409
    kept = service.client.get(f"/v1/proposals/{item['id']}", headers=service.headers("reviewer")).json()
    assert kept["assignment"]["lead_department"] == item["routing"]["lead_department"]["name"]


def race(service: Service, item_id: int) -> list[int]:
    """Two reviewers released at the same instant, correcting the same item differently."""
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def reviewer(role: str, department: str) -> None:
        barrier.wait()
        response = decide(service, item_id, role=role, action="correct", lead_department=department)
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=reviewer, args=("reviewer", "市财政局")),
        threading.Thread(target=reviewer, args=("analyst", "市教育局")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_concurrent_reviewers_one_wins_one_conflicts(service: Service) -> None:
    for item in pending(service)[:3]:
        assert sorted(race(service, item["id"])) == [200, 409]
        with service.state.sessions() as session:
            reviews = session.scalars(select(ReviewRecord).where(ReviewRecord.proposal_id == item["id"])).all()
        assert len(reviews) == 1  # exactly one decision recorded, and it is the one the item shows
        final = service.client.get(f"/v1/proposals/{item['id']}", headers=service.headers("reviewer")).json()
        assert final["assignment"]["lead_department"] == reviews[0].changes["lead_department"]["final"]


def test_audit_log_records_everything_and_cannot_be_changed(service: Service) -> None:
    item = pending(service, 8)[0]
    decide(service, item["id"], action="correct", lead_department="市财政局")
    with service.state.sessions() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        actions = [e.action for e in events]
        assert actions.count("route") == 8 and actions.count("key.create") == 4 and "review.correct" in actions
        last = events[-1]
        assert last.actor == "reviewer tester" and last.proposal_id == item["id"]
        assert last.details["lead_department"]["final"] == "市财政局"
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), service.state.engine.begin() as connection:
            connection.execute(text(statement))


def test_training_export_has_final_assignments_only(service: Service, tmp_path: Any) -> None:
    from proposal_router.model.intake.records import ColumnMap
    from proposal_router.model.taxonomy import load_taxonomy
    from proposal_router.training.data import load_labelled
    from tests.conftest import REPO

    waiting = pending(service, 20)
    corrected, rejected, untouched = waiting[0], waiting[1], waiting[2]
    fixed = decide(service, corrected["id"], action="correct", lead_department="市财政局", topic="产业经济")
    assert fixed.status_code == 200, fixed.text
    assert decide(service, rejected["id"], action="reject", reason="内部事务").status_code == 200
    response = service.client.get("/v1/export/training-data", headers=service.headers("analyst"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    path = tmp_path / "export.csv"
    path.write_bytes(response.content)
    data = load_labelled(path, ColumnMap(), load_taxonomy(REPO / "data" / "taxonomy.yaml"))
    by_id = {e.id: e for e in data.examples}
    assert (by_id[corrected["external_id"]].lead, by_id[corrected["external_id"]].topic) == ("市财政局", "产业经济")
    assert rejected["external_id"] not in by_id and untouched["external_id"] not in by_id
    assert len(by_id) == 20 - len(waiting) + 1

    later = service.client.get(
        "/v1/export/training-data",
        params={"since": "2999-01-01T00:00:00Z", "format": "jsonl"},
        headers=service.headers("analyst"),
    )
    assert later.status_code == 200 and later.text == ""


def test_model_info_and_metrics(service: Service) -> None:
    pending(service, 10)
    info = service.client.get("/v1/model", headers=service.headers("analyst")).json()
    assert info["version"] == service.state.router.version
    assert "市财政局" in info["labels"]["lead"] and info["thresholds"]["lead_auto"] == 0.9
    metrics = service.client.get("/metrics", headers=service.headers("analyst")).text
    queue = service.client.get("/v1/review", headers=service.headers("reviewer")).json()["total"]
    assert f"proposal_router_review_queue {float(queue)}" in metrics
    assert 'proposal_router_requests_total{method="POST",route="/v1/proposals",status="201"} 1.0' in metrics
    assert 'proposal_router_decisions_total{kind="review"}' in metrics
    assert 'proposal_router_requests_total{method="other"' not in metrics
    for method in ("FOO", "BAR1", "X" * 20):
        service.client.request(method, "/v1/model", headers=service.headers("analyst"))
    metrics = service.client.get("/metrics", headers=service.headers("analyst")).text
    assert 'proposal_router_requests_total{method="other",route="/v1/model",status="405"} 3.0' in metrics
    assert "FOO" not in metrics and "BAR1" not in metrics
    assert "proposal_router_request_seconds_bucket" in metrics
