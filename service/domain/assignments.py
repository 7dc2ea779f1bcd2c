"""The office's final 交办 lists: what the store holds after review, not what the model once suggested.

A proposal routed automatically or decided by a reviewer is assigned (交办清单); one the committee did not
accept is listed with its reason (不予立案); one still waiting is pending (待复核). A department's list
holds what it leads (主办) and, marked apart, what it co-handles (协办): a 协办 is as much its work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from proposal_router.service.db.models import ProposalRecord
from proposal_router.service.statuses import ProposalStatus


class Mode(StrEnum):
    """How the assignment in force was made."""

    AUTO = "auto"  # 自动：the model was confident enough
    MANUAL = "manual"  # 人工：a reviewer decided


class Role(StrEnum):
    """What a department does with a proposal (承办类型)."""

    LEAD = "lead"  # 主办
    CO = "co"  # 协办


class Assignment(BaseModel):
    """One stored proposal as the office hands it on."""

    id: int = Field(description="the service's own number")
    external_id: str | None = Field(description="the office's own number (编号)")
    title: str
    submitter: str | None
    status: ProposalStatus
    topic: str | None
    lead_department: str | None = Field(description="the lead in force: a reviewer's, else the model's")
    co_departments: list[str]
    mode: Mode | None = Field(description="auto or manual for an assigned or rejected item; none while pending")
    decided_by: str | None
    decided_at: datetime | None
    received_at: datetime
    rejection_reason: str | None
    review_reason: str | None = Field(description="why a pending item waits for a reviewer")
    confidence: float | None = Field(description="the model's confidence in its suggested lead")
    merged_into: str | None = Field(default=None, description="并案: the filing (编号) whose group it joined")
    merged: list[str] = Field(default_factory=list, description="并案: the filings (编号) merged into this one")
    assigned_at: datetime | None = Field(default=None, description="when the assignment in force was made")
    acknowledged_at: datetime | None = Field(default=None, description="签收 by the lead department")
    returned_by: list[str] = Field(default_factory=list, description="二次交办: departments that returned it")

    @property
    def shown_id(self) -> str:
        return self.external_id or f"#{self.id}"


@dataclass(frozen=True)
class Query:
    """Which proposals: received in [since, until), naming `department` as lead or co (a served name)."""

    department: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: ProposalStatus | None = None


@dataclass(frozen=True)
class Handled:
    """A proposal in one department's list and what it does with it."""

    assignment: Assignment
    role: Role


def _of(record: ProposalRecord) -> Assignment:
    pending = record.status == ProposalStatus.PENDING
    lead = record.lead_department if not pending else record.model_lead
    co = list(record.co_departments) if not pending else [c["name"] for c in record.model_co]
    return Assignment(
        id=record.id,
        external_id=record.external_id,
        title=record.title,
        submitter=record.submitter,
        status=record.status,
        topic=record.topic if not pending else record.model_topic,
        lead_department=lead,
        co_departments=co,
        mode=None if pending else Mode.AUTO if record.status == ProposalStatus.AUTO else Mode.MANUAL,
        decided_by=record.decided_by if record.status in (ProposalStatus.REVIEWED, ProposalStatus.REJECTED) else None,
        decided_at=record.decided_at,
        received_at=record.received_at,
        rejection_reason=record.rejection_reason,
        review_reason=record.reason_message if pending else None,
        confidence=record.model_lead_confidence,
        assigned_at=record.assigned_at,
        acknowledged_at=record.acknowledged_at,
        returned_by=list(dict.fromkeys(r["department"] for r in record.returns)),
    )


def final_assignments(session: Session, query: Query) -> list[Assignment]:
    """Every stored proposal the query selects, in the order they arrived; a department filter keeps the
    assigned ones it leads or co-handles (a pending suggestion is not yet its work)."""
    statement = select(ProposalRecord).order_by(ProposalRecord.received_at, ProposalRecord.id)
    if query.since:
        statement = statement.where(ProposalRecord.received_at >= query.since)
    if query.until:
        statement = statement.where(ProposalRecord.received_at < query.until)
    if query.status:
        statement = statement.where(ProposalRecord.status == query.status)
    if query.department:
        statement = statement.where(ProposalRecord.status.in_((ProposalStatus.AUTO, ProposalStatus.REVIEWED)))
    records = list(session.scalars(statement))
    items = _grouped(session, records)
    if query.department:
        items = [a for a in items if query.department in (a.lead_department, *a.co_departments)]
    return items


def _grouped(session: Session, records: Sequence[ProposalRecord]) -> list[Assignment]:
    """并案 groups: a merged filing is handled by its group's head as the head is assigned now (a 改办 of the
    head moves the group), and the head lists the filings merged into it."""
    items = [_of(r) for r in records]
    heads = {r.merged_into for r in records if r.merged_into is not None}
    missing = heads - {r.id for r in records}
    known = {r.id: r for r in records} | {
        r.id: r for r in session.scalars(select(ProposalRecord).where(ProposalRecord.id.in_(missing)))
    }
    members: dict[int, list[str]] = {}
    for record, item in zip(records, items, strict=True):
        if record.merged_into is None:
            continue
        head = _of(known[record.merged_into])
        members.setdefault(head.id, []).append(item.shown_id)
        item.merged_into = head.shown_id
        if head.status.assigned:
            item.topic, item.lead_department = head.topic, head.lead_department
            item.co_departments = list(head.co_departments)
    for item in items:
        item.merged = members.get(item.id, [])
    return items


def assigned(items: Sequence[Assignment]) -> list[Assignment]:
    return [a for a in items if a.status.assigned]


def by_department(items: Sequence[Assignment]) -> dict[str, list[Handled]]:
    """Each department's list: the assigned proposals it leads, then those it co-handles."""
    lists: dict[str, list[Handled]] = {}
    for item in assigned(items):
        if item.lead_department:
            lists.setdefault(item.lead_department, []).append(Handled(item, Role.LEAD))
    for item in assigned(items):
        for co in dict.fromkeys(item.co_departments):
            if co != item.lead_department:
                lists.setdefault(co, []).append(Handled(item, Role.CO))
    return dict(sorted(lists.items()))
