"""The office's final lists after review: over HTTP (JSON and the workbook) and from the command line, the
same decisions; each department's file holds what it leads and, marked 协办, what it co-handles."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from proposal_router.service.cli import main
from tests.service.conftest import Service
from tests.service.test_review_api import decide, pending

HR, EDUCATION = "市人力资源和社会保障局", "市教育局"


def _decided(service: Service) -> dict[str, dict[str, Any]]:
    """Accept one pending item, correct one to 人社局 with 教育局 as co-handler, reject one; by office id."""
    accepted, corrected, rejected = pending(service, 40)[:3]
    assert decide(service, accepted["id"], action="accept").status_code == 200
    response = decide(service, corrected["id"], action="correct", lead_department="人社局", co_departments=["教育局"])
    assert response.status_code == 200, response.text
    assert decide(service, rejected["id"], action="reject", reason="属个人诉求").status_code == 200
    return {"accepted": accepted, "corrected": corrected, "rejected": rejected}


def _get(service: Service, **params: Any) -> Any:
    response = service.client.get("/v1/assignments", params=params, headers=service.headers("reviewer"))
    assert response.status_code == 200, response.text
    return response


def _sheet_rows(sheet: Any, header_row: int = 1) -> list[dict[str, Any]]:
    rows = list(sheet.iter_rows(min_row=header_row, values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_final_lists_follow_the_reviewers_decisions(service: Service) -> None:
    decided = _decided(service)
    items = {i["external_id"]: i for i in _get(service).json()["items"]}
    assert len(items) == 40
    corrected = items[decided["corrected"]["external_id"]]
    assert (corrected["lead_department"], corrected["co_departments"]) == (HR, [EDUCATION])
    assert corrected["mode"] == "manual" and corrected["decided_by"] == "reviewer tester"
    assert items[decided["rejected"]["external_id"]]["status"] == "rejected"
    assert items[decided["rejected"]["external_id"]]["rejection_reason"] == "属个人诉求"
    modes = {i["status"]: i["mode"] for i in items.values()}
    assert modes["auto"] == "auto" and modes["pending"] is None

    by_alias = _get(service, department="教育局").json()["items"]  # an alias, as the office types it
    assert decided["corrected"]["external_id"] in {i["external_id"] for i in by_alias}
    assert all(EDUCATION in (i["lead_department"], *i["co_departments"]) for i in by_alias)
    assert all(i["status"] in ("auto", "reviewed") for i in by_alias)
    unknown = service.client.get("/v1/assignments?department=教育", headers=service.headers("reviewer"))
    assert unknown.status_code == 422 and EDUCATION in unknown.json()["detail"]
    assert service.client.get("/v1/assignments", headers=service.headers("screener")).status_code == 403

    book = load_workbook(io.BytesIO(_get(service, format="xlsx").content))
    assert book.sheetnames == ["交办清单", "不予立案", "待复核", "汇总"]
    listed = {r["编号"]: r for r in _sheet_rows(book["交办清单"])}
    assigned = {k for k, i in items.items() if i["status"] in ("auto", "reviewed")}
    assert set(listed) == assigned
    row = listed[decided["corrected"]["external_id"]]
    assert (row["主办单位"], row["协办单位"], row["交办方式"], row["复核人"]) == (
        HR,
        EDUCATION,
        "人工",
        "reviewer tester",
    )
    assert row["复核时间"] is not None and not isinstance(row["复核时间"], str)  # a date Excel can sort
    auto = next(r for k, r in listed.items() if items[k]["status"] == "auto")
    assert auto["交办方式"] == "自动" and auto["复核人"] is None
    (rejected,) = _sheet_rows(book["不予立案"])
    assert (rejected["编号"], rejected["不予立案理由"]) == (decided["rejected"]["external_id"], "属个人诉求")
    waiting = {r["编号"] for r in _sheet_rows(book["待复核"])}
    assert waiting == {k for k, i in items.items() if i["status"] == "pending"}
    main_sheet = book["交办清单"]
    assert main_sheet.freeze_panes == "A2" and main_sheet.auto_filter.ref == f"A1:J{len(listed) + 1}"  # through 并案
    assert main_sheet.page_setup.orientation == "landscape" and main_sheet.page_setup.fitToWidth == 1
    assert main_sheet.print_title_rows == "$1:$1" and main_sheet["A1"].font.bold


def test_the_command_line_writes_the_same_lists_and_each_departments_file(
    service: Service, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    decided = _decided(service)
    out, split = tmp_path / "交办清单.xlsx", tmp_path / "各单位"
    assert main(["assignments", "--db", database_url, "--output", str(out), "--split-by-department", str(split)]) == 0
    assert "不予立案 1 件" in capsys.readouterr().out
    from_api = load_workbook(io.BytesIO(_get(service, format="xlsx").content))
    from_cli = load_workbook(out)
    for name in ("交办清单", "不予立案", "待复核"):
        assert _sheet_rows(from_cli[name]) == _sheet_rows(from_api[name])

    education = load_workbook(split / f"{EDUCATION}.xlsx")
    assert education.sheetnames == [EDUCATION]
    sheet = education[EDUCATION]
    assert str(sheet["A1"].value).startswith(f"{EDUCATION} 交办清单（主办 ")
    assert sheet.freeze_panes == "A3" and sheet.print_title_rows == "$2:$2"  # the header under the title stays in view
    rows = _sheet_rows(sheet, header_row=2)
    roles = [r["承办类型"] for r in rows]
    assert roles == sorted(roles, key=["主办", "协办"].index)  # what it leads first, then what it co-handles
    corrected = next(r for r in rows if r["编号"] == decided["corrected"]["external_id"])
    assert corrected["承办类型"] == "协办" and corrected["主办单位"] == HR
    hr_rows = _sheet_rows(load_workbook(split / f"{HR}.xlsx")[HR], header_row=2)
    assert any(r["编号"] == decided["corrected"]["external_id"] and r["承办类型"] == "主办" for r in hr_rows)
    assert decided["rejected"]["external_id"] not in {r["编号"] for r in rows + hr_rows}


def test_since_and_until_select_by_arrival(service: Service, database_url: str, tmp_path: Path) -> None:
    _decided(service)
    out = tmp_path / "later.xlsx"
    assert main(["assignments", "--db", database_url, "--output", str(out), "--since", "2999-01-01"]) == 0
    book = load_workbook(out)
    assert _sheet_rows(book["交办清单"]) == [] and _sheet_rows(book["待复核"]) == []
    assert main(["assignments", "--db", database_url, "--output", str(out), "--until", "2999-01-01"]) == 0
    assert len(_sheet_rows(load_workbook(out)["交办清单"])) + len(_sheet_rows(load_workbook(out)["待复核"])) == 39
