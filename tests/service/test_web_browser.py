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

from tests.service.conftest import Service, start_service
from tests.service.test_web import submit_intake

CHROMIUM = os.environ.get("PROPOSAL_ROUTER_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT_ENV = "PROPOSAL_ROUTER_SCREENSHOT"  # where to keep the queue page's picture (the README's)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, demo_bundle: Path) -> Iterator[tuple[Service, str]]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package (.ci/run does)")
    service = start_service(f"sqlite:///{tmp_path / 'service.db'}", demo_bundle)
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
