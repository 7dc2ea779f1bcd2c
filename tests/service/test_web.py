"""The reviewers' page over HTTP: log-in, CSRF, the queue, and decisions made through its forms."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from proposal_router.model.router import Router
from proposal_router.model.screening import GROUND_NAMES, Ground
from proposal_router.service import store
from proposal_router.service.api.app import create_app
from proposal_router.service.config import Settings
from proposal_router.service.db.models import WebSession
from proposal_router.service.domain import keys
from proposal_router.service.web.session import SessionSigner
from tests.conftest import REPO
from tests.service.conftest import Service
from tests.service.test_proposals_api import intake


def log_in(service: Service, role: str = "reviewer") -> str:
    """Log the test client in and return the CSRF token the pages carry."""
    response = service.client.post("/ui/login", data={"key": service.keys[role], "next": "/ui/queue"})
    assert response.status_code == 200 and response.url.path == "/ui/queue", response.text
    match = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert match, "the logged-in page has no CSRF token"
    return match.group(1)


def submit_intake(service: Service, n: int = 20) -> list[dict[str, object]]:
    posted = service.client.post("/v1/proposals", json=intake(n), headers=service.headers("screener")).json()
    return [p for p in posted if p["status"] == "pending"]


def test_pages_need_a_reviewer_log_in(service: Service) -> None:
    response = service.client.get("/ui/queue", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login?next=/ui/queue"
    wrong = service.client.post("/ui/login", data={"key": "pr_wrong"})
    assert wrong.status_code == 401 and "密钥无效" in wrong.text
    screener = service.client.post("/ui/login", data={"key": service.keys["screener"]})
    assert screener.status_code == 401 and "screener" in screener.text
    assert service.client.get("/ui/queue", follow_redirects=False).status_code == 303


def test_log_in_never_redirects_off_site(service: Service) -> None:
    response = service.client.post(
        "/ui/login", data={"key": service.keys["reviewer"], "next": "//evil.example/"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/ui/queue"


def test_no_page_can_be_framed(service: Service) -> None:
    log_in(service)
    for response in (
        service.client.get("/ui/login"),
        service.client.get("/ui/queue"),
        service.client.get("/v1/proposals/1", headers=service.headers("reviewer")),  # a 404 too
    ):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_queue_lists_pending_items_most_uncertain_first(service: Service) -> None:
    waiting = submit_intake(service)
    page = service.client.get("/ui/queue")
    assert page.status_code == 303 or page.url.path == "/ui/login"  # not logged in yet
    log_in(service)
    page = service.client.get("/ui/queue")
    shown = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', page.text)]
    by_confidence = sorted(waiting, key=lambda p: (p["routing"]["lead_department"]["confidence"], p["id"]))  # type: ignore[index]
    assert shown == [p["id"] for p in by_confidence]
    assert f"{len(waiting)} 件" in page.text


def test_correcting_through_the_form_resolves_an_alias_and_goes_on_to_the_next_item(service: Service) -> None:
    waiting = submit_intake(service)
    queue = service.client.get("/v1/review?limit=100", headers=service.headers("reviewer")).json()["items"]
    item, following = queue[0], queue[1]
    csrf = log_in(service)
    detail = service.client.get(f"/ui/proposals/{item['id']}")
    assert detail.status_code == 200 and str(item["title"]) in detail.text
    assert f'id="next" rel="next" href="/ui/proposals/{following["id"]}"' in detail.text
    form: dict[str, str | list[str]] = {
        "csrf": csrf,
        "action": "correct",
        "version": str(item["version"]),
        "lead_department": "市住建局",
    }
    form |= {"co_departments": ["市财政局", "发改委"], "topic": ""}
    response = service.client.post(f"/ui/proposals/{item['id']}", data=form)
    assert response.status_code == 200 and response.url.path == f"/ui/proposals/{following['id']}", response.text
    assert f"提案 {item['external_id']} 已处理" in response.text  # the office's id, never the internal one
    assert f"提案 {item['id']} 已处理" not in response.text
    assert str(following["title"]) in response.text
    with service.state.sessions() as session:
        record = store.get(session, int(item["id"]))
        assert record.status == "reviewed" and record.decided_by == "reviewer tester"
        assert record.lead_department == "市住房和城乡建设局"
        assert record.co_departments == ["市财政局", "市发展和改革委员会"]
    assert len(waiting) == len(queue)


def test_the_last_decision_of_a_filtered_queue_returns_to_the_queue(service: Service) -> None:
    item = submit_intake(service)[0]
    csrf = log_in(service)
    place = f"q={item['external_id']}"
    detail = service.client.get(f"/ui/proposals/{item['id']}?{place}")
    assert 'id="next"' not in detail.text and 'id="previous"' not in detail.text  # one item matches
    form = {"csrf": csrf, "action": "accept", "scope": "lead", "place": place}
    response = service.client.post(f"/ui/proposals/{item['id']}", data=form)
    assert response.url.path == "/ui/queue" and response.url.params["q"] == item["external_id"]
    assert f"提案 {item['external_id']} 已处理" in response.text and "没有符合条件的待复核提案" in response.text


def test_queue_shows_the_submitter_and_searches_every_word(service: Service) -> None:
    waiting = submit_intake(service, 40)
    log_in(service)
    page = service.client.get("/ui/queue?order=oldest").text
    assert "<th>提案人</th>" in page and f"<td>{waiting[0]['submitter']}</td>" in page
    target = waiting[3]
    words = f"{str(target['title'])[2:6]} {target['submitter']}"
    found = service.client.get("/ui/queue", params={"q": words})
    shown = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', found.text)]
    assert target["id"] in shown and len(shown) < len(waiting)
    assert f'value="{words}"' in found.text  # the search stays in its box
    link = re.search(rf'href="(/ui/proposals/{target["id"]}[^"]*)"', found.text)
    assert link and "q=" in link.group(1)  # an item opened from a search walks through that search
    none = service.client.get("/ui/queue", params={"q": "绝无此词"})
    assert "没有符合条件的待复核提案" in none.text


def test_accepting_the_lead_only_is_apart_from_accepting_everything(service: Service) -> None:
    with_co = [p for p in submit_intake(service, 60) if p["routing"]["co_departments"]]  # type: ignore[index]
    assert len(with_co) >= 2
    csrf = log_in(service)
    detail = service.client.get(f"/ui/proposals/{with_co[0]['id']}").text
    assert "仅接受主办单位" in detail and "全部接受（含协办）" in detail
    service.client.post(f"/ui/proposals/{with_co[0]['id']}", data={"csrf": csrf, "action": "accept", "scope": "lead"})
    service.client.post(f"/ui/proposals/{with_co[1]['id']}", data={"csrf": csrf, "action": "accept", "scope": "all"})
    with service.state.sessions() as session:
        lead_only, everything = (store.get(session, int(p["id"])) for p in with_co[:2])  # type: ignore[call-overload]
        assert lead_only.status == "reviewed" and lead_only.co_departments == []
        assert everything.co_departments == [c["name"] for c in with_co[1]["routing"]["co_departments"]]  # type: ignore[index]


def test_a_wrong_department_keeps_what_was_typed(service: Service) -> None:
    item = submit_intake(service)[0]
    csrf = log_in(service)
    form = {"csrf": csrf, "action": "correct", "lead_department": "市不存在局", "co_departments": ["市财政局"]}
    response = service.client.post(f"/ui/proposals/{item['id']}", data=form | {"topic": "产业经济"})
    assert response.status_code == 422 and "未知的单位「市不存在局」" in response.text
    assert 'name="lead_department" value="市不存在局"' in response.text
    assert re.search(r'value="市财政局" checked', response.text)
    assert re.search(r'<option value="产业经济" selected>', response.text)
    assert '<details class="decide" open>' in response.text


def test_a_decided_item_can_be_reassigned_with_a_reason(service: Service) -> None:
    item = submit_intake(service)[0]
    csrf = log_in(service)
    service.client.post(f"/ui/proposals/{item['id']}", data={"csrf": csrf, "action": "reject", "reason": "属个人诉求"})
    detail = service.client.get(f"/ui/proposals/{item['id']}")
    assert "改办" in detail.text and 'id="reassign-form"' in detail.text and 'id="accept"' not in detail.text
    form = {"csrf": csrf, "action": "reassign", "lead_department": "市人社局", "co_departments": ["市财政局"]}
    missing = service.client.post(f"/ui/proposals/{item['id']}", data=form)
    assert missing.status_code == 422 and "改办须填写理由" in missing.text
    assert 'value="市人社局"' in missing.text
    done = service.client.post(f"/ui/proposals/{item['id']}", data=form | {"reason": "经核实属就业政策"})
    assert done.status_code == 200 and f"提案 {item['external_id']} 已处理" in done.text
    with service.state.sessions() as session:
        record = store.get(session, int(item["id"]))  # type: ignore[call-overload]
        assert record.status == "reviewed" and record.rejection_reason is None
        assert (record.lead_department, record.co_departments) == ("市人力资源和社会保障局", ["市财政局"])
    again = service.client.get(f"/ui/proposals/{item['id']}").text
    assert "主办 市人力资源和社会保障局，协办 市财政局" in again


def test_forms_without_the_csrf_token_are_refused(service: Service) -> None:
    item = submit_intake(service)[0]
    log_in(service)
    response = service.client.post(f"/ui/proposals/{item['id']}", data={"action": "accept"})
    assert response.status_code == 403
    forged = service.client.post(f"/ui/proposals/{item['id']}", data={"action": "accept", "csrf": "forged"})
    assert forged.status_code == 403
    with service.state.sessions() as session:
        assert store.get(session, int(item["id"])).status == "pending"  # type: ignore[call-overload]


def test_numbers_past_the_database_range_are_refused_not_overflowed(service: Service) -> None:
    item = submit_intake(service)[0]
    csrf = log_in(service)
    huge = "99999999999999999999"
    assert service.client.get(f"/ui/queue?page={huge}").status_code == 422
    assert service.client.get(f"/ui/queue?done={huge}").status_code == 422
    assert service.client.get("/ui/proposals/9223372036854775808").status_code == 422
    form = {"csrf": csrf, "action": "accept", "version": huge}
    assert service.client.post(f"/ui/proposals/{item['id']}", data=form).status_code == 422
    answer = service.client.post(
        f"/v1/review/{item['id']}", json={"action": "accept", "version": 2**64}, headers=service.headers("reviewer")
    )
    assert answer.status_code == 422
    with service.state.sessions() as session:
        assert store.get(session, int(item["id"])).status == "pending"  # type: ignore[call-overload]


def test_bad_decisions_are_explained_on_the_page(service: Service) -> None:
    first, second = submit_intake(service)[:2]
    csrf = log_in(service)
    unknown = {"csrf": csrf, "action": "correct", "lead_department": "市不存在局"}
    response = service.client.post(f"/ui/proposals/{first['id']}", data=unknown)
    assert response.status_code == 422 and "未知的单位" in response.text
    no_reason = service.client.post(f"/ui/proposals/{first['id']}", data={"csrf": csrf, "action": "reject"})
    assert no_reason.status_code == 422 and "不予立案须填写理由" in no_reason.text
    reject = {"csrf": csrf, "action": "reject", "reason": "属个人诉求"}
    assert service.client.post(f"/ui/proposals/{second['id']}", data=reject).url.path.startswith("/ui/proposals/")
    again = service.client.post(f"/ui/proposals/{second['id']}", data={"csrf": csrf, "action": "accept"})
    assert again.status_code == 409 and "已由 reviewer tester 处理" in again.text


def test_revoking_the_key_ends_the_browser_session(service: Service) -> None:
    log_in(service)
    prefix = service.keys["reviewer"][:10]
    with service.state.sessions() as session:
        keys.revoke_key(session, prefix, "test")
    assert service.client.get("/ui/queue", follow_redirects=False).status_code == 303


def test_a_cookie_replayed_after_log_out_gets_the_log_in_page(service: Service, demo_bundle: Path) -> None:
    """Two server processes on one database, as behind a load balancer: log-out on one ends it on both."""
    settings = Settings(database_url=service.state.settings.database_url, session_secret="shared")
    other = TestClient(create_app(settings, Router(demo_bundle)))
    service.state.signer = SessionSigner("shared")  # both processes are given the same secret
    try:
        csrf = log_in(service)
        cookie = {"Cookie": f"pr_session={service.client.cookies['pr_session']}"}
        assert other.get("/ui/queue", headers=cookie, follow_redirects=False).status_code == 200
        out = service.client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/ui/login"
        service.client.cookies.clear()
        for client in (service.client, other):  # the copy of the cookie an attacker kept
            replayed = client.get("/ui/queue", headers=cookie, follow_redirects=False)
            assert replayed.status_code == 303 and replayed.headers["location"] == "/ui/login?next=/ui/queue"
            assert 'id="key"' in client.get("/ui/queue", headers=cookie).text  # the log-in page
    finally:
        other.close()
        other.app.state.services.engine.dispose()  # type: ignore[attr-defined]
    with service.state.sessions() as session:
        assert session.scalars(select(WebSession)).all() == []


def test_log_out_ends_only_that_browser_session(service: Service) -> None:
    first = log_in(service)
    first_cookie = {"Cookie": f"pr_session={service.client.cookies['pr_session']}"}
    service.client.cookies.clear()
    second = log_in(service)  # the same key in a second browser
    assert second != first
    assert service.client.post("/ui/logout", data={"csrf": second}, follow_redirects=False).status_code == 303
    service.client.cookies.clear()
    assert service.client.get("/ui/queue", headers=first_cookie, follow_redirects=False).status_code == 200


def test_log_out_needs_the_csrf_token(service: Service) -> None:
    log_in(service)
    refused = service.client.post("/ui/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403 and "表单令牌" in refused.text
    assert service.client.get("/ui/queue", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://testserver:8080"},  # another port of the same host is another site
        {"Origin": "null"},
        {"Origin": "http://evil.example", "Referer": "http://testserver/ui/login"},
        {"Referer": "http://evil.example/login.html"},
        {"Origin": "http://testserver.evil.example"},
    ],
)
def test_a_cross_site_log_in_is_refused(service: Service, headers: dict[str, str]) -> None:
    form = {"key": service.keys["reviewer"], "next": "/ui/queue"}
    response = service.client.post("/ui/login", data=form, headers=headers, follow_redirects=False)
    assert response.status_code == 403 and "其他网站" in response.text
    assert "pr_session" not in response.cookies
    with service.state.sessions() as session:
        assert session.scalars(select(WebSession)).all() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": "http://TestServer:80"},
        {"Referer": "http://testserver/ui/login?next=/ui/queue"},
        {"Origin": "https://review.example.gov", "X-Forwarded-Host": "review.example.gov"},  # behind a proxy
        {},  # neither header: curl or a script, not another site's form
    ],
)
def test_a_same_site_log_in_is_allowed(service: Service, headers: dict[str, str]) -> None:
    form = {"key": service.keys["reviewer"], "next": "/ui/queue"}
    response = service.client.post("/ui/login", data=form, headers=headers, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/queue", response.text
    assert service.client.get("/ui/queue", follow_redirects=False).status_code == 200


def prescreen_rows() -> list[dict[str, str]]:
    with (REPO / "data" / "demo" / "prescreen.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def as_filing(row: dict[str, str], external_id: str | None = None) -> dict[str, str]:
    fields = {"title": row["title"], "body": row["body"], "submitter": row["submitter"]}
    return {"external_id": external_id or row["id"], **fields}


def test_flagged_filings_are_badged_filtered_and_rejected_on_their_ground(service: Service) -> None:
    not_to_accept = [as_filing(r) for r in prescreen_rows() if r["ground"]]
    posted = service.client.post("/v1/proposals", json=not_to_accept + intake(20), headers=service.headers("screener"))
    answers = posted.json()
    flagged = [p for p in answers if p["routing"]["screening"]]
    proper = [p for p in answers if p["status"] == "pending" and not p["routing"]["screening"]]
    assert flagged and proper
    assert all(p["status"] == "pending" for p in flagged)  # a flag sends a filing to review, never rejects it
    csrf = log_in(service)
    page = service.client.get("/ui/queue", params={"prescreen": "flagged"})
    shown = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', page.text)]
    assert sorted(shown) == sorted(p["id"] for p in flagged) and proper[0]["id"] not in shown
    assert '<option value="flagged" selected>有审查提示</option>' in page.text
    first = next(p for p in flagged if p["id"] == shown[0])  # the queue's first, most uncertain
    flag = first["routing"]["screening"][0]
    ground = GROUND_NAMES[Ground(flag["code"])]
    assert f'<span class="badge flag" title="{escape(flag["message"])}">审查提示：{ground}</span>' in page.text
    link = re.search(rf'href="(/ui/proposals/{first["id"]}[^"]*)"', page.text)
    assert link and "prescreen=flagged" in link.group(1)  # the filter is carried to the item and the next one
    everything = service.client.get("/ui/queue").text
    assert f'<tr data-id="{proper[0]["id"]}">' in everything and "审查提示：" in everything

    detail = service.client.get(f"/ui/proposals/{first['id']}?prescreen=flagged").text
    assert 'id="prescreen"' in detail and ground in detail and escape(flag["message"]) in detail
    assert f"<mark>{escape(flag['evidence'])}</mark>" in detail  # the sentence behind the flag, quoted
    if flag["evidence"] in str(first["title"]) + str(first["body"]):  # and marked where it stands in the filing
        assert f'<mark class="evidence">{escape(flag["evidence"])}</mark>' in detail
    assert f'<option value="{flag["code"]}" selected>{ground}</option>' in detail  # the ground preset
    plain = next((p for p in proper if not p["routing"]["quality"] and not p["similar"]), None)
    if plain is not None:  # nothing found: no 审查立案 section
        assert 'id="prescreen"' not in service.client.get(f"/ui/proposals/{plain['id']}").text

    bogus = {"csrf": csrf, "action": "reject", "ground": "bogus", "reason": "理由照录"}
    refused = service.client.post(f"/ui/proposals/{first['id']}", data=bogus)
    assert refused.status_code == 422 and "未知的不予立案情形" in refused.text and "理由照录" in refused.text
    form = {"csrf": csrf, "action": "reject", "ground": flag["code"], "version": str(first["version"])}
    done = service.client.post(f"/ui/proposals/{first['id']}", data=form | {"place": "prescreen=flagged"})
    assert done.status_code == 200 and f"提案 {first['external_id']} 已处理" in done.text
    assert done.url.path == (f"/ui/proposals/{shown[1]}" if len(shown) > 1 else "/ui/queue")  # within the filter
    stored = service.client.get(f"/v1/proposals/{first['id']}", headers=service.headers("reviewer")).json()
    assert stored["status"] == "rejected" and stored["rejection_reason"].startswith(ground)


def test_an_exact_repeat_is_badged_compared_and_merged_through_the_page(service: Service) -> None:
    original = submit_intake(service)[0]
    repeat = {**{k: original[k] for k in ("title", "body", "submitter")}, "external_id": "REPEAT-1"}
    again = service.client.post("/v1/proposals", json=repeat, headers=service.headers("screener")).json()
    assert again["status"] == "pending" and [s["id"] for s in again["similar"]] == [original["id"]]
    accepted = service.client.post(
        f"/v1/review/{original['id']}", json={"action": "accept"}, headers=service.headers("reviewer")
    ).json()
    lead = accepted["proposal"]["assignment"]["lead_department"]
    csrf = log_in(service)
    page = service.client.get("/ui/queue", params={"prescreen": "similar"}).text
    shown = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', page)]
    assert shown == [again["id"]]
    assert f"可并案：{original['external_id']}</span>" in page

    detail = service.client.get(f"/ui/proposals/{again['id']}").text
    assert f'<tr data-similar="{original["id"]}">' in detail and f"compare={original['id']}" in detail
    assert f'name="merge_into" value="{original["id"]}" checked' in detail  # the best candidate preselected
    assert f"已复核，主办 {lead}" in detail
    compared = service.client.get(f"/ui/proposals/{again['id']}", params={"compare": original["id"]}).text
    columns = compared.split('id="compare"', 1)[1].split("</section>", 1)[0]
    assert "本件 · 编号 REPEAT-1" in columns and f"对照 · 编号 {original['external_id']}" in columns
    assert columns.count(escape(str(original["title"]))) == 2  # both filings, side by side

    typed = {"csrf": csrf, "action": "merge", "merge_into": "other", "merge_other": "无此编号", "reason": "同一事项"}
    refused = service.client.post(f"/ui/proposals/{again['id']}", data=typed)
    assert refused.status_code == 422 and "没有编号为「无此编号」的提案" in refused.text
    assert 'value="无此编号"' in refused.text and "同一事项" in refused.text
    form = {"csrf": csrf, "action": "merge", "merge_into": str(original["id"]), "version": str(again["version"])}
    done = service.client.post(f"/ui/proposals/{again['id']}", data=form | {"reason": "与原件所提事项相同"})
    assert done.status_code == 200 and "提案 REPEAT-1 已处理" in done.text
    stored = service.client.get(f"/v1/proposals/{again['id']}", headers=service.headers("reviewer")).json()
    assert stored["merged_into"] == original["id"] and stored["status"] == "reviewed"
    assert stored["assignment"]["lead_department"] == lead  # handled by the departments of the one merged into
    assert (
        f'已并入 <a href="/ui/proposals/{original["id"]}">{original["external_id"]}</a>'
        in service.client.get(f"/ui/proposals/{again['id']}").text
    )
