"""`audit-labels`: wrong lead departments planted in small labelled tables are listed, for the office, in
疑似错标.xlsx with its Chinese columns, each at the row Excel shows and with the department it should have."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from proposal_router.service.cli import main
from proposal_router.service.label_audit import HEADERS
from tests.conftest import make_rows, write_csv

WRONG = {"市医疗保障局": "市教育局", "市教育局": "市交通运输局", "市交通运输局": "市医疗保障局"}


def _planted(tmp_path: Path, n_per_department: int = 30, planted: int = 6) -> tuple[Path, dict[str, tuple[int, str]]]:
    """A table with `planted` rows given a wrong lead, and a line break in every body (a CSV record then
    spans two lines: the row Excel shows is not the line number). id → (Excel row, the lead it had)."""
    rows = make_rows(n_per_department, seed=1)
    for row in rows:
        row["body"] = row["body"].replace("建议：", "\n建议：")
    wrong: dict[str, tuple[int, str]] = {}
    for place, row in enumerate(rows):
        if len(wrong) < planted and place % 7 == 3:
            wrong[row["id"]] = (place + 2, row["lead_department"])
            row["lead_department"] = WRONG[row["lead_department"]]
    return write_csv(tmp_path / "last-year.csv", rows), wrong


def _sheet(path: Path) -> tuple[list[Any], list[dict[str, Any]]]:
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["疑似错标", "按单位", "说明"]
    values = list(book["疑似错标"].iter_rows(values_only=True))
    header = list(values[0])
    return header, [dict(zip(header, v, strict=True)) for v in values[1:]]


def test_audit_finds_the_planted_wrong_leads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROPOSAL_ROUTER_BASE_MODEL", raising=False)
    data, wrong = _planted(tmp_path)
    out = tmp_path / "audit"
    assert main(["audit-labels", "--data", str(data), "--out", str(out), "--taxonomy", "none"]) == 0
    captured = capsys.readouterr()
    assert "只用 TF-IDF 基线" in captured.err  # no pretrained encoder configured: the baseline, said so
    header, listed = _sheet(out / "疑似错标.xlsx")
    assert header == HEADERS
    assert {"行号", "编号", "标题", "现主办单位", "建议主办单位", "建议置信度", "现单位的概率", "处理意见"} <= set(
        header
    )
    by_id = {str(r["编号"]): r for r in listed}
    co = {r["id"]: r["co_departments"] for r in csv.DictReader(data.open(encoding="utf-8"))}
    found = [i for i in wrong if i in by_id]
    assert len(found) >= 5, (found, list(by_id))
    assert len(listed) <= 2 * len(wrong)  # the clean rows of a clear table are not listed wholesale
    for ident in found:
        row = by_id[ident]
        assert row["行号"] == wrong[ident][0]
        assert row["建议主办单位"] == wrong[ident][1]
        assert row["现主办单位"] == WRONG[wrong[ident][1]]
        assert row["建议置信度"] > row["现单位的概率"]
        assert row["处理意见"] is None and row["标题"].startswith("关于")
        assert (row["现协办单位"] or "") == co[ident]
    assert [r["序号"] for r in listed] == list(range(1, len(listed) + 1))
    given = [r["现单位的概率"] for r in listed]
    assert given == sorted(given)  # most doubtful first
    assert f"{3 * 30} 件中 {len(listed)} 件疑似交办有误 → {out / '疑似错标.xlsx'}" in captured.out
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Confident Learning" in report and f"**{len(listed)} 件**" in report
    book = load_workbook(out / "疑似错标.xlsx")
    sheet = book["疑似错标"]  # printable and sortable as the office's other workbooks
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:K{len(listed) + 1}"
    assert sheet.page_setup.orientation == "landscape" and sheet["A1"].font.bold
    assert sheet["I2"].number_format == "0.0%"
    assert any("再运行 train" in str(row[0]) for row in book["说明"].iter_rows(values_only=True))


def test_audit_with_the_frozen_encoder_as_train_uses_it(
    tmp_path: Path, tiny_bert: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, wrong = _planted(tmp_path, n_per_department=20, planted=4)
    out = tmp_path / "audit"
    argv = [
        "audit-labels",
        "--data",
        str(data),
        "--out",
        str(out),
        "--taxonomy",
        "none",
        "--base-model",
        str(tiny_bert),
    ]
    assert main([*argv, "--max-length", "24", "--threads", "1"]) == 0
    _, listed = _sheet(out / "疑似错标.xlsx")
    assert sum(str(r["编号"]) in wrong for r in listed) >= 3
    notes = [r[0] for r in load_workbook(out / "疑似错标.xlsx", read_only=True)["说明"].iter_rows(values_only=True)]
    assert any("预训练编码器（冻结）" in str(n) for n in notes)
    assert not (out / "serving").exists()  # the encoder was exported to a temporary directory only


def test_several_files_name_the_file_with_the_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, wrong = _planted(tmp_path)
    earlier = write_csv(tmp_path / "earlier.csv", make_rows(10, seed=2))
    out = tmp_path / "audit"
    argv = ["audit-labels", "--data", str(data), str(earlier), "--out", str(out), "--taxonomy", "none"]
    assert main([*argv, "--model-type", "baseline", "--holdout", "0.2"]) == 0
    assert "--holdout 不适用" in capsys.readouterr().err  # every row is audited, none held out
    header, listed = _sheet(out / "疑似错标.xlsx")
    assert header[1] == "文件和行号"
    shown = {str(r["编号"]): r["文件和行号"] for r in listed}
    hits = [i for i in wrong if i in shown]
    assert hits and all(shown[i] == f"last-year.csv 第 {wrong[i][0]} 行" for i in hits)


def test_user_mistakes_are_chinese_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _planted(tmp_path)
    taken = tmp_path / "a-file.txt"
    taken.write_text("x", encoding="utf-8")
    argv = ["audit-labels", "--data", str(data), "--out", str(taken), "--taxonomy", "none", "--model-type", "baseline"]
    assert main(argv) == 2
    assert "是一个文件，不是目录" in capsys.readouterr().err
    rows = [{k: v for k, v in r.items() if k not in ("lead_department", "co_departments")} for r in make_rows(10)]
    topics_only = write_csv(tmp_path / "topics.csv", rows)
    argv = ["audit-labels", "--data", str(topics_only), "--out", str(tmp_path / "o"), "--taxonomy", "none"]
    assert main([*argv, "--model-type", "baseline"]) == 2
    err = capsys.readouterr().err
    assert "没有主办单位列" in err and "--lead-field" in err
