"""The departments' API: a department key reads its list and returns (二次交办) or signs for (签收) what it leads."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from proposal_router.service.api.deps import Caller, Department, State
from proposal_router.service.deps import DB
from proposal_router.service.domain import departments
from proposal_router.service.schemas import ProposalId, ProposalOut, Text

router = APIRouter(tags=["department"])


class DepartmentList(BaseModel):
    department: str
    return_days: int = Field(description="days after its assignment the lead department may return a proposal")
    total: int
    items: list[departments.Handling]


class ReturnIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "属市场监管职责，建议改由市市场监督管理局主办"}]}
    )

    reason: Text = Field(min_length=1, max_length=2000, description="why it is not this department's duty")


def _department(caller: Caller) -> str:
    assert caller.department is not None  # a department key always names one (keys.create_key)
    return caller.department


@router.get(
    "/v1/department/proposals",
    response_model=DepartmentList,
    summary="The proposals this department leads (主办) or co-handles (协办), with the return deadline",
)
def listing(session: DB, state: State, caller: Department) -> DepartmentList:
    days = state.settings.return_days
    items = departments.listing(session, _department(caller), days)
    return DepartmentList(department=_department(caller), return_days=days, total=len(items), items=items)


@router.post(
    "/v1/proposals/{proposal_id}/return",
    response_model=ProposalOut,
    tags=["department"],
    summary="二次交办: the lead department returns a proposal within the return window, with its reason",
    responses={
        403: {"description": "the proposal is not this department's to lead"},
        409: {"description": "past the return deadline (named), signed for, or changed meanwhile"},
    },
)
def give_back(proposal_id: ProposalId, payload: ReturnIn, session: DB, state: State, caller: Department) -> ProposalOut:
    settings = state.settings
    returned = departments.give_back(
        session,
        proposal_id,
        _department(caller),
        payload.reason,
        caller.actor,
        settings.return_days,
        settings.timezone,
        state.breaker(),
    )
    state.metrics.decisions.labels(kind="department_return").inc()
    return ProposalOut.of(returned)


@router.post(
    "/v1/proposals/{proposal_id}/acknowledge",
    response_model=ProposalOut,
    summary="签收: the lead department takes a proposal on (it can no longer return it)",
    responses={403: {"description": "not this department's to lead"}, 409: {"description": "past the deadline"}},
)
def acknowledge(proposal_id: ProposalId, session: DB, state: State, caller: Department) -> ProposalOut:
    settings = state.settings
    signed = departments.acknowledge(
        session, proposal_id, _department(caller), caller.actor, settings.return_days, settings.timezone
    )
    return ProposalOut.of(signed)
