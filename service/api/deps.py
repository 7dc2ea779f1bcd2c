"""Typed dependencies of the API: its app state and the caller's key and role (the database session per
request is `service.deps.DB`, shared with the reviewers' pages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from proposal_router.service import store
from proposal_router.service.api.state import AppState
from proposal_router.service.deps import DB
from proposal_router.service.domain import keys
from proposal_router.service.security import Role, allows


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.services
    return state


State = Annotated[AppState, Depends(get_state)]


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role
    key_id: int
    department: str | None = None  # a department's key: the department it acts for

    @property
    def actor(self) -> store.Actor:
        """The caller as the audit log records it: the key's name and id."""
        return store.Actor(self.name, self.key_id)


def _presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def require(role: Role) -> Callable[..., Caller]:
    """A dependency admitting keys whose role includes `role` (401 without a valid key, 403 below it)."""

    def check(
        session: DB,
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Caller:
        key = _presented_key(x_api_key, authorization)
        if not key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "需要 API 密钥（请求头 X-API-Key 或 Authorization: Bearer）",
                headers={"WWW-Authenticate": "Bearer"},
            )
        record = keys.authenticate(session, key)
        if record is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "API 密钥无效或已被吊销", headers={"WWW-Authenticate": "Bearer"}
            )
        if not allows(record.role, role):
            needed = "承办单位（department）的密钥" if role == Role.DEPARTMENT else f"{role} 或以上"
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"该密钥的角色（{record.role}）无权执行此操作，需要 {needed}"
            )
        return Caller(name=record.name, role=record.role, key_id=record.id, department=record.department)

    return check


Screener = Annotated[Caller, Depends(require(Role.SCREENER))]
Reviewer = Annotated[Caller, Depends(require(Role.REVIEWER))]
Analyst = Annotated[Caller, Depends(require(Role.ANALYST))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
Department = Annotated[Caller, Depends(require(Role.DEPARTMENT))]
