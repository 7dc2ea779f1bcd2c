"""The reviewers' page over HTTP: log-in, CSRF, the queue, and decisions made through its forms."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from proposal_router.model.router import Router
from proposal_router.model.screening import GROUND_NAMES, Ground
from proposal_router.service import store, trust
from proposal_router.service.api.app import create_app
from proposal_router.service.config import Settings
from proposal_router.service.db.models import WebSession
from proposal_router.service.domain import keys
from proposal_router.service.security import Role
from proposal_router.service.web.session import SessionSigner
from tests.conftest import REPO
from tests.service.conftest import Service, start_service
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
    compared = service.client.get(f"/ui/proposals/{again['id']}", params={"compare": str(original["id"])}).text
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


# 二次交办 and the trust loop: the departments' page, returned and audit items in the queue, the quality page.

HOUSING, FINANCE, HR = "市住房和城乡建设局", "市财政局", "市人力资源和社会保障局"


def department_key(service: Service, department: str) -> str:
    with service.state.sessions() as session:
        return keys.create_key(session, f"{department} 经办人", Role.DEPARTMENT, "test", department=department)[1]


def log_in_as(service: Service, key: str, lands: str) -> str:
    """Log in with any key; the page it lands on, and its CSRF token."""
    response = service.client.post("/ui/login", data={"key": key, "next": "/ui/queue"})
    assert response.status_code == 200 and response.url.path == lands, response.text
    match = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert match, "the logged-in page has no CSRF token"
    return match.group(1)


def assigned_to_housing(service: Service) -> dict[str, object]:
    """A pending filing a reviewer assigns through the page: 住建局 leads, 财政局 co-handles."""
    item = submit_intake(service)[0]
    csrf = log_in(service)
    form = {"csrf": csrf, "action": "correct", "lead_department": HOUSING, "co_departments": [FINANCE]}
    assert service.client.post(f"/ui/proposals/{item['id']}", data=form).status_code == 200
    return item


def test_a_department_key_logs_in_to_its_own_list_and_nothing_else(service: Service) -> None:
    item = assigned_to_housing(service)
    log_in(service)
    assert "本页面供承办单位使用" in service.client.get("/ui/department").text  # a reviewer has no such list
    assert service.client.get("/ui/department").status_code == 403
    csrf = re.search(r'name="csrf" value="([^"]+)"', service.client.get("/ui/queue").text)
    assert csrf
    office = service.client.post(f"/ui/department/{item['id']}/return", data={"csrf": csrf.group(1), "reason": "x"})
    assert office.status_code == 403 and "本页面供承办单位使用" in office.text  # nor return for one
    log_in_as(service, department_key(service, HOUSING), "/ui/department")
    page = service.client.get("/ui/department")
    assert f"{HOUSING} · 本单位提案" in page.text
    row = re.search(rf'<tr data-id="{item["id"]}" data-state="(\w+)">(.*?)</tr>', page.text, re.S)
    assert row and row.group(1) == "open", page.text
    assert "主办" in row.group(2) and "可退回" in row.group(2) and f"协办：{FINANCE}" in row.group(2)
    assert f'action="/ui/department/{item["id"]}/return"' in row.group(2) and "签收" in row.group(2)
    with service.state.sessions() as session:
        record = store.get(session, int(item["id"]))  # type: ignore[call-overload]
        assert record.assigned_at is not None
        assigned = record.assigned_at.replace(tzinfo=record.assigned_at.tzinfo or UTC)
    local = assigned.astimezone(ZoneInfo(service.state.settings.timezone))
    assert f"{local:%Y-%m-%d %H:%M}" in row.group(2)  # 交办时间 in the office's time zone
    assert f"{local + timedelta(days=service.state.settings.return_days):%Y-%m-%d %H:%M}" in row.group(2)
    for path in ("/ui/queue", f"/ui/proposals/{item['id']}", "/ui/batches", "/ui/quality", "/ui"):
        response = service.client.get(path, follow_redirects=False)
        if response.status_code == 303 and response.headers["location"] == "/ui/queue":
            response = service.client.get("/ui/queue", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/ui/department", path
    reviewing = service.client.post(f"/ui/proposals/{item['id']}", data={"action": "accept"}, follow_redirects=False)
    assert reviewing.status_code == 303 and reviewing.headers["location"] == "/ui/department"
    assert "待复核队列" not in page.text and "交办质量" not in page.text  # its nav is its page only
    log_in_as(service, department_key(service, FINANCE), "/ui/department")
    co = service.client.get("/ui/department").text
    co_row = re.search(rf'<tr data-id="{item["id"]}" data-state="co">(.*?)</tr>', co, re.S)
    assert co_row and "协办" in co_row.group(1) and f"主办：{HOUSING}" in co_row.group(1)
    assert "/return" not in co_row.group(1)  # a co-department neither returns nor signs


def test_a_department_returns_an_item_and_the_reviewer_sees_it_as_returned(service: Service) -> None:
    item = assigned_to_housing(service)
    csrf = log_in_as(service, department_key(service, HOUSING), "/ui/department")
    reason = "属人社部门职责，建议改由市人社局主办"
    done = service.client.post(f"/ui/department/{item['id']}/return", data={"csrf": csrf, "reason": reason})
    assert done.status_code == 200 and done.url.path == "/ui/department"
    assert f"提案 {item['external_id']} 已退回提案委员会" in done.text
    assert f'<tr data-id="{item["id"]}"' not in done.text  # no longer its item
    log_in(service)
    queue = service.client.get("/ui/queue").text
    row = re.search(rf'<tr data-id="{item["id"]}">(.*?)</tr>', queue, re.S)
    assert row and f"二次交办：{HOUSING} 退回" in row.group(1) and reason in row.group(1)
    returned = service.client.get("/ui/queue?kind=returned").text
    assert re.findall(r'<tr data-id="(\d+)">', returned) == [str(item["id"])]
    assert '<option value="returned" selected>二次交办</option>' in returned
    assert f'<tr data-id="{item["id"]}">' not in service.client.get("/ui/queue?kind=audit").text
    detail = service.client.get(f"/ui/proposals/{item['id']}?kind=returned").text
    section = re.search(r'<section class="card returns" id="returns">(.*?)</section>', detail, re.S)
    assert section and HOUSING in section.group(1) and reason in section.group(1) and "经办人" in section.group(1)
    suggested = re.search(r'<strong id="suggested">([^<]+)</strong>', detail)
    assert suggested and suggested.group(1) != HOUSING
    assert f'name="lead_department" value="{HOUSING}"' not in detail  # the correction does not start from it
    csrf = log_in(service)
    form = {"csrf": csrf, "action": "correct", "lead_department": "市人社局", "place": "kind=returned"}
    after = service.client.post(f"/ui/proposals/{item['id']}", data=form)
    assert after.status_code == 200 and after.url.path == "/ui/queue" and after.url.params["kind"] == "returned"
    with service.state.sessions() as session:
        record = store.get(session, int(item["id"]))  # type: ignore[call-overload]
        assert (record.status, record.lead_department) == ("reviewed", HR)
        assert [r["department"] for r in record.returns] == [HOUSING]


def test_refused_returns_and_signatures_are_explained_on_the_page(service: Service) -> None:
    item = assigned_to_housing(service)
    other = submit_intake(service, 21)[-1]
    pid = item["id"]
    csrf = log_in_as(service, department_key(service, HOUSING), "/ui/department")
    assert service.client.post(f"/ui/department/{pid}/return", data={"reason": "x"}).status_code == 403  # no CSRF
    blank = service.client.post(f"/ui/department/{pid}/return", data={"csrf": csrf, "reason": "  "})
    assert blank.status_code == 422 and "退回须说明理由" in blank.text and 'role="alert"' in blank.text
    foreign = service.client.post(f"/ui/department/{other['id']}/return", data={"csrf": csrf, "reason": "不是我们的"})
    assert foreign.status_code == 403 and f"不是交由 {HOUSING} 主办的提案" in foreign.text
    assert foreign.headers["content-type"].startswith("text/html")
    missing = service.client.post("/ui/department/987654/acknowledge", data={"csrf": csrf})
    assert missing.status_code == 404 and "987654" in missing.text
    with service.state.sessions() as session:  # 11 days after the 交办: past the 10 days
        record = store.get(session, int(pid))  # type: ignore[call-overload]
        assert record.assigned_at is not None
        record.assigned_at = record.assigned_at - timedelta(days=11)
        session.commit()
    page = service.client.get("/ui/department").text
    assert re.search(rf'<tr data-id="{pid}" data-state="expired">.*?已过期', page, re.S)
    late = service.client.post(f"/ui/department/{pid}/return", data={"csrf": csrf, "reason": "属人社职责"})
    assert late.status_code == 409 and "退回期限已于" in late.text and "截止" in late.text
    assert f'action="/ui/department/{pid}/return"' not in late.text  # past the deadline: no form offered
    with service.state.sessions() as session:
        record = store.get(session, int(pid))  # type: ignore[call-overload]
        assert record.assigned_at is not None
        record.assigned_at = record.assigned_at + timedelta(days=11)
        session.commit()
    signed = service.client.post(f"/ui/department/{pid}/acknowledge", data={"csrf": csrf})
    assert signed.status_code == 200 and f"提案 {item['external_id']} 已签收" in signed.text
    assert re.search(rf'<tr data-id="{pid}" data-state="signed">.*?已签收', signed.text, re.S)
    after = service.client.post(f"/ui/department/{pid}/return", data={"csrf": csrf, "reason": "属人社职责"})
    assert after.status_code == 409 and "签收，不能再退回" in after.text
    assert "属人社职责</textarea>" not in after.text  # the row offers no form any more
    co_csrf = log_in_as(service, department_key(service, FINANCE), "/ui/department")
    co = service.client.post(f"/ui/department/{pid}/acknowledge", data={"csrf": co_csrf})
    assert co.status_code == 403 and "只有主办单位可以签收" in co.text
    with service.state.sessions() as session:
        record = store.get(session, int(pid))  # type: ignore[call-overload]
        assert record.status == "reviewed" and record.lead_department == HOUSING and record.returns == []


@pytest.fixture
def audited(database_url: str, demo_bundle: Path) -> Iterator[Service]:
    """The service drawing every automatically routed filing for audit (抽查)."""
    running = start_service(database_url, demo_bundle, audit_rate=1.0)
    running.client.__enter__()
    try:
        yield running
    finally:
        running.client.__exit__(None, None, None)
        running.client.close()
        running.state.engine.dispose()


def test_audit_items_are_badged_filtered_and_confirmed(audited: Service) -> None:
    posted = audited.client.post("/v1/proposals", json=intake(20), headers=audited.headers("screener")).json()
    routed = [p for p in posted if p["status"] == "auto"]
    assert routed, "the demo intake has filings routed automatically"
    csrf = log_in(audited)
    only = audited.client.get("/ui/queue?kind=audit").text
    assert sorted(re.findall(r'<tr data-id="(\d+)">', only)) == sorted(str(p["id"]) for p in routed)
    assert only.count('<span class="badge audit"') == len(routed)
    item = routed[0]
    detail = audited.client.get(f"/ui/proposals/{item['id']}?kind=audit").text
    assert 'id="audit"' in detail and "被随机抽中复核" in detail and ">确认无误 <kbd>A</kbd>" in detail
    assert 'id="correct-form"' in detail and 'id="reassign-form"' not in detail
    form = {"csrf": csrf, "action": "accept", "scope": "all", "place": "kind=audit", "version": str(item["version"])}
    confirmed = audited.client.post(f"/ui/proposals/{item['id']}", data=form)
    assert confirmed.status_code == 200 and f"提案 {item['external_id']} 已处理" in confirmed.text
    assert confirmed.url.params["kind"] == "audit"  # on along the audit items
    with audited.state.sessions() as session:
        record = store.get(session, int(item["id"]))
        assert record.status == "auto" and record.audit_verdict == "correct"
        assert record.lead_department == item["routing"]["lead_department"]["name"]
    again = audited.client.get(f"/ui/proposals/{item['id']}").text
    assert "抽查结论：<strong>主办单位正确</strong>" in again and 'id="reassign-form"' in again
    assert f'<tr data-id="{item["id"]}">' not in audited.client.get("/ui/queue?kind=audit").text


def test_the_quality_page_shows_a_pause_and_resumes_routing(service: Service) -> None:
    submit_intake(service)
    log_in(service)
    assert service.client.get("/ui/quality").status_code == 403  # for analysts
    assert 'id="nav-quality"' not in service.client.get("/ui/queue").text
    csrf = log_in(service, "analyst")
    assert 'id="nav-quality"' in service.client.get("/ui/queue").text
    page = service.client.get("/ui/quality")
    assert page.status_code == 200 and "自动交办运行中" in page.text and 'id="resume"' not in page.text
    for label in (
        "抽查精度",
        "精度下限（95%）",
        "目标精度",
        "复核员认同模型主办单位",
        "退回率",
        "各单位退回情况",
        "每周趋势",
    ):
        assert label in page.text, label
    reason = "抽查 50 件中 30 件主办单位正确，精度下限 48.0%，低于目标 95% 超过 15%"
    with service.state.sessions() as session:
        trust.set_routing(session, True, reason, "test", new_window=False)
        session.commit()
    queue = service.client.get("/ui/queue").text
    assert 'id="paused"' in queue and reason in queue
    paused = service.client.get("/ui/quality").text
    assert 'data-paused="true"' in paused and reason in paused and 'id="resume"' in paused
    assert service.client.post("/ui/quality/resume", data={}).status_code == 403  # no CSRF token
    resumed = service.client.post("/ui/quality/resume", data={"csrf": csrf})
    assert resumed.status_code == 200 and "已恢复自动交办" in resumed.text and 'data-paused="false"' in resumed.text
    with service.state.sessions() as session:
        assert not trust.routing_state(session).paused
        since = trust.routing_state(session).since
    twice = service.client.post("/ui/quality/resume", data={"csrf": csrf})
    assert "自动交办没有暂停" in twice.text
    with service.state.sessions() as session:
        assert trust.routing_state(session).since == since  # a second click starts no new window
    assert 'id="paused"' not in service.client.get("/ui/queue").text


def test_the_quality_page_counts_returns_by_department_and_week(service: Service) -> None:
    item = assigned_to_housing(service)
    csrf = log_in_as(service, department_key(service, HOUSING), "/ui/department")
    service.client.post(f"/ui/department/{item['id']}/return", data={"csrf": csrf, "reason": "非本单位职责"})
    log_in(service, "analyst")
    page = service.client.get("/ui/quality").text
    table = re.search(r'<table class="queue" id="department-returns">(.*?)</table>', page, re.S)
    assert table, page
    row = re.search(rf"<td>{HOUSING}</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>\s*<td>(.*?)</td>", table.group(1), re.S)
    assert row and row.group(2) == "1" and int(row.group(1)) >= 1
    assert f"{100 / int(row.group(1)):.1f}%" in row.group(3)
    weeks = re.search(r'<table class="queue" id="weeks">(.*?)</table>', page, re.S)
    assert weeks and re.search(r"<td>1</td>\s*</tr>", weeks.group(1))  # this week's one return
    assert 'id="trend"' in page
