"""Batch jobs from the command line: a run killed mid-way resumes, and every row is routed exactly once."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from proposal_router.model.intake.tables import read_table
from proposal_router.model.router import Router
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.cli import main
from proposal_router.service.db.engine import make_engine, session_factory
from proposal_router.service.db.models import BatchRow, ProposalRecord
from proposal_router.service.domain import review
from proposal_router.service.statuses import ProposalStatus, ReviewAction
from tests.conftest import OFFICE_COLUMNS, REPO

CLI = [sys.executable, "-c", "from service.cli import main; raise SystemExit(main())"]


def intake(path: Path, n: int, first: int = 0) -> Path:
    """n proposals from the demo intake, repeated under distinct office ids (from `first` on), plus one empty
    row."""
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        demo = list(csv.DictReader(fh))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["编号", "提案标题", "提案内容"])
        for i in range(n):
            writer.writerow([f"2026-{first + i:05d}", demo[i % len(demo)]["title"], demo[i % len(demo)]["body"]])
        writer.writerow([f"2026-empty-{first}", "", ""])
    return path


def route_job(bundle: Path, source: Path, out: Path, db: str, batch: int) -> list[str]:
    paths = ["--model", str(bundle), "--input", str(source), "--output", str(out)]
    return ["route", "--job", "--db", db, *paths, *OFFICE_COLUMNS, "--batch-size", str(batch)]


def routed_rows(db: str) -> int:
    engine = make_engine(db)
    try:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).where(BatchRow.proposal_id.is_not(None))) or 0
    except Exception:  # the tables do not exist until the job has started
        return 0
    finally:
        engine.dispose()


def test_a_killed_job_resumes_and_routes_every_row_exactly_once(
    demo_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 4000
    source, out, db = intake(tmp_path / "intake.csv", n), tmp_path / "交办.xlsx", f"sqlite:///{tmp_path / 'jobs.db'}"
    process = subprocess.Popen([*CLI, *route_job(demo_bundle, source, out, db, 8)], cwd=REPO)
    deadline = time.monotonic() + 120
    while routed_rows(db) < 200:
        assert process.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = routed_rows(db)
    assert 200 <= before < n, f"killed after {before} of {n} rows: choose a larger file"
    assert not out.exists()

    assert main(route_job(demo_bundle, source, out, db, 64)) == 0
    printed = capsys.readouterr().out
    assert f"继续批处理任务 1（路由中）：此前已交办 {before}/{n} 行" in printed
    engine = make_engine(db)
    with session_factory(engine)() as session:
        stored = list(session.scalars(select(ProposalRecord.external_id)))
        pending = session.scalar(select(func.count()).where(ProposalRecord.status == "pending"))
    engine.dispose()
    assert sorted(stored) == [f"2026-{i:05d}" for i in range(n)]  # none lost, none stored twice
    results = read_table(out, "交办结果")
    assert [r["编号"] for r in results.rows] == [f"2026-{i:05d}" for i in range(n)]  # in file order, once each
    assert sum(r["处理方式"] == "人工复核" for r in results.rows) == pending  # review rows are in the queue
    rejected = read_table(out, "未处理行")
    assert len(rejected.rows) == 1 and "标题和正文都为空" in rejected.rows[0]["原因"]


def test_running_a_finished_job_again_routes_nothing(
    demo_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out, db = intake(tmp_path / "intake.csv", 30), tmp_path / "out.csv", f"sqlite:///{tmp_path / 'jobs.db'}"
    assert main(route_job(demo_bundle, source, out, db, 7)) == 0
    first = read_table(out).rows
    assert main(route_job(demo_bundle, source, out, db, 7)) == 0
    assert "继续批处理任务 1（已完成）：此前已交办 30/30 行" in capsys.readouterr().out
    assert read_table(out).rows == first
    engine = make_engine(db)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(ProposalRecord)) == 30
    engine.dispose()


def test_a_new_model_on_a_routed_file_says_the_stored_routing_is_kept(
    demo_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out, db = intake(tmp_path / "intake.csv", 12), tmp_path / "out.csv", f"sqlite:///{tmp_path / 'jobs.db'}"
    assert main(route_job(demo_bundle, source, out, db, 5)) == 0
    newer = tmp_path / "newer"
    data = str(REPO / "data" / "demo" / "train.csv")
    assert main(["train", "--data", data, "--out", str(newer), "--model-type", "baseline", "--seed", "1"]) == 0
    old_version = read_table(out).rows[0]["route_model_version"]
    capsys.readouterr()
    assert main(route_job(newer, source, out, db, 5)) == 0
    assert f"警告：12 行沿用模型 {old_version} 已存的交办结果" in capsys.readouterr().err
    assert {r["route_model_version"] for r in read_table(out).rows} == {old_version}


def test_a_rerun_shows_the_decisions_taken_since(demo_bundle: Path, tmp_path: Path) -> None:
    source, db = intake(tmp_path / "intake.csv", 12), f"sqlite:///{tmp_path / 'jobs.db'}"
    out, workbook_out = tmp_path / "out.csv", tmp_path / "out.xlsx"
    assert main(route_job(demo_bundle, source, out, db, 5)) == 0
    assert "final_status" in read_table(out).columns  # a stored job always says where each row stands
    engine = make_engine(db)
    with session_factory(engine)() as session:
        first = session.scalars(select(ProposalRecord).order_by(ProposalRecord.id)).first()
        assert first is not None and first.status == ProposalStatus.PENDING
        verdict = review.Verdict(ReviewAction.CORRECT, lead_department="人社局", co_departments=["教育局"])
        review.decide(session, first.id, verdict, "王审核", Catalogue.of(Router(demo_bundle)))
        corrected = first.external_id
    engine.dispose()
    assert main(route_job(demo_bundle, source, out, db, 5)) == 0
    row = next(r for r in read_table(out).rows if r["编号"] == corrected)
    assert (row["final_status"], row["final_lead_department"]) == ("reviewed", "市人力资源和社会保障局")
    assert row["final_co_departments"] == "市教育局"
    assert main(route_job(demo_bundle, source, workbook_out, db, 5)) == 0
    results = read_table(workbook_out, "交办结果")
    row = next(r for r in results.rows if r["编号"] == corrected)
    assert (row["最终主办单位"], row["状态"]) == ("市人力资源和社会保障局", "已复核")
