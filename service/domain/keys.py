"""API keys: create (shown once), authenticate, revoke, list; and the audit of web log-ins.

A key's name is unique, a revoked key's included, since the audit log names its actors and one name must
mean one key. Keys are returned as their stored records: only the hash of a key is ever kept.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from proposal_router.model.errors import InvalidRequest, NotFound
from proposal_router.service.db.models import ApiKey, now
from proposal_router.service.security import Role, hash_key, new_key, shown_prefix
from proposal_router.service.statuses import AuditAction
from proposal_router.service.store import Acting, Actor, DuplicateName, audit, audit_event


def create_key(
    session: Session, name: str, role: Role, actor: Acting, department: str | None = None
) -> tuple[ApiKey, str]:
    """A new key, shown only here; its name must be new too (DuplicateName), so the audit log's names are unique.
    A department's key names its department (already resolved to the served name), and only such a key does."""
    name = name.strip()
    if not name:
        raise InvalidRequest("密钥名称不能为空")
    if (role == Role.DEPARTMENT) != bool(department):
        error = InvalidRequest("承办单位（department）的密钥必须指定所属单位，其他角色的密钥不能指定单位")
        error.option = "department"
        raise error
    key = new_key()
    record = ApiKey(
        name=name,
        role=role,
        department=department,
        key_hash=hash_key(key),
        prefix=shown_prefix(key),
        created_at=now(),
    )
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
    details = {"key_id": record.id, "name": name, "role": role, "prefix": record.prefix, "department": department}
    session.add(audit_event(actor, AuditAction.KEY_CREATE, None, details))
    session.commit()
    return record, key


def authenticate(session: Session, key: str) -> ApiKey | None:
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    return record if record is not None and record.revoked_at is None else None


def revoke_key(session: Session, prefix: str, actor: Acting) -> ApiKey:
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))
    if record is None:
        raise NotFound(f"没有以 {prefix} 开头的有效密钥")
    record.revoked_at = now()
    session.add(
        audit_event(actor, AuditAction.KEY_REVOKE, None, {"key_id": record.id, "name": record.name, "prefix": prefix})
    )
    session.commit()
    return record


def audit_log_in(session: Session, presented: str, key: ApiKey | None, refusal: str | None) -> None:
    """A log-in to the web page, or a refused one (`refusal` says why): then with the prefix of the key tried,
    which tells a revoked or mistyped key from the listing, never the key itself."""
    actor = Actor("anonymous") if key is None else Actor(key.name, key.id)
    if refusal is None:
        assert key is not None
        audit(session, actor, AuditAction.WEB_LOGIN, {"role": key.role})
    else:
        audit(session, actor, AuditAction.WEB_LOGIN_FAILED, {"reason": refusal, "prefix": shown_prefix(presented)})


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
