"""Sheets an office can print and sort: fitted widths, wrapped text, a bold frozen header with a filter,
numbers with formats, landscape pages fitted to the width with the header repeated on every page.

Every workbook the service writes goes through `table_sheet`. It works in openpyxl's write-only mode (a
year's intake stays small in memory), so the widths are measured from the rows before they are written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

CONFIDENCE = "0.00"
PERCENT = "0.0%"
DATE_TIME = "yyyy-mm-dd hh:mm"
DATE = "yyyy-mm-dd"
MAX_WIDTH = 50  # characters of a column's width (a CJK character counts 2); longer text wraps
MIN_WIDTH = 6
LINE_HEIGHT = 15  # points per line of 11-point text
MAX_ROW_HEIGHT = 409  # the tallest row Excel allows
SHEET_NAME_LIMIT = 31  # characters Excel allows in a sheet's name
UNSAFE_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")
HEADER = Font(bold=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


def text_width(value: Any) -> int:
    """Columns a value takes: East Asian wide characters count 2 (the widest line of a multi-line text)."""
    if value is None:
        return 0
    if isinstance(value, float):
        return 6
    if isinstance(value, datetime):
        return 16
    lines = str(value).splitlines() or [""]
    return max(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line) for line in lines)


def sheet_name(name: str) -> str:
    """A valid sheet name made from `name`: no characters Excel refuses, at most 31 characters."""
    return UNSAFE_IN_SHEET_NAMES.sub("_", name).strip("'")[:SHEET_NAME_LIMIT] or "未定"


# A text cell carried from the office's sheet is a number or a date written as text by the intake
# (`20270001`, `2027-01-10 00:00:00`): the column is written back as numbers or dates when every value in
# it reads as one. Numbers with a leading zero (`007`) stay text: Excel would drop the zero.
INTEGER = re.compile(r"-?(0|[1-9]\d{0,14})")
DECIMAL = re.compile(r"-?(0|[1-9]\d{0,14})\.\d{1,10}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?")


def _as_number(text: str) -> int | float:
    return int(text) if INTEGER.fullmatch(text) else float(text)


def _as_date(text: str) -> datetime:
    return datetime.fromisoformat(text)


def typed_column(values: Sequence[Any]) -> tuple[Callable[[str], Any], str | None] | None:
    """How to convert a text column back to the office's numbers or dates (and their format), or None."""
    texts = [v for v in values if isinstance(v, str) and v != ""]
    if not texts or len(texts) != sum(1 for v in values if v not in ("", None)):
        return None
    if all(INTEGER.fullmatch(t) or DECIMAL.fullmatch(t) for t in texts):
        return _as_number, None
    if all(DATETIME.fullmatch(t) for t in texts):
        try:
            stamps = [_as_date(t) for t in texts]
        except ValueError:
            return None
        timed = any(s.hour or s.minute or s.second for s in stamps)
        return _as_date, DATE_TIME if timed else DATE
    return None


def _cell(sheet: Any, value: Any, number_format: str | None, wrap: bool) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # data is text, never a formula (see model/intake/cells.py)
    if number_format and isinstance(value, int | float | datetime) and not isinstance(value, bool):
        cell.number_format = number_format
    elif isinstance(value, datetime):
        cell.number_format = DATE_TIME
    cell.alignment = WRAP if wrap else TOP
    return cell


