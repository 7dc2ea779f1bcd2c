"""The reader's limits: a hostile file is refused before the work it would cause, a bad line is one row."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from proposal_router.model.errors import DataError
from proposal_router.model.intake.tables import ReadLimits, read_table
from tests import attacks


def test_a_merged_range_over_the_whole_sheet_is_clipped_to_the_rows_there_are(tmp_path: Path) -> None:
    table = read_table(attacks.merge_bomb(tmp_path / "merge.xlsx"))  # expanded, it took 5 GB and more
    assert len(table.columns) == 200 and table.rows == [{"编号": "编号"}]  # A1 shown across the range


def test_a_sheet_declaring_a_million_rows_is_refused_at_the_row_limit(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"第 1048576 行：文件超过 200,000 行.*PROPOSAL_ROUTER_MAX_ROWS"):
        read_table(attacks.dimension_bomb(tmp_path / "dimension.xlsx"))


def test_the_declared_extent_does_not_pad_rows(tmp_path: Path) -> None:
    """The quick look (header and first row) of the dimension bomb is instant and reads true values."""
    table = read_table(attacks.dimension_bomb(tmp_path / "dimension.xlsx"), max_rows=1)
    assert table.columns == attacks.HEADER and table.rows[0]["编号"] == "1"


def test_a_zip_bomb_is_refused_from_its_declared_sizes(tmp_path: Path) -> None:
    path = attacks.zip_bomb(tmp_path / "bomb.xlsx", 30_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"压缩比为 .* 倍，超过 200 倍.*PROPOSAL_ROUTER_MAX_ZIP_RATIO"):
        read_table(path)
    with pytest.raises(DataError, match=r"解压后有 .* 字节，超过 1,000,000 字节.*PROPOSAL_ROUTER_MAX_UNZIPPED_BYTES"):
        read_table(path, limits=ReadLimits(max_unzipped_bytes=1_000_000, max_zip_ratio=10**6))


def test_entities_in_sheet_xml_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="被禁止的实体或文档类型定义"):
        read_table(attacks.billion_laughs(tmp_path / "laughs.xlsx"))
    with pytest.raises(DataError, match="未定义的实体"):
        read_table(attacks.undefined_entity(tmp_path / "undefined.xlsx"))


def test_columns_past_the_limit_name_the_row_and_far_cells_cost_nothing(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(attacks.HEADER)
    book.active.append(attacks.GOOD)
    book.active.cell(row=2, column=16_384, value="x")  # read, it pads the row to 16,384 cells
    book.save(tmp_path / "far.xlsx")
    assert read_table(tmp_path / "far.xlsx").rows == [dict(zip(attacks.HEADER, attacks.GOOD, strict=True))]
    book.active.cell(row=3, column=201, value="x")
    book.save(tmp_path / "wide.xlsx")
    with pytest.raises(DataError, match=r"第 3 行：第 201 列起仍有数据.*PROPOSAL_ROUTER_MAX_COLUMNS"):
        read_table(tmp_path / "wide.xlsx")
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(attacks.HEADER) + "\n" + ",".join(attacks.GOOD + ["x"] * 300) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"第 2 行：第 201 列起"):
        read_table(wide)


def test_overlapping_merges_are_an_error_not_a_multiplier(tmp_path: Path) -> None:
    merges = b'<mergeCells count="2"><mergeCell ref="A2:C3"/><mergeCell ref="B2:D3"/></mergeCells>'
    path = attacks.patch_sheet(
        attacks.workbook(tmp_path / "overlap.xlsx", [attacks.GOOD, attacks.GOOD]),
        lambda xml: xml.replace(b"</sheetData>", b"</sheetData>" + merges),
    )
    with pytest.raises(DataError, match="第 2 行：合并单元格区域相互重叠"):
        read_table(path)


def test_too_many_merged_ranges_are_refused(tmp_path: Path) -> None:
    refs = b"".join(b'<mergeCell ref="A%d:B%d"/>' % (r, r) for r in range(3, 30))
    path = attacks.patch_sheet(
        attacks.workbook(tmp_path / "merges.xlsx"),
        lambda xml: xml.replace(b"</sheetData>", b"</sheetData><mergeCells>" + refs + b"</mergeCells>"),
    )
    with pytest.raises(DataError, match=r"合并单元格区域超过 10 个.*PROPOSAL_ROUTER_MAX_MERGED_RANGES"):
        read_table(path, limits=ReadLimits(max_merged_ranges=10))


def test_every_bad_json_line_is_one_rejected_row(tmp_path: Path) -> None:
    table = read_table(attacks.bad_rows_jsonl(tmp_path / "bad.jsonl"))
    assert [r["编号"] for r in table.rows] == ["J1", "J5"]
    assert table.rows[1]["提案标题"] == "关于医保" and table.rows[1]["提案内容"] == "建议医保异地结算"
    reasons = {issue.row: issue.message for issue in table.issues}
    assert set(reasons) == {1, 2, 3, 6} and all(not issue.fatal for issue in table.issues)
    assert "嵌套超过 20 层" in reasons[1] and "嵌套超过 20 层" in reasons[6]
    assert "孤立的代理项" in reasons[2]
    assert "数字位数过多" in reasons[3] and "set_int_max_str_digits" not in reasons[3]


def test_control_characters_are_dropped_from_every_cell(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("编号,提案标题\n1,关于\x00公交\x0b线路\t调整\n", encoding="utf-8")
    assert read_table(path).rows[0]["提案标题"] == "关于公交线路\t调整"


def test_rows_past_the_limit_refuse_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"编号": 1}\n' * 6, encoding="utf-8")
    with pytest.raises(DataError, match="第 6 行：文件超过 5 行"):
        read_table(path, limits=ReadLimits(max_rows=5))


def test_the_row_limit_counts_records_not_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('编号,提案内容\n1,"第一段\n第二段\n第三段"\n2,短\n', encoding="utf-8")
    assert [r["编号"] for r in read_table(path, limits=ReadLimits(max_rows=3)).rows] == ["1", "2"]
    with pytest.raises(DataError, match="第 5 行：文件超过 2 行"):  # the line the third record starts on
        read_table(path, limits=ReadLimits(max_rows=2))
