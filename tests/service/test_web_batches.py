"""The batch jobs page: a reviewer uploads an intake file, watches it being routed, downloads the workbook,
sees every upload's progress and can cancel one that has not finished."""

from __future__ import annotations

import csv
import html
import io
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from proposal_router.service.db.models import AuditEvent, BatchJob
from tests.service.conftest import Service
from tests.service.test_batches import intake
from tests.service.test_hostile_inputs import _stored_job
from tests.service.test_web import log_in


def test_a_reviewer_cancels_a_queued_job_from_the_page(service: Service, tmp_path: Path) -> None:
    with service.state.sessions() as session:
        job_id = _stored_job(session, intake(tmp_path / "年度提案.csv", 5)).id
    csrf = log_in(service)
    page = service.client.get("/ui/batches")
    assert page.status_code == 200 and "年度提案.csv" in page.text and "排队中" in page.text
    assert f'action="/ui/batches/{job_id}/cancel"' in page.text
    forged = service.client.post(f"/ui/batches/{job_id}/cancel", data={"csrf": "forged"})
    assert forged.status_code == 403
    done = service.client.post(f"/ui/batches/{job_id}/cancel", data={"csrf": csrf})
    assert done.status_code == 200 and done.url.path == "/ui/batches"
    assert f"批处理任务 {job_id} 已取消" in done.text and f'action="/ui/batches/{job_id}/cancel"' not in done.text
    with service.state.sessions() as session:
        stored = session.get(BatchJob, job_id)
        assert stored is not None and stored.status == "cancelled"
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "batch.cancel")).all()
        assert [e.details["batch"] for e in events] == [job_id] and events[0].actor == "reviewer tester"
        assert events[0].actor_key_id is not None


