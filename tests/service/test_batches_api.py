"""Batch jobs over HTTP: upload, progress, the office's workbook, and a server killed mid-job resuming."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from tests.service.conftest import Service
from tests.service.test_batches import intake

COLUMNS = {"id_field": "编号", "title_field": "提案标题", "body_field": "提案内容"}


def upload(client: Any, key: str, path: Path) -> Any:
    with path.open("rb") as fh:
        files = {"file": (path.name, fh, "text/csv")}
        return client.post("/v1/batches", files=files, data=COLUMNS, headers={"X-API-Key": key})


def wait_done(client: Any, key: str, job_id: int, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        state: dict[str, Any] = client.get(f"/v1/batches/{job_id}", headers={"X-API-Key": key}).json()
        if state["status"] in ("done", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def results(client: Any, key: str, job_id: int) -> list[tuple[Any, ...]]:
    response = client.get(f"/v1/batches/{job_id}/result", headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["交办结果", "交办结果（打印）", "汇总", "未处理行"]
    return list(book["交办结果"].iter_rows(min_row=2, values_only=True))


def test_upload_is_routed_in_the_background_and_its_review_rows_join_the_queue(
    service: Service, tmp_path: Path
) -> None:
    source = intake(tmp_path / "年度提案.csv", 40)
    created = upload(service.client, service.keys["screener"], source)
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["status"] == "reading" and job["total_rows"] == 0  # the rows are read after the answer
    state = wait_done(service.client, service.keys["screener"], job["id"])
    assert state["status"] == "done", state
    assert state["total_rows"] == 40 and state["failed_rows"] == 1
    assert state["done_rows"] == 40 == state["auto_rows"] + state["review_rows"]
    rows = results(service.client, service.keys["screener"], job["id"])
    assert [r[0] for r in rows] == [f"2026-{i:05d}" for i in range(40)]
    queue = service.client.get("/v1/review", headers=service.headers("reviewer")).json()
    assert queue["total"] == state["review_rows"] == sum(r[7] == "人工复核" for r in rows)


def test_an_uploaded_repeat_names_the_filing_it_could_be_merged_with(service: Service, tmp_path: Path) -> None:
    source = intake(tmp_path / "提案.csv", 3)
    lines = source.read_text(encoding="utf-8").splitlines()
    source.write_text("\n".join([*lines, lines[1].replace("2026-00000", "2026-重复")]) + "\n", encoding="utf-8")
    job = upload(service.client, service.keys["screener"], source).json()
    assert wait_done(service.client, service.keys["screener"], job["id"])["status"] == "done"
    flagged = service.client.get("/v1/review?prescreen=similar", headers=service.headers("reviewer")).json()
    (item,) = flagged["items"]
    assert item["external_id"] == "2026-重复" and item["similar"][0]["external_id"] == "2026-00000"
    rows = results(service.client, service.keys["screener"], job["id"])
    sheet = load_workbook(io.BytesIO(_result(service, job["id"])))["交办结果"]
    header = next(sheet.iter_rows(max_row=1, values_only=True))
    merge = header.index("可并案")
    assert {r[0]: r[merge] for r in rows}["2026-重复"] == "2026-00000（1.00）"


def _result(service: Service, job_id: int) -> bytes:
    response = service.client.get(f"/v1/batches/{job_id}/result", headers=service.headers("screener"))
    return response.content


def test_bad_uploads_get_clear_errors(service: Service, tmp_path: Path) -> None:
    key = service.keys["screener"]
    wrong = tmp_path / "intake.pdf"
    wrong.write_bytes(b"%PDF")
    assert upload(service.client, key, wrong).status_code == 415
    misnamed = tmp_path / "intake.csv"
    misnamed.write_text("编号,标题,正文\n1,关于,内容\n", encoding="utf-8")
    response = upload(service.client, key, misnamed)
    assert response.status_code == 422
    assert "intake.csv，「提案标题」列：找不到此列" in response.json()["detail"]
    assert "/tmp" not in response.json()["detail"]
    assert service.client.get("/v1/batches/99", headers={"X-API-Key": key}).status_code == 404
    assert service.client.post("/v1/batches").status_code == 401


def test_a_problem_found_only_when_reading_fails_the_job_with_a_clear_error(service: Service, tmp_path: Path) -> None:
    key = service.keys["screener"]
    source = tmp_path / "来信.jsonl"
    source.write_text('{"编号": "1", "标题": "关于公交", "正文": "建议增加公交线路"}\n', encoding="utf-8")
    with source.open("rb") as fh:
        created = service.client.post(
            "/v1/batches", files={"file": (source.name, fh)}, data=COLUMNS, headers={"X-API-Key": key}
        )
    assert created.status_code == 202, created.text
    state = wait_done(service.client, key, created.json()["id"])
    assert state["status"] == "failed"
    assert "来信.jsonl，「提案标题」列：找不到此列；是否指 「标题」？" in state["error"]
    assert "/tmp" not in state["error"]
    assert service.client.get(f"/v1/batches/{state['id']}/result", headers={"X-API-Key": key}).status_code == 409


def test_a_5_mb_cell_is_a_rejected_row_and_the_rest_is_routed(service: Service, tmp_path: Path) -> None:
    key = service.keys["screener"]
    source = intake(tmp_path / "intake.csv", 5)
    with source.open("a", encoding="utf-8", newline="") as fh:
        fh.write("2026-huge,附件全文," + "附" * 5_000_000 + "\n2026-after,关于公交线路的提案,建议增加公交线路\n")
    state = wait_done(service.client, key, upload(service.client, key, source).json()["id"])
    assert state["status"] == "done" and state["done_rows"] == 6
    response = service.client.get(f"/v1/batches/{state['id']}/result", headers={"X-API-Key": key})
    book = load_workbook(io.BytesIO(response.content))
    assert [r[0] for r in book["交办结果"].iter_rows(min_row=2, values_only=True)][-1] == "2026-after"
    problems = [" ".join(map(str, r)) for r in book["未处理行"].iter_rows(min_row=2, values_only=True)]
    expected = "intake.csv 8 提案标题/提案内容 正文共 5,000,004 字，超过 20,000 字的上限"
    assert any(p.startswith(expected) for p in problems), problems
