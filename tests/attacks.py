"""Hostile files, built small on disk: what an attacker with a screener's key would upload.

Shared by the attack tests and `benchmarks/hostile.py`, so that the benchmark measures the files the
tests prove are refused.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import psutil
from openpyxl import Workbook

HEADER = ["编号", "提案标题", "提案内容"]
GOOD = ["1", "关于加快老旧小区改造的提案", "建议加快老旧小区改造，加装电梯。"]


def workbook(path: Path, rows: list[list[str]] | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *(rows or [GOOD])]:
        sheet.append(row)
    book.save(path)
    return path


def patch_sheet(path: Path, change: Callable[[bytes], bytes]) -> Path:
    """Rewrite the first sheet's XML in place, as a hand-made file would have it."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts["xl/worksheets/sheet1.xml"] = change(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def merge_bomb(path: Path) -> Path:
    """5 KB declaring one merged range over every cell Excel has: 17 billion cells if expanded."""
    merge = b'<mergeCells count="1"><mergeCell ref="A1:XFD1048576"/></mergeCells>'
    return patch_sheet(workbook(path), lambda xml: xml.replace(b"</sheetData>", b"</sheetData>" + merge))


def dimension_bomb(path: Path) -> Path:
    """A declared extent of A1:XFD1048576 and one cell in the sheet's last row."""
    last = b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'

    def change(xml: bytes) -> bytes:
        start = xml.index(b"<dimension")
        xml = xml[:start] + b'<dimension ref="A1:XFD1048576"/>' + xml[xml.index(b"/>", start) + 2 :]
        return xml.replace(b"</sheetData>", last + b"</sheetData>")

    return patch_sheet(workbook(path), change)


def zip_bomb(path: Path, unzipped_bytes: int) -> Path:
    """A valid workbook whose sheet XML decompresses to `unzipped_bytes` (blank rows, ~1000:1)."""
    workbook(path)
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    sheet = parts.pop("xl/worksheets/sheet1.xml")
    head, tail = sheet.split(b"</sheetData>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(head)
            pad, written = b" " * (1 << 20), len(head)
            while written < unzipped_bytes:
                fh.write(pad)
                written += len(pad)
            fh.write(b"</sheetData>" + tail)
    return path


def billion_laughs(path: Path) -> Path:
    """Ten entities of ten references each: 10^9 "lol"s when a parser expands them."""
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    doctype = f"<!DOCTYPE worksheet [{entities}]>".encode()

    def change(xml: bytes) -> bytes:
        body = xml[xml.index(b"<worksheet") :].replace(b"<t>", b"<t>&lol9;", 1)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + body

    return patch_sheet(workbook(path), change)


def undefined_entity(path: Path) -> Path:
    return patch_sheet(workbook(path), lambda xml: xml.replace(b"<t>", b"<t>&nowhere;", 1))


def bad_rows_jsonl(path: Path) -> Path:
    """A JSONL intake whose bad lines must be rejected one by one while the good ones route."""
    good = {"编号": "J1", "提案标题": GOOD[1], "提案内容": GOOD[2]}
    lines = [
        "[" * 100_000 + "]" * 100_000,  # the first line nested 100,000 deep
        '{"编号": "J2", "提案标题": "\\ud800关于公交", "提案内容": "建议增加公交线路"}',  # a lone surrogate
        '{"编号": ' + "9" * 5_000 + ', "提案标题": "关于停车", "提案内容": "建议建设停车场"}',  # 5,000 digits
        json.dumps(good, ensure_ascii=False),
        json.dumps({"编号": "J5", "提案标题": "关于\x00医保", "提案内容": "建议医保异地结算\x07"}, ensure_ascii=False),
        '{"编号": "J6", "提案标题": ' + '{"a": ' * 30 + "1" + "}" * 31,  # nested deeper than the limit
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class PeakMemory:
    """The highest resident memory of a process (this one by default) while the block runs."""

    def __init__(self, pid: int | None = None, every: float = 0.01) -> None:
        self.process, self.every = psutil.Process(pid), every
        self.start: int = self.process.memory_info().rss
        self.peak: int = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(self.every):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def grown_mb(self) -> float:
        return (self.peak - self.start) / 2**20
