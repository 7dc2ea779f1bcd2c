"""What the service does with its database: store and route filings, the review queue, decisions, export.

Every change and its audit event are written in one transaction. A review decision is a conditional UPDATE
(`WHERE status = 'pending'`), so of two reviewers deciding the same item at once exactly one succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from proposal_router.model.errors import Conflict, InvalidRequest, NotFound
from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal, RoutingResult
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.db.models import ApiKey, AuditEvent, ProposalRecord, ReviewRecord, now
from proposal_router.service.schemas import ProposalIn, ReviewIn
from proposal_router.service.security import Role, hash_key, new_key, shown_prefix


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


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    department: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def routed_record(item: ProposalIn, result: RoutingResult, actor: Acting) -> ProposalRecord:
    lead = result.lead_department
    auto = result.decision == "auto"
    return ProposalRecord(
        external_id=item.external_id,
        title=item.title,
        body=item.body,
        submitter=item.submitter,
        submitted_by=actor_of(actor).name,
        received_at=now(),
        status="auto" if auto else "pending",
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
    )


def stored_by_external_id(session: Session, external_ids: Sequence[str]) -> dict[str, ProposalRecord]:
    if not external_ids:
        return {}
    found = session.scalars(select(ProposalRecord).where(ProposalRecord.external_id.in_(external_ids)))
    return {r.external_id: r for r in found if r.external_id is not None}


def submit(
    session: Session, router: Router, items: Sequence[ProposalIn], actor: Acting
) -> list[tuple[ProposalRecord, bool]]:
    """Store and route new filings; a known external id returns the stored record (flag True) instead."""
    wanted = [i.external_id for i in items if i.external_id is not None]
    known = stored_by_external_id(session, wanted)
    fresh: dict[str, ProposalIn] = {}
    todo: list[ProposalIn] = []
    for item in items:
        if item.external_id is None:
            todo.append(item)
        elif item.external_id not in known and item.external_id not in fresh:
            fresh[item.external_id] = item
            todo.append(item)
    results = router.route([Proposal(id=i.external_id, title=i.title, body=i.body) for i in todo])
    created = {id(i): routed_record(i, r, actor) for i, r in zip(todo, results, strict=True)}
    try:
        for item, result in zip(todo, results, strict=True):
            record = created[id(item)]
            session.add(record)
            session.flush()
            session.add(audit_event(actor, "route", record.id, {"result": result.model_dump(mode="json")}))
        session.commit()
    except IntegrityError:
        session.rollback()  # another request stored the same external id meanwhile: answer with that one
        return [(r, True) for r in _resubmitted(session, items)]
    answers: list[tuple[ProposalRecord, bool]] = []
    for item in items:
        if id(item) in created:
            answers.append((created[id(item)], False))
        else:  # stored before, or repeated within this request (then it maps to the record of its first copy)
            assert item.external_id is not None
            answers.append((known.get(item.external_id) or created[id(fresh[item.external_id])], True))
    return answers


def _resubmitted(session: Session, items: Sequence[ProposalIn]) -> list[ProposalRecord]:
    known = stored_by_external_id(session, [i.external_id for i in items if i.external_id is not None])
    missing = [i for i in items if i.external_id is None or i.external_id not in known]
    if missing:
        raise Conflict("a concurrent request stored some of these proposals; submit them again")
    return [known[i.external_id] for i in items if i.external_id is not None]


def audit_event(actor: Acting, action: str, proposal_id: int | None, details: dict[str, Any]) -> AuditEvent:
    who = actor_of(actor)
    return AuditEvent(
        at=now(), actor=who.name, actor_key_id=who.key_id, action=action, proposal_id=proposal_id, details=details
    )


def audit(session: Session, actor: Acting, action: str, details: dict[str, Any]) -> None:
    """Record an event that changes nothing else (a log-in, a download), in a transaction of its own."""
    session.add(audit_event(actor, action, None, details))
    session.commit()


def get(session: Session, proposal_id: int) -> ProposalRecord:
    record = session.get(ProposalRecord, proposal_id)
    if record is None:
        raise NotFound(f"no proposal {proposal_id}")
    return record


def _filtered(query: Select[tuple[ProposalRecord]], filters: Filters) -> Select[tuple[ProposalRecord]]:
    if filters.status:
        query = query.where(ProposalRecord.status == filters.status)
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
    return query


def search(
    session: Session, filters: Filters, limit: int, offset: int, order: Literal["newest", "uncertain", "oldest"]
) -> tuple[int, list[ProposalRecord]]:
    query = _filtered(select(ProposalRecord), filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordering = {
        "newest": (ProposalRecord.id.desc(),),
        "oldest": (ProposalRecord.id.asc(),),
        "uncertain": (ProposalRecord.model_lead_confidence.asc().nulls_first(), ProposalRecord.id.asc()),
    }[order]
    return total, list(session.scalars(query.order_by(*ordering).limit(limit).offset(offset)))


def queue_size(session: Session) -> int:
    return session.scalar(select(func.count()).where(ProposalRecord.status == "pending")) or 0


def model_answer(record: ProposalRecord) -> dict[str, Any]:
    return {
        "topic": record.model_topic,
        "lead_department": record.model_lead,
        "co_departments": [c["name"] for c in record.model_co],
        "decision": record.decision,
        "reason": record.reason_code,
        "model_version": record.model_version,
    }


def decide(
    session: Session, proposal_id: int, decision: ReviewIn, actor: Acting, catalogue: Catalogue
) -> tuple[ProposalRecord, ReviewRecord]:
    """Accept, correct or reject a pending item; raises Conflict if someone else decided it first."""
    name = actor_of(actor).name
    record = get(session, proposal_id)
    answer = model_answer(record)
    values: dict[str, Any]
    if decision.action == "reject":
        values = {"status": "rejected", "rejection_reason": decision.reason}
    else:
        lead = decision.lead_department
        co = decision.co_departments
        values = {
            "status": "reviewed",
            "topic": catalogue.topic(decision.topic) if decision.topic else answer["topic"],
            "lead_department": catalogue.department(lead) if lead else answer["lead_department"],
            "co_departments": [catalogue.department(c) for c in co] if co is not None else answer["co_departments"],
        }
        if values["lead_department"] is None:
            raise InvalidRequest("模型没有给出主办单位：更正时必须指定主办单位（lead_department）")
        unique = dict.fromkeys(values["co_departments"])
        values["co_departments"] = [c for c in unique if c != values["lead_department"]]
    at = now()
    condition = (ProposalRecord.id == proposal_id) & (ProposalRecord.status == "pending")
    if decision.version is not None:
        condition = condition & (ProposalRecord.version == decision.version)
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
        if current.status == "pending":
            raise Conflict(f"proposal {proposal_id} changed (version {current.version}); reload it and decide again")
        by = f" by {current.decided_by}" if current.decided_by else ""
        raise Conflict(f"proposal {proposal_id} was already decided{by} ({current.status}); reload it")
    changes = {k: {"model": answer.get(k), "final": v} for k, v in values.items() if k != "status"}
    review = ReviewRecord(
        proposal_id=proposal_id,
        reviewer=name,
        at=at,
        action=decision.action,
        model_answer=answer,
        changes=changes,
        reason=decision.reason,
    )
    session.add(review)
    session.flush()
    session.add(audit_event(actor, f"review.{decision.action}", proposal_id, {"review_id": review.id, **changes}))
    session.commit()
    session.refresh(record)
    return record, review


TRAINING_COLUMNS = ["id", "title", "body", "topic", "lead_department", "co_departments", "source", "decided_at"]


def training_rows(session: Session, since: datetime | None) -> list[dict[str, Any]]:
    """Final assignments in the training file's columns: routed automatically or decided by a reviewer."""
    query = select(ProposalRecord).where(ProposalRecord.status.in_(("auto", "reviewed")))
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
                "source": "reviewer" if r.status == "reviewed" else "model",
                "decided_at": (r.decided_at or r.received_at).isoformat(),
            }
        )
    return rows


