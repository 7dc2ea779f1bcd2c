"""Stored records to API answers."""

from __future__ import annotations

from proposal_router.model.schemas import Candidate, ReviewReason
from proposal_router.service.db.models import ProposalRecord
from proposal_router.service.schemas import AssignmentOut, ProposalOut, RoutingOut


def routing_of(record: ProposalRecord) -> RoutingOut:
    topic = (
        Candidate(name=record.model_topic, confidence=record.model_topic_confidence or 0.0)
        if record.model_topic
        else None
    )
    lead = (
        Candidate(name=record.model_lead, confidence=record.model_lead_confidence or 0.0) if record.model_lead else None
    )
    reason = (
        ReviewReason(code=record.reason_code, message=record.reason_message or "")  # type: ignore[arg-type]
        if record.reason_code
        else None
    )
    return RoutingOut(
        topic=topic,
        lead_department=lead,
        co_departments=[Candidate(**c) for c in record.model_co],
        candidates=[Candidate(**c) for c in record.candidates],
        decision=record.decision,  # type: ignore[arg-type]
        reason=reason,
        model_version=record.model_version,
    )


def to_out(record: ProposalRecord, duplicate: bool = False) -> ProposalOut:
    assigned = record.status in ("auto", "reviewed")
    return ProposalOut(
        id=record.id,
        external_id=record.external_id,
        title=record.title,
        body=record.body,
        submitter=record.submitter,
        received_at=record.received_at,
        status=record.status,  # type: ignore[arg-type]
        routing=routing_of(record),
        assignment=AssignmentOut(
            topic=record.topic, lead_department=record.lead_department, co_departments=list(record.co_departments)
        )
        if assigned
        else None,
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        rejection_reason=record.rejection_reason,
        version=record.version,
        duplicate=duplicate,
    )
