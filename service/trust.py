"""What happens to filings the model routed automatically, before anyone relies on them: the circuit breaker
holds them for review while automatic routing is paused, and a share of the rest is drawn for audit (抽查).

The pause is one row in the database (`RoutingState`), so every server process and batch worker obeys it
at once; the audit draw is recorded on the proposal and in the audit log.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from proposal_router.model.schemas import Decision, ReasonCode
from proposal_router.service import store
from proposal_router.service.db.models import ProposalRecord, RoutingState, now
from proposal_router.service.similar import Lookup
from proposal_router.service.statuses import AuditAction, ProposalStatus

STATE_ID = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SYSTEM = "system"  # the actor the audit log names for the service's own decisions


def routing_state(session: Session) -> RoutingState:
    """The stored state, or (before the first pause) routing on with a window open since the beginning."""
    state = session.get(RoutingState, STATE_ID)
    if state is None:
        return RoutingState(id=STATE_ID, paused=False, reason=None, changed_at=now(), changed_by=SYSTEM, since=EPOCH)
    return state


def set_routing(session: Session, paused: bool, reason: str | None, actor: store.Acting, *, new_window: bool) -> None:
    """Pause or resume automatic routing, audited, in the caller's transaction; `new_window` starts counting
    audits afresh (a resume or a new model: the audits before it judged what is no longer served)."""
    state = session.get(RoutingState, STATE_ID, with_for_update=True)
    at = now()
    if state is None:  # the first change: until now the window was open since the beginning
        state = RoutingState(id=STATE_ID, since=EPOCH)
        session.add(state)
    state.paused, state.reason, state.changed_at = paused, reason, at
    state.changed_by = store.actor_of(actor).name
    if new_window:
        state.since = at
    action = AuditAction.ROUTING_PAUSE if paused else AuditAction.ROUTING_RESUME
    session.add(store.audit_event(actor, action, None, {"reason": reason, "new_window": new_window}))


@dataclass
class Gate:
    """Applied to newly stored records, after the 并案 lookup; the caller commits. `audit_rate` is the share
    of automatically routed filings drawn for audit."""

    audit_rate: float
    draw: random.Random = field(default_factory=random.Random)

    def apply(self, session: Session, records: Sequence[ProposalRecord]) -> None:
        routed = [r for r in records if r.status == ProposalStatus.AUTO]
        if not routed:
            return
        state = routing_state(session)
        for record in routed:
            if state.paused:
                record.status, record.decision = ProposalStatus.PENDING, Decision.REVIEW
                record.topic, record.lead_department, record.co_departments = None, None, []
                record.assigned_at = None
                record.reason_code = ReasonCode.AUTO_PAUSED
                record.reason_message = f"自动交办已暂停（{state.reason or '分析人员暂停'}），请人工复核"
            elif self.draw.random() < self.audit_rate:
                record.audit_sample = True
                details = {"rate": self.audit_rate, "lead_department": record.lead_department}
                session.add(store.audit_event(SYSTEM, AuditAction.AUDIT_SAMPLE, record.id, details))


@dataclass(frozen=True)
class Arrival:
    """What the service does with filings once they are stored: look for 并案 candidates, then hold them if
    automatic routing is paused, else draw some for audit. The caller commits."""

    lookup: Lookup | None = None
    gate: Gate | None = None

    def settle(self, session: Session, records: Sequence[ProposalRecord]) -> None:
        if self.lookup is not None:
            self.lookup.record_earlier(session, records)
        if self.gate is not None:
            self.gate.apply(session, records)
