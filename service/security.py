"""API keys and roles. Keys are random 256-bit tokens, so a plain SHA-256 is a sufficient stored form."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum


class Role(StrEnum):
    """A key's role. The office's roles each include the ones before them (the order here is the order of
    power); a department's key stands apart: bound to one department, it reads that department's list and
    returns (二次交办) or acknowledges (签收) what it leads, and nothing else."""

    SCREENER = "screener"
    REVIEWER = "reviewer"
    ANALYST = "analyst"
    ADMIN = "admin"
    DEPARTMENT = "department"


ROLES: tuple[Role, ...] = (Role.SCREENER, Role.REVIEWER, Role.ANALYST, Role.ADMIN)
KEY_PREFIX = "pr_"
SHOWN_CHARS = 10  # of a key: stored and listed as its prefix, and all of a presented key that is ever logged


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def shown_prefix(key: str) -> str:
    """The part of a key that may be shown and logged: its first characters, and at most a quarter of it, so
    that a short string typed into the key field (a password, say) is never logged whole."""
    return key[: min(SHOWN_CHARS, len(key) // 4)]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def allows(role: str, needed: Role) -> bool:
    """The office's roles are cumulative: each may do everything the ones before it may; only a department's
    key does a department's part."""
    if needed == Role.DEPARTMENT or role == Role.DEPARTMENT:
        return role == needed
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)