def test_the_page_needs_a_log_in(service: Service) -> None:
    response = service.client.get("/ui/batches", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/login")


def _upload(service: Service, csrf: str, path: Path, **form: str) -> Any:
    mime = "text/csv" if path.suffix == ".csv" else "application/octet-stream"
    with path.open("rb") as fh:
        return service.client.post(
            "/ui/batches", files={"file": (path.name, fh, mime)}, data={"csrf": csrf, **form}, follow_redirects=False
        )


def _wait_done(service: Service, job_id: int, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        state: dict[str, Any] = service.client.get(f"/ui/batches/{job_id}/progress").json()
        if state["status"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def _as_xlsx(source: Path, target: Path, sheet: str) -> Path:
    """The CSV's rows in the second sheet of a workbook, so that the sheet name has to be given."""
    book = Workbook()
    book.active.title = "说明"
    data = book.create_sheet(sheet)
    with source.open(encoding="utf-8") as fh:
        for row in csv.reader(fh):
            data.append(row)
    book.save(target)
    return target


def _workbook_rows(content: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames[:3] == ["交办结果", "交办结果（打印）", "汇总"]
    return list(book["交办结果"].iter_rows(min_row=2, values_only=True))


def _finished_upload(service: Service, csrf: str, path: Path, n: int, **form: str) -> int:
    created = _upload(service, csrf, path, **form)
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert re.fullmatch(r"/ui/batches/\d+", location)
    job_id = int(location.rsplit("/", 1)[1])
    state = _wait_done(service, job_id)
    assert state["status"] == "done", state
    assert (state["total_rows"], state["done_rows"], state["failed_rows"]) == (n, n, 1)  # the empty row
    page = service.client.get(location)
    assert page.status_code == 200 and "已完成" in page.text and 'http-equiv="refresh"' not in page.text
    assert f'href="/ui/batches/{job_id}/result"' in page.text and path.name in page.text
    issues = re.findall(r"<li>([^<]+)</li>", page.text)
    # the empty row, named by file, row (the CSV's last line; quoted bodies span several) and columns
    row = len(path.read_text(encoding="utf-8").splitlines()) if path.suffix == ".csv" else n + 2
    assert issues == [f"{path.name}，第 {row} 行，「提案标题/提案内容」列：标题和正文都为空，该行已跳过"]
    return job_id


def test_a_csv_uploaded_on_the_page_is_routed_and_its_workbook_downloaded(service: Service, tmp_path: Path) -> None:
    csrf = log_in(service)
    page = service.client.get("/ui/batches")
    assert 'enctype="multipart/form-data"' in page.text and 'name="sheet"' in page.text
    source = intake(tmp_path / "年度提案.csv", 12)
    job_id = _finished_upload(service, csrf, source, 12)

    download = service.client.get(f"/ui/batches/{job_id}/result")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''" + quote("年度提案-routed.xlsx")
    rows = _workbook_rows(download.content)
    assert [r[0] for r in rows] == [f"2026-{i:05d}" for i in range(12)]
    # the same job and workbook as the API's: one domain path for both
    api = service.client.get(f"/v1/batches/{job_id}/result", headers=service.headers("screener"))
    assert _workbook_rows(api.content) == rows
    with service.state.sessions() as session:
        job = session.get(BatchJob, job_id)
        assert job is not None and job.created_by == "reviewer tester"
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.details["batch"].as_integer() == job_id))
        assert {"batch.upload", "batch.result"} <= set(actions)


def test_an_xlsx_sheet_named_on_the_page_is_read(service: Service, tmp_path: Path) -> None:
    csrf = log_in(service)
    source = _as_xlsx(intake(tmp_path / "t.csv", 8, first=100), tmp_path / "会议提案.xlsx", "提案")
    job_id = _finished_upload(service, csrf, source, 8, sheet="提案")
    rows = _workbook_rows(service.client.get(f"/ui/batches/{job_id}/result").content)
    assert [r[0] for r in rows] == [f"2026-{i:05d}" for i in range(100, 108)]


def test_a_running_job_page_refreshes_itself_and_has_no_download_yet(service: Service, tmp_path: Path) -> None:
    with service.state.sessions() as session:
        job_id = _stored_job(session, intake(tmp_path / "年度提案.csv", 5)).id
    log_in(service)
    page = service.client.get(f"/ui/batches/{job_id}")
    assert page.status_code == 200 and "排队中" in page.text and 'http-equiv="refresh"' in page.text
    assert f"/ui/batches/{job_id}/result" not in page.text and "<progress" in page.text
    early = service.client.get(f"/ui/batches/{job_id}/result")
    assert early.status_code == 409 and early.text == f"批处理任务 {job_id} 排队中，完成后才能下载结果"
    assert service.client.get("/ui/batches/987654").status_code == 404


def test_upload_errors_are_chinese_name_the_file_and_column_and_keep_the_form(service: Service, tmp_path: Path) -> None:
    csrf = log_in(service)
    source = intake(tmp_path / "年度提案.csv", 3)
    wrong = _upload(service, csrf, source, title_column="标题", sheet="")
    assert wrong.status_code == 422
    error = re.search(r'id="upload-error"[^>]*>([^<]+)<', wrong.text)
    assert error is not None
    message = html.unescape(error.group(1))
    assert "年度提案.csv，「标题」列：找不到此列" in message and "「提案标题」" in message, message
    assert "上方“标题列”输入框" in message and "title_field" not in message
    assert 'name="title_column" maxlength="400" value="标题"' in wrong.text  # what was typed is kept

    text = tmp_path / "说明.txt"
    text.write_text("不是表格", encoding="utf-8")
    refused = _upload(service, csrf, text)
    assert refused.status_code == 415 and "说明.txt：请上传" in html.unescape(refused.text)

    no_sheet = _upload(service, csrf, _as_xlsx(source, tmp_path / "b.xlsx", "提案"), sheet="没有这个表")
    assert no_sheet.status_code == 422 and "b.xlsx" in html.unescape(no_sheet.text)
    assert "没有这个表" in html.unescape(no_sheet.text)

    assert _upload(service, "forged", source).status_code == 403
    with service.state.sessions() as session:
        assert session.scalars(select(BatchJob)).all() == []  # nothing refused was stored
