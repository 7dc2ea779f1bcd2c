"""The final workbook as it prints: rendered by LibreOffice (Debian's libreoffice-calc) to PDF, every page
is A4 landscape and the 交办清单's columns fit one page wide, so nothing is cut off on paper."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proposal_router.service.assignment_workbook import write_final_workbook
from proposal_router.service.domain.assignments import Assignment, Mode
from proposal_router.service.statuses import ProposalStatus
from tests.conftest import REPO

SOFFICE = shutil.which("soffice")
PDFINFO = shutil.which("pdfinfo")


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
