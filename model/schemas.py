"""What goes into the router and what comes out: the boundary types shared by the CLI and the API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from proposal_router.model.text import compose

Decision = Literal["auto", "review"]


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
    code: Literal["text_too_short", "near_tie", "low_confidence", "no_lead_model"]
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
