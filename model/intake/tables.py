"""Reading and writing the tables offices exchange: CSV (UTF-8, BOM, GBK/GB18030), XLSX, XLS (read only) and JSONL.

Rows keep the number a person sees in Excel or a text editor, so every error can point at them.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

from pydantic import BaseModel, Field

from proposal_router.model.errors import DataError, RowIssue
from proposal_router.model.intake.cells import csv_row, xlsx_row
from proposal_router.model.intake.clean import clean_text

WRITABLE = (".csv", ".xlsx", ".jsonl")
SUPPORTED = (".csv", ".xlsx", ".xls", ".jsonl")  # what is read; .xls (Excel 97-2003, still common) only read
_ENCODINGS = ("utf-8-sig", "gb18030")
MAX_CSV_FIELD = 2**31 - 1  # a pasted attachment can run to megabytes: read it, and let the row check judge it


class ReadLimits(BaseModel):
    """What one file may cost to read, checked before the work it would cause.

    Each is a setting of the same name (PROPOSAL_ROUTER_MAX_ROWS, …). The defaults hold a 12345 hotline's
    year (100,000 messages) with room, and keep a hostile file of the allowed upload size well under 1 GB
    of memory (benchmarks/README.md, "Hostile inputs")."""

    max_rows: int = Field(default=200_000, ge=1, description="rows of a sheet, CSV or JSONL file, header included")
    max_columns: int = Field(default=200, ge=1, description="columns of a table")
    max_merged_ranges: int = Field(default=10_000, ge=0, description="merged cell ranges of a sheet")
    max_unzipped_bytes: int = Field(default=400_000_000, ge=1, description="an XLSX file's parts, decompressed")
    max_zip_ratio: int = Field(default=200, ge=1, description="decompressed to compressed size of an XLSX part")
    max_zip_entries: int = Field(default=10_000, ge=1, description="parts of an XLSX file")
    max_json_depth: int = Field(default=20, ge=1, description="nesting of a JSON line")


Row = tuple[int, dict[str, Any]]  # the row a person sees, and its cells by column name


@dataclass
class Table:
    """A header and its rows; `row_numbers[i]` is where `rows[i]` stands in the source file."""

    path: str
    columns: list[str]
    rows: list[dict[str, Any]]
    row_numbers: list[int]
    encoding: str | None = None
    issues: list[RowIssue] = field(default_factory=list)


@dataclass
class TableStream:
    """A table read as it is consumed, so that a 200 MB intake is never held whole: the header is read
    before it is returned; `issues` (lines that cannot be parsed) and, for JSONL, `columns` grow as `rows`
    is consumed. A file past a limit raises DataError from `rows`."""

    path: str
    columns: list[str]
    rows: Iterator[Row]
    encoding: str | None = None
    issues: list[RowIssue] = field(default_factory=list)


def _check_suffix(path: Path, allowed: Sequence[str] = SUPPORTED) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise DataError(
            RowIssue(str(path), None, None, f"不支持 {suffix or '无扩展名'} 文件，请用 {'、'.join(allowed)}")
        )
    return suffix


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return [_cell_text(v) for v in value]
    return clean_text(str(value)).strip()


def _encoding_of(path: Path) -> str:
    """The first encoding offices use that decodes the whole file, found in one streaming pass, so that
    rows are never read under one encoding and then found to need another."""
    for encoding in _ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_SCAN_CHUNK):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise DataError(RowIssue(str(path), None, None, "无法按 UTF-8 或 GBK/GB18030 编码读取此文件"))


def _too_big(path: Path, message: str, setting: str, row: int | None = None) -> DataError:
    hint = f"（上限由 PROPOSAL_ROUTER_{setting.upper()} 设定）"
    return DataError(RowIssue(str(path), row, None, message + hint))


def _check_extent(
    path: Path, number: int, cells: Sequence[Any], limits: ReadLimits, shown_at: int | None = None
) -> None:
    """A row past the row limit, or data past the column limit, refuses the file: reading on would cost
    what the limits are there to bound. XLSX rows are read one column past the limit, to tell a header
    too wide; cells further out are never read, so a cell in column XFD costs nothing. `number` counts
    records; `shown_at` is where the record stands when that differs (a CSV cell may span lines)."""
    where = shown_at or number
    if number > limits.max_rows:
        raise _too_big(path, f"文件超过 {limits.max_rows:,} 行，请拆分后再上传", "max_rows", where)
    if any(str(cell or "").strip() for cell in cells[limits.max_columns :]):
        message = f"第 {limits.max_columns + 1} 列起仍有数据，超过 {limits.max_columns:,} 列"
        raise _too_big(path, message, "max_columns", where)


def _distinct(cells: list[Any]) -> int:
    return len({str(c).strip() for c in cells} - {""})


def _framed(path: Path, records: Iterator[tuple[int, list[Any]]], empty: str) -> tuple[list[str], Iterator[Row]]:
    """The header, and the rows under it. Offices put a title above the header (2026年度政协提案汇总表,
    often merged across the columns): a first row holding one text, followed by a fuller row, is skipped."""
    header: list[str] | None = None
    first: tuple[int, list[Any]] | None = None
    for number, cells in records:
        distinct = _distinct(cells)
        if not distinct:
            continue
        if header is None:
            header = [str(c).strip() for c in cells]
            if distinct > 1:
                break
            continue
        if distinct > 1:
            header = [str(c).strip() for c in cells]
        else:
            first = (number, cells)
        break
    if header is None:
        raise DataError(RowIssue(str(path), None, None, empty))
    names = header

    def rows() -> Iterator[Row]:
        for number, cells in itertools.chain([first] if first else [], records):
            if _distinct(cells):
                yield number, {name: cells[i] if i < len(cells) else "" for i, name in enumerate(names) if name}

    return [h for h in header if h], rows()


def _csv_stream(path: Path, limits: ReadLimits) -> TableStream:
    encoding = _encoding_of(path)
    csv.field_size_limit(MAX_CSV_FIELD)

    def records() -> Iterator[tuple[int, list[Any]]]:
        with path.open(encoding=encoding, newline="") as fh:
            reader = csv.reader(fh)
            try:
                for count, record in enumerate(reader, start=1):
                    _check_extent(path, count, record, limits, reader.line_num)
                    yield reader.line_num, [_cell_text(cell) for cell in record[: limits.max_columns]]
            except csv.Error as exc:
                raise DataError(RowIssue(str(path), reader.line_num, None, f"CSV 格式错误：{exc}")) from exc

    columns, rows = _framed(path, records(), "文件为空（没有表头行）")
    return TableStream(str(path), columns, rows, encoding)


def _depth(value: Any) -> int:
    """How deeply a parsed JSON value nests, without recursing (a line may nest thousands deep)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _json_record(line: str, limits: ReadLimits) -> dict[str, Any]:
    """One line as a record of cleaned cells; ValueError with the reason a person can act on."""
    too_deep = f"JSON 嵌套超过 {limits.max_json_depth} 层（PROPOSAL_ROUTER_MAX_JSON_DEPTH）"
    try:
        record = json.loads(line)
    except RecursionError:
        raise ValueError(too_deep) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"不是有效的 JSON：第 {exc.colno} 个字符处格式错误") from None
    except ValueError:  # an integer of more than 4,300 digits
        raise ValueError("不是有效的 JSON：数字位数过多") from None
    if not isinstance(record, dict):
        raise ValueError("每一行必须是一个 JSON 对象（{…}）")
    if _depth(record) > limits.max_json_depth:
        raise ValueError(too_deep)
    if len(record) > limits.max_columns:
        raise ValueError(f"字段超过 {limits.max_columns:,} 个（PROPOSAL_ROUTER_MAX_COLUMNS）")
    return {clean_text(str(k)).strip(): _cell_text(v) for k, v in record.items()}


