"""Batch jobs over HTTP: upload the annual intake, follow its progress, download the office's workbook."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile, status

from proposal_router.model.errors import Conflict, DataError, NotFound
from proposal_router.model.intake.clean import clean_text
from proposal_router.model.intake.records import ColumnMap, require_columns
from proposal_router.model.intake.tables import SUPPORTED, ReadLimits, read_table
from proposal_router.service import batches, store
from proposal_router.service.api.deps import Screener, State
from proposal_router.service.api.errors import upload_field
from proposal_router.service.db.models import BatchJob
from proposal_router.service.deps import DB
from proposal_router.service.schemas import ProposalId
from proposal_router.service.statuses import AuditAction, JobStatus
from proposal_router.service.workbook import write_workbook

router = APIRouter(prefix="/v1/batches", tags=["batches"])
COPY_CHUNK = 2**20
MAX_NAME = 255  # characters of an uploaded file's name, as most file systems allow
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _job(session: DB, job_id: int) -> BatchJob:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"没有批处理任务 {job_id}")
    return job


@router.post(
    "",
    response_model=batches.JobProgress,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Upload an XLSX/CSV/JSONL intake; it is read and routed in the background",
)
def create(
    state: State,
    session: DB,
    caller: Screener,
    file: Annotated[UploadFile, File(description="the intake, e.g. the office's 提案 sheet")],
    id_field: Annotated[str, Form()] = "id",
    title_field: Annotated[list[str] | None, Form(description="repeat to join several columns")] = None,
    body_field: Annotated[list[str] | None, Form(description="repeat to join several columns")] = None,
    sheet: Annotated[str | None, Form(max_length=31, description="Excel allows 31 characters")] = None,
) -> batches.JobProgress:
    name = _file_name(file.filename)
    if Path(name).suffix.lower() not in SUPPORTED:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"{name}：请上传 {'、'.join(SUPPORTED)} 文件（按文件名判断）"
        )
    fields = [id_field, *(title_field or []), *(body_field or [])]
    if any(len(f) > 200 for f in fields):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "列名不能超过 200 个字符")
    columns = ColumnMap(id=id_field, title=title_field or ["title"], body=body_field or ["body"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{Path(name).suffix.lower()}"  # not the user's name: it may be too long
        with path.open("wb") as fh:
            shutil.copyfileobj(file.file, fh, COPY_CHUNK)  # never the whole file in memory
        header = _check_header(name, path, columns, sheet, state.settings.read_limits)
        job = batches.upload_job(session, name, path, columns, sheet, header, caller.name)
        size = path.stat().st_size
    store.audit(session, caller.actor, AuditAction.BATCH_UPLOAD, {"batch": job.id, "file": name, "bytes": size})
    state.batch_worker.submit(job.id)
    return batches.progress(session, job)


def _file_name(given: str | None) -> str:
    """The name the user's file goes by in messages and the result's name; the bytes are never written
    under it (100 CJK characters are 300 bytes, past what a file system allows)."""
    try:
        name = clean_text(Path(given or "upload").name).strip() or "upload"
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"文件名{exc}") from exc
    if len(name) > MAX_NAME:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"文件名超过 {MAX_NAME} 个字符，请改短后上传")
    return name


def _check_header(name: str, path: Path, columns: ColumnMap, sheet: str | None, limits: ReadLimits) -> list[str]:
    """Read the header and first row only: an empty file, a wrong sheet, a misnamed column or a file past
    a reading limit (a zip bomb) is a 422 now, while the rows themselves are read in the background. A
    JSONL file names its fields row by row, so its columns are checked when it is read."""
    try:
        preview = read_table(path, sheet, max_rows=1, limits=limits)
        if path.suffix.lower() != ".jsonl":
            require_columns(preview, columns)
    except DataError as exc:  # name the file as the user knows it, not our temporary copy
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, exc.describe(upload_field).replace(str(path), name)
        ) from exc
    return preview.columns


@router.get("/{job_id}", response_model=batches.JobProgress, summary="Progress: rows done, routed, to review, failed")
def one(job_id: ProposalId, session: DB, _: Screener) -> batches.JobProgress:
    return batches.progress(session, _job(session, job_id))


@router.get(
    "/{job_id}/result",
    response_class=Response,
    summary="The office's workbook: 交办结果, 汇总 with a chart, 未处理行",
    responses={200: {"content": {XLSX: {}}}, 409: {"description": "the job has not finished"}},
)
def result(job_id: ProposalId, session: DB, caller: Screener) -> Response:
    job = _job(session, job_id)
    if job.status != JobStatus.DONE:
        raise Conflict(f"批处理任务 {job_id} {batches.STATUS_NAMES[job.status]}，完成后才能下载结果")
    store.audit(session, caller.actor, AuditAction.BATCH_RESULT, {"batch": job.id})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.xlsx"
        write_workbook(path, list(job.columns), batches.result_rows(session, job), batches.issues_of(job))
        body = path.read_bytes()
    stem = Path(job.source).stem
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(stem)}-routed.xlsx"}
    return Response(body, media_type=XLSX, headers=headers)


@router.post(
    "/{job_id}/cancel",
    response_model=batches.JobProgress,
    summary="Cancel a job that has not finished; rows already routed stay routed",
    responses={409: {"description": "the job has already finished"}},
)
def cancel(job_id: ProposalId, session: DB, caller: Screener) -> batches.JobProgress:
    job = _job(session, job_id)
    batches.cancel(session, job, caller.actor)
    return batches.progress(session, job)
