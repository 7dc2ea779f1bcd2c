"""The batch jobs page: what each uploaded intake is doing, and a way to stop one that should not run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select

from proposal_router.model.errors import NotFound
from proposal_router.service import batches, store
from proposal_router.service.db.models import BatchJob
from proposal_router.service.deps import DB
from proposal_router.service.schemas import ProposalId
from proposal_router.service.statuses import UNFINISHED
from proposal_router.service.web.routes import BAD_CSRF, User, templates
from proposal_router.service.web.session import csrf_matches

router = APIRouter(prefix="/ui/batches", include_in_schema=False)
SHOWN = 50


@router.get("", response_class=HTMLResponse)
def jobs(request: Request, session: DB, user: User, cancelled: int | None = None) -> Response:
    recent = session.scalars(select(BatchJob).order_by(BatchJob.id.desc()).limit(SHOWN))
    context = {
        "user": user,
        "jobs": [batches.progress(session, job) for job in recent],
        "names": batches.STATUS_NAMES,
        "unfinished": UNFINISHED,
        "cancelled": cancelled,
        "error": None,
    }
    return templates.TemplateResponse(request, "batches.html", context)


@router.post("/{job_id}/cancel", response_class=HTMLResponse)
def cancel(job_id: ProposalId, session: DB, user: User, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    job = session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"没有批处理任务 {job_id}")
    if job.status in UNFINISHED:
        batches.cancel(session, job, store.Actor(user.name, user.key_id))
    return RedirectResponse(f"/ui/batches?cancelled={job_id}", status.HTTP_303_SEE_OTHER)
