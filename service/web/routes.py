"""The reviewers' pages: log in with a key, work the queue, accept, correct or reject (不予立案) one item."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader
from pydantic import ValidationError

from proposal_router.model.errors import Conflict, InvalidRequest, UnknownName
from proposal_router.model.intake.records import split_list
from proposal_router.service import store
from proposal_router.service.deps import DB, Services
from proposal_router.service.domain import keys, proposals, review
from proposal_router.service.domain.proposals import ProposalView
from proposal_router.service.labels import REASONS, STATUSES
from proposal_router.service.schemas import INT64_MAX, OFFSET_MAX, ProposalId, ReviewIn
from proposal_router.service.security import Role, allows
from proposal_router.service.web.session import COOKIE, MAX_AGE_SECONDS, SessionSigner, WebUser, csrf_matches

templates = Jinja2Templates(env=Environment(loader=PackageLoader("proposal_router.service.web"), autoescape=True))
router = APIRouter(prefix="/ui", include_in_schema=False)
QUEUE_PAGE = 50
MAX_PAGE = OFFSET_MAX // QUEUE_PAGE  # the API's largest offset
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_SITE = "登录请求来自其他网站，已拒绝：请在本系统的登录页输入密钥"
BAD_CSRF = "表单令牌缺失或有误：请刷新页面后重试"


class WebServices(Services, Protocol):
    """The app state as the pages see it: the shared services and the log-in sessions' signer."""

    signer: SessionSigner


def get_web_services(request: Request) -> WebServices:
    services: WebServices = request.app.state.services
    return services


State = Annotated[WebServices, Depends(get_web_services)]


