"""The workbook the supervision office hands on: results in Chinese, a summary with a chart, rejected rows.

The office's own columns come first and unchanged; the router's suggestion follows under the names the
office uses. A result column whose name the intake already uses gets a `（建议）` suffix instead of
overwriting it. Written in openpyxl's streaming mode, so a year's intake of 100,000 rows stays small in
memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from proposal_router.model.errors import RowIssue
from proposal_router.model.intake.cells import xlsx_row
from proposal_router.model.schemas import RoutingResult
from proposal_router.service.labels import DECISIONS, REASONS
from proposal_router.service.output import shown

RESULT_HEADERS = ["建议主办单位", "建议协办单位", "主题", "置信度", "处理方式", "复核原因", "候选单位(前三)"]
UNSAFE_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\s]+')


@dataclass(frozen=True)
class RoutedRow:
    raw: dict[str, Any]
    result: RoutingResult


def result_headers(original: Sequence[str]) -> list[str]:
    return [f"{h}（建议）" if h in original else h for h in RESULT_HEADERS]


def _cells(result: RoutingResult) -> list[Any]:
    lead, topic = result.lead_department, result.topic
    reason = ""
    if result.reason is not None:
        reason = f"{REASONS.get(result.reason.code, result.reason.code)}：{result.reason.message}"
    return [
        lead.name if lead else "",
        "、".join(c.name for c in result.co_departments),
        topic.name if topic else "",
        round(lead.confidence, 4) if lead else "",
        DECISIONS[result.decision],
        reason,
        "、".join(shown(c) for c in result.candidates),
    ]


EXCEL_CELL_LIMIT = 32_767  # characters in one cell: Excel calls a file with a longer one damaged
CLIPPED = "…（超出 Excel 单元格上限，已截断）"


def _text(value: Any) -> Any:
    text = "、".join(str(v) for v in value) if isinstance(value, list) else value
    if isinstance(text, str) and len(text) > EXCEL_CELL_LIMIT:
        return text[: EXCEL_CELL_LIMIT - len(CLIPPED)] + CLIPPED
    return text


def _results_sheet(book: Workbook, original: Sequence[str], rows: Iterable[RoutedRow]) -> None:
    sheet = book.create_sheet("交办结果")
    sheet.freeze_panes = "A2"
    sheet.append(xlsx_row(sheet, [*original, *result_headers(original)]))
    for row in rows:
        sheet.append(xlsx_row(sheet, [_text(row.raw.get(c, "")) for c in original] + _cells(row.result)))


def _summary_sheet(book: Workbook, rows: Sequence[RoutedRow], rejected: int) -> None:
    sheet = book.create_sheet("汇总")
    review = sum(r.result.decision == "review" for r in rows)
    sheet.append(["提案总数", len(rows) + rejected])
    sheet.append(["已交办（自动）", len(rows) - review])
    sheet.append(["转人工复核", review])
    sheet.append(["人工复核占比", round(review / len(rows), 4) if rows else 0])
    sheet.append(["未能处理的行", rejected])
    sheet.append([])
    first = 8
    sheet.append(["建议主办单位", "提案数", "自动交办", "人工复核"])
    leads = Counter(r.result.lead_department.name if r.result.lead_department else "（未定）" for r in rows)
    autos = Counter(
        r.result.lead_department.name for r in rows if r.result.decision == "auto" and r.result.lead_department
    )
    for name, count in leads.most_common():
        sheet.append([name, count, autos[name], count - autos[name]])
    last = first + len(leads)
    sheet.append([])
    sheet.append(["主题", "提案数"])
    for name, count in Counter(r.result.topic.name if r.result.topic else "（未定）" for r in rows).most_common():
        sheet.append([name, count])
    if leads:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "各主办单位交办量"
        chart.y_axis.title = "提案数"
        chart.height, chart.width = max(8.0, 0.6 * len(leads)), 18.0
        chart.add_data(Reference(sheet, min_col=2, max_col=2, min_row=first, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=first + 1, max_row=last))
        sheet.add_chart(chart, "F2")


def _rejected_sheet(book: Workbook, issues: Sequence[RowIssue]) -> None:
    sheet = book.create_sheet("未处理行")
    sheet.append(["文件", "行", "列", "原因"])
    for issue in issues:
        sheet.append(xlsx_row(sheet, [issue.file, issue.row, issue.column or "", issue.message]))


def write_workbook(path: Path, original: Sequence[str], rows: Sequence[RoutedRow], issues: Sequence[RowIssue]) -> None:
    book = Workbook(write_only=True)
    _results_sheet(book, original, rows)
    _summary_sheet(book, rows, len(issues))
    _rejected_sheet(book, issues)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def department_file_name(department: str) -> str:
    return UNSAFE_IN_FILE_NAMES.sub("_", department).strip("._") or "未定"


def write_department_files(directory: Path, original: Sequence[str], rows: Sequence[RoutedRow]) -> list[Path]:
    """One workbook per suggested lead department: the list each department receives."""
    groups: dict[str, list[RoutedRow]] = {}
    for row in rows:
        lead = row.result.lead_department
        groups.setdefault(lead.name if lead else "未定", []).append(row)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for department, members in sorted(groups.items()):
        book = Workbook(write_only=True)
        _results_sheet(book, original, members)
        path = directory / f"{department_file_name(department)}.xlsx"
        book.save(path)
        written.append(path)
    return written
