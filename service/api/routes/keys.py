"""API keys, for admins. The CLI (`proposal-router keys create`) makes the first one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from proposal_router.service.api.deps import Admin, State
from proposal_router.service.db.models import ApiKey
from proposal_router.service.deps import DB
from proposal_router.service.domain import keys
from proposal_router.service.schemas import KeyOut, Text
from proposal_router.service.security import Role

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyIn(BaseModel):
    name: Text = Field(min_length=1, max_length=100, examples=["督查室 王科长"])
    role: Role
    department: Annotated[Text | None, Field(max_length=200)] = Field(
        default=None, description="a department key's department (an alias or former name resolves)"
    )


class NewKeyOut(KeyOut):
    key: str = Field(description="shown once; only its hash is stored")


def _out(record: ApiKey) -> KeyOut:
    return KeyOut(
        name=record.name,
        role=record.role,
        department=record.department,
        prefix=record.prefix,
        created_at=record.created_at,
    )


@router.get("", response_model=list[KeyOut])
def listing(session: DB, _: Admin) -> list[KeyOut]:
    return [_out(k) for k in keys.list_keys(session) if k.revoked_at is None]


@router.post(
    "",
    response_model=NewKeyOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "another key, active or revoked, has this name"}},
)
def create(payload: KeyIn, session: DB, state: State, caller: Admin) -> NewKeyOut:
    department = state.catalogue.department(payload.department) if payload.department else None
    record, key = keys.create_key(session, payload.name, payload.role, caller.actor, department)
    return NewKeyOut(**_out(record).model_dump(), key=key)


@router.delete("/{prefix}", response_model=KeyOut)
def revoke(prefix: str, session: DB, caller: Admin) -> KeyOut:
    return _out(keys.revoke_key(session, prefix, caller.actor))
