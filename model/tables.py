"""Reading and writing the tables offices exchange: CSV (UTF-8, BOM, GBK/GB18030), XLSX and JSONL.

Rows keep the number a person sees in Excel or a text editor, so every error can point at them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.errors import DataError, RowIssue

SUPPORTED = (".csv", ".xlsx", ".jsonl")
_ENCODINGS = ("utf-8-sig", "gb18030")
MAX_CSV_FIELD = 2**31 - 1  # a pasted attachment can run to megabytes: read it, and let the row check judge it


@dataclass
class Table:
    """A header and its rows; `row_numbers[i]` is where `rows[i]` stands in the source file."""

    path: str
    columns: list[str]
    rows: list[dict[str, Any]]
    row_numbers: list[int]
    encoding: str | None = None
    issues: list[RowIssue] = field(default_factory=list)


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DataError(
            RowIssue(str(path), None, None, f"unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED)}")
        )
    return suffix


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return value
    return str(value).strip()


def _decode(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError(RowIssue(str(path), None, None, "cannot decode the file as UTF-8 or GBK/GB18030"))


def _read_csv(path: Path) -> Table:
    text, encoding = _decode(path)
    csv.field_size_limit(MAX_CSV_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                continue
            rows.append({name: _cell_text(record[i]) if i < len(record) else "" for i, name in enumerate(header)})
            numbers.append(line)
    except csv.Error as exc:
        raise DataError(RowIssue(str(path), reader.line_num, None, f"not readable as CSV: {exc}")) from exc
    if header is None:
        raise DataError(RowIssue(str(path), None, None, "the file is empty (no header row)"))
    return Table(str(path), header, rows, numbers, encoding)


def _read_jsonl(path: Path) -> Table:
    text, encoding = _decode(path)
    columns: dict[str, None] = {}
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    issues: list[RowIssue] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            issues.append(RowIssue(str(path), number, None, f"invalid JSON: {exc.msg}", fatal=False))
            continue
        if not isinstance(record, dict):
            issues.append(RowIssue(str(path), number, None, "each line must be a JSON object", fatal=False))
            continue
        columns.update(dict.fromkeys(record))
        rows.append({k: _cell_text(v) for k, v in record.items()})
        numbers.append(number)
    if not rows and issues:
        raise DataError(issues)
    if not rows:
        raise DataError(RowIssue(str(path), None, None, "the file is empty"))
    return Table(str(path), list(columns), rows, numbers, encoding, issues)


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise DataError(RowIssue(str(path), None, None, f"not a readable XLSX workbook: {exc}")) from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            names = "、".join(book.sheetnames)
            raise DataError(RowIssue(str(path), None, None, f"no sheet named {sheet!r}; the workbook has {names}"))
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        header: list[str] | None = None
        rows: list[dict[str, Any]] = []
        numbers: list[int] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if not any(str(c).strip() for c in cells):
                continue
            if header is None:
                header = [str(c).strip() for c in cells]
                continue
            rows.append({name: cells[i] if i < len(cells) else "" for i, name in enumerate(header) if name})
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        raise DataError(RowIssue(str(path), None, None, f"sheet {ws.title!r} is empty (no header row)"))
    return Table(str(path), [h for h in header if h], rows, numbers)


def read_table(path: str | Path, sheet: str | None = None) -> Table:
    """Read a table by its extension; lines that cannot be parsed at all are listed in `table.issues`."""
    path = Path(path)
    suffix = _check_suffix(path)
    if not path.is_file():
        raise DataError(RowIssue(str(path), None, None, "file not found"))
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".jsonl":
        return _read_jsonl(path)
    return _read_xlsx(path, sheet)


def _flat(value: Any) -> Any:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


def write_table(path: str | Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write rows by the file's extension; lists become 、-joined text except in JSONL."""
    path = Path(path)
    suffix = _check_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({c: row.get(c, "") for c in columns}, ensure_ascii=False) + "\n")
    elif suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_flat(row.get(c, "")) for c in columns])
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        ws = book.create_sheet("routed")
        ws.append(list(columns))
        for row in rows:
            ws.append([_flat(row.get(c, "")) for c in columns])
        book.save(path)
