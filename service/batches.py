"""Resumable, exactly-once batch routing of a whole file.

A job first stores every readable row. It then routes them in chunks, and each chunk's proposals, audit
events and row links are committed in one transaction. A job killed at any moment therefore resumes with
exactly the rows whose transaction did not commit: none is lost, none is routed or stored twice. Rows
whose office id is already stored, from the API or an earlier job, link to that proposal instead of
creating another.

Several processes may share one database: a job is worked on only by the process that claimed it
(`claims.py`), and every chunk's transaction first checks, in the same transaction, that the claim is still
its own (`_hold`), so a process that lost its claim (its heartbeat lapsed and another took the job over)
commits nothing more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from itertools import count
from pathlib import Path
from threading import Event

from pydantic import BaseModel
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from proposal_router.model.errors import Conflict, DataError, NotFound, RowIssue
from proposal_router.model.intake.records import ColumnMap, ProposalRow, stream_proposals
from proposal_router.model.intake.tables import ReadLimits, Table, stream_table
from proposal_router.model.schemas import Decision, Proposal
from proposal_router.model.similarity import Match
from proposal_router.model.text import compose
from proposal_router.service import store
from proposal_router.service.db.models import BatchJob, BatchRow, BatchUpload, BatchUploadPart, ProposalRecord, now
from proposal_router.service.db.retry import ATTEMPTS, retrying, transient
from proposal_router.service.domain.proposals import routing_of
from proposal_router.service.engine import BatchEngine, Keyed, Routed
from proposal_router.service.output import Final
from proposal_router.service.statuses import UNFINISHED, AuditAction, JobStatus
from proposal_router.service.trust import Arrival
from proposal_router.service.workbook import RoutedRow

log = logging.getLogger("proposal_router.batches")
MAX_EXTERNAL_ID = 200
INSERT_PAGE = 5_000


class JobProgress(BaseModel):
    id: int
    source: str
    status: JobStatus
    total_rows: int
    done_rows: int
    auto_rows: int
    review_rows: int
    failed_rows: int
    started_at: datetime | None
    finished_at: datetime | None
    eta_seconds: float | None
    error: str | None


def _file_digest(path: Path) -> hashlib._Hash:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256")


def fingerprint(path: Path, columns: ColumnMap, sheet: str | None) -> str:
    digest = _file_digest(path)
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
    owner: str | None = None,
) -> BatchJob:
    """Store the job and all its readable rows in one transaction, claimed by `owner` if given: the process
    that stores a job to route it at once, so that no polling server takes it first."""
    job = BatchJob(
        source=source, fingerprint=digest, status=JobStatus.QUEUED, columns=list(table.columns), created_by=actor
    )
    if owner is not None:
        job.owner, job.heartbeat_at = owner, now()
    session.add(job)
    session.flush()
    _store_rows(session, job, table.path, rows, issues, columns)
    session.commit()
    return job


def _store_rows(
    session: Session,
    job: BatchJob,
    source: str,
    rows: Iterable[ProposalRow],
    issues: list[RowIssue],
    columns: ColumnMap,
) -> None:
    """Insert the rows in bulk (100,000 in seconds) as they are read, a page at a time, so that a file is
    never held whole; an id too long to store is one more rejected row. `issues` may fill while `rows` is
    consumed (a streamed file's unreadable lines), so it is read at the end."""
    too_long: list[RowIssue] = []
    page: list[dict[str, object]] = []
    stored = 0
    for row in rows:
        external = str(row.raw.get(columns.id, "")).strip()
        if len(external) > MAX_EXTERNAL_ID:
            message = f"编号超过 {MAX_EXTERNAL_ID} 个字符，该行已跳过"
            too_long.append(RowIssue(source, row.row, columns.id, message, fatal=False))
            continue
        page.append(
            {
                "job_id": job.id,
                "position": stored,
                "sheet_row": row.row,
                "external_id": external or None,
                "title": row.proposal.title,
                "body": row.proposal.body,
                "raw": {k: _jsonable(v) for k, v in row.raw.items()},
            }
        )
        stored += 1
        if len(page) == INSERT_PAGE:
            session.execute(insert(BatchRow), page)
            page = []
    if page:
        session.execute(insert(BatchRow), page)
    job.total_rows = stored
    job.issues = [_issue_dict(i) for i in [*issues, *too_long]]


UPLOAD_PART = 8 * 2**20  # bytes of an upload stored or read at a time


def upload_job(
    session: Session, name: str, path: Path, columns: ColumnMap, sheet: str | None, header: list[str], actor: str
) -> BatchJob:
    """An uploaded file becomes a job at once; `read_upload` stores its rows later, in the background. The
    file is stored part by part: a 200 MB value took ~570 MB of memory to store in one statement."""
    job = BatchJob(source=name, fingerprint=_file_digest(path).hexdigest(), status=JobStatus.READING)
    job.columns, job.created_by = header, actor
    session.add(job)
    session.flush()
    session.add(BatchUpload(job_id=job.id, columns=columns.model_dump(), sheet=sheet))
    session.flush()
    with path.open("rb") as fh:
        for seq, data in enumerate(iter(lambda: fh.read(UPLOAD_PART), b"")):
            session.execute(insert(BatchUploadPart).values(job_id=job.id, seq=seq, data=data))
    session.commit()
    return job


def _restore_upload(session: Session, job_id: int, path: Path) -> None:
    with path.open("wb") as fh:
        for seq in count():
            part = select(BatchUploadPart.data).where(BatchUploadPart.job_id == job_id, BatchUploadPart.seq == seq)
            data = session.scalar(part)
            if data is None:
                return
            fh.write(data)


def read_upload(
    session: Session,
    job: BatchJob,
    max_chars: int | None,
    limits: ReadLimits | None = None,
    owner: str | None = None,
) -> JobStatus:
    """Read a stored upload into rows, or fail the job with the reader's message, naming the user's file.

    The upload is removed either way: a file that cannot be read is not kept. A job cancelled while its
    file was read stays cancelled. With `owner`, nothing is stored unless the job is still claimed by it
    (checked in the same transaction), so two processes never both store its rows; without, the caller
    holds the database alone. A transient database error is raised, for the caller to retry. Returns where
    the job stands now."""
    upload = session.get(BatchUpload, job.id)
    if upload is None:
        raise NotFound(f"批处理任务 {job.id} 没有保存上传的文件")
    columns = ColumnMap.model_validate(upload.columns)
    outcome, error = JobStatus.QUEUED, None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{Path(job.source).suffix.lower()}"  # the user's name may be too long to use
        _restore_upload(session, job.id, path)
        try:
            table = stream_table(path, upload.sheet, limits=limits)
            rows, issues = stream_proposals(table, columns, max_chars)
            _store_rows(session, job, table.path, rows, issues, columns)
        except DataError as exc:
            session.rollback()
            outcome, error = JobStatus.FAILED, str(exc).replace(str(path), job.source)
        except OperationalError:
            session.rollback()
            raise
        except SQLAlchemyError:
            log.exception("batch job %s: storing its rows failed", job.id)
            session.rollback()
            outcome, error = JobStatus.FAILED, STORE_FAILED
        else:
            job.issues = [{**issue, "file": job.source} for issue in job.issues]
            job.columns = list(table.columns)
    if owner is not None and not _hold(session, job.id, owner, JobStatus.READING, JobStatus.CANCELLED):
        session.rollback()
        log.warning("batch job %s: no longer claimed by %s; its rows are not stored by it", job.id, owner)
        return JobStatus.READING
    session.execute(delete(BatchUploadPart).where(BatchUploadPart.job_id == job.id))
    session.delete(upload)
    reading = (BatchJob.id == job.id) & (BatchJob.status == JobStatus.READING)  # not if cancelled meanwhile
    session.execute(update(BatchJob).where(reading).values(status=outcome, error=error))
    session.commit()
    session.refresh(job)
    return job.status


STORE_FAILED = "保存该文件的行时出错，详情已记入服务日志；请重新上传，若仍失败请联系管理员"
ROUTE_FAILED = "路由时出错，详情已记入服务日志；已路由的行已保存，请联系管理员后重新上传"
DATABASE_FAILED = (
    f"数据库暂时不可用（已重试 {ATTEMPTS} 次），详情已记入服务日志；已路由的行已保存，其余未处理，请稍后重新上传"
)


def _hold(session: Session, job_id: int, owner: str, *statuses: JobStatus) -> bool:
    """Refresh the claim's heartbeat, in the caller's transaction, if `owner` still holds the job in one of
    `statuses`. On PostgreSQL the UPDATE also locks the job's row until the transaction ends, so another
    process cannot take the job over between this check and the commit; on SQLite the transaction already
    holds the database's only write lock. So a chunk is committed only by the job's owner."""
    held = (BatchJob.id == job_id) & (BatchJob.owner == owner) & BatchJob.status.in_(statuses)
    refreshed = session.execute(update(BatchJob).where(held).values(heartbeat_at=now()))
    return bool(getattr(refreshed, "rowcount", 0))


def _jsonable(value: object) -> object:
    return value if value is None or isinstance(value, str | int | float | bool | list) else str(value)


LINK_PAGE = 500  # external ids looked up per query: well under SQLite's and PostgreSQL's parameter limits


def _link_known(session: Session, job_id: int) -> int:
    """Rows whose office id is already stored (from the API or an earlier job) link to it, unrouted."""
    query = select(BatchRow).where(
        BatchRow.job_id == job_id, BatchRow.proposal_id.is_(None), BatchRow.external_id.is_not(None)
    )
    pending = list(session.scalars(query.order_by(BatchRow.position)))
    linked = 0
    for start in range(0, len(pending), LINK_PAGE):
        page = pending[start : start + LINK_PAGE]
        known = store.stored_by_external_id(session, [r.external_id for r in page if r.external_id])
        for row in page:
            if row.external_id in known:
                row.proposal_id = known[row.external_id].id
                linked += 1
    session.commit()
    return linked


def _pending(session: Session, job_id: int) -> list[Keyed]:
    query = (
        select(BatchRow.id, BatchRow.external_id, BatchRow.title, BatchRow.body)
        .where(BatchRow.job_id == job_id, BatchRow.proposal_id.is_(None))
        .order_by(BatchRow.position)
    )
    return [Keyed(key, Proposal(id=ext, title=title, body=body)) for key, ext, title, body in session.execute(query)]


def _store_chunk(
    session: Session, job_id: int, owner: str, routed: Routed, actor: str, arrival: Arrival | None
) -> bool:
    """One transaction: the chunk's proposals, their audit events and the rows' links to them, committed only
    if `owner` still holds the running job (False, and nothing stored, if it was cancelled or taken over)."""
    if not _hold(session, job_id, owner, JobStatus.RUNNING):
        session.rollback()
        return False
    rows = {r.id: r for r in session.scalars(select(BatchRow).where(BatchRow.id.in_([k for k, _ in routed])))}
    known = store.stored_by_external_id(session, [r.external_id for r in rows.values() if r.external_id])
    stored: list[ProposalRecord] = []
    for key, result in routed:
        row = rows[key]
        if row.proposal_id is not None:
            continue
        if row.external_id in known:  # stored through the API while this job ran
            row.proposal_id = known[row.external_id].id
            continue
        item = Proposal(id=row.external_id, title=row.title, body=row.body)
        record = store.routed_record(item, result, actor)
        session.add(record)
        session.flush()
        details = {"result": result.model_dump(mode="json"), "batch": job_id, "row": row.sheet_row}
        session.add(store.audit_event(actor, AuditAction.ROUTE, record.id, details))
        row.proposal_id = record.id
        stored.append(record)
    session.commit()
    if arrival is not None and stored:  # after the chunk is safe: a failed lookup loses no row
        arrival.settle(session, stored)
        session.commit()
    return True


def run_job(
    sessions: sessionmaker[Session],
    engine: BatchEngine,
    job_id: int,
    actor: str,
    chunk: int = 64,
    on_progress: Callable[[int], None] | None = None,
    budget: timedelta | None = None,
    *,
    owner: str,
    stop: Event | None = None,
    arrival: Arrival | None = None,
) -> None:
    """Route what is left of a job that `owner` has claimed (`claims.py`); safe to call again after any
    interruption. A job that `owner` does not hold is left alone.

    Between chunks the job stops if it was cancelled, if it was taken over, if `stop` is set (the server is
    shutting down: the job stays running, for the next claim to resume), or fails once `budget` has passed
    since it first started (a restart does not renew it): one job cannot hold the worker from the jobs
    behind it. Each transaction is retried through transient database errors; if they last, the job fails
    with a message saying so (if the database lets even that be written; if not, the claim lapses and
    another worker takes the job over)."""
    started = retrying(partial(_begin, sessions, job_id, owner))
    if started is None:
        log.info("batch job %s: not started, as %s does not hold it or it has ended", job_id, owner)
        return
    deadline = started + budget if budget is not None else None
    try:
        linked, items = retrying(partial(_unrouted, sessions, job_id))
        if linked and on_progress is not None:
            on_progress(linked)
        for routed in engine.stream(items, chunk):
            if not retrying(partial(_commit_chunk, sessions, job_id, owner, routed, actor, deadline, budget, arrival)):
                return
            if on_progress is not None:
                on_progress(len(routed))
            if stop is not None and stop.is_set():
                log.info("batch job %s: stopped between chunks; it resumes at the next claim", job_id)
                return
    except Exception as exc:
        log.exception("batch job %s failed", job_id)
        message = DATABASE_FAILED if transient(exc) else ROUTE_FAILED
        retrying(partial(_finish, sessions, job_id, owner, JobStatus.FAILED, message))
        raise
    retrying(partial(_finish, sessions, job_id, owner, JobStatus.DONE))


def _begin(sessions: sessionmaker[Session], job_id: int, owner: str) -> datetime | None:
    """Mark the job running, if `owner` holds it and it has not ended; when it first started, or None."""
    with sessions() as session:
        job = session.get(BatchJob, job_id)
        if job is None:
            raise NotFound(f"没有批处理任务 {job_id}")
        started = job.started_at or now()
        startable = (
            (BatchJob.id == job_id)
            & BatchJob.status.not_in((JobStatus.DONE, JobStatus.CANCELLED))
            & (BatchJob.owner == owner)
        )
        begun = session.execute(  # conditional, so that a cancel or a takeover arriving meanwhile is not overwritten
            update(BatchJob)
            .where(startable)
            .values(status=JobStatus.RUNNING, started_at=started, error=None, heartbeat_at=now())
        )
        session.commit()
        return started if getattr(begun, "rowcount", 0) else None


def _unrouted(sessions: sessionmaker[Session], job_id: int) -> tuple[int, list[Keyed]]:
    with sessions() as session:
        return _link_known(session, job_id), _pending(session, job_id)


def _commit_chunk(
    sessions: sessionmaker[Session],
    job_id: int,
    owner: str,
    routed: Routed,
    actor: str,
    deadline: datetime | None,
    budget: timedelta | None,
    arrival: Arrival | None = None,
) -> bool:
    """Store a chunk; False if the job must not go on (cancelled, taken over, or past its budget)."""
    with sessions() as session:
        if not _store_chunk(session, job_id, owner, routed, actor, arrival):
            holder = session.execute(select(BatchJob.status, BatchJob.owner).where(BatchJob.id == job_id)).one()
            log.info("batch job %s: chunk not stored by %s; the job is %s, held by %s", job_id, owner, *holder)
            return False
        return not _should_stop(session, job_id, owner, deadline, budget)


def _finish(
    sessions: sessionmaker[Session], job_id: int, owner: str, status: JobStatus, error: str | None = None
) -> bool:
    """Move a running job to its end, unless it was cancelled or taken over meanwhile; True if it moved."""
    with sessions() as session:
        return _end(session, job_id, owner, status, error)


def _end(session: Session, job_id: int, owner: str, status: JobStatus, error: str | None = None) -> bool:
    running = (BatchJob.id == job_id) & (BatchJob.status == JobStatus.RUNNING) & (BatchJob.owner == owner)
    moved = session.execute(update(BatchJob).where(running).values(status=status, error=error, finished_at=now()))
    session.commit()
    return bool(getattr(moved, "rowcount", 0))


def _should_stop(
    session: Session, job_id: int, owner: str, deadline: datetime | None, budget: timedelta | None
) -> bool:
    if session.scalar(select(BatchJob.status).where(BatchJob.id == job_id)) == JobStatus.CANCELLED:
        return True
    if deadline is None or budget is None or now() < deadline:
        return False
    hours = budget.total_seconds() / 3600
    message = (
        f"超出时间预算（{hours:g} 小时，PROPOSAL_ROUTER_JOB_TIME_BUDGET_SECONDS）：已路由的行已保存，"
        "其余未处理；请拆分文件或调高该值后重新上传"
    )
    return _end(session, job_id, owner, JobStatus.FAILED, message)


def cancel(session: Session, job: BatchJob, actor: store.Acting) -> None:
    """Stop a job that has not finished: a reading job is not routed, a running one stops after the chunk
    in hand. Rows already routed stay routed: they are proposals in the store like any other."""
    if job.status not in UNFINISHED:
        raise Conflict(f"批处理任务 {job.id} {STATUS_NAMES[JobStatus(job.status)]}，不能再取消")
    unfinished = (BatchJob.id == job.id) & BatchJob.status.in_(UNFINISHED)
    session.execute(update(BatchJob).where(unfinished).values(status=JobStatus.CANCELLED, finished_at=now()))
    session.add(store.audit_event(actor, AuditAction.BATCH_CANCEL, None, {"batch": job.id}))
    session.commit()
    session.refresh(job)


STATUS_NAMES = {
    JobStatus.READING: "读取中",
    JobStatus.QUEUED: "排队中",
    JobStatus.RUNNING: "路由中",
    JobStatus.DONE: "已完成",
    JobStatus.FAILED: "已失败",
    JobStatus.CANCELLED: "已取消",
}


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
    if job.status == JobStatus.RUNNING and job.started_at is not None and done:
        elapsed = (now() - job.started_at).total_seconds()
        eta = round(elapsed / done * (job.total_rows - done), 1)
    return JobProgress(
        id=job.id,
        source=job.source,
        status=JobStatus(job.status),
        total_rows=job.total_rows,
        done_rows=done,
        auto_rows=counts.get(Decision.AUTO, 0),
        review_rows=counts.get(Decision.REVIEW, 0),
        failed_rows=len(job.issues),
        started_at=job.started_at,
        finished_at=job.finished_at,
        eta_seconds=eta,
        error=job.error,
    )


def versions_other_than(session: Session, job: BatchJob, version: str) -> dict[str, int]:
    """Rows whose stored routing came from another model: a finished job, or ids stored before, are kept."""
    query = (
        select(ProposalRecord.model_version, func.count())
        .join(BatchRow, BatchRow.proposal_id == ProposalRecord.id)
        .where(BatchRow.job_id == job.id, ProposalRecord.model_version != version)
        .group_by(ProposalRecord.model_version)
    )
    return dict(session.execute(query).tuples().all())


def issues_of(job: BatchJob) -> list[RowIssue]:
    return [RowIssue(str(i["file"]), i["row"], i["column"], str(i["message"]), fatal=False) for i in job.issues]


def result_rows(session: Session, job: BatchJob) -> list[RoutedRow]:
    """Each routed row once, in file order, with the routing stored for it and its final assignment."""
    query = (
        select(BatchRow, ProposalRecord)
        .join(ProposalRecord, BatchRow.proposal_id == ProposalRecord.id)
        .where(BatchRow.job_id == job.id)
        .order_by(BatchRow.position)
    )
    return [
        RoutedRow(
            row.raw,
            routing_of(record).model_copy(update={"id": row.external_id}),
            final_of(record),
            compose(record.title, record.body),
            [Match(str(m["external_id"] or m["id"]), m["similarity"]) for m in record.similar],
        )
        for row, record in session.execute(query).tuples()
    ]


def final_of(record: ProposalRecord) -> Final:
    """Where a routed row stands now, review decisions taken since the job ran included."""
    return Final(record.lead_department or "", list(record.co_departments), record.status)
