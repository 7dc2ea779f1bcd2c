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
    assert late.status_code == 409 and "已由 reviewer tester 处理" in late.json()["detail"]
    assert str(item["external_id"]) in late.json()["detail"]  # the office's id, not the internal one
    stale = pending(service, 30)[0]
    assert decide(service, stale["id"], action="accept", version=stale["version"] + 5).status_code == 409
    kept = service.client.get(f"/v1/proposals/{item['id']}", headers=service.headers("reviewer")).json()
    assert kept["assignment"]["lead_department"] == item["routing"]["lead_department"]["name"]


def test_accepting_the_lead_only_leaves_the_model_co_departments_out(service: Service) -> None:
    with_co = [p for p in pending(service, 60) if p["routing"]["co_departments"]]
    assert len(with_co) >= 2, "the demo intake should suggest co-departments for some pending items"
    lead_only = decide(service, with_co[0]["id"], action="accept", co_departments=[])
    assert lead_only.status_code == 200, lead_only.text
    assignment = lead_only.json()["proposal"]["assignment"]
    assert assignment["lead_department"] == with_co[0]["routing"]["lead_department"]["name"]
    assert assignment["co_departments"] == []
    everything = decide(service, with_co[1]["id"], action="accept").json()["proposal"]["assignment"]
    assert everything["co_departments"] == [c["name"] for c in with_co[1]["routing"]["co_departments"]]


def test_reassigning_a_decided_item_needs_a_reason_and_is_audited(service: Service) -> None:
    item = pending(service)[0]
    assert decide(service, item["id"], action="accept").status_code == 200
    no_reason = decide(service, item["id"], action="reassign", lead_department="市人社局")
    assert no_reason.status_code == 422 and "改办须填写理由" in no_reason.text
    same = decide(
        service,
        item["id"],
        action="reassign",
        reason="核对",
        lead_department=item["routing"]["lead_department"]["name"],
    )
    assert same.status_code == 422 and "与现行交办相同" in same.json()["detail"]
    moved = decide(
        service,
        item["id"],
        action="reassign",
        lead_department="市人社局",
        co_departments=["市财政局"],
        reason="属就业政策",
    )
    assert moved.status_code == 200, moved.text
    decided = moved.json()["proposal"]
    assert decided["status"] == "reviewed" and decided["version"] == item["version"] + 2
    assert decided["assignment"]["lead_department"] == "市人力资源和社会保障局"  # 市人社局 is an alias
    assert decided["assignment"]["co_departments"] == ["市财政局"]
    assert decided["routing"] == item["routing"]
    with service.state.sessions() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        review = session.scalars(select(ReviewRecord).order_by(ReviewRecord.id.desc())).first()
    assert event is not None and event.action == "review.reassign" and event.proposal_id == item["id"]
    assert event.details["lead_department"] == {
        "before": item["routing"]["lead_department"]["name"],
        "final": "市人力资源和社会保障局",
    }
    assert event.details["reason"] == "属就业政策" and event.details["status"]["before"] == "reviewed"
    assert review is not None and review.action == "reassign" and review.reason == "属就业政策"
    export = service.client.get("/v1/export/training-data?format=jsonl", headers=service.headers("analyst")).text
    assert (
        '"lead_department": "市人力资源和社会保障局"' in export
        or '"lead_department":"市人力资源和社会保障局"' in export
    )


def test_reassign_turns_a_rejection_back_and_changes_an_automatic_routing(service: Service) -> None:
    posted = service.client.post("/v1/proposals", json=intake(20), headers=service.headers("screener")).json()
    auto = next(p for p in posted if p["status"] == "auto")
    waiting = [p for p in posted if p["status"] == "pending"]
    assert (
        decide(service, waiting[0]["id"], action="reassign", reason="x", lead_department="市财政局").status_code == 409
    )
    assert decide(service, waiting[0]["id"], action="reject", reason="属个人诉求").status_code == 200
    back = decide(service, waiting[0]["id"], action="reassign", reason="经核实属公共事务")
    assert back.status_code == 200, back.text
    restored = back.json()["proposal"]
    assert restored["status"] == "reviewed" and restored["rejection_reason"] is None
    assert restored["assignment"]["lead_department"] == waiting[0]["routing"]["lead_department"]["name"]
    changed = decide(service, auto["id"], action="reassign", reason="改由财政局", lead_department="市财政局")
    assert changed.status_code == 200, changed.text
    assert changed.json()["proposal"]["status"] == "reviewed"
    assert changed.json()["proposal"]["decided_by"] == "reviewer tester"
    stale = decide(
        service, auto["id"], action="reassign", reason="再改", lead_department="市教育局", version=auto["version"]
    )
    assert stale.status_code == 409 and "已被修改" in stale.json()["detail"]


def test_queue_and_listing_search_words_and_resolve_department_aliases(service: Service) -> None:
    posted = service.client.post("/v1/proposals", json=intake(40), headers=service.headers("screener")).json()
    waiting = [p for p in posted if p["status"] == "pending"]
    reviewer = service.headers("reviewer")
    target = waiting[0]
    for q in (target["external_id"], target["submitter"], f"{target['title'][:4]} {target['body'][-6:]}"):
        found = service.client.get("/v1/review", params={"q": q, "limit": 100}, headers=reviewer).json()
        assert target["id"] in [p["id"] for p in found["items"]], q
        assert all(p["status"] == "pending" for p in found["items"])
    nothing = service.client.get("/v1/review", params={"q": "绝无此词"}, headers=reviewer).json()
    assert nothing["total"] == 0
    housing = [p for p in posted if (p["assignment"] or {}).get("lead_department") == "市住房和城乡建设局"]
    assert housing, "the demo intake routes some proposals to 住建局 automatically"
    by_alias = service.client.get(
        "/v1/proposals", params={"department": "住建局", "status": "auto", "limit": 100}, headers=reviewer
    ).json()
    assert sorted(p["id"] for p in by_alias["items"]) == sorted(p["id"] for p in housing)
    unknown = service.client.get("/v1/proposals", params={"department": "市不存在局"}, headers=reviewer)
    assert unknown.status_code == 422 and "未知的单位" in unknown.json()["detail"]


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
        actions = [str(e.action) for e in events]
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
