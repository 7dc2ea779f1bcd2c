"""Review: a reviewer accepts the model's answer, corrects it, rejects the filing (不予立案, with its ground) or
merges it with another (并案); an item
already routed, decided or rejected can be reassigned (改办) with a reason.

The rules of a decision live here: names a reviewer types resolve through the catalogue (aliases, former
names), a correction keeps what it does not change, the lead is never also a co-department. The store
then applies it with a conditional UPDATE, so of two reviewers deciding the same item one succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from proposal_router.model.errors import Conflict, InvalidRequest
from proposal_router.model.screening import GROUND_NAMES, Ground
from proposal_router.service import store
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.db.models import ProposalRecord, now
from proposal_router.service.domain import quality
from proposal_router.service.domain.proposals import ProposalView, view
from proposal_router.service.statuses import AuditVerdict, ProposalStatus, ReviewAction


@dataclass(frozen=True)
class Verdict:
    """A reviewer's decision on one item. For a correction, None means "keep the model's"; for a
    reassignment, "keep the assignment in force" (of a rejected item: the model's); for an acceptance,
    `co_departments` None adopts the model's and a list (even empty) replaces them. `version` is the one the
    reviewer saw (None: do not check)."""

    action: ReviewAction
    lead_department: str | None = None
    co_departments: list[str] | None = None
    topic: str | None = None
    reason: str | None = None
    version: int | None = None
    ground: Ground | None = None  # 不予立案: the ground of the rules it falls under
    merge_into: int | None = None  # 并案: the proposal (internal id) it is handled with


@dataclass(frozen=True)
class Reviewed:
    proposal: ProposalView
    review_id: int


def _assignment(verdict: Verdict, answer: dict[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    """The status and assignment a verdict sets, names resolved to the catalogue's."""
    if verdict.action == ReviewAction.REJECT:
        ground = GROUND_NAMES[verdict.ground] if verdict.ground else None
        reason = "：".join(r for r in (ground, verdict.reason) if r) or None
        return {"status": ProposalStatus.REJECTED, "rejection_reason": reason, "rejection_ground": verdict.ground}
    lead, co = verdict.lead_department, verdict.co_departments
    values: dict[str, Any] = {
        "status": ProposalStatus.REVIEWED,
        "topic": catalogue.topic(verdict.topic) if verdict.topic else answer["topic"],
        "lead_department": catalogue.department(lead) if lead else answer["lead_department"],
        "co_departments": [catalogue.department(c) for c in co] if co is not None else answer["co_departments"],
    }
    if values["lead_department"] is None:
        raise InvalidRequest("模型没有给出主办单位：更正时必须指定主办单位（lead_department）")
    unique = dict.fromkeys(values["co_departments"])
    values["co_departments"] = [c for c in unique if c != values["lead_department"]]
    return values


def _in_force(record: ProposalRecord) -> dict[str, Any]:
    """What a reassignment starts from: the assignment in force, or for a rejected item the model's answer."""
    if record.status == ProposalStatus.REJECTED:
        return store.model_answer(record)
    return {
        "topic": record.topic,
        "lead_department": record.lead_department,
        "co_departments": list(record.co_departments),
    }


def _merged(session: Session, record: ProposalRecord, verdict: Verdict) -> dict[str, Any]:
    """并案: the item joins the group of another filing and is handled by that group's departments; it keeps
    its own id and submitter. A filing merged into a member joins the member's group (no chains)."""
    if verdict.merge_into is None:
        raise InvalidRequest("并案须指定并入的提案（merge_into）")
    head = store.get(session, verdict.merge_into)
    if head.merged_into is not None:
        head = store.get(session, head.merged_into)
    if head.id == record.id:
        raise InvalidRequest(f"提案 {record.external_id or record.id} 不能并入它自己")
    source = _in_force(head) if head.status.assigned else store.model_answer(head)
    group = {key: source[key] for key in ("topic", "lead_department", "co_departments")}
    return {"status": ProposalStatus.REVIEWED, "merged_into": head.id, **group}


def _suggestion(record: ProposalRecord) -> dict[str, Any]:
    """The model's answer a reviewer accepts: after a return (二次交办) its most likely department that did
    not return the proposal, with the model's co-departments other than that one."""
    answer = store.model_answer(record)
    if not record.returns:
        return answer
    suggestions = view(record).model_suggestions
    lead = suggestions[0] if suggestions else None
    return {**answer, "lead_department": lead, "co_departments": [c for c in answer["co_departments"] if c != lead]}


def _audited(record: ProposalRecord, verdict: Verdict, values: dict[str, Any]) -> dict[str, Any]:
    """An audit item (抽查) stays routed when the reviewer accepts it as it is; any decision records whether the
    model's lead was kept."""
    if verdict.action == ReviewAction.ACCEPT and verdict.co_departments is None:
        values = {}
    kept = values.get("status") != ProposalStatus.REJECTED and values.get("lead_department", record.model_lead) == (
        record.model_lead
    )
    return {**values, "audit_verdict": AuditVerdict.CORRECT if kept else AuditVerdict.WRONG, "audited_at": now()}


def decide(
    session: Session,
    proposal_id: int,
    verdict: Verdict,
    actor: store.Acting,
    catalogue: Catalogue,
    breaker: quality.Breaker | None = None,
) -> Reviewed:
    """Decide a pending item or an audit item (抽查), or reassign (改办) a routed, decided or rejected one;
    raises Conflict if someone else decided it first or it changed meanwhile. A verdict on an audit item
    is counted by `breaker`, which may pause automatic routing."""
    record = store.get(session, proposal_id)
    shown = record.external_id or proposal_id
    auditing = record.audit_sample and record.audit_verdict is None and record.status == ProposalStatus.AUTO
    if verdict.action == ReviewAction.REASSIGN:
        if record.status == ProposalStatus.PENDING:
            raise Conflict(f"提案 {shown} 尚未复核，不能改办：请先接受、更正或不予立案")
        values = _assignment(verdict, _in_force(record), catalogue)
        unchanged = all(values[k] == getattr(record, k) for k in ("topic", "lead_department", "co_departments"))
        if unchanged and record.status != ProposalStatus.REJECTED:
            raise InvalidRequest(f"提案 {shown} 的改办与现行交办相同：请指定新的主办单位、协办单位或主题")
        values["rejection_reason"] = None
    elif verdict.action == ReviewAction.MERGE:
        values = _merged(session, record, verdict)
    else:
        values = _assignment(verdict, _suggestion(record), catalogue)
    if auditing:
        values = _audited(record, verdict, values)
    record, review = store.record_review(
        session, proposal_id, verdict.action, values, verdict.reason, verdict.version, actor
    )
    if auditing and breaker is not None:
        quality.check(session, breaker)
    return Reviewed(view(record), review.id)
