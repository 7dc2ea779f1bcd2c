"""The office's final workbook after review, and each department's own list, ready to print and hand on.

Sheets: 交办清单 (every proposal assigned, automatically or by a reviewer), 不予立案 (with reasons), 待复核
(still waiting) and 汇总 (counts, and per department how many it leads and co-handles, with a chart).
Times are shown in the office's local time zone (`PROPOSAL_ROUTER_TIMEZONE`): Excel keeps no zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from proposal_router.service.domain.assignments import Assignment, Handled, Mode, Role, assigned, by_department
from proposal_router.service.sheet_format import (
    CONFIDENCE,
    DATE_TIME,
    bar_chart,
    bold_row,
    summary_sheet,
    table_sheet,
)
from proposal_router.service.statuses import ProposalStatus
from proposal_router.service.workbook import save_per_department

MODES = {Mode.AUTO: "自动", Mode.MANUAL: "人工"}
ROLES = {Role.LEAD: "主办", Role.CO: "协办"}
ASSIGNED_HEADERS = [
    "编号",
    "提案标题",
    "提案人",
    "主办单位",
    "协办单位",
    "主题",
    "交办方式",
    "复核人",
    "复核时间",
    "并案",
]
REJECTED_HEADERS = ["编号", "提案标题", "提案人", "不予立案理由", "复核人", "复核时间"]
PENDING_HEADERS = [
    "编号",
    "提案标题",
    "提案人",
    "建议主办单位",
    "建议协办单位",
    "主题",
    "置信度",
    "复核原因",
    "收到时间",
]
TIMES = {"复核时间": DATE_TIME, "收到时间": DATE_TIME, "置信度": CONFIDENCE}


class _Clock:
    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def local(self, moment: datetime | None) -> datetime | str:
        """A naive local time Excel can hold, or an empty cell."""
        return moment.astimezone(self.zone).replace(tzinfo=None) if moment else ""


def _filing(item: Assignment) -> list[Any]:
    """编号, 提案标题, 提案人, then the lead, co-departments and topic (in force, or suggested if pending)."""
    co = "、".join(item.co_departments)
    return [item.shown_id, item.title, item.submitter or "", item.lead_department or "", co, item.topic or ""]


def _assigned_row(item: Assignment, clock: _Clock) -> list[Any]:
    return [
        *_filing(item),
        MODES[item.mode] if item.mode else "",
        item.decided_by or "",
        clock.local(item.decided_at) if item.mode == Mode.MANUAL else "",
        _group(item),
    ]


def _group(item: Assignment) -> str:
    if item.merged_into:
        return f"并入 {item.merged_into}"
    return f"并入本件：{'、'.join(item.merged)}" if item.merged else ""


def _rejected_row(item: Assignment, clock: _Clock) -> list[Any]:
    reason = item.rejection_reason or ""
    return [
        item.shown_id,
        item.title,
        item.submitter or "",
        reason,
        item.decided_by or "",
        clock.local(item.decided_at),
    ]


def _pending_row(item: Assignment, clock: _Clock) -> list[Any]:
    return [
        *_filing(item),
        item.confidence if item.confidence is not None else "",
        item.review_reason or "",
        clock.local(item.received_at),
    ]


def _summary(book: Workbook, items: Sequence[Assignment]) -> None:
    counts = Counter(item.status for item in items)
    done = assigned(items)
    facts: list[tuple[str, Any, str | None]] = [
        ("提案总数", len(items), None),
        ("已交办", len(done), None),
        ("其中自动交办", sum(i.mode == Mode.AUTO for i in done), None),
        ("其中人工复核交办", sum(i.mode == Mode.MANUAL for i in done), None),
        ("不予立案", counts[ProposalStatus.REJECTED], None),
        ("待复核", counts[ProposalStatus.PENDING], None),
    ]
    sheet = summary_sheet(book, "汇总", facts)
    sheet.append([])
    header_row = len(facts) + 2
    bold_row(sheet, ["承办单位", "主办", "协办", "合计"])
    lists = sorted(by_department(items).items(), key=lambda kv: (-len(kv[1]), kv[0]))
    for department, handled in lists:
        lead = sum(h.role == Role.LEAD for h in handled)
        sheet.append([department, lead, len(handled) - lead, len(handled)])
    if lists:
        bar_chart(sheet, "各单位承办量", header_row, len(lists), 2, "F2")


def write_final_workbook(path: Path, items: Sequence[Assignment], timezone: str) -> None:
    """The office's workbook after review: 交办清单, 不予立案, 待复核, 汇总."""
    clock = _Clock(timezone)
    book = Workbook(write_only=True)
    rows = [_assigned_row(i, clock) for i in assigned(items)]
    table_sheet(book, "交办清单", ASSIGNED_HEADERS, rows, TIMES, typed=["编号"])
    rejected = [_rejected_row(i, clock) for i in items if i.status == ProposalStatus.REJECTED]
    table_sheet(book, "不予立案", REJECTED_HEADERS, rejected, TIMES, typed=["编号"])
    pending = [_pending_row(i, clock) for i in items if i.status == ProposalStatus.PENDING]
    table_sheet(book, "待复核", PENDING_HEADERS, pending, TIMES, typed=["编号"])
    _summary(book, items)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def _department_sheet(book: Workbook, department: str, handled: Sequence[Handled], clock: _Clock) -> None:
    lead = sum(h.role == Role.LEAD for h in handled)
    heading = f"{department} 交办清单（主办 {lead} 件，协办 {len(handled) - lead} 件）"
    rows = [[ROLES[h.role], *_assigned_row(h.assignment, clock)] for h in handled]
    table_sheet(book, department, ["承办类型", *ASSIGNED_HEADERS], rows, TIMES, heading, typed=["编号"])


def write_final_department_files(directory: Path, items: Sequence[Assignment], timezone: str) -> list[Path]:
    """One workbook per department: the proposals it leads, then those it co-handles, marked 主办/协办."""
    clock = _Clock(timezone)

    def sheet(book: Workbook, department: str, handled: Sequence[Handled]) -> None:
        _department_sheet(book, department, handled, clock)

    return save_per_department(directory, dict(by_department(items)), sheet)
