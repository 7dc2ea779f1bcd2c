"""API keys and roles. Keys are random 256-bit tokens, so a plain SHA-256 is a sufficient stored form."""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal, get_args

Role = Literal["screener", "reviewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
KEY_PREFIX = "pr_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def allows(role: str, needed: Role) -> bool:
    """Roles are cumulative: each may do everything the ones before it may."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)