def create_key(session: Session, name: str, role: Role, actor: Acting) -> tuple[ApiKey, str]:
    """A new key, shown only here; its name must be new too (DuplicateName), so the audit log's names are unique."""
    name = name.strip()
    if not name:
        raise InvalidRequest("密钥名称不能为空")
    key = new_key()
    record = ApiKey(name=name, role=role, key_hash=hash_key(key), prefix=shown_prefix(key), created_at=now())
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is None:
            raise
        raise DuplicateName(
            f"已有名为“{name}”的密钥（含已吊销的）：审计日志按名称记录操作者，密钥名称不能重复，请换一个名称"
        ) from None
    details = {"key_id": record.id, "name": name, "role": role, "prefix": record.prefix}
    session.add(audit_event(actor, "key.create", None, details))
    session.commit()
    return record, key


def authenticate(session: Session, key: str) -> ApiKey | None:
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    return record if record is not None and record.revoked_at is None else None


def revoke_key(session: Session, prefix: str, actor: Acting) -> ApiKey:
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))
    if record is None:
        raise NotFound(f"no active key starting {prefix}")
    record.revoked_at = now()
    session.add(audit_event(actor, "key.revoke", None, {"key_id": record.id, "name": record.name, "prefix": prefix}))
    session.commit()
    return record


def audit_log_in(session: Session, presented: str, key: ApiKey | None, refusal: str | None) -> None:
    """A log-in to the web page, or a refused one (`refusal` says why): then with the prefix of the key tried,
    which tells a revoked or mistyped key from the listing, never the key itself."""
    actor = Actor("anonymous") if key is None else Actor(key.name, key.id)
    if refusal is None:
        assert key is not None
        audit(session, actor, "web.login", {"role": key.role})
    else:
        audit(session, actor, "web.login_failed", {"reason": refusal, "prefix": shown_prefix(presented)})


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
