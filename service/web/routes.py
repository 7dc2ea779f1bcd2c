"""The reviewers' pages: log in with a key, work the queue, accept, correct, reject (不予立案, with its ground)
or merge (并案) one item and go on to the next, reassign (改办) a decided one. The queue and each item show
what 审查立案 found: flags with the sentence behind them, 预审 warnings, and the earlier filings an item could be
merged with, side by side; what a department returned (二次交办) and what was drawn for audit (抽查) are marked,
and the queue says when automatic routing is paused. A department's key logs in too, to its own page only
(service/web/department.py); analysts see the quality figures (service/web/quality.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader
from pydantic import ValidationError

from proposal_router.model.errors import Conflict, InvalidRequest, NotFound, UnknownName
from proposal_router.model.intake.records import split_list
from proposal_router.model.screening import GROUND_NAMES, Ground
from proposal_router.service import store, trust
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.deps import DB, Services
from proposal_router.service.domain import keys, proposals, review
from proposal_router.service.domain.proposals import ProposalView, SimilarFiling
from proposal_router.service.domain.quality import Breaker
from proposal_router.service.labels import REASONS, STATUSES
from proposal_router.service.schemas import INT64_MAX, OFFSET_MAX, ProposalId, ReviewIn
from proposal_router.service.security import Role
from proposal_router.service.web.session import (
    COOKIE,
    MAX_AGE_SECONDS,
    SessionSigner,
    WebUser,
    csrf_matches,
    may_log_in,
)


def local_time(moment: datetime | None, zone: ZoneInfo | None = None) -> str:
    """A stored time as the office reads it: minutes, in the configured time zone (naive times are UTC)."""
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(zone or UTC):%Y-%m-%d %H:%M}"


templates = Jinja2Templates(env=Environment(loader=PackageLoader("proposal_router.service.web"), autoescape=True))
templates.env.filters["local"] = local_time
router = APIRouter(prefix="/ui", include_in_schema=False)
QUEUE_PAGE = 50
MAX_PAGE = OFFSET_MAX // QUEUE_PAGE  # the API's largest offset
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_SITE = "登录请求来自其他网站，已拒绝：请在本系统的登录页输入密钥"
BAD_CSRF = "表单令牌缺失或有误：请刷新页面后重试"
PRESCREENS = {"": "全部", store.Prescreen.FLAGGED: "有审查提示", store.Prescreen.SIMILAR: "可并案"}
KINDS = {"": "全部", store.Kind.RETURNED: "二次交办", store.Kind.AUDIT: "抽查"}
DEPARTMENT_HOME = "/ui/department"


class WebServices(Services, Protocol):
    """The app state as the pages see it: the shared services and the log-in sessions' signer."""

    signer: SessionSigner

    def breaker(self) -> Breaker: ...


def get_web_services(request: Request) -> WebServices:
    services: WebServices = request.app.state.services
    return services


State = Annotated[WebServices, Depends(get_web_services)]


class LoginRequired(Exception):
    """Raised by pages that need a reviewer; the app answers with a redirect to the log-in page, or with
    `location` to the page the logged-in key may see (a department's key: its own list)."""

    def __init__(self, next_path: str, location: str | None = None) -> None:
        self.next_path = next_path
        self.location = location


def signed_in(request: Request, state: State, session: DB) -> WebUser:
    """Whoever is logged in: a reviewer or above, or a department's key."""
    user = state.signer.user(request.cookies.get(COOKIE), session)
    if user is None:
        raise LoginRequired(request.url.path)
    return user


def current_user(request: Request, state: State, session: DB) -> WebUser:
    """A reviewer or above; a department's key is sent to its own page, it sees nothing else."""
    user = signed_in(request, state, session)
    if user.is_department:
        raise LoginRequired(request.url.path, DEPARTMENT_HOME)
    return user


User = Annotated[WebUser, Depends(current_user)]
AnyUser = Annotated[WebUser, Depends(signed_in)]


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    if exc.location is not None:
        return RedirectResponse(exc.location, status.HTTP_303_SEE_OTHER)
    return RedirectResponse(f"/ui/login?next={quote(exc.next_path)}", status.HTTP_303_SEE_OTHER)


