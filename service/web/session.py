"""Log-in for the web page: a signed, expiring cookie naming a session kept in the database, and a CSRF token.

The cookie holds a random session token and the session's CSRF token, never the key; the database keeps the
token's SHA-256 (table web_sessions) with the key it logged in with. Every request looks the session up and
checks that its key is still active, so log-out (which deletes the session) ends it at once on every server
process that shares the database, a copy of the cookie included, and revoking a key logs its browser sessions
out too. Forms carry the cookie's CSRF token, which a page on another site cannot read.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.orm import Session

from proposal_router.service.db.models import ApiKey, WebSession, now
from proposal_router.service.security import Role, allows, hash_key

COOKIE = "pr_session"
MAX_AGE_SECONDS = 8 * 3600  # one working day


@dataclass(frozen=True)
class WebUser:
    key_id: int
    name: str
    role: Role
    csrf: str
    session_hash: str  # the web_sessions row this browser is logged in with
    department: str | None = None  # a department's key (承办单位): the department it acts for

    @property
    def is_department(self) -> bool:
        return self.role == Role.DEPARTMENT


class SessionSigner:
    def __init__(self, secret: str | None) -> None:
        self._serializer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt="proposal-router-web")

    def issue(self, session: Session, key: ApiKey) -> str:
        """Start a session for `key` and return its cookie; sessions past their end are cleared on the way."""
        token, started = secrets.token_urlsafe(32), now()
        session.execute(delete(WebSession).where(WebSession.expires_at < started))
        expires = started + timedelta(seconds=MAX_AGE_SECONDS)
        session.add(WebSession(token_hash=hash_key(token), key_id=key.id, created_at=started, expires_at=expires))
        session.commit()
        return self._serializer.dumps({"session": token, "csrf": secrets.token_urlsafe(24)})

    def user(self, cookie: str | None, session: Session) -> WebUser | None:
        """The logged-in reviewer or department, or None for a missing, forged, expired, ended or revoked session."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("session"), str):
            return None  # a cookie from before sessions were stored names none: log in again
        record = session.get(WebSession, hash_key(data["session"]))
        if record is None or record.expires_at <= now():
            return None
        key = session.get(ApiKey, record.key_id)
        if key is None or key.revoked_at is not None or not may_log_in(key.role):
            return None
        csrf = str(data.get("csrf", ""))
        return WebUser(
            key_id=key.id,
            name=key.name,
            role=key.role,
            csrf=csrf,
            session_hash=record.token_hash,
            department=key.department,
        )

    def end(self, session: Session, user: WebUser) -> None:
        """Log out: the session's row goes, so its cookie, and every copy of it, no longer logs in."""
        session.execute(delete(WebSession).where(WebSession.token_hash == user.session_hash))
        session.commit()


def may_log_in(role: str) -> bool:
    """The pages are for reviewers and up, and for a department's key (its own list only)."""
    return role == Role.DEPARTMENT or allows(role, Role.REVIEWER)


def csrf_matches(user: WebUser, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(user.csrf, submitted or "")
