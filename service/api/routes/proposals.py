"""Submitting filings (routed at once) and reading them back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Response, status

from proposal_router.service import store
from proposal_router.service.api.deps import Screener, State
from proposal_router.service.deps import DB
from proposal_router.service.domain import proposals
from proposal_router.service.schemas import Limit, Offset, Page, ProposalId, ProposalIn, ProposalOut, TermOut
from proposal_router.service.statuses import ProposalStatus

router = APIRouter(prefix="/v1/proposals", tags=["proposals"])


def _check_limits(items: list[ProposalIn], state: State) -> None:
    settings = state.settings
    if not items:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "提案列表为空")
    if len(items) > settings.max_items:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"一次请求含 {len(items)} 件提案，最多 {settings.max_items} 件（更多请用批处理上传 /v1/batches）",
        )
    for i, item in enumerate(items):
        size = len(item.title) + len(item.body)
        if size > settings.max_text_chars:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"第 {i} 件提案（编号 {item.external_id or '无'}）：{size} 个字符，最多 {settings.max_text_chars} 个",
            )


@router.post(
    "",
    response_model=ProposalOut | list[ProposalOut],
    status_code=status.HTTP_201_CREATED,
    summary="Submit one proposal or a list; each is stored and routed",
)
def submit(
    payload: Annotated[ProposalIn | list[ProposalIn], Body()],
    state: State,
    session: DB,
    caller: Screener,
    response: Response,
) -> ProposalOut | list[ProposalOut]:
    items = payload if isinstance(payload, list) else [payload]
    _check_limits(items, state)
    filings = [i.filing() for i in items]
    answers = proposals.submit(session, state.router, filings, caller.actor, state.arrival)
    for answer in answers:
        if not answer.duplicate:
            state.metrics.decisions.labels(kind=answer.view.routing.decision).inc()
    if all(answer.duplicate for answer in answers):
        response.status_code = status.HTTP_200_OK
    out = [ProposalOut.of(answer.view, answer.duplicate) for answer in answers]
    return out if isinstance(payload, list) else out[0]


@router.get("", response_model=Page, summary="List proposals, newest first, filtered and paginated")
def listing(
    session: DB,
    state: State,
    _: Screener,
    status_: Annotated[ProposalStatus | None, Query(alias="status")] = None,
    department: Annotated[str | None, Query(description="lead; an alias or former name (住建局) resolves")] = None,
    topic: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="words, all in title, body, 提案人 or 编号")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    prescreen: Annotated[
        store.Prescreen | None, Query(description="flagged: a ground for 不予立案; similar: 并案 candidates")
    ] = None,
    order: Literal["newest", "oldest", "uncertain"] = "newest",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    typed = store.Filters(
        status=status_, department=department, topic=topic, since=since, until=until, text=q, prescreen=prescreen
    )
    filters = proposals.resolved(typed, state.catalogue)
    total, items = proposals.search(session, filters, limit, offset, order)
    return Page(total=total, limit=limit, offset=offset, items=[ProposalOut.of(i) for i in items])


@router.get("/{proposal_id}", response_model=ProposalOut)
def one(proposal_id: ProposalId, session: DB, _: Screener) -> ProposalOut:
    return ProposalOut.of(proposals.get(session, proposal_id))


@router.get(
    "/{proposal_id}/explanation",
    response_model=list[TermOut],
    summary="The words that weighed most for a department (default: the suggested lead)",
)
def explanation(
    proposal_id: ProposalId, state: State, session: DB, _: Screener, department: str | None = None
) -> list[TermOut]:
    item = proposals.get(session, proposal_id)
    terms = proposals.explanation(item, state.explainer, state.catalogue, department)
    return [TermOut.model_validate(t.model_dump()) for t in terms]