def refused(request: Request, user: WebUser, message: str, code: int = status.HTTP_403_FORBIDDEN) -> Response:
    """A page this key may not see, said in a page rather than JSON."""
    context = {"user": user, "message": message}
    return templates.TemplateResponse(request, "refused.html", context, status_code=code)


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
    elif not may_log_in(record.role):
        error = f"该密钥的角色（{record.role}）不能登录本页面：需要 reviewer 或以上，或承办单位（department）的密钥"
    if record is None or error:
        keys.audit_log_in(session, key.strip(), record, "unknown_or_revoked_key" if record is None else "role")
        context = {"next": _safe_next(next), "error": error}
        return templates.TemplateResponse(request, "login.html", context, status_code=status.HTTP_401_UNAUTHORIZED)
    keys.audit_log_in(session, key.strip(), record, None)
    target = _safe_next(next)
    if record.role == Role.DEPARTMENT:  # a department sees its own list and nothing else
        target = DEPARTMENT_HOME
    elif target.startswith(DEPARTMENT_HOME):
        target = "/ui/queue"
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
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
def logout(user: AnyUser, state: State, session: DB, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    state.signer.end(session, user)  # the cookie, and any copy of it, logs in no more
    response = RedirectResponse("/ui/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/ui")
    return response


Order = Literal["uncertain", "oldest"]
ORDERS: tuple[Order, ...] = ("uncertain", "oldest")


def prescreen_of(value: str) -> store.Prescreen | None:
    """The queue's 审查立案 filter as the page's form sends it: "" (全部) or an unknown value is no filter."""
    return store.Prescreen(value) if value in tuple(store.Prescreen) else None


def kind_of(value: str) -> store.Kind | None:
    """The queue's 类型 filter (全部/二次交办/抽查) as the form sends it; an unknown value is no filter."""
    return store.Kind(value) if value in tuple(store.Kind) else None


@dataclass(frozen=True)
class Place:
    """Where in the queue a reviewer works: its filters and order, carried from the queue to an item and
    on to the next one, so J/K and "next after a decision" follow the list the reviewer was looking at."""

    department: str = ""
    topic: str = ""
    q: str = ""
    order: Order = "uncertain"
    prescreen: store.Prescreen | None = None
    kind: store.Kind | None = None

    @classmethod
    def of(cls, query: str) -> Place:
        """From a query string (a form's hidden `place`); anything odd falls back to the defaults."""
        fields = {k: v[0][:200] for k, v in parse_qs(query).items() if v}
        order = fields.get("order", "uncertain")
        prescreen = fields.get("prescreen", "")
        return cls(
            fields.get("department", ""),
            fields.get("topic", ""),
            fields.get("q", ""),
            order if order in ORDERS else "uncertain",
            prescreen_of(prescreen),
            kind_of(fields.get("kind", "")),
        )

    @property
    def query(self) -> str:
        pairs = {"department": self.department, "topic": self.topic, "q": self.q}
        shown = {k: v for k, v in pairs.items() if v}
        if self.order != "uncertain":
            shown["order"] = self.order
        if self.prescreen:
            shown["prescreen"] = self.prescreen.value
        if self.kind:
            shown["kind"] = self.kind.value
        return urlencode(shown)

    def filters(self, catalogue: Catalogue) -> store.Filters:
        """The queue's filters, names resolved; an unknown name filters nothing rather than failing a page."""
        typed = store.Filters(
            department=self.department or None,
            topic=self.topic or None,
            text=self.q or None,
            prescreen=self.prescreen,
            kind=self.kind,
        )
        try:
            return proposals.resolved(typed, catalogue)
        except UnknownName:
            return store.Filters(text=self.q or None, prescreen=self.prescreen, kind=self.kind)


def shown_id(session: DB, proposal_id: int | None) -> str | None:
    """The office's id of a proposal (its internal id only when the office gave none), for notices."""
    if proposal_id is None:
        return None
    try:
        record = store.get(session, proposal_id)
    except NotFound:
        return None
    return record.external_id or str(record.id)


@dataclass(frozen=True)
class Suggested:
    """The department a reviewer is asked about (after a return, not the one that returned it) and the
    model's confidence in it, when the model scored it."""

    name: str | None
    confidence: float | None


def suggestion(item: ProposalView) -> Suggested:
    r = item.routing
    scores = {c.name: c.confidence for c in r.candidates}
    if r.lead_department is not None:
        scores[r.lead_department.name] = r.lead_department.confidence
    name = item.suggested
    return Suggested(name, scores.get(name) if name else None)


def auditing(item: ProposalView) -> bool:
    """Drawn for audit (抽查), routed, and the verdict still to come: a reviewer confirms or corrects it."""
    return item.audit is not None and item.audit.verdict is None and item.status == "auto"


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    state: State,
    session: DB,
    user: User,
    department: str | None = None,
    topic: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    order: Order = "uncertain",
    prescreen: Annotated[str, Query(max_length=20)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    done: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> Response:
    place = Place(department or "", topic or "", (q or "").strip(), order, prescreen_of(prescreen), kind_of(kind))
    offset = (page - 1) * QUEUE_PAGE
    error = None
    typed = store.Filters(
        department=department or None,
        topic=topic or None,
        text=place.q or None,
        prescreen=place.prescreen,
        kind=place.kind,
    )
    try:
        filters = proposals.resolved(typed, state.catalogue)
    except UnknownName as exc:
        error, filters = str(exc), store.Filters(text=place.q or None, prescreen=place.prescreen, kind=place.kind)
    total, items = proposals.queue(session, filters, QUEUE_PAGE, offset, order)
    routing = trust.routing_state(session)
    context = {
        "user": user,
        "items": items,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // QUEUE_PAGE)),
        "filters": {
            "department": department or "",
            "topic": topic or "",
            "q": place.q,
            "order": order,
            "prescreen": place.prescreen.value if place.prescreen else "",
            "kind": place.kind.value if place.kind else "",
        },
        "prescreens": PRESCREENS,
        "kinds": KINDS,
        "suggestions": {p.id: suggestion(p) for p in items},
        "paused": (routing.reason or "分析人员暂停") if routing.paused else None,
        "paused_at": routing.changed_at if routing.paused else None,
        "zone": ZoneInfo(state.settings.timezone),
        "grounds": GROUND_NAMES,
        "place": place.query,
        "departments": state.catalogue.departments,
        "topics": state.catalogue.topics,
        "done": shown_id(session, done),
        "error": error,
        "reasons": REASONS,
    }
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if error else status.HTTP_200_OK
    return templates.TemplateResponse(request, "queue.html", context, status_code=code)


@dataclass(frozen=True)
class Typed:
    """What a reviewer typed into a form, shown again when the decision was refused."""

    action: str = ""
    lead_department: str = ""
    co_departments: tuple[str, ...] = ()
    topic: str = ""
    reason: str = ""
    ground: str = ""  # 不予立案: the ground chosen
    merge_into: str = ""  # 并案: a candidate's internal id, or "other" for the one typed in merge_other
    merge_other: str = ""


@dataclass(frozen=True)
class Candidate:
    """An earlier filing this one could be merged with, as the item page compares it."""

    match: SimilarFiling
    item: ProposalView | None  # None: no longer stored


def _candidates(session: DB, item: ProposalView) -> list[Candidate]:
    found: list[Candidate] = []
    for match in item.similar:
        try:
            found.append(Candidate(match, proposals.get(session, match.id)))
        except NotFound:
            found.append(Candidate(match, None))
    return found


def _detail(
    request: Request,
    state: State,
    session: DB,
    user: WebUser,
    proposal_id: int,
    place: Place,
    error: str | None,
    code: int,
    typed: Typed | None = None,
    done: int | None = None,
    compare: int | None = None,
) -> Response:
    item = proposals.get(session, proposal_id)
    candidates = _candidates(session, item)
    compared = next((c.item for c in candidates if c.match.id == compare), None)
    if compare is not None and compared is None:  # another proposal than the ones found alike
        try:
            compared = proposals.get(session, compare)
        except NotFound:
            error = error or f"要对照的提案 {compare} 不存在"
    flags = item.routing.screening
    terms = proposals.explanation(item, state.explainer, state.catalogue)
    previous, following = proposals.neighbours(session, proposal_id, place.filters(state.catalogue), place.order)
    r = item.routing
    if item.assignment is not None:  # what a reassignment starts from: the assignment in force
        current = Typed("", item.assignment.lead_department or "", tuple(item.assignment.co_departments))
        current = replace(current, topic=item.assignment.topic or "")
    else:  # pending or rejected: the model's answer; after a return its first department that did not return it
        lead = item.model_suggestions[0] if item.returns and item.model_suggestions else None
        if not item.returns:
            lead = r.lead_department.name if r.lead_department else None
        current = Typed(
            "",
            lead or "",
            tuple(c.name for c in r.co_departments if c.name != lead),
            r.topic.name if r.topic else "",
        )
    context: dict[str, Any] = {
        "user": user,
        "item": item,
        "terms": terms,
        "error": error,
        "reasons": REASONS,
        "statuses": STATUSES,
        "departments": [(d, state.catalogue.aliases.get(d, [])) for d in state.catalogue.departments],
        "topics": state.catalogue.topics,
        "form": typed or current,
        "typed": typed,
        "grounds": GROUND_NAMES,
        "ground": typed.ground if typed and typed.action == "reject" else (flags[0].code.value if flags else ""),
        "candidates": candidates,
        "compared": compared,
        "merged_into": shown_id(session, item.merged_into),
        "place": place.query,
        "previous": previous,
        "next": following,
        "done": shown_id(session, done),
        "suggested": suggestion(item),
        "auditing": auditing(item),
        "returned": set(item.returned_by),
        "zone": ZoneInfo(state.settings.timezone),
    }
    return templates.TemplateResponse(request, "proposal.html", context, status_code=code)


@router.get("/proposals/{proposal_id}", response_class=HTMLResponse)
def proposal(
    request: Request,
    proposal_id: ProposalId,
    state: State,
    session: DB,
    user: User,
    department: str | None = None,
    topic: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    order: Order = "uncertain",
    prescreen: Annotated[str, Query(max_length=20)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    done: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    compare: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> Response:
    place = Place(department or "", topic or "", (q or "").strip(), order, prescreen_of(prescreen), kind_of(kind))
    ok = status.HTTP_200_OK
    return _detail(request, state, session, user, proposal_id, place, None, ok, done=done, compare=compare)


def _co_names(values: list[str]) -> list[str]:
    """The co-departments a form sent: ticked in the picker, or typed (、-separated, as a file's cell is read)."""
    names: list[str] = []
    for value in values:
        names.extend(split_list(value))
    return list(dict.fromkeys(names))


def _merge_target(session: DB, typed: Typed) -> int:
    """The proposal a 并案 form names: a candidate ticked, or one typed by its 编号 (or internal id)."""
    if typed.merge_into != "other":
        if typed.merge_into.isdigit():
            return int(typed.merge_into)
        raise InvalidRequest("并案须选择或填写并入的提案")
    other = typed.merge_other.strip()
    if not other:
        raise InvalidRequest("并案须选择或填写并入的提案：请填写其编号")
    found = store.stored_by_external_id(session, [other])
    if other in found:
        return found[other].id
    if other.isdigit() and int(other) <= INT64_MAX:
        return int(other)
    raise InvalidRequest(f"没有编号为「{other}」的提案")


def _decision(session: DB, typed: Typed, scope: str, version: int | None, item: ProposalView) -> review.Verdict:
    """The form's fields as the API's decision, validated as the API validates one: a correction sends only
    what differs from the model's answer; accepting the lead only sends no co-departments."""
    reason = typed.reason.strip() or None
    if typed.action == "reject":
        if typed.ground and typed.ground not in tuple(Ground):
            raise InvalidRequest(f"未知的不予立案情形「{typed.ground}」：请从列表中选择")
        fields = {"action": "reject", "reason": reason, "ground": typed.ground or None, "version": version}
        return ReviewIn.model_validate(fields).verdict()
    if typed.action == "merge":
        target = _merge_target(session, typed)
        fields = {"action": "merge", "merge_into": target, "reason": reason, "version": version}
        return ReviewIn.model_validate(fields).verdict()
    if typed.action == "accept":
        co: list[str] | None = None if scope == "all" else []
        return ReviewIn.model_validate({"action": "accept", "co_departments": co, "version": version}).verdict()
    if typed.action not in ("correct", "reassign"):
        return ReviewIn.model_validate({"action": typed.action, "reason": reason, "version": version}).verdict()
    model = item.routing
    co_names = list(typed.co_departments)
    model_topic = model.topic.name if model.topic else None
    if typed.action == "reassign":
        changes: dict[str, Any] = {
            "lead_department": typed.lead_department.strip() or None,
            "co_departments": co_names,
            "topic": typed.topic.strip() or None,
            "reason": reason,
        }
    else:
        changes = {
            "lead_department": typed.lead_department.strip() or None,
            "co_departments": co_names if co_names != [c.name for c in model.co_departments] else None,
            "topic": typed.topic.strip() if typed.topic.strip() and typed.topic.strip() != model_topic else None,
        }
    return ReviewIn.model_validate({"action": typed.action, "version": version, **changes}).verdict()


def _after(session: DB, proposal_id: int, place: Place, catalogue: Catalogue) -> str:
    """Where a reviewer goes after a decision: the next pending item in the queue's order (or, at its end,
    the first one still waiting), else the queue; either shows which proposal was just handled."""
    filters = place.filters(catalogue)
    _, following = proposals.neighbours(session, proposal_id, filters, place.order)
    if following is None:
        _, first = proposals.queue(session, filters, 1, 0, place.order)
        following = first[0].id if first and first[0].id != proposal_id else None
    suffix = f"&{place.query}" if place.query else ""
    if following is None:
        return f"/ui/queue?done={proposal_id}{suffix}"
    return f"/ui/proposals/{following}?done={proposal_id}{suffix}"


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
    scope: Annotated[Literal["lead", "all"], Form()] = "lead",
    lead_department: Annotated[str, Form(max_length=200)] = "",
    co_departments: Annotated[list[str] | None, Form()] = None,
    topic: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    ground: Annotated[str, Form(max_length=40)] = "",
    merge_into: Annotated[str, Form(max_length=40)] = "",
    merge_other: Annotated[str, Form(max_length=200)] = "",
    place: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if not csrf_matches(user, csrf):
        return PlainTextResponse(BAD_CSRF, status.HTTP_403_FORBIDDEN)
    where = Place.of(place)
    item = proposals.get(session, proposal_id)
    co = tuple(_co_names(co_departments or []))
    typed = Typed(action, lead_department, co, topic, reason, ground, merge_into, merge_other)
    try:
        verdict = _decision(session, typed, scope, version, item)
        actor = store.Actor(user.name, user.key_id)
        review.decide(session, proposal_id, verdict, actor, state.catalogue, state.breaker())
    except ValidationError as exc:
        message = "；".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
        return _detail(request, state, session, user, proposal_id, where, message, code, typed)
    except (UnknownName, InvalidRequest, NotFound) as exc:
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
        return _detail(request, state, session, user, proposal_id, where, str(exc), code, typed)
    except Conflict as exc:
        return _detail(request, state, session, user, proposal_id, where, str(exc), status.HTTP_409_CONFLICT, typed)
    state.metrics.decisions.labels(kind=f"review_{action}").inc()
    return RedirectResponse(_after(session, proposal_id, where, state.catalogue), status.HTTP_303_SEE_OTHER)