def _jsonl_stream(path: Path, limits: ReadLimits) -> TableStream:
    """Fields are named line by line: `columns` gathers them in order of first use as lines are read."""
    stream = TableStream(str(path), [], iter(()), _encoding_of(path))

    def rows() -> Iterator[Row]:
        known: set[str] = set()
        found = 0
        with path.open(encoding=stream.encoding, newline="") as fh:
            for number, line in enumerate(fh, start=1):
                _check_extent(path, number, (), limits)
                if not line.strip():
                    continue
                try:
                    record = _json_record(line, limits)
                except ValueError as exc:
                    stream.issues.append(RowIssue(str(path), number, None, f"{exc}；该行已跳过", fatal=False))
                    continue
                stream.columns.extend(k for k in record if k not in known)
                known.update(record)
                found += 1
                yield number, record
        if not found:
            raise DataError(stream.issues or RowIssue(str(path), None, None, "文件为空"))

    stream.rows = rows()
    return stream


_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})([0-9]{1,7}):([A-Z]{1,3})([0-9]{1,7})"')
_SCAN_CHUNK = 1 << 20
_ZIP_END = struct.Struct("<4s4H2LH")
Range = tuple[int, int, int, int]  # top row, left column, bottom row, right column (rows 1-based, columns 0-based)


