"""The workbook the supervision office hands on: results in Chinese, a summary with a chart, rejected rows.

The office's own columns come first and unchanged; the router's suggestion follows under the names the
office uses. A result column whose name the intake already uses gets a `（建议）` suffix instead of
overwriting it. Written in openpyxl's streaming mode, so a year's intake of 100,000 rows stays small in
memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from openpyxl import Workbook

from proposal_router.model.errors import RowIssue
from proposal_router.model.schemas import RoutingResult
from proposal_router.model.screening import GROUND_NAMES
from proposal_router.model.similarity import Match
from proposal_router.service.labels import DECISIONS, REASONS, STATUSES
from proposal_router.service.output import Final, shown
from proposal_router.service.sheet_format import (
    CONFIDENCE,
    PERCENT,
    bar_chart,
    bold_row,
    summary_sheet,
    table_sheet,
    text_width,
)

RESULT_HEADERS = [
    "建议主办单位",
    "建议协办单位",
    "主题",
    "置信度",
    "处理方式",
    "复核原因",
    "候选单位(前三)",
    "审查提示",
    "预审提示",
]
FINAL_HEADERS = ["最终主办单位", "最终协办单位", "状态"]
# 打印: the result columns a paper list keeps (the candidates and the prescreen notes stay on screen), the
# width an office column's typical value may have and still be printed (a proposal's full text is not), and
# where the printed sheet wraps: so that an A4 landscape page prints at a readable size, not at a third.
PRINTED_RESULTS = 6
LONG_TEXT = 80
PRINT_WIDTH = 30
SIMILAR_HEADER = "可并案"
Member = TypeVar("Member")
UNSAFE_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\s]+')


@dataclass(frozen=True)
class RoutedRow:
    raw: dict[str, Any]
    result: RoutingResult
    final: Final | None = None  # known for rows of a stored batch: review decisions taken since
    text: str = ""  # the filing's text, as 并案 candidates are looked up by
    similar: list[Match] | None = None  # earlier filings it could be merged with (并案), once looked up


def result_headers(original: Sequence[str], final: bool = False, similar: bool = False) -> list[str]:
    added = RESULT_HEADERS + (FINAL_HEADERS if final else []) + ([SIMILAR_HEADER] if similar else [])
    return [f"{h}（建议）" if h in original else h for h in added]


def _cells(result: RoutingResult) -> list[Any]:
    lead, topic = result.lead_department, result.topic
    reason = ""
    if result.reason is not None:
        reason = f"{REASONS.get(result.reason.code, result.reason.code)}：{result.reason.message}"
    return [
        lead.name if lead else "",
        "、".join(c.name for c in result.co_departments),
        topic.name if topic else "",
        lead.confidence if lead else "",
        DECISIONS[result.decision],
        reason,
        "、".join(shown(c) for c in result.candidates),
        "；".join(f"{GROUND_NAMES[f.code]}：“{f.evidence}”" for f in result.screening),
        "；".join(w.message for w in result.quality),
    ]


EXCEL_CELL_LIMIT = 32_767  # characters in one cell: Excel calls a file with a longer one damaged
CLIPPED = "…（超出 Excel 单元格上限，已截断）"


def _text(value: Any) -> Any:
    text = "、".join(str(v) for v in value) if isinstance(value, list) else value
    if isinstance(text, str) and len(text) > EXCEL_CELL_LIMIT:
        return text[: EXCEL_CELL_LIMIT - len(CLIPPED)] + CLIPPED
    return text


def _final_cells(final: Final | None) -> list[Any]:
    if final is None:
        return ["", "", ""]
    return [final.lead_department, "、".join(final.co_departments), STATUSES[final.status]]


def _results_sheet(book: Workbook, original: Sequence[str], rows: Sequence[RoutedRow], title: str = "交办结果") -> None:
    final = any(r.final is not None for r in rows)
    similar = any(r.similar is not None for r in rows)
    headers = [*original, *result_headers(original, final, similar)]
    table = [
        [_text(row.raw.get(c, "")) for c in original]
        + _cells(row.result)
        + (_final_cells(row.final) if final else [])
        + (["、".join(f"{m.id}（{m.similarity:.2f}）" for m in row.similar or [])] if similar else [])
        for row in rows
    ]
    heading = None if title == "交办结果" else f"{title} 交办结果（模型建议）"
    confidence = result_headers(original)[3]
    table_sheet(book, title, headers, table, {confidence: CONFIDENCE}, heading, typed=original)
    kept = [i for i in range(len(original)) if not _long_text(row[i] for row in table)]
    kept += [len(original) + i for i in range(PRINTED_RESULTS)]
    kept += list(range(len(original) + len(RESULT_HEADERS), len(headers)))  # final assignment, 并案
    printed = [[row[i] for i in kept] for row in table]
    formats = {confidence: CONFIDENCE}
    name = f"{title}（打印）"
    table_sheet(book, name, [headers[i] for i in kept], printed, formats, heading, original, PRINT_WIDTH, fit_rows=True)


def _long_text(values: Iterable[Any]) -> bool:
    """A column of long texts (the proposal itself): its typical value is wider than a printed list allows."""
    widths = sorted(text_width(v) for v in values if v not in (None, ""))
    return bool(widths) and widths[len(widths) // 2] > LONG_TEXT


def _summary_sheet(book: Workbook, rows: Sequence[RoutedRow], rejected: int) -> None:
    review = sum(r.result.decision == "review" for r in rows)
    facts = [
        ("提案总数", len(rows) + rejected, None),
        ("已交办（自动）", len(rows) - review, None),
        ("转人工复核", review, None),
        ("人工复核占比", review / len(rows) if rows else 0.0, PERCENT),
        ("未能处理的行", rejected, None),
    ]
    sheet = summary_sheet(book, "汇总", facts)
    sheet.append([])
    header_row = len(facts) + 2
    bold_row(sheet, ["建议主办单位", "提案数", "自动交办", "人工复核"])
    leads = Counter(r.result.lead_department.name if r.result.lead_department else "（未定）" for r in rows)
    autos = Counter(
        r.result.lead_department.name for r in rows if r.result.decision == "auto" and r.result.lead_department
    )
    for name, count in leads.most_common():
        sheet.append([name, count, autos[name], count - autos[name]])
    sheet.append([])
    bold_row(sheet, ["主题", "提案数"])
    for name, count in Counter(r.result.topic.name if r.result.topic else "（未定）" for r in rows).most_common():
        sheet.append([name, count])
    if leads:
        bar_chart(sheet, "各主办单位交办量", header_row, len(leads), 1, "F2")


def _rejected_sheet(book: Workbook, issues: Sequence[RowIssue]) -> None:
    rows = [[issue.file, issue.row, issue.column or "", issue.message] for issue in issues]
    table_sheet(book, "未处理行", ["文件", "行", "列", "原因"], rows)


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
    return save_per_department(
        directory,
        dict(sorted(groups.items())),
        lambda book, name, members: _results_sheet(book, original, members, name),
    )


def save_per_department(
    directory: Path, groups: dict[str, Sequence[Member]], sheet: Callable[[Workbook, str, Sequence[Member]], None]
) -> list[Path]:
    """One workbook per department, named after it, its one sheet written by `sheet`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for department, members in groups.items():
        book = Workbook(write_only=True)
        sheet(book, department, members)
        path = directory / f"{department_file_name(department)}.xlsx"
        book.save(path)
        written.append(path)
    return written
