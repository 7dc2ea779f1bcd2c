"""The trust loop over HTTP: audit items (抽查) at the configured rate, the quality figures and their gauges, the
circuit breaker that wrong audit verdicts trip and an analyst's resume restarts, and a model reload."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from proposal_router.service.db.models import AuditEvent
from tests.service.conftest import Service, start_service
from tests.service.test_proposals_api import intake


def running(database_url: str, bundle: Path, **settings: object) -> Iterator[Service]:
    service = start_service(database_url, bundle, **settings)
    service.client.__enter__()
    try:
        yield service
    finally:
        service.client.__exit__(None, None, None)
        service.state.engine.dispose()


@pytest.fixture
def audited(database_url: str, demo_bundle: Path) -> Iterator[Service]:
    """Every automatically routed proposal drawn for audit; the breaker may pause after 3 audits."""
    yield from running(database_url, demo_bundle, audit_rate=1.0, breaker_min_audits=3)


def submit(service: Service, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = service.client.post("/v1/proposals", json=rows, headers=service.headers("screener"))
    assert response.status_code in (200, 201), response.text
    result: list[dict[str, Any]] = response.json()
    return result


def quality(service: Service) -> dict[str, Any]:
    response = service.client.get("/v1/quality", headers=service.headers("analyst"))
    assert response.status_code == 200, response.text
    figures: dict[str, Any] = response.json()
    return figures


def audit_queue(service: Service) -> list[dict[str, Any]]:
    page = service.client.get("/v1/review?kind=audit&limit=200", headers=service.headers("reviewer")).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def test_audit_items_appear_at_the_configured_rate_without_holding_routing(
    database_url: str, demo_bundle: Path
) -> None:
    for service in running(database_url, demo_bundle, audit_rate=0.5):
        posted = submit(service, intake(100))
        auto = [p for p in posted if p["routing"]["decision"] == "auto" and p["status"] == "auto"]
        drawn = audit_queue(service)
        assert len(auto) >= 20
        assert 0.25 * len(auto) <= len(drawn) <= 0.75 * len(auto)  # binomial(≥20, 0.5): far outside is a bug
        assert {p["id"] for p in drawn} <= {p["id"] for p in auto}
        for item in drawn:  # routed all the same: assigned, in its department's list, marked as an open audit
            assert item["status"] == "auto" and item["assignment"]["lead_department"]
            assert item["audit"] == {"verdict": None, "audited_at": None}
        with service.state.sessions() as session:
            sampled = session.scalars(select(AuditEvent).where(AuditEvent.action == "quality.audit_sample")).all()
        assert sorted(e.proposal_id for e in sampled) == sorted(p["id"] for p in drawn)
        whole = service.client.get("/v1/review?limit=200", headers=service.headers("reviewer")).json()
        pending = sum(p["status"] == "pending" for p in posted)
        assert whole["total"] == pending + len(drawn)


def test_no_audit_items_at_rate_zero(service: Service) -> None:
    submit(service, intake(40))
    assert audit_queue(service) == []
    assert quality(service)["audited"] == 0 and quality(service)["precision_lower_bound"] is None


def test_an_accepted_audit_item_stays_routed_and_counts_as_right(audited: Service) -> None:
    item = submit(audited, intake(20))
    drawn = audit_queue(audited)[0]
    response = audited.client.post(
        f"/v1/review/{drawn['id']}", json={"action": "accept"}, headers=audited.headers("reviewer")
    )
    assert response.status_code == 200, response.text
    confirmed = response.json()["proposal"]
    assert confirmed["status"] == "auto" and confirmed["assignment"] == drawn["assignment"]
    assert confirmed["audit"]["verdict"] == "correct"
    assert drawn["id"] not in {p["id"] for p in audit_queue(audited)}
    figures = quality(audited)
    assert figures["audited"] == 1 and figures["audit_correct"] == 1 and figures["audit_precision"] == 1.0
    assert 0 < figures["precision_lower_bound"] < 1 and not figures["auto_routing_paused"]
    assert figures["auto_routed"] == sum(p["routing"]["decision"] == "auto" for p in item)
    assert figures["reviewer_agreement"] == 1.0 and figures["weeks"][-1]["audited"] == 1


def _wrong_lead(service: Service, item: dict[str, Any]) -> str:
    lead = item["assignment"]["lead_department"]
    return next(d for d in service.state.catalogue.departments if d != lead)


def test_wrong_audit_verdicts_pause_automatic_routing_and_resume_restarts_it(audited: Service) -> None:
    submit(audited, intake(30))
    drawn = audit_queue(audited)
    assert len(drawn) >= 3
    for item in drawn[:3]:  # the reviewer finds the model's lead wrong three times
        corrected = audited.client.post(
            f"/v1/review/{item['id']}",
            json={"action": "correct", "lead_department": _wrong_lead(audited, item)},
            headers=audited.headers("reviewer"),
        )
        assert corrected.status_code == 200 and corrected.json()["proposal"]["audit"]["verdict"] == "wrong"
    figures = quality(audited)
    assert figures["auto_routing_paused"] is True and figures["audited"] == 3 and figures["audit_correct"] == 0
    assert "抽查 3 件中 0 件" in figures["paused_reason"] and figures["reviewer_agreement"] == 0.0
    # new filings wait for a reviewer, saying why
    later = submit(audited, intake(60)[30:])  # new filings (not near-duplicates, which 并案 holds anyway)
    assert all(p["status"] == "pending" for p in later)
    paused = [p for p in later if p["routing"]["reason"]["code"] == "auto_paused"]
    assert paused and all("自动交办已暂停" in p["routing"]["reason"]["message"] for p in paused)
    refused = audited.client.post("/v1/quality/resume", headers=audited.headers("reviewer"))
    assert refused.status_code == 403
    resumed = audited.client.post("/v1/quality/resume", headers=audited.headers("analyst"))
    assert resumed.status_code == 200 and resumed.json()["auto_routing_paused"] is False
    assert resumed.json()["audited"] == 0 and resumed.json()["window_since"] is not None  # a fresh window
    again = submit(audited, intake(90)[60:])
    assert any(p["status"] == "auto" for p in again)
    with audited.state.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("quality.pause") == 1 and actions.count("quality.resume") == 1


def test_a_department_return_of_an_audit_item_is_a_wrong_verdict(audited: Service) -> None:
    submit(audited, intake(20))
    item = audit_queue(audited)[0]
    lead = item["assignment"]["lead_department"]
    made = audited.client.post(
        "/v1/keys",
        json={"name": "退回者", "role": "department", "department": lead},
        headers=audited.headers("admin"),
    ).json()
    returned = audited.client.post(
        f"/v1/proposals/{item['id']}/return", json={"reason": "非本单位职责"}, headers={"X-API-Key": made["key"]}
    )
    assert returned.status_code == 200 and returned.json()["audit"]["verdict"] == "wrong"
    figures = quality(audited)
    assert figures["audited"] == 1 and figures["returns"] == 1
    row = next(d for d in figures["departments"] if d["department"] == lead)
    assert row["returns"] == 1 and row["return_rate"] == 1 / row["assigned"]


def test_the_figures_are_prometheus_gauges(audited: Service) -> None:
    submit(audited, intake(20))
    item = audit_queue(audited)[0]
    audited.client.post(f"/v1/review/{item['id']}", json={"action": "accept"}, headers=audited.headers("reviewer"))
    scraped = audited.client.get("/metrics", headers=audited.headers("analyst")).text
    assert "proposal_router_quality_audited 1.0" in scraped
    assert "proposal_router_quality_audit_precision 1.0" in scraped
    assert "proposal_router_quality_auto_routing_paused 0.0" in scraped
    assert "proposal_router_quality_target_precision 0.95" in scraped


def test_reload_serves_another_bundle_records_it_and_resumes(
    audited: Service, demo_bundle: Path, tmp_path: Path
) -> None:
    other = tmp_path / "next-year"
    shutil.copytree(demo_bundle, other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = "next-year-model"
    (other / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    before = submit(audited, intake(5))[0]["routing"]["model_version"]
    for role in ("analyst", "reviewer"):
        refused = audited.client.post("/v1/model/reload", json={"path": str(other)}, headers=audited.headers(role))
        assert refused.status_code == 403
    bad = audited.client.post(
        "/v1/model/reload", json={"path": str(tmp_path / "none")}, headers=audited.headers("admin")
    )
    assert bad.status_code == 422 and "无法加载模型" in bad.json()["detail"]
    response = audited.client.post("/v1/model/reload", json={"path": str(other)}, headers=audited.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["version"] == "next-year-model"
    after = submit(audited, intake(10)[5:])
    assert {p["routing"]["model_version"] for p in after} == {"next-year-model"} != {before}
    figures = quality(audited)
    assert figures["model_version"] == "next-year-model" and figures["auto_routing_paused"] is False
    with audited.state.sessions() as session:
        reloads = session.scalars(select(AuditEvent).where(AuditEvent.action == "model.reload")).all()
    assert [(e.details["before"], e.details["after"]) for e in reloads] == [(before, "next-year-model")]
