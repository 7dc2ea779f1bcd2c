"""Proposals: submit filings (stored and routed at once), read them back, explain a suggestion, export.

A stored proposal is returned as a `ProposalView`: the filing, the model's answer as the runtime's own
`RoutingResult` (rebuilt from the record, exactly as it was when the proposal arrived) and the current
assignment. The API's `ProposalOut` is this view as JSON; the reviewers' pages render it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from proposal_router.model.errors import Conflict
from proposal_router.model.explain import Explainer, Term
from proposal_router.model.quality import QualityWarning
from proposal_router.model.router import Router
from proposal_router.model.schemas import Candidate, Proposal, ReviewReason, RoutingResult
from proposal_router.model.screening import Flag
from proposal_router.service import store
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.db.models import ProposalRecord
from proposal_router.service.statuses import AuditAction, AuditVerdict, ProposalStatus
from proposal_router.service.trust import Arrival


@dataclass(frozen=True)
class Filing:
    """One submission: the proposal (its `id` is the office's own number, if any) and who filed it."""

    proposal: Proposal
    submitter: str | None = None


class Assignment(BaseModel):
    """Who handles a proposal, as finally decided (by the model's auto-routing or a reviewer)."""

    topic: str | None
    lead_department: str | None
    co_departments: list[str]


class SimilarFiling(BaseModel):
    """An earlier stored filing this one could be merged with (并案)."""

    id: int
    external_id: str | None
    similarity: float


class Return(BaseModel):
    """A department's return of a proposal it was assigned to lead (二次交办)."""

    department: str
    reason: str
    at: datetime
    by: str = Field(description="the key that returned it")


class Audit(BaseModel):
    """An automatically routed proposal drawn for audit (抽查) and the verdict, once a reviewer gave it."""

    verdict: AuditVerdict | None
    audited_at: datetime | None


class ProposalView(BaseModel):
    """A stored proposal as the service shows it to every front end."""

    id: int
    external_id: str | None
    title: str
    body: str
    submitter: str | None
    received_at: datetime
    status: ProposalStatus
    routing: RoutingResult = Field(description="the model's answer, as it was when the proposal arrived")
    assignment: Assignment | None = Field(description="the current assignment; null while under review")
    decided_by: str | None
    decided_at: datetime | None
    rejection_reason: str | None
    similar: list[SimilarFiling] = Field(
        default_factory=list, description="earlier stored filings it could be merged with (并案), most alike first"
    )
    merged_into: int | None = Field(default=None, description="the proposal it was merged into (并案)")
    assigned_at: datetime | None = Field(default=None, description="when the assignment in force was made")
    acknowledged_at: datetime | None = Field(default=None, description="签收 by the lead department")
    acknowledged_by: str | None = None
    returns: list[Return] = Field(
        default_factory=list, description="二次交办: departments that returned it, earliest first; not suggested again"
    )
    audit: Audit | None = Field(default=None, description="抽查: drawn for audit when routed automatically")
    version: int = Field(description="changes with every decision; send it back to detect concurrent edits")

    @property
    def returned_by(self) -> list[str]:
        return list(dict.fromkeys(r.department for r in self.returns))

    @property
    def suggested(self) -> str | None:
        """The department a reviewer is asked about: the assigned lead, else the model's; after a return
        (二次交办) the model's most likely department that has not returned it."""
        if self.assignment and self.assignment.lead_department:
            return self.assignment.lead_department
        return next(iter(self.model_suggestions), None)

    @property
    def model_suggestions(self) -> list[str]:
        """The model's departments, most likely first, without those that returned it."""
        lead = self.routing.lead_department
        names = [lead.name] if lead else []
        names += [c.name for c in self.routing.candidates]
        returned = set(self.returned_by)
        return [n for n in dict.fromkeys(names) if n not in returned]


@dataclass(frozen=True)
class Submitted:
    view: ProposalView
    duplicate: bool  # its external id had been submitted before: the stored proposal, not stored again


def routing_of(record: ProposalRecord) -> RoutingResult:
    """The model's answer kept in a record, as the router gave it (`id` is the office's number)."""
    topic = record.model_topic
    lead = record.model_lead
    return RoutingResult(
        id=record.external_id,
        topic=Candidate(name=topic, confidence=record.model_topic_confidence or 0.0) if topic else None,
        lead_department=Candidate(name=lead, confidence=record.model_lead_confidence or 0.0) if lead else None,
        co_departments=[Candidate(**c) for c in record.model_co],
        candidates=[Candidate(**c) for c in record.candidates],
        decision=record.decision,
        reason=ReviewReason(code=record.reason_code, message=record.reason_message or "")
        if record.reason_code
        else None,
        model_version=record.model_version,
        screening=[Flag(**f) for f in record.screening],
        quality=[QualityWarning(**w) for w in record.quality],
    )


def view(record: ProposalRecord) -> ProposalView:
    assignment = Assignment(
        topic=record.topic, lead_department=record.lead_department, co_departments=list(record.co_departments)
    )
    return ProposalView(
        id=record.id,
        external_id=record.external_id,
        title=record.title,
        body=record.body,
        submitter=record.submitter,
        received_at=record.received_at,
        status=record.status,
        routing=routing_of(record),
        assignment=assignment if record.status.assigned else None,
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        rejection_reason=record.rejection_reason,
        similar=[SimilarFiling(**m) for m in record.similar],
        merged_into=record.merged_into,
        assigned_at=record.assigned_at,
        acknowledged_at=record.acknowledged_at,
        acknowledged_by=record.acknowledged_by,
        returns=[Return(**r) for r in record.returns],
        audit=Audit(verdict=record.audit_verdict, audited_at=record.audited_at) if record.audit_sample else None,
        version=record.version,
    )


def submit(
    session: Session,
    router: Router,
    filings: Sequence[Filing],
    actor: store.Acting,
    arrival: Arrival | None = None,
) -> list[Submitted]:
    """Store and route new filings; a known external id gives the stored proposal (duplicate) instead.

    A filing repeated within one call maps to the proposal of its first copy. With `arrival`, each new one
    records the filings stored before it that it could be merged with (并案), and one routed automatically is
    held for review while routing is paused, or else may be drawn for audit (抽查)."""
    known = store.stored_by_external_id(session, [f.proposal.id for f in filings if f.proposal.id is not None])
    first: dict[str, Filing] = {}
    todo: list[Filing] = []
    for filing in filings:
        external = filing.proposal.id
        if external is None:
            todo.append(filing)
        elif external not in known and external not in first:
            first[external] = filing
            todo.append(filing)
    results = router.route([f.proposal for f in todo])
    records = store.add_routed(
        session, [(f.proposal, f.submitter, r) for f, r in zip(todo, results, strict=True)], actor
    )
    if records is None:  # another request stored the same external id meanwhile: answer with that one
        return [Submitted(view(r), True) for r in _resubmitted(session, filings)]
    if arrival is not None:
        arrival.settle(session, records)
        session.commit()
    created = {id(f): r for f, r in zip(todo, records, strict=True)}
    answers: list[Submitted] = []
    for filing in filings:
        if id(filing) in created:
            answers.append(Submitted(view(created[id(filing)]), False))
        else:
            external = filing.proposal.id
            assert external is not None
            answers.append(Submitted(view(known.get(external) or created[id(first[external])]), True))
    return answers


def _resubmitted(session: Session, filings: Sequence[Filing]) -> list[ProposalRecord]:
    wanted = [f.proposal.id for f in filings]
    known = store.stored_by_external_id(session, [w for w in wanted if w is not None])
    if any(w is None or w not in known for w in wanted):
        raise Conflict("另一个同时进行的请求已保存了其中部分提案，请重新提交")
    return [known[w] for w in wanted if w is not None]


def get(session: Session, proposal_id: int) -> ProposalView:
    return view(store.get(session, proposal_id))


def resolved(filters: store.Filters, catalogue: Catalogue) -> store.Filters:
    """The filters with a department or topic as typed (an alias, a short or former name: 住建局) resolved
    to the catalogue's name, as a correction resolves one; an unknown name raises UnknownName (suggestions)."""
    department = catalogue.department(filters.department) if filters.department else None
    topic = catalogue.topic(filters.topic) if filters.topic else None
    text = (filters.text or "").strip() or None
    return replace(filters, department=department, topic=topic, text=text)


def search(
    session: Session, filters: store.Filters, limit: int, offset: int, order: store.Order
) -> tuple[int, list[ProposalView]]:
    """One page of proposals and how many match in all."""
    total, records = store.search(session, filters, limit, offset, order)
    return total, [view(r) for r in records]


def queue(
    session: Session, filters: store.Filters, limit: int, offset: int, order: store.Order
) -> tuple[int, list[ProposalView]]:
    """The review queue: pending proposals and audit items (抽查), filtered by suggested department, topic and words."""
    return search(session, replace(filters, queue=True), limit, offset, order)


def neighbours(
    session: Session, proposal_id: int, filters: store.Filters, order: store.Order
) -> tuple[int | None, int | None]:
    """The pending items before and after `proposal_id` in the queue's order (None at either end), so a
    reviewer goes on to the next item after a decision; `proposal_id` itself need not be pending any more."""
    return store.neighbours(session, proposal_id, replace(filters, queue=True), order)


def explanation(
    item: ProposalView, explainer: Explainer, catalogue: Catalogue, department: str | None = None
) -> list[Term]:
    """The words that weighed most for `department` (an alias resolves), by default the suggested lead."""
    name = catalogue.department(department) if department else item.suggested
    if name is None:
        return []
    return explainer.terms(Proposal(title=item.title, body=item.body).text, name)


def training_data(
    session: Session, since: datetime | None, actor: store.Acting, format: str, rejections: bool = False
) -> list[dict[str, Any]]:
    """Final assignments for retraining in the training file's columns, or with `rejections` the filings
    rejected (不予立案) with their ground for `train --rejections`; the export itself is audited."""
    rows = store.rejection_rows(session, since) if rejections else store.training_rows(session, since)
    details = {"format": format, "since": since.isoformat() if since else None, "rows": len(rows)}
    if rejections:
        details["rejections"] = True
    store.audit(session, actor, AuditAction.EXPORT_TRAINING_DATA, details)
    return rows
