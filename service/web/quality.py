"""For analysts (and admins): the quality of automatic routing in production, the page of `GET /v1/quality`.

The audits' precision and its lower bound against the target, the reviewers' agreement, the departments'
returns (二次交办) by department and by week, and the circuit breaker: when it paused automatic routing the
page says why and offers 恢复自动交办 (as `POST /v1/quality/resume`, audits counted afresh)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from proposal_router.service import store, trust
from proposal_router.service.deps import DB
from proposal_router.service.domain import quality
from proposal_router.service.security import Role, allows
from proposal_router.service.web.routes import BAD_CSRF, State, User, refused, templates
from proposal_router.service.web.session import csrf_matches

router = APIRouter(prefix="/ui/quality", include_in_schema=False)
FOR_ANALYSTS = "交办质量页面供分析人员（analyst）和管理员使用：您的密钥角色是 {role}"
RESUMED = {"1": "已恢复自动交办：抽查从现在起重新计数。", "0": "自动交办没有暂停，无需恢复。"}


@router.get("", response_class=HTMLResponse)
def page(
    request: Request, state: State, session: DB, user: User, resumed: Annotated[str, Query(max_length=2)] = ""
) -> Response:
    if not allows(user.role, Role.ANALYST):
        return refused(request, user, FOR_ANALYSTS.format(role=user.role))
    settings = state.settings
    figures = quality.figures(session, state.breaker(), settings.audit_rate, settings.timezone)
    top = max([w.auto_routed for w in figures.weeks] + [1])
    context = {
        "user": user,
        "q": figures,
        "floor": figures.target_precision - figures.margin,
        "top": top,
        "resumed": RESUMED.get(resumed),
        "zone": ZoneInfo(settings.timezone),
    }
    return templates.TemplateResponse(request, "quality.html", context)


@router.post("/resume", response_class=HTMLResponse)
def resume(request: Request, session: DB, user: User, csrf: Annotated[str, Form()] = "") -> Response:
    if not allows(user.role, Role.ANALYST):
        return refused(request, user, FOR_ANALYSTS.format(role=user.role))
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    if not trust.routing_state(session).paused:  # a second click must not start the audits' count afresh
        return RedirectResponse("/ui/quality?resumed=0", status.HTTP_303_SEE_OTHER)
    quality.resume(session, store.Actor(user.name, user.key_id))
    return RedirectResponse("/ui/quality?resumed=1", status.HTTP_303_SEE_OTHER)
