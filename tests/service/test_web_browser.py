"""The reviewers' page end to end in a real headless Chromium (Debian's package, driven by Playwright).

Open the queue, search it with "/", open the first item with J and Enter, correct it with the department
pickers and land on the next one, step with J/K, accept with A (the lead only), reassign (改办) the first one
after a refused name kept what was typed, and see the final answers in the training-data export.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from proposal_router.service import store
from tests.service.conftest import Service, start_service
from tests.service.test_web import submit_intake

CHROMIUM = os.environ.get("PROPOSAL_ROUTER_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT_ENV = "PROPOSAL_ROUTER_SCREENSHOT"  # where to keep the queue page's picture (the README's)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(database_url: str, demo_bundle: Path) -> Iterator[tuple[Service, str]]:
    """The service on each database (SQLite, and PostgreSQL when a server is given), served on a free port."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package (.ci/run does)")
    service = start_service(database_url, demo_bundle)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(service.client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield service, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        service.state.engine.dispose()


def test_reviewer_walks_the_queue_with_the_keyboard(served: tuple[Service, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    service, base = served
    waiting = submit_intake(service, 24)
    queue = service.client.get("/v1/review?limit=100", headers=service.headers("reviewer")).json()["items"]
    first, second, third = queue[0], queue[1], queue[2]
    office = {int(p["id"]): str(p["external_id"]) for p in queue}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.goto(f"{base}/ui/queue")
        expect(page).to_have_url(f"{base}/ui/login?next=/ui/queue")
        page.fill("#key", service.keys["reviewer"])
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{base}/ui/queue")
        rows = page.locator("table.queue tbody tr")
        expect(rows).to_have_count(len(waiting))
        expect(page.locator("table.queue thead")).to_contain_text("提案人")
        picture = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "queue.png")
        page.screenshot(path=str(picture), full_page=False)
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        page.keyboard.press("/")  # the search box, by keyboard; typing there is not a shortcut
        expect(page.locator("#q")).to_be_focused()
        page.keyboard.type(office[second["id"]])
        page.keyboard.press("Enter")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-id", str(second["id"]))
        page.goto(f"{base}/ui/queue")

        page.keyboard.press("j")  # the first row, opened with Enter
        expect(rows.first).to_have_class("selected")
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{base}/ui/proposals/{first['id']}")
        page.click("summary:has-text('更正交办')")
        page.fill("#department-search", "住建")
        visible = page.locator("#department-options li:not([hidden]) button")
        expect(visible).to_have_count(1)
        visible.first.click()
        expect(page.locator("#lead")).to_have_value("市住房和城乡建设局")
        for box in page.locator("#correct-form input[name=co_departments]:checked").all():
            box.uncheck()
        page.fill("#co-search", "财政")
        page.locator("#co-options li:not([hidden]) input").first.check()
        page.click("#correct")
        expect(page).to_have_url(f"{base}/ui/proposals/{second['id']}?done={first['id']}")  # the next one
        expect(page.locator(".notice").first).to_contain_text(f"提案 {office[first['id']]} 已处理")
        page.screenshot(path=str(picture.with_name("proposal.png")), full_page=True)

        page.keyboard.press("j")
        expect(page).to_have_url(f"{base}/ui/proposals/{third['id']}")
        page.keyboard.press("k")
        expect(page).to_have_url(f"{base}/ui/proposals/{second['id']}")
        page.keyboard.press("a")  # accepts the lead only, and goes on
        expect(page).to_have_url(f"{base}/ui/proposals/{third['id']}?done={second['id']}")
        expect(page.locator(".notice").first).to_contain_text(f"提案 {office[second['id']]} 已处理")

        page.goto(f"{base}/ui/proposals/{first['id']}")  # a slip: 改办 the corrected one
        expect(page.locator("#accept")).to_have_count(0)
        page.click("summary:has-text('改办')")
        page.fill("#lead", "市不存在局")
        page.fill("#reason", "经核实属就业政策")
        page.click("#reassign")
        expect(page.locator(".error")).to_contain_text("未知的单位")
        expect(page.locator("#lead")).to_have_value("市不存在局")  # what was typed is kept
        expect(page.locator("#reason")).to_have_value("经核实属就业政策")
        page.fill("#lead", "市人社局")
        page.click("#reassign")
        expect(page.locator(".notice").first).to_contain_text(f"提案 {office[first['id']]} 已处理")
        page.goto(f"{base}/ui/queue")
        expect(rows).to_have_count(len(waiting) - 2)
        browser.close()

    export = service.client.get("/v1/export/training-data", headers=service.headers("analyst"))
    rows_out = {r["id"]: r for r in csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")))}
    assert rows_out[office[first["id"]]]["lead_department"] == "市人力资源和社会保障局"
    assert rows_out[office[first["id"]]]["co_departments"] == "市财政局"
    assert rows_out[office[first["id"]]]["source"] == "reviewer"
    assert rows_out[office[second["id"]]]["lead_department"] == second["routing"]["lead_department"]["name"]
    assert rows_out[office[second["id"]]]["co_departments"] == ""  # the model's co-departments not adopted


def test_a_department_returns_an_item_the_reviewer_reassigns_it_and_an_analyst_resumes_routing(
    served: tuple[Service, str],
) -> None:
    """二次交办 end to end: 住建局's key returns an item with its reason; a reviewer finds it marked in the queue
    and gives it to 人社局; with automatic routing paused, the queue says so and the analyst resumes it."""
    from playwright.sync_api import expect, sync_playwright

    from proposal_router.service import trust
    from proposal_router.service.domain import keys
    from proposal_router.service.security import Role

    service, base = served
    item = submit_intake(service, 20)[0]
    decided = service.client.post(
        f"/v1/review/{item['id']}",
        json={"action": "correct", "lead_department": "市住建局", "co_departments": ["市财政局"]},
        headers=service.headers("reviewer"),
    )
    assert decided.status_code == 200, decided.text
    with service.state.sessions() as session:
        housing = keys.create_key(session, "住建局经办人", Role.DEPARTMENT, "test", department="市住房和城乡建设局")[1]
    shots = Path("/tmp")
    reason = "本件所提为职业技能培训补贴，属人社部门职责，建议改由市人社局主办"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.goto(f"{base}/ui/queue")
        page.fill("#key", housing)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{base}/ui/department")  # a department lands on its own list
        row = page.locator(f"tr[data-id='{item['id']}']")
        expect(row).to_contain_text("主办")
        expect(row).to_contain_text("可退回")
        page.goto(f"{base}/ui/queue")
        expect(page).to_have_url(f"{base}/ui/department")  # and sees nothing else
        row.locator("summary:has-text('退回')").click()
        page.screenshot(path=str(shots / "web16-department.png"))
        row.locator("button:has-text('退回提案委员会')").click()  # the reason is required: nothing is sent
        assert row.locator("textarea[name=reason]").evaluate("e => e.validity.valueMissing")
        expect(page).to_have_url(f"{base}/ui/department")
        expect(row).to_be_visible()
        row.locator("textarea[name=reason]").fill(reason)
        row.locator("button:has-text('退回提案委员会')").click()
        expect(page.locator("#department-done")).to_contain_text(f"提案 {item['external_id']} 已退回提案委员会")
        expect(page.locator(f"tr[data-id='{item['id']}']")).to_have_count(0)
        page.click("button:has-text('退出')")
        expect(page).to_have_url(f"{base}/ui/login")

        page.fill("#key", service.keys["reviewer"])
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{base}/ui/queue")
        page.select_option("#kind", "returned")
        page.click("button:has-text('筛选')")
        rows = page.locator("table.queue tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first.locator(".badge.returned")).to_contain_text("二次交办：市住房和城乡建设局 退回")
        page.screenshot(path=str(shots / "web16-queue-returned.png"), full_page=True)
        rows.first.locator("a").first.click()
        returns = page.locator("#returns")
        expect(returns).to_contain_text("市住房和城乡建设局")
        expect(returns).to_contain_text(reason)
        expect(page.locator("#suggested")).not_to_have_text("市住房和城乡建设局")
        page.click("summary:has-text('更正交办')")
        expect(page.locator("#lead")).not_to_have_value("市住房和城乡建设局")
        page.fill("#department-search", "人社")
        page.locator("#department-options li:not([hidden]) button").first.click()
        expect(page.locator("#lead")).to_have_value("市人力资源和社会保障局")
        page.screenshot(path=str(shots / "web16-proposal-returned.png"))  # the viewport: a full page moves the clicks
        page.click("#correct")
        expect(page.locator(".notice").first).to_contain_text(f"提案 {item['external_id']} 已处理")

        with service.state.sessions() as session:
            trust.set_routing(session, True, "抽查 50 件中 30 件主办单位正确，精度下限 48.0%", "test", new_window=False)
            session.commit()
        page.goto(f"{base}/ui/queue")
        expect(page.locator("#paused")).to_contain_text("自动交办已暂停")
        page.screenshot(path=str(shots / "web16-queue-paused.png"), full_page=False)
        page.click("button:has-text('退出')")
        page.fill("#key", service.keys["analyst"])
        page.click("button[type=submit]")
        page.click("#nav-quality")
        expect(page).to_have_url(f"{base}/ui/quality")
        expect(page.locator("#pause-state")).to_contain_text("精度下限 48.0%")
        expect(page.locator("#department-returns")).to_contain_text("市住房和城乡建设局")
        page.screenshot(path=str(shots / "web16-quality-paused.png"), full_page=True)
        page.click("#resume")
        expect(page.locator("#resumed")).to_contain_text("已恢复自动交办")
        expect(page.locator("#pause-state")).to_contain_text("自动交办运行中")
        page.screenshot(path=str(shots / "web16-quality.png"), full_page=True)
        page.goto(f"{base}/ui/queue")
        expect(page.locator("#paused")).to_have_count(0)
        browser.close()

    with service.state.sessions() as session:
        record = store.get(session, int(item["id"]))  # type: ignore[call-overload]
        assert (record.status, record.lead_department) == ("reviewed", "市人力资源和社会保障局")
        assert [r["department"] for r in record.returns] == ["市住房和城乡建设局"]
        assert not trust.routing_state(session).paused