def _zip_entries(path: Path) -> int | None:
    """Entries the archive declares, read from its end record before `ZipFile` builds one object per
    entry: a 200 MB upload can declare millions. None when there is no end record."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - _ZIP_END.size - 65_535))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _ZIP_END.size:
        return None
    return int(_ZIP_END.unpack_from(tail, at)[4])


def _check_archive(path: Path, limits: ReadLimits) -> None:
    """Refuse a zip bomb from the sizes the archive declares, before anything is decompressed.

    Reading a part never yields more than its declared size (and a part that lies about it fails its
    CRC), so the declared sizes bound the work and memory of everything after."""
    entries = _zip_entries(path)
    if entries is None:
        raise DataError(RowIssue(str(path), None, None, "不是可读的 XLSX 工作簿（不是有效的 ZIP 文件）"))
    if entries > limits.max_zip_entries:
        raise _too_big(path, f"工作簿包含 {entries:,} 个部件，超过 {limits.max_zip_entries:,} 个", "max_zip_entries")
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(RowIssue(str(path), None, None, "不是可读的 XLSX 工作簿（ZIP 结构损坏）")) from exc
    total = sum(part.file_size for part in parts)
    if total > limits.max_unzipped_bytes:
        message = f"工作簿解压后有 {total:,} 字节，超过 {limits.max_unzipped_bytes:,} 字节"
        raise _too_big(path, message, "max_unzipped_bytes")
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _RATIO_FLOOR and ratio > limits.max_zip_ratio:
            message = f"工作簿部件 {part.filename} 的压缩比为 {ratio:,.0f} 倍，超过 {limits.max_zip_ratio:,} 倍"
            raise _too_big(path, message, "max_zip_ratio")


_RATIO_FLOOR = 1_000_000  # small parts (styles, a short sheet) compress far past any ratio and cost nothing


def _merged_ranges(path: Path, archive: zipfile.ZipFile, part: str, limits: ReadLimits) -> list[Range]:
    """Merged ranges of a sheet, read from its XML in chunks (openpyxl's streaming reader does not report
    them) and clipped to the rows and columns the reader accepts: a 5 KB sheet can declare A1:XFD1048576."""
    from openpyxl.utils import column_index_from_string

    ranges: list[Range] = []
    carry = b""
    with archive.open(part) as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            data = carry + chunk
            last = 0
            for match in _MERGE_REF.finditer(data):
                first, top, final, bottom = match.groups()
                left, right = column_index_from_string(first.decode()) - 1, column_index_from_string(final.decode()) - 1
                if left < limits.max_columns and int(top) <= limits.max_rows:
                    ranges.append(
                        (int(top), left, min(int(bottom), limits.max_rows), min(right, limits.max_columns - 1))
                    )
                last = match.end()
                if len(ranges) > limits.max_merged_ranges:
                    message = f"工作表的合并单元格区域超过 {limits.max_merged_ranges:,} 个"
                    raise _too_big(path, message, "max_merged_ranges")
            carry = data[max(last, len(data) - 200) :]
    return sorted(ranges)


class _Merges:
    """Per row, the value each merged cell shows: its range's top-left value, which Excel shows across the
    range (a 类别 merged down a group of proposals belongs to every one). Work per row is bounded by the
    column limit: ranges that overlap, which Excel itself refuses, are an error, not a multiplier."""

    def __init__(self, path: Path, ranges: list[Range]) -> None:
        self.path, self.ranges, self.next, self.active = path, ranges, 0, list[Range]()
        self.shown: dict[tuple[int, int], Any] = {}

    def fill(self, number: int, cells: list[Any], blank: bool) -> None:
        while self.next < len(self.ranges) and self.ranges[self.next][0] <= number:
            self.active.append(self.ranges[self.next])
            self.next += 1
        self.active = [r for r in self.active if r[2] >= number]
        if blank:  # a blank row inside a merged group stays blank
            return
        taken: set[int] = set()
        for top, left, _, right in self.active:
            cells.extend([""] * (right + 1 - len(cells)))
            for column in range(left, right + 1):
                if column in taken:
                    raise DataError(RowIssue(str(self.path), number, None, "合并单元格区域相互重叠，工作簿已损坏"))
                taken.add(column)
                if number == top and column == left:
                    self.shown[(top, left)] = cells[column]
                else:
                    cells[column] = self.shown.get((top, left), "")


def _xlsx_stream(path: Path, sheet: str | None, limits: ReadLimits) -> TableStream:
    from openpyxl import load_workbook

    _check_archive(path, limits)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises anything from KeyError to ParseError for a malformed part
        raise DataError(RowIssue(str(path), None, None, f"不是可读的 XLSX 工作簿：{_reason(exc)}")) from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            names = "、".join(book.sheetnames)
            raise DataError(RowIssue(str(path), None, None, f"没有名为 {sheet!r} 的工作表；工作簿中有：{names}"))
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        ws.reset_dimensions()  # a declared A1:XFD1048576 would pad every row to 16,384 cells
        with zipfile.ZipFile(path) as archive:
            merges = _Merges(path, _merged_ranges(path, archive, ws._worksheet_path.lstrip("/"), limits))
        columns, rows = _framed(
            path, _xlsx_records(path, ws, limits, merges), f"工作表「{ws.title}」为空（没有表头行）"
        )
    except BaseException:
        book.close()
        raise

    def closing() -> Iterator[Row]:
        try:
            yield from rows
        finally:
            book.close()

    return TableStream(str(path), columns, closing())


def _xlsx_records(path: Path, ws: Any, limits: ReadLimits, merges: _Merges) -> Iterator[tuple[int, list[Any]]]:
    values_seen = ws.iter_rows(max_col=limits.max_columns + 1, values_only=True)
    try:
        for number, values in enumerate(values_seen, start=1):
            if values.count(None) == len(values):  # the common blank row, and the million a sparse sheet declares
                merges.fill(number, [], True)
                continue
            _check_extent(path, number, values, limits)
            cells = [_cell_text(v) for v in values[: limits.max_columns]]
            merges.fill(number, cells, not any(str(c).strip() for c in cells))
            yield number, cells
    except DataError:
        raise
    except Exception as exc:  # as above: a sheet's XML can fail anywhere while it streams
        raise DataError(RowIssue(str(path), None, None, f"工作表 {ws.title!r} 无法读取：{_reason(exc)}")) from exc


def _xls_stream(path: Path, sheet: str | None, limits: ReadLimits) -> TableStream:
    """An Excel 97-2003 workbook, read by calamine (Rust). The format caps a sheet at 65,536 rows and 256
    columns and calamine holds one sheet in memory, bounded by the upload size; the row and column limits
    apply as for XLSX, and merged cells show their top-left value across the range as in XLSX."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # CalamineError and friends: not an .xls, encrypted, a broken compound file
        reason = "不是可读的 XLS 工作簿（文件已损坏、加密或不是 Excel 97-2003 格式）"
        raise DataError(RowIssue(str(path), None, None, reason)) from exc
    try:
        if sheet is not None and sheet not in book.sheet_names:
            names = "、".join(book.sheet_names)
            raise DataError(RowIssue(str(path), None, None, f"没有名为 {sheet!r} 的工作表；工作簿中有：{names}"))
        if not book.sheet_names:
            raise DataError(RowIssue(str(path), None, None, "工作簿中没有工作表"))
        name = sheet if sheet is not None else book.sheet_names[0]
        ws = book.get_sheet_by_name(name)
        ranges = [
            (top + 1, left, min(bottom + 1, limits.max_rows), min(right, limits.max_columns - 1))
            for (top, left), (bottom, right) in ws.merged_cell_ranges or []
            if left < limits.max_columns and top < limits.max_rows
        ]
        if len(ranges) > limits.max_merged_ranges:
            raise _too_big(path, f"工作表的合并单元格区域超过 {limits.max_merged_ranges:,} 个", "max_merged_ranges")
        offset = ws.start[1] if ws.start else 0  # calamine drops empty leading columns, not rows
        values = ws.iter_rows()
    except DataError:
        raise
    except Exception as exc:
        raise DataError(RowIssue(str(path), None, None, f"工作表无法读取：{type(exc).__name__}")) from exc
    merges = _Merges(path, sorted(ranges))

    def records() -> Iterator[tuple[int, list[Any]]]:
        for number, row in enumerate(values, start=1):
            padded = [None] * offset + list(row[: limits.max_columns + 1])
            if all(v is None or v == "" for v in padded):
                merges.fill(number, [], True)
                continue
            _check_extent(path, number, padded, limits)
            cells = [_cell_text(v) for v in padded[: limits.max_columns]]
            merges.fill(number, cells, False)
            yield number, cells

    columns, rows = _framed(path, records(), f"工作表「{name}」为空（没有表头行）")
    return TableStream(str(path), columns, rows)


