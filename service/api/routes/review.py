"""The review queue: pending items, most uncertain or oldest first, and a reviewer's decision on one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from proposal_router.service import store
from proposal_router.service.api.deps import Reviewer, State
from proposal_router.service.deps import DB
from proposal_router.service.domain import proposals, review
from proposal_router.service.schemas import Limit, Offset, Page, ProposalId, ProposalOut, ReviewIn, ReviewOut

router = APIRouter(prefix="/v1/review", tags=["review"])


@router.get("", response_model=Page, summary="Pending items and audit items (抽查), most uncertain first by default")
def queue(
    session: DB,
    state: State,
    _: Reviewer,
    department: Annotated[str | None, Query(description="suggested lead; an alias or former name resolves")] = None,
    topic: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="words, all in title, body, 提案人 or 编号")] = None,
    prescreen: Annotated[
        store.Prescreen | None, Query(description="flagged: a ground for 不予立案; similar: 并案 candidates")
    ] = None,
    kind: Annotated[
        store.Kind | None, Query(description="returned: 二次交办 by a department; audit: drawn for audit (抽查)")
    ] = None,
    order: Literal["uncertain", "oldest"] = "uncertain",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    filters = proposals.resolved(
        store.Filters(department=department, topic=topic, text=q, prescreen=prescreen, kind=kind), state.catalogue
    )
    total, items = proposals.queue(session, filters, limit, offset, order)
    return Page(total=total, limit=limit, offset=offset, items=[ProposalOut.of(i) for i in items])


@router.post(
    "/{proposal_id}",
    response_model=ReviewOut,
    summary="Accept, correct or reject (不予立案) a pending item, or reassign (改办) a decided one",
    responses={
        409: {
            "description": "someone else decided this item first, it changed since you read it, "
            "or a reassignment was asked for an item still pending"
        }
    },
)
def decide(proposal_id: ProposalId, decision: ReviewIn, state: State, session: DB, caller: Reviewer) -> ReviewOut:
    reviewed = review.decide(session, proposal_id, decision.verdict(), caller.actor, state.catalogue, state.breaker())
    state.metrics.decisions.labels(kind=f"review_{decision.action}").inc()
    return ReviewOut(proposal=ProposalOut.of(reviewed.proposal), review_id=reviewed.review_id)
