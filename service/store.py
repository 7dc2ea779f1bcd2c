"""The service's persistence: filings and their routing, the review queue, decisions, audit events.

It speaks the runtime's types (`Proposal`, `RoutingResult`) and the ORM's records, never the HTTP schemas,
and decides nothing: what a decision means (aliases, co-departments, the rules of a correction) is the
domain's (`service.domain`). Every change and its audit event are written in one transaction. A review
decision is a conditional UPDATE (`WHERE status = 'pending'`), so of two reviewers deciding the same item
at once exactly one succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, String, cast, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from proposal_router.model.errors import Conflict, NotFound
from proposal_router.model.schemas import Decision, Proposal, RoutingResult
from proposal_router.service.db.models import AuditEvent, ProposalRecord, ReviewRecord, now
from proposal_router.service.labels import STATUSES
from proposal_router.service.statuses import ASSIGNED, AuditAction, ProposalStatus, ReviewAction


class DuplicateName(Conflict):
    """Another key, active or revoked, has this name."""

    option = "name"


@dataclass(frozen=True)
class Actor:
    """Who acted, as the audit log records it: a key's name and id, or a name alone when no key acted
    (`cli`, background work that carries only the name of the key that started it)."""

    name: str
    key_id: int | None = None


Acting = Actor | str


def actor_of(actor: Acting) -> Actor:
    return actor if isinstance(actor, Actor) else Actor(actor)


Order = Literal["newest", "uncertain", "oldest"]
Row = TypeVar("Row")


class Kind(StrEnum):
    """Which items of the review queue: those a department returned (二次交办) or those drawn for audit (抽查)."""

    RETURNED = "returned"
    AUDIT = "audit"


class Prescreen(StrEnum):
    """What 审查立案 found on an item, as a filter of the queue."""

    FLAGGED = "flagged"  # a ground for 不予立案 to check
    SIMILAR = "similar"  # earlier filings it could be merged with (并案)


@dataclass(frozen=True)
class Filters:
    status: ProposalStatus | None = None
    department: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # every word in the title, body, submitter or the office's id
    prescreen: Prescreen | None = None
    kind: Kind | None = None
    queue: bool = False  # the review queue: pending items and auto-routed ones drawn for audit, not yet audited


def open_audit() -> Any:
    """An auto-routed proposal drawn for audit (抽查) whose verdict is still to come: it is in the review queue
    while it stays routed."""
    return (
        ProposalRecord.audit_sample.is_(True)
        & ProposalRecord.audit_verdict.is_(None)
        & (ProposalRecord.status == ProposalStatus.AUTO)
    )


def in_queue() -> Any:
    return (ProposalRecord.status == ProposalStatus.PENDING) | open_audit()


def routed_record(
    proposal: Proposal, result: RoutingResult, actor: Acting, submitter: str | None = None
) -> ProposalRecord:
    """A new filing's row: `proposal.id` is the office's own number (external id)."""
    lead = result.lead_department
    auto = result.decision == Decision.AUTO
    return ProposalRecord(
        external_id=proposal.id,
        title=proposal.title,
        body=proposal.body,
        submitter=submitter,
        submitted_by=actor_of(actor).name,
        received_at=now(),
        status=ProposalStatus.AUTO if auto else ProposalStatus.PENDING,
        assigned_at=now() if auto else None,
        topic=result.topic.name if result.topic and auto else None,
        lead_department=lead.name if lead and auto else None,
        co_departments=[c.name for c in result.co_departments] if auto else [],
        model_topic=result.topic.name if result.topic else None,
        model_topic_confidence=result.topic.confidence if result.topic else None,
        model_lead=lead.name if lead else None,
        model_lead_confidence=lead.confidence if lead else None,
        model_co=[c.model_dump() for c in result.co_departments],
        candidates=[c.model_dump() for c in result.candidates],
        decision=result.decision,
        reason_code=result.reason.code if result.reason else None,
        reason_message=result.reason.message if result.reason else None,
        model_version=result.model_version,
        version=1,
        screening=[f.model_dump(mode="json") for f in result.screening],
        quality=[w.model_dump(mode="json") for w in result.quality],
    )


def stored_by_external_id(session: Session, external_ids: Sequence[str]) -> dict[str, ProposalRecord]:
    if not external_ids:
        return {}
    found = session.scalars(select(ProposalRecord).where(ProposalRecord.external_id.in_(external_ids)))
    return {r.external_id: r for r in found if r.external_id is not None}


def add_routed(
    session: Session, routed: Sequence[tuple[Proposal, str | None, RoutingResult]], actor: Acting
) -> list[ProposalRecord] | None:
    """Store routed filings (proposal, submitter, routing) with their audit events in one transaction.

    None when another request stored one of the same external ids meanwhile: nothing is stored then, and
    the caller answers with the stored ones."""
    records = [routed_record(proposal, result, actor, submitter) for proposal, submitter, result in routed]
    try:
        for record, (_, _, result) in zip(records, routed, strict=True):
            session.add(record)
            session.flush()
            session.add(audit_event(actor, AuditAction.ROUTE, record.id, {"result": result.model_dump(mode="json")}))
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return records


def audit_event(actor: Acting, action: AuditAction, proposal_id: int | None, details: dict[str, Any]) -> AuditEvent:
    who = actor_of(actor)
    return AuditEvent(
        at=now(), actor=who.name, actor_key_id=who.key_id, action=action, proposal_id=proposal_id, details=details
    )


def audit(session: Session, actor: Acting, action: AuditAction, details: dict[str, Any]) -> None:
    """Record an event that changes nothing else (a log-in, a download), in a transaction of its own."""
    session.add(audit_event(actor, action, None, details))
    session.commit()


def get(session: Session, proposal_id: int) -> ProposalRecord:
    record = session.get(ProposalRecord, proposal_id)
    if record is None:
        raise NotFound(f"没有编号（内部 id）为 {proposal_id} 的提案")
    return record


def _filtered(query: Select[Row], filters: Filters) -> Select[Row]:
    if filters.status:
        query = query.where(ProposalRecord.status == filters.status)
    if filters.queue:
        query = query.where(in_queue())
    if filters.kind == Kind.RETURNED:
        query = query.where(cast(ProposalRecord.returns, String) != "[]")
    if filters.kind == Kind.AUDIT:
        query = query.where(open_audit())
    if filters.department:
        query = query.where(
            or_(
                ProposalRecord.lead_department == filters.department,
                (ProposalRecord.lead_department.is_(None)) & (ProposalRecord.model_lead == filters.department),
            )
        )
    if filters.topic:
        query = query.where(
            or_(
                ProposalRecord.topic == filters.topic,
                (ProposalRecord.topic.is_(None)) & (ProposalRecord.model_topic == filters.topic),
            )
        )
    if filters.since:
        query = query.where(ProposalRecord.received_at >= filters.since)
    if filters.until:
        query = query.where(ProposalRecord.received_at < filters.until)
    if filters.prescreen == Prescreen.FLAGGED:
        query = query.where(cast(ProposalRecord.screening, String) != "[]")
    if filters.prescreen == Prescreen.SIMILAR:
        query = query.where(cast(ProposalRecord.similar, String) != "[]")
    for word in (filters.text or "").split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        fields = (ProposalRecord.title, ProposalRecord.body, ProposalRecord.submitter, ProposalRecord.external_id)
        query = query.where(or_(*(f.like(pattern, escape="\\") for f in fields)))
    return query


def search(
    session: Session, filters: Filters, limit: int, offset: int, order: Order
) -> tuple[int, list[ProposalRecord]]:
    query = _filtered(select(ProposalRecord), filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordering = {
        "newest": (ProposalRecord.id.desc(),),
        "oldest": (ProposalRecord.id.asc(),),
        "uncertain": (ProposalRecord.model_lead_confidence.asc().nulls_first(), ProposalRecord.id.asc()),
    }[order]
    return total, list(session.scalars(query.order_by(*ordering).limit(limit).offset(offset)))


def neighbours(session: Session, proposal_id: int, filters: Filters, order: Order) -> tuple[int | None, int | None]:
    """The ids of the matching items just before and just after `proposal_id` in `order` (None at either
    end); `proposal_id` itself need not match (an item just decided leaves the queue but keeps its place)."""
    record = get(session, proposal_id)
    if order == "uncertain":  # as search orders: no confidence first, then the least confident, then by id
        key: Any = func.coalesce(ProposalRecord.model_lead_confidence, -1.0)
        mine: Any = record.model_lead_confidence if record.model_lead_confidence is not None else -1.0
    else:
        key, mine = ProposalRecord.id, proposal_id
    after = (key > mine) | ((key == mine) & (ProposalRecord.id > proposal_id))
    before = (key < mine) | ((key == mine) & (ProposalRecord.id < proposal_id))
    if order == "newest":
        after, before = before, after
    forward = (key.asc(), ProposalRecord.id.asc())
    backward = (key.desc(), ProposalRecord.id.desc())
    if order == "newest":
        forward, backward = backward, forward
    ids = select(ProposalRecord.id)
    following = session.scalar(_filtered(ids, filters).where(after).order_by(*forward).limit(1))
    preceding = session.scalar(_filtered(ids, filters).where(before).order_by(*backward).limit(1))
    return preceding, following


def queue_size(session: Session) -> int:
    return session.scalar(select(func.count()).where(in_queue())) or 0


def model_answer(record: ProposalRecord) -> dict[str, Any]:
    """The model's answer as a review record keeps it, beside what the reviewer changed."""
    return {
        "topic": record.model_topic,
        "lead_department": record.model_lead,
        "co_departments": [c["name"] for c in record.model_co],
        "decision": record.decision,
        "reason": record.reason_code,
        "model_version": record.model_version,
    }


