"""审查立案 over HTTP: a filing not to accept is flagged and found by the queue's filter, the reviewer rejects
it with the ground preset; a repeat under a new id is merged (并案) into the first, and the final lists
show the group handled by one lead department, each member with its own id and submitter."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from proposal_router.service.db.models import AuditEvent
from tests.conftest import REPO
from tests.service.conftest import Service
from tests.service.test_proposals_api import intake
from tests.service.test_review_api import decide


def prescreen(ground: str) -> dict[str, Any]:
    with (REPO / "data" / "demo" / "prescreen.csv").open(encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["ground"] == ground)
    return {"external_id": row["id"], "title": row["title"], "body": row["body"], "submitter": row["submitter"]}


def post(service: Service, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = service.client.post("/v1/proposals", json=items, headers=service.headers("screener"))
    assert response.status_code == 201, response.text
    answers: list[dict[str, Any]] = response.json()
    return answers


def test_a_flagged_filing_is_found_by_the_filter_and_rejected_with_its_ground(service: Service) -> None:
    personal, proper = post(service, [prescreen("personal"), intake(1)[0]])
    flags = personal["routing"]["screening"]
    assert [f["code"] for f in flags] == ["personal"] and flags[0]["evidence"] in personal["body"]
    assert personal["routing"]["reason"]["code"] == "screening_flag" and personal["status"] == "pending"
    assert proper["routing"]["screening"] == []
    queue = service.client.get("/v1/review?prescreen=flagged", headers=service.headers("reviewer")).json()
    assert [i["id"] for i in queue["items"]] == [personal["id"]]
    response = decide(service, personal["id"], action="reject", ground="personal")
    assert response.status_code == 200, response.text
    assert response.json()["proposal"]["rejection_reason"] == "个人或亲属的求决事项"
    twin = post(service, [{**prescreen("personal"), "external_id": "2026-R-再", "submitter": "又一位委员"}])[0]
    assert twin["similar"][0]["id"] == personal["id"]
    into_pending = decide(service, twin["id"], action="merge", merge_into=personal["id"])
    assert into_pending.status_code == 200, into_pending.text  # the group has the pending head's suggestion
    assert (
        into_pending.json()["proposal"]["assignment"]["lead_department"]
        == personal["routing"]["lead_department"]["name"]
    )
    refused = decide(service, proper["id"], action="reject", ground="涉密")
    assert refused.status_code == 422
    exported = service.client.get("/v1/export/rejections", headers=service.headers("analyst"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    (row,) = csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")))
    assert (row["id"], row["ground"]) == (personal["external_id"], "personal")  # what train --rejections reads


def test_a_repeat_is_merged_and_the_final_lists_show_the_group(service: Service) -> None:
    first = intake(1)[0]
    repeat = {**first, "external_id": "2026-并1", "submitter": "另一位委员"}
    head, member = post(service, [first, repeat])
    assert member["similar"][0]["id"] == head["id"] and member["status"] == "pending"
    assert (
        member["routing"]["reason"]["code"] == "similar_filing"
        and first["external_id"] in member["routing"]["reason"]["message"]
    )
    listed = service.client.get("/v1/proposals?prescreen=similar", headers=service.headers("screener")).json()
    assert [i["id"] for i in listed["items"]] == [member["id"]]
    assert decide(service, member["id"], action="merge", merge_into=member["id"]).status_code == 422
    assert (
        decide(service, member["id"], action="merge", merge_into=head["id"], lead_department="市财政局").status_code
        == 422
    )
    merged = decide(service, member["id"], action="merge", merge_into=head["id"], reason="与前一件所提相同")
    assert merged.status_code == 200, merged.text
    assert merged.json()["proposal"]["merged_into"] == head["id"]
    change = "correct" if head["status"] == "pending" else "reassign"  # the group follows its head's 改办 too
    assert decide(service, head["id"], action=change, lead_department="市民政局", reason="属民政").status_code == 200

    final = service.client.get("/v1/assignments", headers=service.headers("reviewer")).json()
    by_id = {a["external_id"]: a for a in final["items"]}
    assert by_id[repeat["external_id"]]["lead_department"] == by_id[first["external_id"]]["lead_department"]
    assert by_id[first["external_id"]]["lead_department"] == "市民政局"
    assert by_id[repeat["external_id"]]["merged_into"] == first["external_id"]
    assert by_id[first["external_id"]]["merged"] == [repeat["external_id"]]
    assert by_id[repeat["external_id"]]["submitter"] == "另一位委员"

    xlsx = service.client.get("/v1/assignments?format=xlsx", headers=service.headers("reviewer")).content
    rows = list(load_workbook(io.BytesIO(xlsx))["交办清单"].iter_rows(values_only=True))
    header = rows[0].index("并案")
    groups = {r[0]: r[header] for r in rows[1:]}
    assert groups[first["external_id"]] == f"并入本件：{repeat['external_id']}"
    assert groups[repeat["external_id"]] == f"并入 {first['external_id']}"
    with service.state.sessions() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.proposal_id == member["id"])).all()
    assert "review.merge" in actions
