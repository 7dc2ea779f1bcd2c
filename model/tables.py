"""Reading and writing the tables offices exchange: CSV (UTF-8, BOM, GBK/GB18030), XLSX and JSONL.

Rows keep the number a person sees in Excel or a text editor, so every error can point at them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.cells import csv_row, xlsx_row
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


class _Sheet:
    """Header and rows from a sheet's records. Offices put a title above the header (2026年度政协提案汇总表,
    often merged across the columns): a first row holding one text, followed by a fuller row, is skipped."""

    def __init__(self, max_rows: int | None) -> None:
        self.header: list[str] | None = None
        self.rows: list[dict[str, Any]] = []
        self.numbers: list[int] = []
        self.max_rows = max_rows
        self._maybe_title = False

    def add(self, number: int, cells: list[Any]) -> bool:
        """Take one record; False once `max_rows` rows are in."""
        distinct = len({str(c).strip() for c in cells} - {""})
        if not distinct:
            return True
        if self.header is None or (self._maybe_title and not self.rows and distinct > 1):
            self.header, self._maybe_title = [str(c).strip() for c in cells], self.header is None and distinct == 1
            return True
        if len(self.rows) == self.max_rows:
            return False
        self.rows.append({name: cells[i] if i < len(cells) else "" for i, name in enumerate(self.header) if name})
        self.numbers.append(number)
        return True

    def table(self, path: Path, empty: str, encoding: str | None = None) -> Table:
        if self.header is None:
            raise DataError(RowIssue(str(path), None, None, empty))
        return Table(str(path), [h for h in self.header if h], self.rows, self.numbers, encoding)


def _read_csv(path: Path, max_rows: int | None) -> Table:
    text, encoding = _decode(path)
    csv.field_size_limit(MAX_CSV_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""))
    sheet = _Sheet(max_rows)
    for record in reader:
        if not sheet.add(reader.line_num, [_cell_text(cell) for cell in record]):
            break
    return sheet.table(path, "the file is empty (no header row)", encoding)


def _read_jsonl(path: Path, max_rows: int | None) -> Table:
    text, encoding = _decode(path)
    columns: dict[str, None] = {}
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    issues: list[RowIssue] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(rows) == max_rows:
            break
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


_MERGE_REF = re.compile(rb'<mergeCell ref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')
Merged = dict[int, list[tuple[int, tuple[int, int]]]]


def _merged_cells(path: Path, ws: Any) -> Merged:
    """Per row, each merged cell's column and its range's top-left cell, whose value Excel shows in all of
    them (a 类别 merged down a group of proposals belongs to every one). openpyxl's streaming reader does
    not report merges, so they are read from the sheet's XML."""
    from openpyxl.utils import column_index_from_string

    with zipfile.ZipFile(path) as archive:
        xml = archive.read(ws._worksheet_path.lstrip("/"))
    cells: Merged = {}
    for first, top, last, bottom in _MERGE_REF.findall(xml):
        left, right = column_index_from_string(first.decode()) - 1, column_index_from_string(last.decode()) - 1
        origin = (int(top), left)
        for row in range(int(top), int(bottom) + 1):
            cells.setdefault(row, []).extend((column, origin) for column in range(left, right + 1))
    for entries in cells.values():
        entries.sort()
    return cells


def _read_xlsx(path: Path, sheet: str | None, max_rows: int | None) -> Table:
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
        merged, shown = _merged_cells(path, ws), {}
        rows = _Sheet(max_rows)
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            blank = not any(str(c).strip() for c in cells)  # a blank row inside a merged group stays blank
            for column, origin in () if blank else merged.get(number, ()):
                cells.extend([""] * (column + 1 - len(cells)))
                if (number, column) == origin:
                    shown[origin] = cells[column]
                else:
                    cells[column] = shown.get(origin, "")
            if not rows.add(number, cells):
                break
    finally:
        book.close()
    return rows.table(path, f"sheet {ws.title!r} is empty (no header row)")


def read_table(path: str | Path, sheet: str | None = None, max_rows: int | None = None) -> Table:
    """Read a table by its extension; lines that cannot be parsed at all are listed in `table.issues`.

    `max_rows` stops after that many data rows: a quick look that finds a wrong sheet or column at once.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if not path.is_file():
        raise DataError(RowIssue(str(path), None, None, "file not found"))
    if suffix == ".csv":
        return _read_csv(path, max_rows)
    if suffix == ".jsonl":
        return _read_jsonl(path, max_rows)
    return _read_xlsx(path, sheet, max_rows)


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
            writer.writerow(csv_row(columns))
            for row in rows:
                writer.writerow(csv_row(_flat(row.get(c, "")) for c in columns))
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        ws = book.create_sheet("routed")
        ws.append(xlsx_row(ws, columns))
        for row in rows:
            ws.append(xlsx_row(ws, (_flat(row.get(c, "")) for c in columns)))
        book.save(path)
