"""Log-in for the web page: a signed, expiring cookie naming the key, and a CSRF token bound to it.

The cookie holds the key's database id, never the key, and every request checks that the key is still
active, so revoking a key logs its browser sessions out too. Forms carry the cookie's CSRF token, which a
page on another site cannot read.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from service.db.models import ApiKey
from service.security import allows

COOKIE = "pr_session"
MAX_AGE_SECONDS = 8 * 3600  # one working day


@dataclass(frozen=True)
class WebUser:
    key_id: int
    name: str
    role: str
    csrf: str


class SessionSigner:
    def __init__(self, secret: str | None) -> None:
        self._serializer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt="proposal-router-web")

    def issue(self, key: ApiKey) -> str:
        return self._serializer.dumps({"key_id": key.id, "csrf": secrets.token_urlsafe(24)})

    def user(self, cookie: str | None, session: Session) -> WebUser | None:
        """The logged-in reviewer, or None for a missing, forged, expired or revoked session."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("key_id"), int):
            return None
        key = session.get(ApiKey, data["key_id"])
        if key is None or key.revoked_at is not None or not allows(key.role, "reviewer"):
            return None
        return WebUser(key_id=key.id, name=key.name, role=key.role, csrf=str(data.get("csrf", "")))


def csrf_matches(user: WebUser, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(user.csrf, submitted or "")
