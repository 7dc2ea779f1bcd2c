"""The final workbook as it prints: rendered by LibreOffice (Debian's libreoffice-calc) to PDF, every page
is A4 landscape and the 交办清单's columns fit one page wide, so nothing is cut off on paper."""

from __future__ import annotations

import csv
import re
import shutil
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from proposal_router.model.schemas import Candidate, Decision, ReasonCode, ReviewReason, RoutingResult
from proposal_router.service.assignment_workbook import write_final_workbook
from proposal_router.service.domain.assignments import Assignment, Mode
from proposal_router.service.statuses import ProposalStatus
from proposal_router.service.workbook import RoutedRow, write_workbook
from tests.conftest import REPO

SOFFICE = shutil.which("soffice")
PDFINFO = shutil.which("pdfinfo")  # poppler-utils, with pdftotext


def demo_assignments() -> list[Assignment]:
    """The demo intake as the answer key assigns it, every proposal routed automatically."""
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    at = datetime(2027, 1, 10, 1, 30, tzinfo=UTC)
    return [
        Assignment(
            id=i + 1,
            external_id=r["id"],
            title=r["title"],
            submitter=r["submitter"],
            status=ProposalStatus.AUTO,
            topic=r["topic"],
            lead_department=r["lead_department"],
            co_departments=[c for c in r["co_departments"].split("、") if c],
            mode=Mode.AUTO,
            decided_by=None,
            decided_at=None,
            received_at=at,
            rejection_reason=None,
            review_reason=None,
            confidence=0.97,
        )
        for i, r in enumerate(rows)
    ]


def render(workbook: Path, out_dir: Path) -> Path:
    """The workbook as LibreOffice prints it (every sheet, its own print set-up)."""
    assert SOFFICE is not None
    command = [SOFFICE, "--headless", f"-env:UserInstallation=file://{out_dir / 'profile'}", "--convert-to", "pdf"]
    subprocess.run([*command, "--outdir", str(out_dir), str(workbook)], check=True, capture_output=True, timeout=180)
    return out_dir / f"{workbook.stem}.pdf"


def pages(pdf: Path) -> list[tuple[float, float]]:
    """Each page's width and height in points."""
    assert PDFINFO is not None
    info = subprocess.run([PDFINFO, "-f", "1", "-l", "999", str(pdf)], check=True, capture_output=True, text=True)
    return [(float(w), float(h)) for w, h in re.findall(r"Page +\d+ size: +([\d.]+) x ([\d.]+) pts", info.stdout)]


@pytest.mark.skipif(SOFFICE is None or PDFINFO is None, reason="needs LibreOffice and pdfinfo (.ci/run installs them)")
def test_the_final_list_prints_landscape_and_one_page_wide(tmp_path: Path) -> None:
    items = demo_assignments()
    only_list = tmp_path / "list.xlsx"
    write_final_workbook(only_list, items, "Asia/Shanghai")
    sizes = pages(render(only_list, tmp_path))
    assert sizes and all(w > h and round(w) == 842 and round(h) == 595 for w, h in sizes)  # A4 landscape
    # one page wide: the 交办清单's rows take ceil(rows / rows-per-page) pages, not twice that for cut columns
    rows_per_page = 30  # a landscape A4 page holds at least this many one-line rows
    assert len(sizes) <= -(-len(items) // rows_per_page) + 3  # + 不予立案, 待复核 and 汇总


def demo_routed() -> tuple[list[str], list[RoutedRow]]:
    """The demo intake with the office's own columns, full text included, every row sent to review."""
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    original = ["编号", "提案标题", "提案内容", "提案人"]
    reason = ReviewReason(code=ReasonCode.LOW_CONFIDENCE, message="主办单位置信度0.81低于自动交办阈值0.956")
    routed = [
        RoutedRow(
            {"编号": r["id"], "提案标题": r["title"], "提案内容": r["body"], "提案人": r["submitter"]},
            RoutingResult(
                id=r["id"],
                topic=Candidate(name=r["topic"], confidence=0.9),
                lead_department=Candidate(name=r["lead_department"], confidence=0.81),
                co_departments=[Candidate(name=c, confidence=0.5) for c in r["co_departments"].split("、") if c],
                candidates=[Candidate(name=r["lead_department"], confidence=0.81)],
                decision=Decision.REVIEW,
                reason=reason,
                model_version="demo",
            ),
        )
        for r in rows
    ]
    return original, routed


def word_heights(pdf: Path) -> list[float]:
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return [float(b) - float(a) for a, b in re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)"', boxes)]


@pytest.mark.skipif(SOFFICE is None or PDFINFO is None, reason="needs LibreOffice and pdfinfo (.ci/run installs them)")
def test_the_routing_results_print_legibly_from_their_print_sheet(tmp_path: Path) -> None:
    """交办结果 keeps every column for the screen (the full text makes it print at a third of its size);
    交办结果（打印） leaves the proposal's text out and wraps within its rows, so paper is readable."""
    original, routed = demo_routed()
    full = tmp_path / "routed.xlsx"
    write_workbook(full, original, routed, [])
    book = load_workbook(full)
    assert book.sheetnames == ["交办结果", "交办结果（打印）", "汇总", "未处理行"]
    printed = book["交办结果（打印）"]
    header = [c.value for c in printed[1]]
    assert "提案内容" not in header and header[:2] == ["编号", "提案标题"] and "复核原因" in header
    for name in ("交办结果", "交办结果（打印）"):
        alone = load_workbook(full)
        for other in [n for n in alone.sheetnames if n != name]:
            del alone[other]
        alone.save(tmp_path / f"{name}.xlsx")
    screen = word_heights(render(tmp_path / "交办结果.xlsx", tmp_path))
    paper = render(tmp_path / "交办结果（打印）.xlsx", tmp_path)
    assert all(w > h for w, h in pages(paper))
    assert statistics.median(word_heights(paper)) >= max(7.0, 1.5 * statistics.median(screen))
    text = subprocess.run(["pdftotext", str(paper), "-"], check=True, capture_output=True, text=True).stdout
    assert text.count("阈值0.956") == len(routed)  # a wrapped reason prints whole: its row is tall enough
