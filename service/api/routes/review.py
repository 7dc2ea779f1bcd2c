"""The review queue: pending items, most uncertain or oldest first, and a reviewer's decision on one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from proposal_router.service import store
from proposal_router.service.api.convert import to_out
from proposal_router.service.api.deps import DB, Reviewer, State
from proposal_router.service.schemas import Limit, Offset, Page, ProposalId, ReviewIn, ReviewOut

router = APIRouter(prefix="/v1/review", tags=["review"])


@router.get("", response_model=Page, summary="Pending items (most uncertain first by default)")
def queue(
    session: DB,
    _: Reviewer,
    department: str | None = None,
    topic: str | None = None,
    order: Literal["uncertain", "oldest"] = "uncertain",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    filters = store.Filters(status="pending", department=department, topic=topic)
    total, records = store.search(session, filters, limit, offset, order)
    return Page(total=total, limit=limit, offset=offset, items=[to_out(r) for r in records])


@router.post(
    "/{proposal_id}",
    response_model=ReviewOut,
    summary="Accept, correct or reject (不予立案) a pending item",
    responses={409: {"description": "someone else decided this item first, or it changed since you read it"}},
)
def decide(proposal_id: ProposalId, decision: ReviewIn, state: State, session: DB, caller: Reviewer) -> ReviewOut:
    record, review = store.decide(session, proposal_id, decision, caller.actor, state.catalogue)
    state.metrics.decisions.labels(kind=f"review_{decision.action}").inc()
    return ReviewOut(proposal=to_out(record), review_id=review.id)
