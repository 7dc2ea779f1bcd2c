"""The office's final 交办 lists after review, as JSON or as the workbook it prints and hands on."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from proposal_router.service import store
from proposal_router.service.api.deps import Reviewer, State
from proposal_router.service.assignment_workbook import write_final_workbook
from proposal_router.service.deps import DB
from proposal_router.service.domain import assignments
from proposal_router.service.schemas import Limit, Offset
from proposal_router.service.statuses import AuditAction, ProposalStatus

router = APIRouter(prefix="/v1/assignments", tags=["assignments"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class AssignmentPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[assignments.Assignment]


@router.get(
    "",
    response_model=AssignmentPage,
    summary="Final assignments after review (交办清单, 不予立案, 待复核); format=xlsx for the office's workbook",
    responses={200: {"content": {XLSX: {}}}},
)
def final(
    session: DB,
    state: State,
    caller: Reviewer,
    department: Annotated[str | None, Query(description="a department (or its alias) as lead or co")] = None,
    status_: Annotated[ProposalStatus | None, Query(alias="status")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Literal["json", "xlsx"] = "json",
    limit: Limit = 500,
    offset: Offset = 0,
) -> Response | AssignmentPage:
    served = state.catalogue.department(department) if department else None
    query = assignments.Query(department=served, since=since, until=until, status=status_)
    items = assignments.final_assignments(session, query)
    if format == "json":
        return AssignmentPage(total=len(items), limit=limit, offset=offset, items=items[offset : offset + limit])
    store.audit(session, caller.actor, AuditAction.EXPORT_ASSIGNMENTS, {"department": served, "rows": len(items)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "assignments.xlsx"
        write_final_workbook(path, items, state.settings.timezone)
        body = path.read_bytes()
    name = f"{served or '全部'}交办清单.xlsx"
    return Response(
        body, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    )
