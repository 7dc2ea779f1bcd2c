"""The departments' part: each reads its own list, and the lead department of a proposal returns it within the
return window (二次交办: it is not its duty) or acknowledges it (签收).

Local rules give a unit some days after the 交办 to report an item outside its duties; after that, or once
signed for, the item is its work and only the committee may reassign it (改办). A returned proposal goes
back to the review queue with the department's reason; the department is not suggested for it again, and
the return is kept for the training export: the first answer was wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import update
from sqlalchemy.orm import Session

from proposal_router.model.errors import Conflict, Forbidden, InvalidRequest
from proposal_router.service import store
from proposal_router.service.db.models import ProposalRecord, now
from proposal_router.service.domain import quality
from proposal_router.service.domain.assignments import Assignment, Query, Role, by_department, final_assignments
from proposal_router.service.domain.proposals import ProposalView, view
from proposal_router.service.statuses import ASSIGNED, AuditAction, AuditVerdict, ProposalStatus

RETURN = "退回"
ACKNOWLEDGE = "签收"


class Handling(Assignment):
    """A proposal in a department's list and what the department may still do with it."""

    role: Role = Field(description="lead (主办) or co (协办)")
    return_deadline: datetime | None = Field(description="the lead department may return it until then")
    can_return: bool = Field(description="lead, not signed for, within the return window")


def deadline(assigned_at: datetime | None, days: int) -> datetime | None:
    return assigned_at + timedelta(days=days) if assigned_at is not None else None


def _shown(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def listing(session: Session, department: str, days: int) -> list[Handling]:
    """What the department leads, then what it co-handles, as finally assigned now."""
    items = final_assignments(session, Query(department=department))
    at = now()
    handled = []
    for h in by_department(items).get(department, []):
        item = h.assignment
        due = deadline(item.assigned_at, days) if h.role == Role.LEAD and item.merged_into is None else None
        open_ = due is not None and item.acknowledged_at is None and at <= due
        handled.append(Handling(**item.model_dump(), role=h.role, return_deadline=due, can_return=open_))
    return handled


def _lead_item(record: ProposalRecord, department: str, days: int, verb: str, zone: ZoneInfo) -> datetime:
    """The return deadline of a proposal the department leads and may still act on, else the refusal."""
    shown = record.external_id or record.id
    if record.merged_into is not None:
        raise Conflict(f"提案 {shown} 已并案，随主提案（内部 id {record.merged_into}）交办：请对主提案{verb}")
    assigned = record.status in ASSIGNED
    if not assigned or record.lead_department != department:
        if assigned and department in record.co_departments:
            raise Forbidden(
                f"提案 {shown} 由 {record.lead_department} 主办，{department} 是协办单位：只有主办单位可以{verb}"
            )
        raise Forbidden(f"提案 {shown} 不是交由 {department} 主办的提案，不能{verb}")
    due = deadline(record.assigned_at, days)
    if due is None:
        raise Conflict(f"提案 {shown} 没有交办时间，不能{verb}：请与提案委员会联系")
    if now() > due:
        raise Conflict(
            f"提案 {shown} 于 {_shown(record.assigned_at or due, zone)} 交办，{days} 天的退回期限已于 "
            f"{_shown(due, zone)} 截止，视为签收，不能再{verb}；如确非本单位职责，请与提案委员会联系改办"
        )
    return due


def give_back(
    session: Session,
    proposal_id: int,
    department: str,
    reason: str,
    actor: store.Acting,
    days: int,
    timezone: str,
    breaker: quality.Breaker | None = None,
) -> ProposalView:
    """二次交办: the lead department returns the proposal; it is back in the review queue with the reason."""
    reason = reason.strip()
    if not reason:
        error = InvalidRequest("退回须说明理由：为什么不属于本单位职责，宜由哪个单位办理")
        error.option = "reason"
        raise error
    zone = ZoneInfo(timezone)
    record = store.get(session, proposal_id)
    _lead_item(record, department, days, RETURN, zone)
    shown = record.external_id or proposal_id
    if record.acknowledged_at is not None:
        raise Conflict(
            f"提案 {shown} 已于 {_shown(record.acknowledged_at, zone)} 签收，不能再退回；如确非本单位职责，"
            "请与提案委员会联系改办"
        )
    at = now()
    entry = {"department": department, "reason": reason, "at": at.isoformat(), "by": store.actor_of(actor).name}
    before = {
        "status": record.status.value,
        "topic": record.topic,
        "lead_department": record.lead_department,
        "co_departments": list(record.co_departments),
    }
    auditing = record.audit_sample and record.audit_verdict is None
    values: dict[str, object] = {
        "status": ProposalStatus.PENDING,
        "topic": None,
        "lead_department": None,
        "co_departments": [],
        "assigned_at": None,
        "returns": [*record.returns, entry],
        "version": ProposalRecord.version + 1,
    }
    if auditing:  # the department found the model's lead wrong: that is the audit's verdict too
        values |= {"audit_verdict": AuditVerdict.WRONG, "audited_at": at}
    statement = (
        update(ProposalRecord)
        .where(
            ProposalRecord.id == proposal_id,
            ProposalRecord.version == record.version,
            ProposalRecord.lead_department == department,
            ProposalRecord.acknowledged_at.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict(f"提案 {shown} 刚被修改（改办或签收）：请刷新后重新查看")
    details = {"department": department, "reason": reason, "before": before, "audited": auditing}
    session.add(store.audit_event(actor, AuditAction.DEPARTMENT_RETURN, proposal_id, details))
    session.commit()
    if auditing and breaker is not None:
        quality.check(session, breaker)
    session.refresh(record)
    return view(record)


def acknowledge(
    session: Session, proposal_id: int, department: str, actor: store.Acting, days: int, timezone: str
) -> ProposalView:
    """签收: the lead department takes the proposal on; it can no longer return it. Signing twice is the first."""
    record = store.get(session, proposal_id)
    if record.acknowledged_at is not None and record.lead_department == department:
        return view(record)
    _lead_item(record, department, days, ACKNOWLEDGE, ZoneInfo(timezone))
    at = now()
    name = store.actor_of(actor).name
    statement = (
        update(ProposalRecord)
        .where(ProposalRecord.id == proposal_id, ProposalRecord.version == record.version)
        .values(acknowledged_at=at, acknowledged_by=name, version=ProposalRecord.version + 1)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict(f"提案 {record.external_id or proposal_id} 刚被修改：请刷新后重新查看")
    session.add(store.audit_event(actor, AuditAction.DEPARTMENT_ACKNOWLEDGE, proposal_id, {"department": department}))
    session.commit()
    session.refresh(record)
    return view(record)
