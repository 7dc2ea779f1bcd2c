from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from model.errors import DataError
from model.tables import read_table, write_table
from tests.conftest import write_csv

ROWS = [{"编号": "A1", "提案标题": "关于加快老旧小区改造的提案", "提案内容": "建议加快改造。"}]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_office_encoding(tmp_path: Path, encoding: str) -> None:
    table = read_table(write_csv(tmp_path / "in.csv", ROWS, encoding))
    assert table.columns == ["编号", "提案标题", "提案内容"]
    assert table.rows[0]["提案标题"] == "关于加快老旧小区改造的提案"
    assert table.row_numbers == [2]


def test_csv_blank_rows_are_skipped_but_row_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,title\n\n1,甲\n,\n2,乙\n", encoding="utf-8")
    table = read_table(path)
    assert [r["id"] for r in table.rows] == ["1", "2"]
    assert table.row_numbers == [3, 5]


def test_xlsx_header_after_blank_rows_and_named_sheet(tmp_path: Path) -> None:
    book = Workbook()
    book.active.title = "说明"
    sheet = book.create_sheet("提案")
    sheet.append([])
    sheet.append(["编号", "提案标题"])
    sheet.append([101, "关于完善医保异地结算的提案"])
    path = tmp_path / "in.xlsx"
    book.save(path)
    table = read_table(path, sheet="提案")
    assert table.columns == ["编号", "提案标题"]
    assert table.rows == [{"编号": "101", "提案标题": "关于完善医保异地结算的提案"}]
    assert table.row_numbers == [3]
    with pytest.raises(DataError, match=r"no sheet named '附件'.*说明、提案"):
        read_table(path, sheet="附件")


def test_jsonl_bad_line_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "1", "title": "甲"}\n{broken\n{"id": "2", "title": "乙"}\n', encoding="utf-8")
    table = read_table(path)
    assert [r["id"] for r in table.rows] == ["1", "2"]
    assert [(i.row, i.fatal) for i in table.issues] == [(2, False)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.txt", "x", "unsupported file type '.txt'"),
        ("in.csv", "", "empty"),
        ("in.xlsx", "not a zip", "not a readable XLSX"),
    ],
)
def test_unreadable_inputs_name_the_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "absent.csv")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".jsonl"])
def test_write_then_read_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    write_table(path, ["id", "co"], [{"id": "1", "co": ["市公安局", "市财政局"]}])
    row = read_table(path).rows[0]
    expected = ["市公安局", "市财政局"] if suffix == ".jsonl" else "市公安局、市财政局"
    assert row == {"id": "1", "co": expected}
    if suffix == ".jsonl":
        assert json.loads(path.read_text(encoding="utf-8"))["co"] == expected
