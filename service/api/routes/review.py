"""The review queue: pending items, most uncertain or oldest first, and a reviewer's decision on one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from proposal_router.service.api.deps import Reviewer, State
from proposal_router.service.deps import DB
from proposal_router.service.domain import proposals, review
from proposal_router.service.schemas import Limit, Offset, Page, ProposalId, ProposalOut, ReviewIn, ReviewOut

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
    total, items = proposals.queue(session, department, topic, limit, offset, order)
    return Page(total=total, limit=limit, offset=offset, items=[ProposalOut.of(i) for i in items])


@router.post(
    "/{proposal_id}",
    response_model=ReviewOut,
    summary="Accept, correct or reject (不予立案) a pending item",
    responses={409: {"description": "someone else decided this item first, or it changed since you read it"}},
)
def decide(proposal_id: ProposalId, decision: ReviewIn, state: State, session: DB, caller: Reviewer) -> ReviewOut:
    reviewed = review.decide(session, proposal_id, decision.verdict(), caller.actor, state.catalogue)
    state.metrics.decisions.labels(kind=f"review_{decision.action}").inc()
    return ReviewOut(proposal=ProposalOut.of(reviewed.proposal), review_id=reviewed.review_id)
