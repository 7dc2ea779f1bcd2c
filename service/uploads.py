"""A batch upload, whichever front end it came through (the API's `POST /v1/batches`, the upload page at
/ui/batches): the file's name and type checked, its header and columns read at once, the rows left for the
batch worker; and a finished job's workbook to download. It sits beside service.batches, which it calls."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from proposal_router.model.errors import Conflict, DataError, InvalidRequest
from proposal_router.model.intake.clean import clean_text
from proposal_router.model.intake.records import ColumnMap, require_columns
from proposal_router.model.intake.tables import SUPPORTED, ReadLimits, read_table
from proposal_router.service import batches, store
from proposal_router.service.db.models import BatchJob
from proposal_router.service.statuses import AuditAction, JobStatus
from proposal_router.service.workbook import write_workbook

COPY_CHUNK = 2**20
MAX_NAME = 255  # characters of an uploaded file's name, as most file systems allow


class UnsupportedFile(InvalidRequest):
    """A file whose name says it is not a table the readers know (the API answers 415)."""


def file_name(given: str | None) -> str:
    """The name the user's file goes by in messages and the result's name; the bytes are never written
    under it (100 CJK characters are 300 bytes, past what a file system allows)."""
    try:
        name = clean_text(Path(given or "upload").name).strip() or "upload"
    except ValueError as exc:
        raise InvalidRequest(f"文件名{exc}") from exc
    if len(name) > MAX_NAME:
        raise InvalidRequest(f"文件名超过 {MAX_NAME} 个字符，请改短后上传")
    return name


def _check_header(name: str, path: Path, columns: ColumnMap, sheet: str | None, limits: ReadLimits) -> list[str]:
    """Read the header and first row only: an empty file, a wrong sheet, a misnamed column or a file past
    a reading limit (a zip bomb) is refused now, while the rows themselves are read in the background. A
    JSONL file names its fields row by row, so its columns are checked when it is read."""
    try:
        preview = read_table(path, sheet, max_rows=1, limits=limits)
        if path.suffix.lower() != ".jsonl":
            require_columns(preview, columns)
    except DataError as exc:  # name the file as the user knows it, not our temporary copy
        temporary = str(path)
        raise DataError(
            [
                replace(i, file=i.file.replace(temporary, name), message=i.message.replace(temporary, name))
                for i in exc.issues
            ]
        ) from exc
    return preview.columns


def accept_upload(
    session: Session,
    actor: store.Actor,
    filename: str | None,
    data: BinaryIO,
    columns: ColumnMap,
    sheet: str | None,
    limits: ReadLimits,
    submit: Callable[[int], None],
) -> BatchJob:
    """The upload stored as a job (audited) and handed to the worker by `submit`. Refused with
    UnsupportedFile, InvalidRequest or DataError, each naming the file (and row and column where one is)."""
    name = file_name(filename)
    if Path(name).suffix.lower() not in SUPPORTED:
        raise UnsupportedFile(f"{name}：请上传 {'、'.join(SUPPORTED)} 文件（按文件名判断）")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{Path(name).suffix.lower()}"  # not the user's name: it may be too long
        with path.open("wb") as fh:
            shutil.copyfileobj(data, fh, COPY_CHUNK)  # never the whole file in memory
        header = _check_header(name, path, columns, sheet, limits)
        job = batches.upload_job(session, name, path, columns, sheet, header, actor.name)
        size = path.stat().st_size
    store.audit(session, actor, AuditAction.BATCH_UPLOAD, {"batch": job.id, "file": name, "bytes": size})
    submit(job.id)
    return job


def result_workbook(session: Session, job: BatchJob, actor: store.Actor) -> tuple[bytes, str]:
    """A finished job's workbook and the name to download it as (the upload's name + -routed.xlsx), audited."""
    if job.status != JobStatus.DONE:
        raise Conflict(f"批处理任务 {job.id} {batches.STATUS_NAMES[job.status]}，完成后才能下载结果")
    store.audit(session, actor, AuditAction.BATCH_RESULT, {"batch": job.id})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.xlsx"
        write_workbook(path, list(job.columns), batches.result_rows(session, job), batches.issues_of(job))
        body = path.read_bytes()
    return body, f"{Path(job.source).stem}-routed.xlsx"
