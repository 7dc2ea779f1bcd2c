"""The reviewers' page end to end in a real headless Chromium (Debian's package, driven by Playwright).

Open the queue, correct one item with the department picker, accept another with one key, and see both
leave the queue and the correction appear in the training-data export.
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


def test_reviewer_corrects_and_accepts_in_the_browser(served: tuple[Service, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    service, base = served
    waiting = submit_intake(service, 24)
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
        picture = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "queue.png")
        page.screenshot(path=str(picture), full_page=False)
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        corrected = int(rows.first.get_attribute("data-id") or 0)
        rows.first.locator("a").click()
        expect(page.locator("h1")).to_be_visible()
        page.click("summary:has-text('更正交办')")
        page.fill("#department-search", "住建")
        visible = page.locator("#department-options li:not([hidden]) button")
        expect(visible).to_have_count(1)
        visible.first.click()
        expect(page.locator("#lead")).to_have_value("市住房和城乡建设局")
        page.fill("#co", "市财政局")
        page.click("#correct")
        expect(page).to_have_url(f"{base}/ui/queue?done={corrected}")
        expect(page.locator(".notice")).to_contain_text(f"提案 {corrected} 已处理")
        expect(page.locator(f'tr[data-id="{corrected}"]')).to_have_count(0)

        accepted = int(rows.first.get_attribute("data-id") or 0)
        rows.first.locator("a").click()
        expect(page.locator("#accept")).to_be_visible()
        page.keyboard.press("a")
        expect(page).to_have_url(f"{base}/ui/queue?done={accepted}")
        expect(rows).to_have_count(len(waiting) - 2)
        browser.close()

    export = service.client.get("/v1/export/training-data", headers=service.headers("analyst"))
    rows_out = {r["id"]: r for r in csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")))}
    by_id = {int(p["id"]): str(p["external_id"]) for p in waiting}  # type: ignore[call-overload]
    assert rows_out[by_id[corrected]]["lead_department"] == "市住房和城乡建设局"
    assert rows_out[by_id[corrected]]["co_departments"] == "市财政局"
    assert rows_out[by_id[corrected]]["source"] == "reviewer"
    assert rows_out[by_id[accepted]]["source"] == "reviewer"