def _landscape(sheet: Any) -> None:
    """A4 landscape, as many pages tall as needed but one page wide: no column is cut off on paper."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def table_sheet(
    book: Workbook,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    formats: Mapping[str, str] | None = None,
    heading: str | None = None,
    typed: Sequence[str] = (),
    max_width: int = MAX_WIDTH,
    fit_rows: bool = False,
) -> Any:
    """A sheet of `rows` under a bold, frozen, filtered `headers` row, printed landscape on pages as wide
    as the sheet with the header on each page. `formats`: number formats by header; `heading`: a title
    above the table (e.g. the department's name); `typed`: columns carried from the office's own sheet,
    whose numbers and dates written as text become numbers and dates again; `max_width`: where text wraps;
    `fit_rows`: rows as tall as their wrapped text (a sheet meant for paper: neither LibreOffice nor Excel
    fits row heights to wrapped text when it opens a file, so a printed cell would show its first line only)."""
    formats = dict(formats or {})
    sheet = book.create_sheet(sheet_name(title))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in headers]
    converters: dict[int, Callable[[str], Any]] = {}
    for index, header in enumerate(headers):
        if header in typed:
            found = typed_column(columns[index])
            if found is not None:
                converters[index] = found[0]
                if found[1]:
                    formats.setdefault(header, found[1])
    widths = [
        max([text_width(header) + 2, *(text_width(v) for v in column)], default=MIN_WIDTH)
        for header, column in zip(headers, columns, strict=True)
    ]
    wrapped = [w > max_width for w in widths]
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = max(MIN_WIDTH, min(width, max_width)) + 1
    header_row = 2 if heading else 1
    end = get_column_letter(max(1, len(headers)))
    # A write-only sheet writes its views with the first row: the frozen pane must be set before any row.
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{end}{header_row + len(rows)}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    _landscape(sheet)
    sheet.print_options.gridLines = True
    if heading:
        cell = WriteOnlyCell(sheet, heading)
        cell.font = TITLE
        sheet.append([cell])
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, header)
        cell.font = HEADER
        cell.alignment = WRAP
        header_cells.append(cell)
    sheet.append(header_cells)
    number_formats = [formats.get(h) for h in headers]
    shown = [max(MIN_WIDTH, min(width, max_width)) for width in widths]
    for at, row in enumerate(rows, header_row + 1):
        values = [converters[i](v) if i in converters and isinstance(v, str) and v else v for i, v in enumerate(row)]
        if fit_rows:
            lines = max([_lines(v, shown[i]) for i, v in enumerate(values) if wrapped[i]], default=1)
            if lines > 1:
                sheet.row_dimensions[at].height = min(LINE_HEIGHT * lines, MAX_ROW_HEIGHT)
        sheet.append([_cell(sheet, v, number_formats[i], wrapped[i]) for i, v in enumerate(values)])
    return sheet


def _lines(value: Any, width: int) -> int:
    """Lines a wrapped value takes in a column `width` characters wide."""
    if value is None or value == "":
        return 1
    return sum(max(1, -(-text_width(line) // width)) for line in str(value).splitlines() or [""])


def summary_sheet(book: Workbook, title: str, facts: Sequence[tuple[str, Any, str | None]]) -> Any:
    """A summary sheet opening with `facts` (label, value, number format), a bold label column."""
    sheet = book.create_sheet(sheet_name(title))
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 12
    sheet.column_dimensions["C"].width = 12
    sheet.column_dimensions["D"].width = 12
    _landscape(sheet)
    for label, value, number_format in facts:
        name = WriteOnlyCell(sheet, label)
        name.font = HEADER
        sheet.append([name, _cell(sheet, value, number_format, False)])
    return sheet


def bold_row(sheet: Any, values: Sequence[Any]) -> None:
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value)
        cell.font = HEADER
        cells.append(cell)
    sheet.append(cells)


def bar_chart(sheet: Any, title: str, header_row: int, count: int, series: int, anchor: str) -> None:
    """A horizontal bar chart of the table whose header is at `header_row` (names in column A, `series`
    columns of counts from B): each series is titled by its header cell, the categories are the `count`
    rows below it, so the first row is a bar and the legend names the series."""
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.type = "bar"
    chart.title = title
    chart.x_axis.title = None
    chart.y_axis.title = "提案数"
    chart.height, chart.width = max(8.0, 0.75 * count), 18.0
    if series > 1:  # one bar per department, its parts stacked (主办 + 协办 = 合计)
        chart.grouping, chart.overlap = "stacked", 100
    chart.x_axis.tickLblSkip = 1  # every department named, none skipped to save room
    last = header_row + count
    data = Reference(sheet, min_col=2, max_col=1 + series, min_row=header_row, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=header_row + 1, max_row=last))
    chart.x_axis.scaling.orientation = "maxMin"  # the largest (first) row on top, as in the table
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.legend.position = "b"
    sheet.add_chart(chart, anchor)
