"""From a table's rows to proposals, with the office's own column names mapped by flags."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from proposal_router.model.errors import DataError, RowIssue
from proposal_router.model.intake.tables import Table, TableStream
from proposal_router.model.schemas import Proposal

_LIST_SEPARATORS = re.compile(r"[、，,;；\s]+")


class ColumnMap(BaseModel):
    """Which columns hold what; several title/body columns are joined in the order given."""

    id: str = "id"
    title: list[str] = Field(default_factory=lambda: ["title"])
    body: list[str] = Field(default_factory=lambda: ["body"])
    topic: str = "topic"
    lead: str = "lead_department"
    co: str = "co_departments"


def split_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part for part in _LIST_SEPARATORS.split(str(value or "")) if part]


def missing_column(table: Table | TableStream, column: str, option: str) -> RowIssue:
    """`option` is the `ColumnMap` field that named the column: each front end says how to set it."""
    close = difflib.get_close_matches(column, table.columns, n=3, cutoff=0.3)
    hint = f"；是否指 {'、'.join(f'「{c}」' for c in close)}？" if close else ""
    available = "、".join(table.columns)
    return RowIssue(table.path, None, column, f"找不到此列{hint}。文件中的列有：{available}", option=option)


def require_columns(table: Table | TableStream, columns: ColumnMap) -> None:
    issues = [
        missing_column(table, name, option)
        for names, option in ((columns.title, "title"), (columns.body, "body"))
        for name in names
        if name not in table.columns
    ]
    if issues:
        raise DataError(issues)


@dataclass
class ProposalRow:
    row: int
    proposal: Proposal
    raw: dict[str, Any]


def _text(raw: dict[str, Any], names: list[str]) -> str:
    return "\n".join(str(raw.get(n, "")).strip() for n in names if str(raw.get(n, "")).strip())


def stream_proposals(
    table: Table | TableStream, columns: ColumnMap, max_chars: int | None = None
) -> tuple[Iterator[ProposalRow], list[RowIssue]]:
    """Every usable row as a proposal, as the table is read; empty, over-long (`max_chars`) texts and
    repeated ids are left out and listed in the issues, which fill as the rows are consumed.

    A JSONL file names its fields line by line, so its text columns can only be checked once it is read:
    a missing one is then a DataError from the rows."""
    streamed = isinstance(table, TableStream)
    deferred = streamed and not table.columns
    if not deferred:
        require_columns(table, columns)
    issues = table.issues if streamed else list(table.issues)
    rows = table.rows if isinstance(table, TableStream) else zip(table.row_numbers, table.rows, strict=True)
    return _proposals(table, rows, columns, max_chars, issues, deferred), issues


def read_proposals(
    table: Table, columns: ColumnMap, max_chars: int | None = None
) -> tuple[list[ProposalRow], list[RowIssue]]:
    rows, issues = stream_proposals(table, columns, max_chars)
    return list(rows), issues


def _proposals(
    table: Table | TableStream,
    rows: Iterable[tuple[int, dict[str, Any]]],
    columns: ColumnMap,
    max_chars: int | None,
    issues: list[RowIssue],
    check_at_end: bool,
) -> Iterator[ProposalRow]:
    seen: dict[str, int] = {}
    text_cols = "/".join(columns.title + columns.body)
    for row, raw in rows:
        ident = str(raw.get(columns.id, "")).strip() or f"row-{row}"
        title, body = _text(raw, columns.title), _text(raw, columns.body)
        if not (title or body):
            issues.append(RowIssue(table.path, row, text_cols, "标题和正文都为空，该行已跳过", fatal=False))
            continue
        if max_chars is not None and len(title) + len(body) > max_chars:
            message = (
                f"正文共 {len(title) + len(body):,} 字，超过 {max_chars:,} 字的上限"
                "（PROPOSAL_ROUTER_MAX_TEXT_CHARS），该行已跳过"
            )
            issues.append(RowIssue(table.path, row, text_cols, message, fatal=False))
            continue
        if ident in seen:
            message = f"编号 {ident} 重复（首次出现在第 {seen[ident]} 行），该行已跳过"
            issues.append(RowIssue(table.path, row, columns.id, message, fatal=False))
            continue
        seen[ident] = row
        yield ProposalRow(row, Proposal(id=ident, title=title, body=body), raw)
    if check_at_end:
        require_columns(table, columns)
