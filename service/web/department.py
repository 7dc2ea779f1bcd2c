"""A department's page (承办单位): the proposals it leads (主办) and co-handles (协办), and for each it leads and
may still return, a 退回 form (二次交办: not its duty, with the reason) and a 签收 button.

It is the API's `GET /v1/department/proposals`, `POST /v1/proposals/{id}/return` and `/acknowledge` in a page:
the same domain calls, the same refusals (another department's item, a co-handled one, past the deadline,
already signed) said in Chinese on the page with what was typed kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from proposal_router.model.errors import Conflict, Forbidden, InvalidRequest, NotFound
from proposal_router.service import store
from proposal_router.service.deps import DB
from proposal_router.service.domain import departments
from proposal_router.service.domain.assignments import Role as Part
from proposal_router.service.schemas import INT64_MAX, ProposalId
from proposal_router.service.web.routes import BAD_CSRF, DEPARTMENT_HOME, AnyUser, State, refused, shown_id, templates
from proposal_router.service.web.session import WebUser, csrf_matches

router = APIRouter(prefix=DEPARTMENT_HOME, include_in_schema=False)
NOT_A_DEPARTMENT = "本页面供承办单位使用：请用本单位（department）的密钥登录"
DONE = {"returned": "已退回提案委员会，等待重新交办", "signed": "已签收"}


@dataclass(frozen=True)
class Row:
    """One line of the department's list as the page shows it."""

    item: departments.Handling
    part: str  # 主办 or 协办
    state: str  # 已签收, 可退回, 已过期, or what else holds it
    state_class: str


def _row(item: departments.Handling) -> Row:
    if item.role == Part.CO:
        return Row(item, "协办", "协办（由主办单位签收）", "co")
    if item.acknowledged_at is not None:
        return Row(item, "主办", "已签收", "signed")
    if item.can_return:
        return Row(item, "主办", "可退回", "open")
    if item.merged_into is not None:
        return Row(item, "主办", f"已并入 {item.merged_into}", "expired")
    if item.return_deadline is None:
        return Row(item, "主办", "—", "expired")
    return Row(item, "主办", "已过期（视为签收）", "expired")


def _page(
    request: Request,
    state: State,
    session: DB,
    user: WebUser,
    *,
    error: str | None = None,
    failed: int | None = None,
    reason: str = "",
    done: str | None = None,
    done_action: str | None = None,
    code: int = status.HTTP_200_OK,
) -> Response:
    assert user.department is not None  # a department's key always names one (keys.create_key)
    settings = state.settings
    items = departments.listing(session, user.department, settings.return_days)
    context = {
        "user": user,
        "department": user.department,
        "rows": [_row(i) for i in items],
        "return_days": settings.return_days,
        "zone": ZoneInfo(settings.timezone),
        "error": error,
        "failed": failed,
        "reason": reason,
        "done": done,
        "done_text": DONE.get(done_action or ""),
    }
    return templates.TemplateResponse(request, "department.html", context, status_code=code)


def _not_allowed(request: Request, user: WebUser, csrf: str) -> Response | None:
    """The refusal of a form posted by anyone but a department's user, or without the session's CSRF token."""
    if not user.is_department:
        return refused(request, user, NOT_A_DEPARTMENT)
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    return None


@router.get("", response_class=HTMLResponse)
def page(
    request: Request,
    state: State,
    session: DB,
    user: AnyUser,
    done: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    action: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    if not user.is_department:
        return refused(request, user, NOT_A_DEPARTMENT)
    shown = shown_id(session, done)
    return _page(request, state, session, user, done=shown, done_action=action if shown else None)


def _refusal(exc: Exception) -> int:
    if isinstance(exc, Forbidden):
        return status.HTTP_403_FORBIDDEN
    if isinstance(exc, Conflict):
        return status.HTTP_409_CONFLICT
    if isinstance(exc, NotFound):
        return status.HTTP_404_NOT_FOUND
    return status.HTTP_422_UNPROCESSABLE_CONTENT


@router.post("/{proposal_id}/return", response_class=HTMLResponse)
def give_back(
    request: Request,
    proposal_id: ProposalId,
    state: State,
    session: DB,
    user: AnyUser,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if (refusal := _not_allowed(request, user, csrf)) is not None:
        return refusal
    assert user.department is not None
    settings = state.settings
    actor = store.Actor(user.name, user.key_id)
    try:
        departments.give_back(
            session,
            proposal_id,
            user.department,
            reason,
            actor,
            settings.return_days,
            settings.timezone,
            state.breaker(),
        )
    except (Forbidden, Conflict, InvalidRequest, NotFound) as exc:
        session.rollback()
        code = _refusal(exc)
        return _page(request, state, session, user, error=str(exc), failed=proposal_id, reason=reason, code=code)
    state.metrics.decisions.labels(kind="department_return").inc()
    return RedirectResponse(f"{DEPARTMENT_HOME}?done={proposal_id}&action=returned", status.HTTP_303_SEE_OTHER)


@router.post("/{proposal_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(
    request: Request,
    proposal_id: ProposalId,
    state: State,
    session: DB,
    user: AnyUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refusal := _not_allowed(request, user, csrf)) is not None:
        return refusal
    assert user.department is not None
    settings = state.settings
    actor = store.Actor(user.name, user.key_id)
    try:
        departments.acknowledge(session, proposal_id, user.department, actor, settings.return_days, settings.timezone)
    except (Forbidden, Conflict, NotFound) as exc:
        session.rollback()
        return _page(request, state, session, user, error=str(exc), failed=proposal_id, code=_refusal(exc))
    return RedirectResponse(f"{DEPARTMENT_HOME}?done={proposal_id}&action=signed", status.HTTP_303_SEE_OTHER)
