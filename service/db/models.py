"""The tables (SQLAlchemy 2). Schema changes go through an Alembic migration in service/migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from proposal_router.model.schemas import Decision, ReasonCode
from proposal_router.model.screening import Ground
from proposal_router.service.security import Role
from proposal_router.service.statuses import AuditAction, AuditVerdict, JobStatus, ProposalStatus, ReviewAction


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite returns naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# 64-bit on both databases: the API takes ids and versions up to 2^63-1, and PostgreSQL's INTEGER is 32-bit (a
# larger number there is a NumericValueOutOfRange, not a row not found). SQLite's INTEGER is already 64-bit and
# only an INTEGER PRIMARY KEY is the autoincrementing rowid, so SQLite keeps the name INTEGER.
BigInt = BigInteger().with_variant(Integer, "sqlite")


def stored_as_value(kind: type[StrEnum], length: int) -> Enum:
    """A column holding `kind`, stored as the enum's value in a VARCHAR of `length` as before it was an
    enum: no database enum type and no CHECK constraint, so the tables the migrations made are unchanged
    and no data moves; a value outside `kind` is refused when written."""
    return Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class ProposalRecord(Base):
    """One filing with the model's answer (`model_*`, never changed) and the current assignment.

    Status: `auto` (routed automatically), `pending` (in the review queue), `reviewed` (a person decided the
    assignment) or `rejected` (不予立案).
    """

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    submitter: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=now)
    submitted_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[ProposalStatus] = mapped_column(stored_as_value(ProposalStatus, 20), index=True)
    topic: Mapped[str | None] = mapped_column(String(100), index=True)
    lead_department: Mapped[str | None] = mapped_column(String(100), index=True)
    co_departments: Mapped[list[Any]] = mapped_column(default=list)
    model_topic: Mapped[str | None] = mapped_column(String(100))
    model_topic_confidence: Mapped[float | None] = mapped_column(Float)
    model_lead: Mapped[str | None] = mapped_column(String(100))
    model_lead_confidence: Mapped[float | None] = mapped_column(Float)
    model_co: Mapped[list[Any]] = mapped_column(default=list)
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    decision: Mapped[Decision] = mapped_column(stored_as_value(Decision, 10))
    reason_code: Mapped[ReasonCode | None] = mapped_column(stored_as_value(ReasonCode, 40))
    reason_message: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column()
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(BigInt, default=1)
    screening: Mapped[list[Any]] = mapped_column(default=list)  # 审查立案 flags as the router gave them
    quality: Mapped[list[Any]] = mapped_column(default=list)  # 预审 warnings of form
    similar: Mapped[list[Any]] = mapped_column(default=list)  # 并案 candidates: {"id": internal id, "similarity"}
    merged_into: Mapped[int | None] = mapped_column(BigInt, ForeignKey("proposals.id"), index=True)
    rejection_ground: Mapped[Ground | None] = mapped_column(stored_as_value(Ground, 40))
    # When the assignment in force was made: the lead department's return window (二次交办) counts from it.
    assigned_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()  # 签收 by the lead department
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    # 二次交办: [{"department", "reason", "at", "by"}], earliest first; those departments are not suggested again
    returns: Mapped[list[Any]] = mapped_column(default=list)
    audit_sample: Mapped[bool] = mapped_column(Boolean, default=False)  # drawn for audit (抽查) when routed
    audit_verdict: Mapped[AuditVerdict | None] = mapped_column(stored_as_value(AuditVerdict, 20))
    audited_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (
        Index("ix_proposals_status_confidence", "status", "model_lead_confidence"),
        Index("ix_proposals_audit_open", "audit_sample", "audit_verdict"),
    )


class ReviewRecord(Base):
    """A reviewer's decision with the model's original answer and what changed."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(BigInt, ForeignKey("proposals.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=now)
    action: Mapped[ReviewAction] = mapped_column(stored_as_value(ReviewAction, 20))
    model_answer: Mapped[dict[str, Any]] = mapped_column()
    changes: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    # The API key that acted (None for the command line and background work); like proposal_id, no foreign key
    actor_key_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    action: Mapped[AuditAction] = mapped_column(stored_as_value(AuditAction, 40))
    proposal_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiKey(Base):
    """Only the SHA-256 of a key is stored; the key itself is shown once, when created.

    Names are unique, revoked keys' included: the audit log names its actors, and one name must mean one key.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(stored_as_value(Role, 20))
    department: Mapped[str | None] = mapped_column(String(100))  # a department key's department (served name)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None] = mapped_column()


class RoutingState(Base):
    """Whether automatic routing is on, for every server process: one row (id 1). The circuit breaker pauses
    it when audits (抽查) show the model below its target; `since` starts the window of audits it counts
    (an analyst's resume or a model reload starts a new one)."""

    __tablename__ = "routing_state"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=now)
    changed_by: Mapped[str] = mapped_column(String(100))
    since: Mapped[datetime] = mapped_column(default=now)


class BatchJob(Base):
    """A file routed as one resumable job: its rows are stored first, then routed chunk by chunk.

    `fingerprint` (the file's bytes and the column mapping) lets the command line find an interrupted job
    again; `issues` are the rows that could not be read, kept for the result's rejected sheet.
    """

    __tablename__ = "batch_jobs"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[JobStatus] = mapped_column(stored_as_value(JobStatus, 20), index=True)
    columns: Mapped[list[Any]] = mapped_column(default=list)
    issues: Mapped[list[Any]] = mapped_column(default=list)
    total_rows: Mapped[int] = mapped_column(BigInt, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    # The process routing the job (host:pid:random) and when it last said so; see batches.claim_next.
    owner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column()


class BatchUpload(Base):
    """An uploaded file waiting to be read: kept until its rows are stored, so a restart can read it again.
    Its bytes are in `BatchUploadPart`s, so that no step holds the whole file in memory."""

    __tablename__ = "batch_uploads"

    job_id: Mapped[int] = mapped_column(BigInt, ForeignKey("batch_jobs.id"), primary_key=True)
    columns: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sheet: Mapped[str | None] = mapped_column(String(200))


class BatchUploadPart(Base):
    __tablename__ = "batch_upload_parts"

    job_id: Mapped[int] = mapped_column(BigInt, ForeignKey("batch_jobs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class BatchRow(Base):
    """One readable row of a job; `proposal_id` is set in the same transaction that stores its routing."""

    __tablename__ = "batch_rows"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInt, ForeignKey("batch_jobs.id"), index=True)
    position: Mapped[int] = mapped_column(BigInt)
    sheet_row: Mapped[int] = mapped_column(BigInt)
    external_id: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    proposal_id: Mapped[int | None] = mapped_column(BigInt, ForeignKey("proposals.id"))

    __table_args__ = (UniqueConstraint("job_id", "position"), Index("ix_batch_rows_pending", "job_id", "proposal_id"))


class WebSession(Base):
    """A reviewer logged in on the web page. The cookie carries a random token, this row only its SHA-256.

    Log-out deletes the row, so a copy of the cookie no longer logs in, on any server process; rows past
    `expires_at` are deleted at the next log-in.
    """

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(BigInt, ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
