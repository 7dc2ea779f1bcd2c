"""Submitting and reading proposals through /v1/proposals, as a screener's client would."""

from __future__ import annotations

import csv
from typing import Any

from tests.conftest import REPO
from tests.service.conftest import Service


def intake(n: int) -> list[dict[str, Any]]:
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:n]
    return [{"external_id": r["id"], "title": r["title"], "body": r["body"], "submitter": r["submitter"]} for r in rows]


def test_one_proposal_is_stored_routed_and_answered(service: Service) -> None:
    item = intake(1)[0]
    response = service.client.post("/v1/proposals", json=item, headers=service.headers("screener"))
    assert response.status_code == 201, response.text
    body = response.json()
    routing = body["routing"]
    assert body["external_id"] == item["external_id"] and body["title"] == item["title"]
    assert routing["model_version"] == service.state.router.version
    assert len(routing["candidates"]) == 3
    assert routing["lead_department"] == routing["candidates"][0]
    assert routing["decision"] in ("auto", "review")
    if routing["decision"] == "auto":
        assert body["status"] == "auto" and body["assignment"]["lead_department"] == routing["lead_department"]["name"]
    else:
        assert body["status"] == "pending" and body["assignment"] is None and routing["reason"]["message"]
    again = service.client.get(f"/v1/proposals/{body['id']}", headers=service.headers("screener"))
    assert again.json()["routing"] == routing


def test_a_list_is_routed_and_resubmission_never_duplicates(service: Service) -> None:
    items = intake(6)
    first = service.client.post("/v1/proposals", json=items[:4], headers=service.headers("screener"))
    assert first.status_code == 201
    ids = {p["external_id"]: p["id"] for p in first.json()}
    decisions = {p["routing"]["decision"] for p in first.json()}
    assert decisions  # routed, whatever the decision

    second = service.client.post("/v1/proposals", json=[*items[2:], items[2]], headers=service.headers("screener"))
    answers = second.json()
    assert [a["external_id"] for a in answers] == [i["external_id"] for i in [*items[2:], items[2]]]
    assert [a["duplicate"] for a in answers] == [True, True, False, False, True]
    assert answers[0]["id"] == ids[items[2]["external_id"]]
    assert answers[4]["id"] == answers[0]["id"]

    everything = service.client.get("/v1/proposals?limit=100", headers=service.headers("screener")).json()
    assert everything["total"] == 6

    repeat = service.client.post("/v1/proposals", json=items[0], headers=service.headers("screener"))
    assert repeat.status_code == 200 and repeat.json()["duplicate"]
    assert repeat.json()["id"] == ids[items[0]["external_id"]]


def test_listing_filters_and_pages(service: Service) -> None:
    posted = service.client.post("/v1/proposals", json=intake(12), headers=service.headers("screener")).json()
    headers = service.headers("screener")
    pending = [p for p in posted if p["status"] == "pending"]
    listed = service.client.get("/v1/proposals?status=pending&limit=100", headers=headers).json()
    assert listed["total"] == len(pending)
    assert {p["id"] for p in listed["items"]} == {p["id"] for p in pending}

    department = posted[0]["routing"]["lead_department"]["name"]
    by_department = service.client.get("/v1/proposals", params={"department": department}, headers=headers).json()
    assert by_department["total"] == sum(p["routing"]["lead_department"]["name"] == department for p in posted)

    page = service.client.get("/v1/proposals?limit=5&offset=5", headers=headers).json()
    assert page["total"] == 12 and len(page["items"]) == 5
    newest_first = [p["id"] for p in service.client.get("/v1/proposals?limit=100", headers=headers).json()["items"]]
    assert newest_first == sorted(newest_first, reverse=True)
    assert [p["id"] for p in page["items"]] == newest_first[5:10]

    future = service.client.get("/v1/proposals", params={"since": "2999-01-01T00:00:00Z"}, headers=headers).json()
    assert future["total"] == 0


def test_explanation_names_words_of_the_text(service: Service) -> None:
    item = intake(1)[0]
    created = service.client.post("/v1/proposals", json=item, headers=service.headers("screener")).json()
    terms = service.client.get(f"/v1/proposals/{created['id']}/explanation", headers=service.headers("screener"))
    assert terms.status_code == 200
    words = terms.json()
    assert words and all(w["text"] in item["title"] + item["body"] for w in words)
    assert [w["weight"] for w in words] == sorted((w["weight"] for w in words), reverse=True)


def test_unknown_proposal_is_404(service: Service) -> None:
    response = service.client.get("/v1/proposals/999999", headers=service.headers("screener"))
    assert response.status_code == 404 and "999999" in response.json()["detail"]


def test_a_filing_names_the_earlier_ones_it_could_be_merged_with(service: Service) -> None:
    """并案: a restatement and an exact repeat under a new id find the stored filing; an unrelated one nothing."""
    first, other = intake(2)
    screener = service.headers("screener")
    stored = service.client.post("/v1/proposals", json=[first, other], headers=screener).json()
    assert [p["similar"] for p in stored] == [[], []]
    repeat = {**first, "external_id": "2026-重复", "submitter": "另一位委员"}
    restated = {**first, "external_id": "2026-改写", "body": "据调研，" + first["body"].replace("建议", "为此建议", 1)}
    answers = service.client.post("/v1/proposals", json=[repeat, restated], headers=screener).json()
    assert answers[0]["similar"][0] == {"id": stored[0]["id"], "external_id": first["external_id"], "similarity": 1.0}
    assert [s["id"] for s in answers[1]["similar"]][:2] == [stored[0]["id"], answers[0]["id"]]
    assert all(s["id"] != stored[1]["id"] for a in answers for s in a["similar"])
    again = service.client.get(f"/v1/proposals/{answers[1]['id']}", headers=screener).json()
    assert again["similar"] == answers[1]["similar"]
    assert isinstance(again["routing"]["screening"], list) and isinstance(again["routing"]["quality"], list)
