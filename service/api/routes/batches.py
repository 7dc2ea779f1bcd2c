"""Batch jobs over HTTP: upload the annual intake, follow its progress, download the office's workbook."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile, status

from model.errors import DataError
from model.records import ColumnMap, require_columns
from model.tables import SUPPORTED, read_table
from service import batches, store
from service.api.deps import DB, Screener, State
from service.db.models import BatchJob
from service.schemas import ProposalId
from service.workbook import write_workbook

router = APIRouter(prefix="/v1/batches", tags=["batches"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _job(session: DB, job_id: int) -> BatchJob:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise store.NotFound(f"no batch job {job_id}")
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
    sheet: Annotated[str | None, Form()] = None,
) -> batches.JobProgress:
    name = Path(file.filename or "upload").name
    if Path(name).suffix.lower() not in SUPPORTED:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"{name}: use one of {', '.join(SUPPORTED)} (by file name)"
        )
    columns = ColumnMap(id=id_field, title=title_field or ["title"], body=body_field or ["body"])
    data = file.file.read()
    header = _check_header(name, data, columns, sheet)
    job = batches.upload_job(session, name, data, columns, sheet, header, caller.name)
    state.batch_worker.submit(job.id)
    return batches.progress(session, job)


def _check_header(name: str, data: bytes, columns: ColumnMap, sheet: str | None) -> list[str]:
    """Read the header and first row only: an empty file, a wrong sheet or a misnamed column is a 422 now,
    while the rows themselves are read in the background. A JSONL file names its fields row by row, so its
    columns are checked when it is read."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            preview = read_table(path, sheet, max_rows=1)
            if path.suffix.lower() != ".jsonl":
                require_columns(preview, columns)
        except DataError as exc:  # name the file as the user knows it, not our temporary copy
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc).replace(f"{tmp}/", "")) from exc
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
def result(job_id: ProposalId, session: DB, _: Screener) -> Response:
    job = _job(session, job_id)
    if job.status != "done":
        raise store.Conflict(f"batch job {job_id} is {job.status}; the result is ready when it is done")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.xlsx"
        write_workbook(path, list(job.columns), batches.result_rows(session, job), batches.issues_of(job))
        body = path.read_bytes()
    stem = Path(job.source).stem
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(stem)}-routed.xlsx"}
    return Response(body, media_type=XLSX, headers=headers)
