"""How a routing result is written into a row of the office's table."""

from __future__ import annotations

from typing import Any

from model.schemas import Candidate, RoutingResult

RESULT_COLUMNS = [
    "topic",
    "topic_confidence",
    "lead_department",
    "lead_confidence",
    "co_departments",
    "top3_candidates",
    "decision",
    "review_reason",
    "model_version",
]


def _names(candidates: list[Candidate], with_confidence: bool) -> list[str]:
    return [f"{c.name}({c.confidence:.2f})" if with_confidence else c.name for c in candidates]


def result_row(result: RoutingResult) -> dict[str, Any]:
    return {
        "topic": result.topic.name if result.topic else "",
        "topic_confidence": round(result.topic.confidence, 4) if result.topic else "",
        "lead_department": result.lead_department.name if result.lead_department else "",
        "lead_confidence": round(result.lead_department.confidence, 4) if result.lead_department else "",
        "co_departments": _names(result.co_departments, False),
        "top3_candidates": _names(result.candidates, True),
        "decision": result.decision,
        "review_reason": result.reason.message if result.reason else "",
        "model_version": result.model_version,
    }
