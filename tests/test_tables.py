from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from proposal_router.model.errors import DataError
from proposal_router.model.intake.tables import read_table, write_table
from tests.conftest import formulas, write_csv

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


def test_a_csv_cell_of_5_mb_is_read_whole(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [{"编号": "1", "内容": "附" * 5_000_000}, {"编号": "2", "内容": "短"}])
    table = read_table(path)
    assert [len(r["内容"]) for r in table.rows] == [5_000_000, 1]


def test_a_quick_look_reads_the_header_and_the_first_rows_only(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [{"编号": str(i), "内容": "甲"} for i in range(5)])
    table = read_table(path, max_rows=2)
    assert table.columns == ["编号", "内容"] and [r["编号"] for r in table.rows] == ["0", "1"]


def test_an_office_sheet_with_a_merged_title_and_merged_group_cells(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["2026年度政协提案汇总表"])
    sheet.merge_cells("A1:D1")
    sheet.append(["编号", "类别", "提案标题", "提案内容"])
    sheet.append(["1", "经济", "关于公交线路的提案", "建议增加公交线路"])
    sheet.append(["2", None, "关于产业园区的提案", "建议建设产业园区"])
    sheet.append([])
    sheet.append(["3", None, "关于科技创新的提案", "建议设立科技创新基金"])
    sheet.append(["4", "社会", "关于医保结算的提案", "建议医保异地结算"])
    sheet.merge_cells("B3:B6")
    path = tmp_path / "汇总表.xlsx"
    book.save(path)
    table = read_table(path)
    assert table.columns == ["编号", "类别", "提案标题", "提案内容"]
    assert [r["类别"] for r in table.rows] == ["经济", "经济", "经济", "社会"]
    assert table.row_numbers == [3, 4, 6, 7]


def test_a_csv_title_row_above_the_header_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("2026年度政协提案汇总表,,\n编号,提案标题,提案内容\n1,关于公交,建议增加\n", encoding="utf-8")
    table = read_table(path)
    assert table.columns == ["编号", "提案标题", "提案内容"] and table.rows[0]["提案标题"] == "关于公交"


def test_a_one_column_file_keeps_its_header(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("body\n建议增加公交线路\n建议建设产业园区\n", encoding="utf-8")
    assert [r["body"] for r in read_table(path).rows] == ["建议增加公交线路", "建议建设产业园区"]


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
    with pytest.raises(DataError, match=r"没有名为 .附件. 的工作表.*说明、提案"):
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
        ("in.txt", "x", "不支持 .txt 文件"),
        ("in.csv", "", "文件为空"),
        ("in.xlsx", "not a zip", "不是可读的 XLSX 工作簿"),
    ],
)
def test_unreadable_inputs_name_the_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="找不到此文件"):
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


def test_route_files_keep_formulas_as_text(tmp_path: Path) -> None:
    rows = [{"编号": "=1+1", "提案标题": "-2", "主办单位": "@SUM(A1)"}]
    write_table(tmp_path / "out.xlsx", list(rows[0]), rows)
    assert formulas((tmp_path / "out.xlsx").read_bytes()) == []
    assert next(load_workbook(tmp_path / "out.xlsx")["routed"].iter_rows(min_row=2, values_only=True)) == (
        "=1+1",
        "-2",
        "@SUM(A1)",
    )
    write_table(tmp_path / "out.csv", list(rows[0]), rows)
    with (tmp_path / "out.csv").open(encoding="utf-8-sig") as fh:
        assert list(csv.reader(fh))[1] == ["'=1+1", "'-2", "'@SUM(A1)"]


def _xls(path: Path) -> Path:
    """An Excel 97-2003 workbook as offices still send: a merged title row, numbers and a date as typed."""
    import datetime

    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    book.add_sheet("说明").write(0, 0, "填表说明")
    sheet = book.add_sheet("提案")
    sheet.write_merge(0, 0, 0, 3, "2027年度政协提案汇总表")
    for column, header in enumerate(["编号", "提案标题", "提案内容", "收到日期"]):
        sheet.write(1, column, header)
    sheet.write(2, 0, 20270001)
    sheet.write(2, 1, "关于完善医保异地结算的提案")
    sheet.write(2, 2, "建议简化备案手续。")
    sheet.write(2, 3, datetime.date(2027, 1, 10), xlwt.easyxf(num_format_str="yyyy-mm-dd"))
    sheet.write(4, 0, 20270002)
    sheet.write(4, 1, "关于增加公交线路的提案")
    book.save(str(path))
    return path


def test_an_xls_workbook_is_read_like_xlsx(tmp_path: Path) -> None:
    path = _xls(tmp_path / "汇总表.xls")
    table = read_table(path, sheet="提案")
    assert table.columns == ["编号", "提案标题", "提案内容", "收到日期"]
    assert [r["编号"] for r in table.rows] == ["20270001", "20270002"]  # a number stays the office's id
    assert table.rows[0]["提案标题"] == "关于完善医保异地结算的提案"
    assert table.rows[0]["收到日期"].startswith("2027-01-10")
    assert table.row_numbers == [3, 5]  # the rows a person sees in Excel
    with pytest.raises(DataError, match=r"没有名为 .附件. 的工作表.*说明、提案"):
        read_table(path, sheet="附件")


def test_a_broken_xls_names_the_file_and_xls_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "坏.xls"
    path.write_bytes(b"not a compound file")
    with pytest.raises(DataError, match="不是可读的 XLS 工作簿") as info:
        read_table(path)
    assert str(path) in str(info.value)
    with pytest.raises(DataError, match=r"不支持 \.xls 文件，请用 \.csv、\.xlsx、\.jsonl"):
        write_table(tmp_path / "out.xls", ["id"], [{"id": "1"}])
