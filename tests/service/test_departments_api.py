"""Departments in the service: a department key reads its own list, returns (二次交办) what it leads within the
return window or signs for it (签收); a returned proposal is back in the review queue and reassigned."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from proposal_router.service.db.models import AuditEvent, ProposalRecord, now
from tests.service.conftest import Service
from tests.service.test_proposals_api import intake


def routed(service: Service, n: int = 40) -> list[dict[str, Any]]:
    posted = service.client.post("/v1/proposals", json=intake(n), headers=service.headers("screener")).json()
    auto = [p for p in posted if p["status"] == "auto"]
    assert len(auto) >= 3, "the demo intake should route several proposals automatically at threshold 0.9"
    return auto


def department_key(service: Service, department: str, name: str | None = None) -> dict[str, str]:
    payload = {"name": name or f"{department} 办公室", "role": "department", "department": department}
    response = service.client.post("/v1/keys", json=payload, headers=service.headers("admin"))
    assert response.status_code == 201, response.text
    assert response.json()["department"] is not None
    return {"X-API-Key": response.json()["key"]}


def give_back(service: Service, proposal_id: int, key: dict[str, str], reason: str = "不属本单位职责") -> Any:
    return service.client.post(f"/v1/proposals/{proposal_id}/return", json={"reason": reason}, headers=key)


def test_a_department_key_sees_its_own_list_and_nothing_else(service: Service) -> None:
    item = routed(service)[0]
    lead = item["assignment"]["lead_department"]
    key = department_key(service, lead)
    listed = service.client.get("/v1/department/proposals", headers=key)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["department"] == lead and body["return_days"] == 10 and body["total"] == len(body["items"])
    for row in body["items"]:
        assert lead == row["lead_department"] if row["role"] == "lead" else lead in row["co_departments"]
    mine = next(r for r in body["items"] if r["id"] == item["id"])
    assert mine["role"] == "lead" and mine["can_return"] is True
    assigned = datetime.fromisoformat(item["assigned_at"])
    assert datetime.fromisoformat(mine["return_deadline"]) == assigned + timedelta(days=10)
    # nothing else: not the office's listings, not the queue, not another proposal by id
    for path in ("/v1/proposals", "/v1/review", f"/v1/proposals/{item['id']}", "/v1/assignments"):
        refused = service.client.get(path, headers=key)
        assert refused.status_code == 403 and "department" in refused.json()["detail"], path
    office = service.client.get("/v1/department/proposals", headers=service.headers("admin"))
    assert office.status_code == 403 and "承办单位" in office.json()["detail"]


def test_a_department_key_is_made_with_an_alias_and_must_name_its_department(service: Service) -> None:
    response = service.client.post(
        "/v1/keys",
        json={"name": "住建局 李科长", "role": "department", "department": "市住建局"},  # an alias in the taxonomy
        headers=service.headers("admin"),
    )
    assert response.status_code == 201 and response.json()["department"] == "市住房和城乡建设局"
    missing = service.client.post(
        "/v1/keys", json={"name": "无单位", "role": "department"}, headers=service.headers("admin")
    )
    assert missing.status_code == 422 and "必须指定所属单位" in missing.json()["detail"]


def test_a_return_within_the_window_goes_back_to_the_queue_and_is_reassigned(service: Service) -> None:
    item = routed(service)[0]
    lead = item["assignment"]["lead_department"]
    key = department_key(service, lead)
    response = give_back(service, item["id"], key, "属市场监管职责，建议改由市场监管部门主办")
    assert response.status_code == 200, response.text
    back = response.json()
    assert back["status"] == "pending" and back["assignment"] is None
    assert [(r["department"], r["reason"]) for r in back["returns"]] == [
        (lead, "属市场监管职责，建议改由市场监管部门主办")
    ]
    queue = service.client.get("/v1/review?kind=returned", headers=service.headers("reviewer")).json()
    assert [p["id"] for p in queue["items"]] == [item["id"]]
    # accepting takes the model's next department, never the one that returned it
    accepted = service.client.post(
        f"/v1/review/{item['id']}", json={"action": "accept"}, headers=service.headers("reviewer")
    )
    assert accepted.status_code == 200, accepted.text
    final = accepted.json()["proposal"]["assignment"]
    assert final["lead_department"] not in (None, lead) and lead not in final["co_departments"]
    assert item["id"] not in {
        r["id"] for r in service.client.get("/v1/department/proposals", headers=key).json()["items"]
    }
    with service.state.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.proposal_id == item["id"])).all()
    returned = next(e for e in events if e.action == "department.return")
    assert returned.details["department"] == lead and returned.details["before"]["lead_department"] == lead
    assert returned.actor == f"{lead} 办公室"
    export = service.client.get("/v1/export/training-data", headers=service.headers("analyst"))
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(export.text.lstrip("\ufeff")))}
    assert rows[item["external_id"]]["returned_from"] == lead
    assert rows[item["external_id"]]["lead_department"] == final["lead_department"]


def test_another_department_or_a_co_handler_may_not_return_it(service: Service) -> None:
    auto = routed(service)
    item = next((p for p in auto if p["assignment"]["co_departments"]), auto[0])
    lead = item["assignment"]["lead_department"]
    other = next(
        d for d in service.state.catalogue.departments if d != lead and d not in item["assignment"]["co_departments"]
    )
    refused = give_back(service, item["id"], department_key(service, other))
    assert refused.status_code == 403 and f"不是交由 {other} 主办" in refused.json()["detail"]
    if item["assignment"]["co_departments"]:
        co = item["assignment"]["co_departments"][0]
        by_co = give_back(service, item["id"], department_key(service, co))
        assert by_co.status_code == 403 and "只有主办单位可以退回" in by_co.json()["detail"]
    unchanged = service.client.get(f"/v1/proposals/{item['id']}", headers=service.headers("screener")).json()
    assert unchanged["status"] == "auto" and unchanged["returns"] == []


def test_past_the_window_a_return_is_refused_naming_the_deadline(service: Service) -> None:
    item = routed(service)[0]
    key = department_key(service, item["assignment"]["lead_department"])
    assigned = now() - timedelta(days=11)
    with service.state.sessions() as session:
        session.execute(update(ProposalRecord).where(ProposalRecord.id == item["id"]).values(assigned_at=assigned))
        session.commit()
    refused = give_back(service, item["id"], key)
    assert refused.status_code == 409
    deadline = (assigned + timedelta(days=10)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{deadline:%Y-%m-%d %H:%M} 截止" in refused.json()["detail"]
    listed = service.client.get("/v1/department/proposals", headers=key).json()["items"]
    assert next(r for r in listed if r["id"] == item["id"])["can_return"] is False


def test_once_signed_for_it_cannot_be_returned(service: Service) -> None:
    item = routed(service)[0]
    key = department_key(service, item["assignment"]["lead_department"])
    signed = service.client.post(f"/v1/proposals/{item['id']}/acknowledge", headers=key)
    assert signed.status_code == 200 and signed.json()["acknowledged_at"] is not None
    assert signed.json()["acknowledged_by"] == f"{item['assignment']['lead_department']} 办公室"
    again = service.client.post(f"/v1/proposals/{item['id']}/acknowledge", headers=key)
    assert again.status_code == 200 and again.json()["acknowledged_at"] == signed.json()["acknowledged_at"]
    refused = give_back(service, item["id"], key)
    assert refused.status_code == 409 and "已于" in refused.json()["detail"] and "签收" in refused.json()["detail"]


def test_a_return_needs_a_reason(service: Service) -> None:
    item = routed(service)[0]
    key = department_key(service, item["assignment"]["lead_department"])
    for body in ({"reason": "   "}, {}):
        response = service.client.post(f"/v1/proposals/{item['id']}/return", json=body, headers=key)
        assert response.status_code == 422, body
