"""What the office sees for each kind of bad intake file: the sweep of issue 5, run through the real CLI.

Each case is a file as offices send them, routed with `proposal-router route` (and the 100,000-row file also
as a `--job` and as an upload to POST /v1/batches). The table records the exit code, the first line of
the answer, how many rows went through, and the time. A TF-IDF bundle on the demo data is used, so that the
sweep measures the file handling, not the encoder.

    python benchmarks/bad_input.py

writes benchmarks/results/bad_input.json and the table in benchmarks/README.md.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from readme_section import write_section

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "bad_input.json"
HEADER = ["编号", "提案标题", "提案内容"]
COLUMNS = ["--id-field", "编号", "--title-field", "提案标题", "--body-field", "提案内容"]
CLI = [sys.executable, "-m", "proposal_router.service.cli"]


def _demo() -> list[list[str]]:
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        return [[r["id"], r["title"], r["body"]] for r in csv.DictReader(fh)]


def _csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def empty(d: Path) -> tuple[Path, list[str]]:
    (d / "empty.csv").write_bytes(b"")
    return d / "empty.csv", []


def wrong_sheet(d: Path) -> tuple[Path, list[str]]:
    book = Workbook()
    book.active.title = "提案"
    book.active.append(HEADER)
    book.save(d / "intake.xlsx")
    return d / "intake.xlsx", ["--sheet", "附件"]


def misnamed(d: Path) -> tuple[Path, list[str]]:
    return _csv(d / "intake.csv", _demo()[:5], ["编号", "标题", "提案正文"]), []


def gbk(d: Path) -> tuple[Path, list[str]]:
    return _csv(d / "intake-gbk.csv", _demo()[:20], encoding="gbk"), []


def merged(d: Path) -> tuple[Path, list[str]]:
    book = Workbook()
    sheet = book.active
    sheet.append(["2026年度政协提案汇总表"])
    sheet.merge_cells("A1:D1")
    sheet.append(["编号", "类别", *HEADER[1:]])
    for i, (ident, title, body) in enumerate(_demo()[:20]):
        sheet.append([ident, "经济" if i < 10 else "社会", title, body])
        if i % 7 == 3:
            sheet.append([])
    sheet.merge_cells("B3:B13")
    book.save(d / "汇总表.xlsx")
    return d / "汇总表.xlsx", []


def duplicates(d: Path) -> tuple[Path, list[str]]:
    rows = _demo()[:20]
    rows[7][0] = rows[3][0]
    return _csv(d / "intake.csv", rows), []


def huge_cell(d: Path) -> tuple[Path, list[str]]:
    rows = _demo()[:20]
    rows[5][2] = "附" * 5_000_000
    return _csv(d / "intake.csv", rows), []


def many_rows(d: Path, n: int = 100_000) -> tuple[Path, list[str]]:
    demo = _demo()
    rows = [[f"2026-{i:06d}", demo[i % len(demo)][1], demo[i % len(demo)][2]] for i in range(n)]
    return _csv(d / "intake-100k.csv", rows), []


CASES: list[tuple[str, Callable[[Path], tuple[Path, list[str]]], list[str]]] = [
    ("empty file", empty, []),
    ("wrong sheet (`--sheet 附件`)", wrong_sheet, []),
    ("misnamed columns (标题, 提案正文)", misnamed, []),
    ("GBK-encoded CSV", gbk, []),
    ("merged title row, merged 类别 cells, blank rows (XLSX)", merged, []),
    ("duplicate id", duplicates, []),
    ("5 MB text in one cell", huge_cell, []),
    ("100,000 rows → CSV", many_rows, []),
    ("100,000 rows → the office's XLSX, as a `--job`", many_rows, ["--job"]),
]


def _first_answer(stdout: str, stderr: str, code: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.startswith(("错误", "警告", "  -"))]
    if code != 0:
        return " ".join(lines[:3])
    routed = next((line for line in stdout.splitlines() if line.startswith("已交办")), "")
    return " → ".join([*lines[:1], routed.split(" → ")[0]])


def run_case(
    bundle: Path, work: Path, name: str, make: Callable[[Path], tuple[Path, list[str]]], extra: list[str]
) -> dict[str, Any]:
    case = work / name.split()[0]
    case.mkdir(exist_ok=True)
    source, flags = make(case)
    suffix = ".xlsx" if "--job" in extra else ".csv"
    command = [*CLI, "route", "--model", str(bundle), "--input", str(source), "--output", str(case / f"out{suffix}")]
    command += [*COLUMNS, *flags, *extra]
    if "--job" in extra:
        command += ["--db", f"sqlite:///{case / 'jobs.db'}"]
    began = time.monotonic()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - began
    answer = _first_answer(done.stdout, done.stderr, done.returncode).replace(str(case) + "/", "")
    return {"case": name, "exit": done.returncode, "answer": answer, "seconds": round(wall, 1)}


def upload_case(bundle: Path, work: Path) -> dict[str, Any]:
    """POST the 100,000-row file: the answer comes after the header check; the rows are read in the background."""
    from fastapi.testclient import TestClient

    from proposal_router.service.api.app import create_app
    from proposal_router.service.config import Settings
    from proposal_router.service.domain import keys

    case = work / "upload"
    case.mkdir(exist_ok=True)
    source, _ = many_rows(case)
    settings = Settings(model=str(bundle), database_url=f"sqlite:///{case / 'service.db'}")
    with TestClient(create_app(settings)) as client:
        with client.app.state.services.sessions() as session:  # type: ignore[attr-defined]
            key = keys.create_key(session, "督查室", "screener", "bench")[1]
        data = {"id_field": "编号", "title_field": "提案标题", "body_field": "提案内容"}
        began = time.monotonic()
        with source.open("rb") as fh:
            response = client.post(
                "/v1/batches", files={"file": (source.name, fh)}, data=data, headers={"X-API-Key": key}
            )
        answered = time.monotonic() - began
        job = response.json()
        while job["status"] in ("reading", "queued", "running"):
            time.sleep(1)
            job = client.get(f"/v1/batches/{job['id']}", headers={"X-API-Key": key}).json()
        total = time.monotonic() - began
    answer = f"{response.status_code} in {answered:.1f} s; job {job['status']}: {job['done_rows']:,} routed"
    return {
        "case": "100,000 rows uploaded to POST /v1/batches",
        "exit": response.status_code,
        "answer": answer,
        "seconds": round(total, 1),
    }


def write_table(result: dict[str, Any]) -> None:
    lines = ["| input | exit | what the office is told | time |", "|---|---|---|---|"]
    for row in result["cases"]:
        answer = row["answer"].replace("|", "\\|")
        lines.append(f"| {row['case']} | {row['exit']} | {answer} | {row['seconds']:.1f} s |")
    lines += [
        "",
        f"Measured {result['measured_at']} with a TF-IDF bundle on the demo data (`python benchmarks/bad_input.py`).",
    ]
    write_section("bad-input", lines)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bad-input-") as tmp:
        work = Path(tmp)
        bundle = work / "model"
        train = [
            *CLI,
            "train",
            "--data",
            str(REPO / "data/demo/train.csv"),
            "--out",
            str(bundle),
            "--model-type",
            "baseline",
        ]
        subprocess.run(train, cwd=REPO, check=True, capture_output=True)
        cases = []
        for name, make, extra in CASES:
            cases.append(run_case(bundle, work, name, make, extra))
            print(json.dumps(cases[-1], ensure_ascii=False), flush=True)
        cases.append(upload_case(bundle, work))
        print(json.dumps(cases[-1], ensure_ascii=False), flush=True)
    result = {"cases": cases, "measured_at": time.strftime("%Y-%m-%d")}
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    write_table(result)


if __name__ == "__main__":
    sys.exit(main())
