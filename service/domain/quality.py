"""Quality in production: how often automatic routing is right, measured on audits (抽查), reviews and the
departments' returns (二次交办), and the circuit breaker that pauses automatic routing when audits fall short.

Training publishes a precision it expects at its threshold; nothing shows it holds on next year's filings
unless a random share of what the model routes alone is checked by a person. The audited precision's
one-sided 95% Wilson lower bound is the figure the breaker watches: over the audits of the model now
served since the last resume (older audits judged a model or a state that is gone). With the defaults
(50 audits, a margin of 0.15 below a 0.95 target) a model right 95% of the time pauses with probability
about 4% at the 50th audit, one right 75% of the time with 99%.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from proposal_router.model.calibration import wilson_lower
from proposal_router.model.schemas import Decision
from proposal_router.service import store
from proposal_router.service.db.models import ProposalRecord, ReviewRecord, now
from proposal_router.service.statuses import ASSIGNED, AuditAction, AuditVerdict, ReviewAction
from proposal_router.service.trust import EPOCH, SYSTEM, routing_state, set_routing

WEEKS = 12  # of trend shown


@dataclass(frozen=True)
class Breaker:
    """When automatic routing pauses: the served model's target precision and version, and the settings."""

    target: float
    version: str
    min_audits: int
    margin: float


class Audits(BaseModel):
    audited: int
    audit_correct: int
    audit_precision: float | None
    precision_lower_bound: float | None = Field(description="one-sided 95% Wilson lower bound of audit_precision")


class DepartmentReturns(BaseModel):
    department: str
    assigned: int = Field(description="proposals it was assigned to lead, those it returned included")
    returns: int
    return_rate: float | None


class Week(BaseModel):
    week: date = Field(description="Monday of the week (local time)")
    auto_routed: int
    audited: int
    audit_correct: int
    audit_precision: float | None
    reviewed: int
    reviewer_agreement: float | None
    returns: int


class Quality(BaseModel):
    """The figures of GET /v1/quality; audits count the served model since `window_since`."""

    model_version: str
    auto_routed: int = Field(description="proposals routed automatically, all time")
    audit_rate: float
    audited: int
    audit_correct: int
    audit_precision: float | None
    precision_lower_bound: float | None
    target_precision: float
    min_audits: int
    margin: float
    window_since: datetime | None = Field(description="audits are counted from here: the last resume or model load")
    auto_routing_paused: bool
    paused_reason: str | None
    paused_at: datetime | None
    reviewed: int = Field(description="reviews (accept or correct) of items the model suggested")
    reviewer_agreement: float | None = Field(description="share of reviewed items whose lead the reviewer kept")
    returns: int
    return_rate: float | None = Field(description="returns per proposal assigned to a lead department")
    departments: list[DepartmentReturns]
    weeks: list[Week]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _bound(correct: int, audited: int) -> float | None:
    if not audited:
        return None
    return float(wilson_lower(np.array([correct], dtype=float), np.array([audited], dtype=float))[0])


def window(session: Session, breaker: Breaker) -> Audits:
    """The audits the breaker counts: verdicts on the served model's proposals since the window opened."""
    state = routing_state(session)
    query = (
        select(ProposalRecord.audit_verdict, func.count())
        .where(
            ProposalRecord.audit_verdict.is_not(None),
            ProposalRecord.audited_at >= state.since,
            ProposalRecord.model_version == breaker.version,
        )
        .group_by(ProposalRecord.audit_verdict)
    )
    counts = dict(session.execute(query).tuples().all())
    correct = counts.get(AuditVerdict.CORRECT, 0)
    audited = correct + counts.get(AuditVerdict.WRONG, 0)
    return Audits(
        audited=audited,
        audit_correct=correct,
        audit_precision=_share(correct, audited),
        precision_lower_bound=_bound(correct, audited),
    )


def check(session: Session, breaker: Breaker) -> bool:
    """Pause automatic routing if the audits now fall short (True when this call paused it); commits."""
    state = routing_state(session)
    if state.paused:
        return False
    audits = window(session, breaker)
    floor = breaker.target - breaker.margin
    bound = audits.precision_lower_bound
    if audits.audited < breaker.min_audits or bound is None or bound >= floor:
        return False
    reason = (
        f"抽查 {audits.audited} 件中 {audits.audit_correct} 件主办单位正确，精度下限 {bound:.1%}，"
        f"低于目标 {breaker.target:.0%} 超过 {breaker.margin:.0%}"
    )
    set_routing(session, True, reason, SYSTEM, new_window=False)
    session.commit()
    return True


