"""The batch jobs page: upload an intake file, watch it being routed, download the office's workbook, and stop
a job that should not run.

An upload goes through the same code as the API's `POST /v1/batches` (`accept_upload`: the file's name and
type, its header and columns checked at once, the rows read and routed in the background by the batch
worker), and the workbook is the one `GET /v1/batches/{id}/result` gives (`result_workbook`)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select

from proposal_router.model.errors import Conflict, InvalidRequest, NotFound, ProposalRouterError
from proposal_router.model.intake.records import ColumnMap
from proposal_router.service import batches, store
from proposal_router.service.db.models import BatchJob
from proposal_router.service.deps import DB
from proposal_router.service.schemas import ProposalId
from proposal_router.service.statuses import UNFINISHED, JobStatus
from proposal_router.service.uploads import UnsupportedFile, accept_upload, result_workbook
from proposal_router.service.web.routes import BAD_CSRF, User, WebServices, templates
from proposal_router.service.web.session import WebUser, csrf_matches

router = APIRouter(prefix="/ui/batches", include_in_schema=False)
SHOWN = 50
SHOWN_ISSUES = 200  # of a job's unprocessed rows on its page; the workbook's 未处理行 sheet has them all
REFRESH_SECONDS = 2
MAX_COLUMN = 200  # characters of a column name, as the API allows
# The office sheet's own columns (data/demo/intake.xlsx): what the form offers unless told otherwise.
DEFAULT_FORM = {"sheet": "", "id_column": "编号", "title_column": "提案标题", "body_column": "提案内容"}
_SEPARATORS = re.compile(r"[,，、;；]")
_INPUTS = {"id": "编号列", "title": "标题列", "body": "内容列"}


def _input(option: str) -> str:
    """Where the page's user names a column: the form's input, not the API's `title_field`."""
    return f"上方“{_INPUTS[option]}”输入框" if option in _INPUTS else f"“{option}”"


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Worker(Protocol):
    def submit(self, job_id: int) -> None: ...


class UploadServices(WebServices, Protocol):
    """The app state as the upload needs it: the batch worker that reads and routes the stored file."""

    batch_worker: _Worker


def _state(request: Request) -> UploadServices:
    state: UploadServices = request.app.state.services
    return state


def _page(
    request: Request,
    session: DB,
    user: WebUser,
    *,
    cancelled: int | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    code: int = status.HTTP_200_OK,
) -> Response:
    recent = session.scalars(select(BatchJob).order_by(BatchJob.id.desc()).limit(SHOWN))
    context = {
        "user": user,
        "jobs": [batches.progress(session, job) for job in recent],
        "names": batches.STATUS_NAMES,
        "unfinished": UNFINISHED,
        "cancelled": cancelled,
        "error": error,
        "form": form or DEFAULT_FORM,
        "job": None,
    }
    return templates.TemplateResponse(request, "batches.html", context, status_code=code)


@router.get("", response_class=HTMLResponse)
def jobs(request: Request, session: DB, user: User, cancelled: int | None = None) -> Response:
    return _page(request, session, user, cancelled=cancelled)


def _columns(form: dict[str, str]) -> ColumnMap:
    """The form's column names; several title or body columns are separated by 、 or a comma."""

    def names(field: str, label: str) -> list[str]:
        found = [n.strip() for n in _SEPARATORS.split(form[field]) if n.strip()]
        if not found:
            raise InvalidRequest(f"请填写{label}列的列名")
        if any(len(n) > MAX_COLUMN for n in found):
            raise InvalidRequest(f"{label}列的列名不能超过 {MAX_COLUMN} 个字符")
        return found

    ident = form["id_column"].strip() or "id"
    if len(ident) > MAX_COLUMN:
        raise InvalidRequest(f"编号列的列名不能超过 {MAX_COLUMN} 个字符")
    return ColumnMap(id=ident, title=names("title_column", "标题"), body=names("body_column", "内容"))


@router.post("", response_class=HTMLResponse)
def upload(
    request: Request,
    session: DB,
    user: User,
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form()] = "",
    sheet: Annotated[str, Form()] = "",
    id_column: Annotated[str, Form()] = DEFAULT_FORM["id_column"],
    title_column: Annotated[str, Form()] = DEFAULT_FORM["title_column"],
    body_column: Annotated[str, Form()] = DEFAULT_FORM["body_column"],
) -> Response:
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    form = {"sheet": sheet, "id_column": id_column, "title_column": title_column, "body_column": body_column}
    try:
        if file is None or not file.filename:
            raise InvalidRequest("请选择要上传的文件（XLSX、XLS、CSV 或 JSONL）")
        if len(sheet.strip()) > 31:
            raise InvalidRequest("工作表名称最多 31 个字符（Excel 的上限）")
        columns = _columns(form)
        actor = store.Actor(user.name, user.key_id)
        state = _state(request)
        limits, submit = state.settings.read_limits, state.batch_worker.submit
        job = accept_upload(session, actor, file.filename, file.file, columns, sheet.strip() or None, limits, submit)
    except (InvalidRequest, ProposalRouterError) as exc:  # the API's refusals, on the page with what was typed kept
        session.rollback()
        code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE if isinstance(exc, UnsupportedFile) else 422
        return _page(request, session, user, error=exc.describe(_input), form=form, code=code)
    return RedirectResponse(f"/ui/batches/{job.id}", status.HTTP_303_SEE_OTHER)


def _job(session: DB, job_id: int) -> BatchJob:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"没有批处理任务 {job_id}")
    return job


@router.get("/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: ProposalId, session: DB, user: User) -> Response:
    job = _job(session, job_id)
    issues = [issue.describe() for issue in batches.issues_of(job)]  # file, row and column of each
    context: dict[str, Any] = {
        "user": user,
        "job": batches.progress(session, job),
        "names": batches.STATUS_NAMES,
        "unfinished": UNFINISHED,
        "done": JobStatus.DONE,
        "issues": issues[:SHOWN_ISSUES],
        "more_issues": max(0, len(issues) - SHOWN_ISSUES),
        "refresh": REFRESH_SECONDS if job.status in UNFINISHED else None,
        "error": None,
    }
    return templates.TemplateResponse(request, "batches.html", context)


@router.get("/{job_id}/progress")
def job_progress(job_id: ProposalId, session: DB, _: User) -> batches.JobProgress:
    """The page's progress as JSON, for a script or a page that polls instead of refreshing."""
    return batches.progress(session, _job(session, job_id))


@router.get("/{job_id}/result", response_class=Response)
def result(job_id: ProposalId, session: DB, user: User) -> Response:
    job = _job(session, job_id)
    try:
        body, filename = result_workbook(session, job, store.Actor(user.name, user.key_id))
    except Conflict as exc:
        return PlainTextResponse(str(exc), status.HTTP_409_CONFLICT)
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}
    return Response(body, media_type=XLSX, headers=headers)


@router.post("/{job_id}/cancel", response_class=HTMLResponse)
def cancel(job_id: ProposalId, session: DB, user: User, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    job = _job(session, job_id)
    if job.status in UNFINISHED:
        batches.cancel(session, job, store.Actor(user.name, user.key_id))
    return RedirectResponse(f"/ui/batches?cancelled={job_id}", status.HTTP_303_SEE_OTHER)