def _reason(exc: BaseException) -> str:
    """A parser's complaint without our paths or Python internals (openpyxl wraps the real cause)."""
    causes = [exc]
    while (cause := causes[-1].__cause__ or causes[-1].__context__) is not None and len(causes) < 5:
        causes.append(cause)
    for cause in causes:
        if type(cause).__module__.startswith("defusedxml"):
            return "XML 中含有被禁止的实体或文档类型定义（DTD）"
        if isinstance(cause, ParseError | ExpatError):
            return "XML 内容损坏或含有未定义的实体"
        if isinstance(cause, zipfile.BadZipFile | EOFError | zlib.error):
            return "压缩数据损坏"
    return "缺少必需的部件" if isinstance(exc, KeyError) else "文件结构不符合 XLSX 格式"


def stream_table(path: str | Path, sheet: str | None = None, limits: ReadLimits | None = None) -> TableStream:
    """Open a table by its extension and read its header; its rows are read as they are consumed.

    `limits` bound the work a file can cause (see `ReadLimits`); a file past one is refused whole.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    suffix = _check_suffix(path)
    if not path.is_file():
        raise DataError(RowIssue(str(path), None, None, "找不到此文件"))
    if suffix == ".csv":
        return _csv_stream(path, limits)
    if suffix == ".jsonl":
        return _jsonl_stream(path, limits)
    if suffix == ".xls":
        return _xls_stream(path, sheet, limits)
    return _xlsx_stream(path, sheet, limits)


def read_table(
    path: str | Path, sheet: str | None = None, max_rows: int | None = None, limits: ReadLimits | None = None
) -> Table:
    """Read a whole table; lines that cannot be parsed at all are listed in `table.issues`.

    `max_rows` stops after that many data rows: a quick look that finds a wrong sheet or column at once.
    """
    stream = stream_table(path, sheet, limits)
    rows: list[Row] = []
    try:
        rows.extend(itertools.islice(stream.rows, max_rows))
    finally:
        close = getattr(stream.rows, "close", None)
        if close is not None:
            close()
    numbers, cells = [n for n, _ in rows], [c for _, c in rows]
    return Table(stream.path, stream.columns, cells, numbers, stream.encoding, stream.issues)


def _flat(value: Any) -> Any:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


def write_table(path: str | Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write rows by the file's extension; lists become 、-joined text except in JSONL."""
    path = Path(path)
    suffix = _check_suffix(path, WRITABLE)
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
