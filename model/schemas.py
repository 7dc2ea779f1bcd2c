"""What goes into the router and what comes out: the boundary types shared by the CLI and the API."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from proposal_router.model.quality import QualityWarning
from proposal_router.model.screening import Flag
from proposal_router.model.text import compose


class Decision(StrEnum):
    """What the routing policy decided; the value is what files, the API and the database store."""

    AUTO = "auto"
    REVIEW = "review"


class ReasonCode(StrEnum):
    """Why a proposal went to review, first reason first (see policy.review_reason)."""

    AUTO_PAUSED = "auto_paused"  # the service paused automatic routing: audits found it below its target
    SCREENING_FLAG = "screening_flag"  # it may not be a proposal to accept: the committee decides first
    SIMILAR_FILING = "similar_filing"  # the service found an earlier filing it could be merged with (并案)
    TEXT_TOO_SHORT = "text_too_short"
    NEAR_TIE = "near_tie"
    LOW_CONFIDENCE = "low_confidence"
    NO_SAFE_THRESHOLD = "no_safe_threshold"  # validation could not show any threshold reaches the target
    NO_LEAD_MODEL = "no_lead_model"


class Proposal(BaseModel):
    id: str | None = None
    title: str = ""
    body: str = ""

    @property
    def text(self) -> str:
        return compose(self.title, self.body)


class Candidate(BaseModel):
    name: str
    confidence: float = Field(ge=0.0, le=1.0)


class ReviewReason(BaseModel):
    code: ReasonCode
    message: str


class RoutingResult(BaseModel):
    id: str | None = None
    topic: Candidate | None = None
    lead_department: Candidate | None = None
    co_departments: list[Candidate] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list, description="top-3 lead departments")
    decision: Decision
    reason: ReviewReason | None = None
    model_version: str
    screening: list[Flag] = Field(default_factory=list, description="grounds for 不予立案 to check (审查立案)")
    quality: list[QualityWarning] = Field(default_factory=list, description="预审 warnings about the form")