def resume(session: Session, actor: store.Acting) -> None:
    """An analyst restarts automatic routing; the audits before it no longer count."""
    set_routing(session, False, None, actor, new_window=True)
    session.commit()


def _monday(moment: datetime, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def _kept(review: ReviewRecord) -> bool:
    lead = review.changes.get("lead_department")
    return lead is None or lead.get("final") == lead.get("model")


def figures(session: Session, breaker: Breaker, audit_rate: float, timezone: str) -> Quality:
    zone = ZoneInfo(timezone)
    state = routing_state(session)
    audits = window(session, breaker)
    start = now() - timedelta(weeks=WEEKS)
    weeks: dict[date, Counter[str]] = {}

    def count(moment: datetime | None, key: str, by: int = 1) -> None:
        if moment is not None and moment >= start:
            weeks.setdefault(_monday(moment, zone), Counter())[key] += by

    auto_routed = session.scalar(select(func.count()).where(ProposalRecord.decision == Decision.AUTO)) or 0
    for (received,) in session.execute(
        select(ProposalRecord.received_at).where(
            ProposalRecord.decision == Decision.AUTO, ProposalRecord.received_at >= start
        )
    ):
        count(received, "auto_routed")
    for verdict, at in session.execute(
        select(ProposalRecord.audit_verdict, ProposalRecord.audited_at).where(ProposalRecord.audited_at >= start)
    ):
        count(at, "audited")
        count(at, "audit_correct", int(verdict == AuditVerdict.CORRECT))
    reviews = list(
        session.scalars(
            select(ReviewRecord).where(ReviewRecord.action.in_((ReviewAction.ACCEPT, ReviewAction.CORRECT)))
        )
    )
    for review in reviews:
        count(review.at, "reviewed")
        count(review.at, "kept", int(_kept(review)))
    kept = sum(_kept(r) for r in reviews)
    returned = list(_returns(session))
    for _, at in returned:
        count(at, "returns")
    by_department = Counter(department for department, _ in returned)
    leads: Counter[str] = Counter()
    for lead, n in session.execute(
        select(ProposalRecord.lead_department, func.count())
        .where(ProposalRecord.status.in_(ASSIGNED), ProposalRecord.lead_department.is_not(None))
        .group_by(ProposalRecord.lead_department)
    ).tuples():
        leads[lead or ""] = n
    assigned = leads + by_department
    departments = [
        DepartmentReturns(
            department=d,
            assigned=assigned[d],
            returns=by_department[d],
            return_rate=_share(by_department[d], assigned[d]),
        )
        for d in sorted(assigned, key=lambda d: (-by_department[d], d))
        for r in (by_department[d],)
    ]
    return Quality(
        model_version=breaker.version,
        auto_routed=auto_routed,
        audit_rate=audit_rate,
        **audits.model_dump(),
        target_precision=breaker.target,
        min_audits=breaker.min_audits,
        margin=breaker.margin,
        window_since=None if state.since == EPOCH else state.since,
        auto_routing_paused=state.paused,
        paused_reason=state.reason if state.paused else None,
        paused_at=state.changed_at if state.paused else None,
        reviewed=len(reviews),
        reviewer_agreement=_share(kept, len(reviews)),
        returns=len(returned),
        return_rate=_share(len(returned), sum(assigned.values())),
        departments=departments,
        weeks=[_week(day, c) for day, c in sorted(weeks.items())],
    )


def _week(day: date, c: Counter[str]) -> Week:
    return Week(
        week=day,
        auto_routed=c["auto_routed"],
        audited=c["audited"],
        audit_correct=c["audit_correct"],
        audit_precision=_share(c["audit_correct"], c["audited"]),
        reviewed=c["reviewed"],
        reviewer_agreement=_share(c["kept"], c["reviewed"]),
        returns=c["returns"],
    )


def _returns(session: Session) -> Iterable[tuple[str, datetime]]:
    """Every return (二次交办) ever made: the department and when."""
    query = select(ProposalRecord.returns).where(cast(ProposalRecord.returns, String) != "[]")
    for (returns,) in session.execute(query):
        for r in returns:
            yield r["department"], datetime.fromisoformat(r["at"])


def model_loaded(session: Session, before: str, after: str, path: str, actor: store.Acting) -> None:
    """A new bundle is served: recorded, and automatic routing resumes with a fresh window of audits."""
    session.add(
        store.audit_event(actor, AuditAction.MODEL_RELOAD, None, {"before": before, "after": after, "path": path})
    )
    set_routing(session, False, None, actor, new_window=True)
    session.commit()
