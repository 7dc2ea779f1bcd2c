"""The service's closed sets of states, as enums whose values are the strings stored and sent.

They sit below every layer (the ORM maps its columns to them, the domain decides with them, the adapters
render them), so this module imports nothing of the service. The routing's own `Decision` and `ReasonCode`
are the runtime's, in `model.schemas`.
"""

from __future__ import annotations

from enum import StrEnum


class ProposalStatus(StrEnum):
    """Where a filing stands: routed automatically, waiting for a reviewer, decided by one, or not a proposal."""

    AUTO = "auto"
    PENDING = "pending"
    REVIEWED = "reviewed"
    REJECTED = "rejected"

    @property
    def assigned(self) -> bool:
        """Whether the filing has a final assignment (the model's or a reviewer's)."""
        return self in ASSIGNED


ASSIGNED = (ProposalStatus.AUTO, ProposalStatus.REVIEWED)


class ReviewAction(StrEnum):
    """What a reviewer does with a pending item, or with a decided one (改办)."""

    ACCEPT = "accept"
    CORRECT = "correct"
    REJECT = "reject"  # 不予立案
    REASSIGN = "reassign"  # 改办: a new assignment for an item already routed, decided or rejected
    MERGE = "merge"  # 并案: handled with another filing, by that filing's departments

    @property
    def audited_as(self) -> AuditAction:
        return AuditAction(f"review.{self.value}")


class AuditVerdict(StrEnum):
    """A reviewer's verdict on an automatically routed proposal drawn for audit (抽查): whether the lead the
    model chose was kept. A department's return (二次交办) of an audit item is a wrong verdict too."""

    CORRECT = "correct"
    WRONG = "wrong"


class JobStatus(StrEnum):
    """Where a batch job stands."""

    READING = "reading"  # uploaded; its rows are read in the background
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


UNFINISHED = (JobStatus.READING, JobStatus.QUEUED, JobStatus.RUNNING)


class AuditAction(StrEnum):
    """What an audit-log event records; the values are those the log has always held."""

    ROUTE = "route"
    REVIEW_ACCEPT = "review.accept"
    REVIEW_CORRECT = "review.correct"
    REVIEW_REJECT = "review.reject"
    REVIEW_REASSIGN = "review.reassign"
    REVIEW_MERGE = "review.merge"
    BATCH_UPLOAD = "batch.upload"
    BATCH_RESULT = "batch.result"
    BATCH_CANCEL = "batch.cancel"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    KEY_RENAME = "key.rename"  # written by migration 0004 when it renamed keys that shared a name
    DEPARTMENT_RETURN = "department.return"  # 二次交办: the lead department sent it back
    DEPARTMENT_ACKNOWLEDGE = "department.acknowledge"  # 签收
    AUDIT_SAMPLE = "quality.audit_sample"  # an auto-routed proposal drawn for audit (抽查)
    ROUTING_PAUSE = "quality.pause"  # the circuit breaker paused automatic routing
    ROUTING_RESUME = "quality.resume"
    MODEL_RELOAD = "model.reload"
    EXPORT_TRAINING_DATA = "export.training_data"
    EXPORT_ASSIGNMENTS = "export.assignments"
    WEB_LOGIN = "web.login"
    WEB_LOGIN_FAILED = "web.login_failed"
