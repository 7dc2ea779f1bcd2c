"""Resumable, exactly-once batch routing of a whole file.

A job first stores every readable row. It then routes them in chunks, and each chunk's proposals, audit
events and row links are committed in one transaction. A job killed at any moment therefore resumes with
exactly the rows whose transaction did not commit: none is lost, none is routed or stored twice. Rows
whose office id is already stored, from the API or an earlier job, link to that proposal instead of
creating another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from model.errors import RowIssue
from model.records import ColumnMap, ProposalRow
from model.router import Router
from model.schemas import Proposal, RoutingResult
from model.tables import Table
from service import store
from service.api.convert import routing_of
from service.db.models import BatchJob, BatchRow, ProposalRecord, now
from service.schemas import ProposalIn
from service.workbook import RoutedRow

MAX_EXTERNAL_ID = 200


class JobProgress(BaseModel):
    id: int
    source: str
    status: str
    total_rows: int
    done_rows: int
    auto_rows: int
    review_rows: int
    failed_rows: int
    started_at: datetime | None
    finished_at: datetime | None
    eta_seconds: float | None
    error: str | None


def fingerprint(path: Path, columns: ColumnMap, sheet: str | None) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps([columns.model_dump(), sheet], sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def latest_job(session: Session, digest: str) -> BatchJob | None:
    query = select(BatchJob).where(BatchJob.fingerprint == digest).order_by(BatchJob.id.desc()).limit(1)
    return session.scalar(query)


def _issue_dict(issue: RowIssue) -> dict[str, object]:
    return {"file": issue.file, "row": issue.row, "column": issue.column, "message": issue.message}


def create_job(
    session: Session,
    source: str,
    digest: str,
    table: Table,
    rows: list[ProposalRow],
    issues: list[RowIssue],
    columns: ColumnMap,
    actor: str,
) -> BatchJob:
    """Store the job and all its readable rows; an id too long to store is one more rejected row."""
    has_id = columns.id in table.columns
    problems = list(issues)
    job = BatchJob(source=source, fingerprint=digest, status="queued", columns=list(table.columns), created_by=actor)
    session.add(job)
    session.flush()
    position = 0
    for row in rows:
        external = str(row.raw.get(columns.id, "")).strip() if has_id else ""
        if len(external) > MAX_EXTERNAL_ID:
            message = f"id longer than {MAX_EXTERNAL_ID} characters; row skipped"
            problems.append(RowIssue(table.path, row.row, columns.id, message, fatal=False))
            continue
        session.add(
            BatchRow(
                job_id=job.id,
                position=position,
                sheet_row=row.row,
                external_id=external or None,
                title=row.proposal.title,
                body=row.proposal.body,
                raw={k: _jsonable(v) for k, v in row.raw.items()},
            )
        )
        position += 1
    job.total_rows = position
    job.issues = [_issue_dict(i) for i in problems]
    session.commit()
    return job


def _jsonable(value: object) -> object:
    return value if value is None or isinstance(value, str | int | float | bool | list) else str(value)


def _route_chunk(session: Session, router: Router, job_id: int, chunk: int, actor: str) -> int:
    pending = list(
        session.scalars(
            select(BatchRow)
            .where(BatchRow.job_id == job_id, BatchRow.proposal_id.is_(None))
            .order_by(BatchRow.position)
            .limit(chunk)
        )
    )
    if not pending:
        return 0
    known = store.stored_by_external_id(session, [r.external_id for r in pending if r.external_id])
    todo = [r for r in pending if r.external_id is None or r.external_id not in known]
    results = router.route([Proposal(id=r.external_id, title=r.title, body=r.body) for r in todo])
    for row, result in zip(todo, results, strict=True):
        item = ProposalIn(external_id=row.external_id, title=row.title, body=row.body)
        record = store.routed_record(item, result, actor)
        session.add(record)
        session.flush()
        details = {"result": result.model_dump(mode="json"), "batch": job_id, "row": row.sheet_row}
        session.add(store.audit_event(actor, "route", record.id, details))
        row.proposal_id = record.id
    for row in pending:
        if row.proposal_id is None and row.external_id is not None:
            row.proposal_id = known[row.external_id].id
    session.commit()
    return len(pending)


def run_job(
    sessions: sessionmaker[Session],
    router: Router,
    job_id: int,
    actor: str,
    chunk: int = 64,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Route what is left of a job; safe to call again after any interruption."""
    with sessions() as session:
        job = session.get(BatchJob, job_id)
        if job is None:
            raise store.NotFound(f"no batch job {job_id}")
        if job.status == "done":
            return
        job.status, job.started_at, job.error = "running", job.started_at or now(), None
        session.commit()
    try:
        while True:
            with sessions() as session:
                done = _route_chunk(session, router, job_id, chunk, actor)
            if not done:
                break
            if on_progress is not None:
                on_progress(done)
    except Exception as exc:
        with sessions() as session:
            failed = session.get(BatchJob, job_id)
            assert failed is not None
            failed.status, failed.error = "failed", f"{type(exc).__name__}: {exc}"
            session.commit()
        raise
    with sessions() as session:
        finished = session.get(BatchJob, job_id)
        assert finished is not None
        finished.status, finished.finished_at = "done", now()
        session.commit()


def progress(session: Session, job: BatchJob) -> JobProgress:
    counts = dict(
        session.execute(
            select(ProposalRecord.decision, func.count())
            .join(BatchRow, BatchRow.proposal_id == ProposalRecord.id)
            .where(BatchRow.job_id == job.id)
            .group_by(ProposalRecord.decision)
        ).all()
    )
    done = sum(counts.values())
    eta = None
    if job.status == "running" and job.started_at is not None and done:
        elapsed = (now() - job.started_at).total_seconds()
        eta = round(elapsed / done * (job.total_rows - done), 1)
    return JobProgress(
        id=job.id,
        source=job.source,
        status=job.status,
        total_rows=job.total_rows,
        done_rows=done,
        auto_rows=counts.get("auto", 0),
        review_rows=counts.get("review", 0),
        failed_rows=len(job.issues),
        started_at=job.started_at,
        finished_at=job.finished_at,
        eta_seconds=eta,
        error=job.error,
    )


def issues_of(job: BatchJob) -> list[RowIssue]:
    return [RowIssue(str(i["file"]), i["row"], i["column"], str(i["message"]), fatal=False) for i in job.issues]


def result_rows(session: Session, job: BatchJob) -> list[RoutedRow]:
    """Each routed row once, in file order, with the routing stored for it."""
    query = (
        select(BatchRow, ProposalRecord)
        .join(ProposalRecord, BatchRow.proposal_id == ProposalRecord.id)
        .where(BatchRow.job_id == job.id)
        .order_by(BatchRow.position)
    )
    return [
        RoutedRow(row.raw, RoutingResult(id=row.external_id, **routing_of(record).model_dump()))
        for row, record in session.execute(query).tuples()
    ]