class LoginRequired(Exception):
    """Raised by pages that need a reviewer; the app answers with a redirect to the log-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def current_user(request: Request, state: State, session: DB) -> WebUser:
    user = state.signer.user(request.cookies.get(COOKIE), session)
    if user is None:
        raise LoginRequired(request.url.path)
    return user


User = Annotated[WebUser, Depends(current_user)]


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/ui/login?next={quote(exc.next_path)}", status.HTTP_303_SEE_OTHER)


def _host_port(netloc: str, scheme: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(f"//{netloc.strip()}")
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname, port or DEFAULT_PORTS.get(scheme)) if parts.hostname else None


def same_origin(request: Request) -> bool:
    """Whether a form was posted from this site's own pages: a guard against log-in CSRF.

    Another site's page must not log a reviewer's browser in with the attacker's key (the reviewer would then
    decide proposals in the attacker's name). The Origin header, or the Referer when there is no Origin, must
    name the host and port the request was sent to: the Host header, or X-Forwarded-Host behind a proxy. The
    scheme is not compared, since behind a proxy that ends TLS the app is reached over http; the port is (a page
    on another port of the same host is another site's page). `Origin: null` (a sandboxed frame, a redirect
    that hides its origin) is refused.

    A request with neither header is allowed (curl, scripts, the tests): every browser in use sends Origin with
    a cross-site form POST, and a page on another site can suppress neither that nor set X-Forwarded-Host, so
    such a request is not another site's form. Refusing it would take a token issued with the log-in form and
    protect only browsers too old to send Origin.
    """
    claimed = request.headers.get("origin")
    if claimed is None:
        claimed = request.headers.get("referer")
    if claimed is None:
        return True
    try:
        parts = urlsplit(claimed.strip())
    except ValueError:
        return False
    origin = _host_port(parts.netloc, parts.scheme) if parts.scheme in DEFAULT_PORTS else None
    if origin is None:
        return False
    hosts = [request.headers.get("host", ""), *request.headers.get("x-forwarded-host", "").split(",")]
    return any(h.strip() and _host_port(h, parts.scheme) == origin for h in hosts)


def _safe_next(target: str | None) -> str:
    """Only paths of this page: an open redirect to another site would help phishing."""
    return target if target and target.startswith("/ui/") and not target.startswith("//") else "/ui/queue"


@router.get("", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/ui/queue", status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, state: State, session: DB, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
) -> Response:
    if not same_origin(request):
        refused = {"next": _safe_next(next), "error": CROSS_SITE}
        return templates.TemplateResponse(request, "login.html", refused, status_code=status.HTTP_403_FORBIDDEN)
    record = keys.authenticate(session, key.strip()) if key.strip() else None
    error = None
    if record is None:
        error = "密钥无效或已被吊销"
    elif not allows(record.role, Role.REVIEWER):
        error = f"该密钥的角色（{record.role}）不能复核提案，需要 reviewer 或以上"
    if record is None or error:
        keys.audit_log_in(session, key.strip(), record, "unknown_or_revoked_key" if record is None else "role")
        context = {"next": _safe_next(next), "error": error}
        return templates.TemplateResponse(request, "login.html", context, status_code=status.HTTP_401_UNAUTHORIZED)
    keys.audit_log_in(session, key.strip(), record, None)
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        state.signer.issue(session, record),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=state.settings.secure_cookies,
        path="/ui",
    )
    return response


@router.post("/logout")
def logout(user: User, state: State, session: DB, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    state.signer.end(session, user)  # the cookie, and any copy of it, logs in no more
    response = RedirectResponse("/ui/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    state: State,
    session: DB,
    user: User,
    department: str | None = None,
    topic: str | None = None,
    order: Literal["uncertain", "oldest"] = "uncertain",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    done: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> Response:
    offset = (page - 1) * QUEUE_PAGE
    filters = store.Filters(department=department or None, topic=topic or None)
    total, items = proposals.queue(session, filters, QUEUE_PAGE, offset, order)
    context = {
        "user": user,
        "items": items,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // QUEUE_PAGE)),
        "filters": {"department": department or "", "topic": topic or "", "order": order},
        "departments": state.catalogue.departments,
        "topics": state.catalogue.topics,
        "done": done,
        "reasons": REASONS,
    }
    return templates.TemplateResponse(request, "queue.html", context)


def _detail(
    request: Request, state: State, session: DB, user: WebUser, proposal_id: int, error: str | None, code: int
) -> Response:
    item = proposals.get(session, proposal_id)
    terms = proposals.explanation(item, state.explainer, state.catalogue)
    context: dict[str, Any] = {
        "user": user,
        "item": item,
        "terms": terms,
        "error": error,
        "reasons": REASONS,
        "statuses": STATUSES,
        "departments": [(d, state.catalogue.aliases.get(d, [])) for d in state.catalogue.departments],
        "topics": state.catalogue.topics,
        "co_text": "、".join(c.name for c in item.routing.co_departments),
    }
    return templates.TemplateResponse(request, "proposal.html", context, status_code=code)


@router.get("/proposals/{proposal_id}", response_class=HTMLResponse)
def proposal(request: Request, proposal_id: ProposalId, state: State, session: DB, user: User) -> Response:
    return _detail(request, state, session, user, proposal_id, None, status.HTTP_200_OK)


def _decision(
    action: str, lead: str, co: str, topic: str, reason: str, version: int | None, item: ProposalView
) -> review.Verdict:
    """The form's fields as the API's decision, validated as the API validates one: a correction sends only
    what differs from the model's answer."""
    if action != "correct":
        return ReviewIn.model_validate(
            {"action": action, "reason": reason.strip() or None, "version": version}
        ).verdict()
    model = item.routing
    co_names = split_list(co)  # as a file's co_departments cell is read
    model_topic = model.topic.name if model.topic else None
    changes: dict[str, Any] = {
        "lead_department": lead.strip() or None,
        "co_departments": co_names if co_names != [c.name for c in model.co_departments] else None,
        "topic": topic.strip() if topic.strip() and topic.strip() != model_topic else None,
    }
    return ReviewIn.model_validate({"action": "correct", "version": version, **changes}).verdict()


@router.post("/proposals/{proposal_id}", response_class=HTMLResponse)
def decide(
    request: Request,
    proposal_id: ProposalId,
    state: State,
    session: DB,
    user: User,
    action: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    version: Annotated[int | None, Form(ge=0, le=INT64_MAX)] = None,
    lead_department: Annotated[str, Form()] = "",
    co_departments: Annotated[str, Form()] = "",
    topic: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    item = proposals.get(session, proposal_id)
    try:
        verdict = _decision(action, lead_department, co_departments, topic, reason, version, item)
        review.decide(session, proposal_id, verdict, store.Actor(user.name, user.key_id), state.catalogue)
    except ValidationError as exc:
        message = "；".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return _detail(request, state, session, user, proposal_id, message, status.HTTP_422_UNPROCESSABLE_CONTENT)
    except (UnknownName, InvalidRequest) as exc:
        return _detail(request, state, session, user, proposal_id, str(exc), status.HTTP_422_UNPROCESSABLE_CONTENT)
    except Conflict as exc:
        return _detail(request, state, session, user, proposal_id, str(exc), status.HTTP_409_CONFLICT)
    state.metrics.decisions.labels(kind=f"review_{action}").inc()
    return RedirectResponse(f"/ui/queue?done={proposal_id}", status.HTTP_303_SEE_OTHER)
