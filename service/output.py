"""How a routing result is written into a row of the office's table.

Result columns carry a `route_` prefix so they never overwrite the office's own columns (an intake sheet
may already hold a `lead_department` typed in by hand).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proposal_router.model.schemas import Candidate, RoutingResult
from proposal_router.model.similarity import Match
from proposal_router.service.statuses import ProposalStatus

RESULT_COLUMNS = [
    "route_topic",
    "route_topic_confidence",
    "route_lead_department",
    "route_lead_confidence",
    "route_co_departments",
    "route_top3_candidates",
    "route_decision",
    "route_review_reason",
    "route_model_version",
]

SIMILAR_COLUMN = "route_similar"
SCREENING_COLUMN = "route_screening"
QUALITY_COLUMN = "route_quality"
FINAL_COLUMNS = ["final_status", "final_lead_department", "final_co_departments"]


@dataclass(frozen=True)
class Final:
    """Where a row of a stored batch stands now: the assignment after review, decisions taken since included."""

    lead_department: str
    co_departments: list[str]
    status: ProposalStatus


def final_row(final: Final | None) -> dict[str, Any]:
    if final is None:
        return {}
    return {
        "final_status": final.status.value,
        "final_lead_department": final.lead_department,
        "final_co_departments": final.co_departments,
    }


def listing(found: list[dict[str, Any]], as_json: bool) -> Any:
    """A column holding a list of objects: the objects in JSONL, their JSON text in CSV (`[]` when none)."""
    return json.dumps(found, ensure_ascii=False) if as_json else found


def prescreen_cells(result: RoutingResult, matches: Sequence[Match], as_json: bool) -> dict[str, Any]:
    """What 审查立案 looks at: `route_screening` (grounds with the sentence behind each), `route_similar` (the
    earlier filings to merge with) and `route_quality` (预审 of form)."""
    return {
        SCREENING_COLUMN: listing(
            [{"code": f.code.value, "message": f.message, "evidence": f.evidence} for f in result.screening], as_json
        ),
        SIMILAR_COLUMN: listing([{"id": m.id, "similarity": m.similarity} for m in matches], as_json),
        QUALITY_COLUMN: listing([{"code": w.code.value, "message": w.message} for w in result.quality], as_json),
    }


def shown(candidate: Candidate) -> str:
    """A candidate as offices read it in every output file: name, then confidence to two places."""
    return f"{candidate.name}({candidate.confidence:.2f})"


def result_row(result: RoutingResult) -> dict[str, Any]:
    topic, lead = result.topic, result.lead_department
    return {
        "route_topic": topic.name if topic else "",
        "route_topic_confidence": round(topic.confidence, 4) if topic else "",
        "route_lead_department": lead.name if lead else "",
        "route_lead_confidence": round(lead.confidence, 4) if lead else "",
        "route_co_departments": [c.name for c in result.co_departments],
        "route_top3_candidates": [shown(c) for c in result.candidates],
        "route_decision": result.decision,
        "route_review_reason": result.reason.message if result.reason else "",
        "route_model_version": result.model_version,
    }
