"""Batch jobs over HTTP: upload the annual intake, follow its progress, download the office's workbook."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile, status

from proposal_router.model.errors import NotFound
from proposal_router.model.intake.records import ColumnMap
from proposal_router.service import batches, uploads
from proposal_router.service.api.deps import Screener, State
from proposal_router.service.db.models import BatchJob
from proposal_router.service.deps import DB
from proposal_router.service.schemas import ProposalId

router = APIRouter(prefix="/v1/batches", tags=["batches"])
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
    fields = [id_field, *(title_field or []), *(body_field or [])]
    if any(len(f) > 200 for f in fields):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "列名不能超过 200 个字符")
    columns = ColumnMap(id=id_field, title=title_field or ["title"], body=body_field or ["body"])
    limits, submit = state.settings.read_limits, state.batch_worker.submit
    job = uploads.accept_upload(session, caller.actor, file.filename, file.file, columns, sheet, limits, submit)
    return batches.progress(session, job)


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
    body, filename = uploads.result_workbook(session, _job(session, job_id), caller.actor)
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}
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