def final_answer(record: ProposalRecord) -> dict[str, Any]:
    """The assignment in force, as a reassignment's record keeps it beside what it changed."""
    return {
        "status": record.status.value,
        "topic": record.topic,
        "lead_department": record.lead_department,
        "co_departments": list(record.co_departments),
        "rejection_reason": record.rejection_reason,
        "decided_by": record.decided_by,
    }


def record_review(
    session: Session,
    proposal_id: int,
    action: ReviewAction,
    values: dict[str, Any],
    reason: str | None,
    version: int | None,
    actor: Acting,
) -> tuple[ProposalRecord, ReviewRecord]:
    """Apply a decided review (`values`: the new status and assignment) to a pending item, or for a
    reassignment (改办) to a decided one, with its review record and audit event; raises Conflict if someone
    else decided it first or it changed since `version`."""
    name = actor_of(actor).name
    record = get(session, proposal_id)
    reassign = action == ReviewAction.REASSIGN
    answer = final_answer(record) if reassign else model_answer(record)
    at = now()
    pending = ProposalRecord.status == ProposalStatus.PENDING
    allowed = ~pending if reassign else in_queue()
    condition = (ProposalRecord.id == proposal_id) & allowed
    if version is not None:
        condition = condition & (ProposalRecord.version == version)
    if "lead_department" in values:  # a new assignment: its department's return window starts now
        values = {**values, "assigned_at": at, "acknowledged_at": None, "acknowledged_by": None}
    statement = (
        update(ProposalRecord)
        .where(condition)
        .values(**values, decided_by=name, decided_at=at, version=ProposalRecord.version + 1)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        current = get(session, proposal_id)
        session.refresh(current)
        shown = current.external_id or proposal_id
        if reassign and current.status == ProposalStatus.PENDING:
            raise Conflict(f"提案 {shown} 尚未复核，不能改办：请先接受、更正或不予立案")
        waiting = current.status == ProposalStatus.PENDING or (current.audit_sample and current.audit_verdict is None)
        if waiting != reassign:
            raise Conflict(f"提案 {shown} 已被修改（版本 {current.version}）：请刷新后重新处理")
        by = f"由 {current.decided_by} " if current.decided_by else ""
        raise Conflict(f"提案 {shown} 已{by}处理（{STATUSES[current.status]}）：请刷新后查看，如需更改请改办")
    before = "before" if reassign else "model"
    quiet = {"assigned_at", "acknowledged_at", "acknowledged_by", "audited_at"}  # kept on the record, not diffs
    changes = {
        k: {before: answer.get(k), "final": v}
        for k, v in values.items()
        if (k != "status" or reassign) and k not in quiet
    }
    review = ReviewRecord(
        proposal_id=proposal_id,
        reviewer=name,
        at=at,
        action=action,
        model_answer=answer,
        changes=changes,
        reason=reason,
    )
    session.add(review)
    session.flush()
    details = {"review_id": review.id, **changes, **({"reason": reason} if reassign else {})}
    session.add(audit_event(actor, action.audited_as, proposal_id, details))
    session.commit()
    session.refresh(record)
    return record, review


TRAINING_COLUMNS = [
    "id",
    "title",
    "body",
    "topic",
    "lead_department",
    "co_departments",
    "source",
    "decided_at",
    "returned_from",
]


REJECTION_COLUMNS = ["id", "title", "body", "submitter", "ground", "reason", "decided_at"]


def rejection_rows(session: Session, since: datetime | None) -> list[dict[str, Any]]:
    """Filings rejected (不予立案) with their ground, the file `train --rejections` learns 审查立案 from; a
    rejection without a ground has an empty one (training skips it)."""
    query = select(ProposalRecord).where(ProposalRecord.status == ProposalStatus.REJECTED)
    if since is not None:
        query = query.where(ProposalRecord.decided_at >= since)
    return [
        {
            "id": r.external_id or f"PR-{r.id}",
            "title": r.title,
            "body": r.body,
            "submitter": r.submitter or "",
            "ground": r.rejection_ground.value if r.rejection_ground else "",
            "reason": r.rejection_reason or "",
            "decided_at": r.decided_at.isoformat() if r.decided_at else "",
        }
        for r in session.scalars(query.order_by(ProposalRecord.id))
    ]


def training_rows(session: Session, since: datetime | None) -> list[dict[str, Any]]:
    """Final assignments in the training file's columns: routed automatically or decided by a reviewer."""
    query = select(ProposalRecord).where(ProposalRecord.status.in_(ASSIGNED))
    if since is not None:
        query = query.where(func.coalesce(ProposalRecord.decided_at, ProposalRecord.received_at) >= since)
    rows = []
    for r in session.scalars(query.order_by(ProposalRecord.id)):
        rows.append(
            {
                "id": r.external_id or f"PR-{r.id}",
                "title": r.title,
                "body": r.body,
                "topic": r.topic or "",
                "lead_department": r.lead_department or "",
                "co_departments": "、".join(r.co_departments),
                "source": "reviewer" if r.status == ProposalStatus.REVIEWED else "model",
                "decided_at": (r.decided_at or r.received_at).isoformat(),
                # 二次交办: the departments that returned it, first wrong answers worth learning from
                "returned_from": "、".join(dict.fromkeys(x["department"] for x in r.returns)),
            }
        )
    return rows
