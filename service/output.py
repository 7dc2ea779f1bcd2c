"""How a routing result is written into a row of the office's table.

Result columns carry a `route_` prefix so they never overwrite the office's own columns (an intake sheet
may already hold a `lead_department` typed in by hand).
"""

from __future__ import annotations

from typing import Any

from proposal_router.model.schemas import Candidate, RoutingResult

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


def _names(candidates: list[Candidate], with_confidence: bool) -> list[str]:
    return [f"{c.name}({c.confidence:.2f})" if with_confidence else c.name for c in candidates]


def result_row(result: RoutingResult) -> dict[str, Any]:
    topic, lead = result.topic, result.lead_department
    return {
        "route_topic": topic.name if topic else "",
        "route_topic_confidence": round(topic.confidence, 4) if topic else "",
        "route_lead_department": lead.name if lead else "",
        "route_lead_confidence": round(lead.confidence, 4) if lead else "",
        "route_co_departments": _names(result.co_departments, False),
        "route_top3_candidates": _names(result.candidates, True),
        "route_decision": result.decision,
        "route_review_reason": result.reason.message if result.reason else "",
        "route_model_version": result.model_version,
    }
