"""The service's HTTP boundary types: what clients send and what they get back (with Chinese examples).

The answers are the domain's and the runtime's own types (`ProposalView`, `RoutingResult`, `Term`), with
only what the API shows differently; the inputs validate a client's text and become domain types
(`ReviewIn.verdict`). The API and the reviewers' pages both validate with these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from proposal_router.model.explain import Term
from proposal_router.model.intake.clean import clean_text
from proposal_router.model.schemas import Proposal, RoutingResult
from proposal_router.model.screening import Ground
from proposal_router.service.domain.proposals import Filing, ProposalView
from proposal_router.service.domain.review import Verdict
from proposal_router.service.security import Role
from proposal_router.service.statuses import ReviewAction

INT64_MAX = 2**63 - 1  # the database's integer range: a larger number would overflow there, not be refused
ProposalId = Annotated[int, PathParam(ge=1, le=INT64_MAX, description="the service's own proposal number")]
Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
OFFSET_MAX = 2**31 - 1
Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX, description="items to skip")]
Text = Annotated[StrictStr, AfterValidator(clean_text)]
"""Client text, normalised as file cells are: control characters dropped, a lone surrogate refused."""
EXAMPLE_TITLE = "关于加强老旧小区加装电梯工作的提案"
EXAMPLE_BODY = (
    "我市老旧小区多建于上世纪九十年代，老年住户比例高，上下楼困难。建议简化审批流程，加大财政补贴，统筹协调管线迁移。"
)


class ProposalIn(BaseModel):
    """One filing. `external_id` is the office's own number: submitting it again returns the stored one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"external_id": "2026-001", "title": EXAMPLE_TITLE, "body": EXAMPLE_BODY, "submitter": "张委员"}
            ]
        },
    )

    external_id: Annotated[Text | None, Field(max_length=200)] = None
    title: Text = ""
    body: Text = ""
    submitter: Annotated[Text | None, Field(max_length=200)] = None

    def filing(self) -> Filing:
        return Filing(Proposal(id=self.external_id, title=self.title, body=self.body), self.submitter)

    @model_validator(mode="after")
    def _has_text(self) -> ProposalIn:
        if not (self.title.strip() or self.body.strip()):
            raise ValueError("提案标题和提案内容都为空：提案须有文字")
        return self


class RoutingOut(RoutingResult):
    """The runtime's `RoutingResult` as the API shows it: without `id`, which the proposal around it carries
    as `external_id`."""

    id: SkipJsonSchema[str | None] = Field(default=None, exclude=True)


class ProposalOut(ProposalView):
    """The domain's view of a stored proposal, with its routing as `RoutingOut` and the duplicate flag."""

    routing: RoutingOut = Field(description="the model's answer, as it was when the proposal arrived")
    duplicate: bool = Field(default=False, description="true when this external_id had been submitted before")

    @classmethod
    def of(cls, item: ProposalView, duplicate: bool = False) -> ProposalOut:
        return cls.model_validate({**dict(item), "routing": item.routing.model_dump(), "duplicate": duplicate})


class Page(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ProposalOut]


class ReviewIn(BaseModel):
    """Accept the model's answer, correct it, or mark the filing as not a proposal (不予立案); or, for an
    item already routed or decided, reassign it (改办) with a reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "accept"},
                {"action": "accept", "co_departments": []},
                {"action": "correct", "lead_department": "市住房和城乡建设局", "co_departments": ["市财政局"]},
                {"action": "reject", "reason": "属个人诉求，建议通过12345热线反映"},
                {"action": "reassign", "lead_department": "市人力资源和社会保障局", "reason": "属就业政策"},
                {"action": "reject", "ground": "personal"},
                {"action": "merge", "merge_into": 12, "reason": "与第12件所提事项相同"},
            ]
        },
    )

    action: Literal["accept", "correct", "reject", "reassign", "merge"] = Field(
        description="accept: the model's lead and topic, and its co-departments unless co_departments is given "
        "([] accepts the lead only); reassign (改办): a routed or decided item, with a reason; merge (并案): "
        "handled with the proposal merge_into, by its departments"
    )
    lead_department: Annotated[Text | None, Field(max_length=200)] = None
    co_departments: Annotated[list[Annotated[Text, Field(max_length=200)]] | None, Field(max_length=50)] = None
    topic: Annotated[Text | None, Field(max_length=200)] = None
    reason: Annotated[Text | None, Field(max_length=2000)] = None
    version: int | None = Field(
        default=None, ge=0, le=INT64_MAX, description="the version you saw; a newer one means a conflict"
    )
    ground: Ground | None = Field(default=None, description="reject: the ground of the rules (不予立案的情形)")
    merge_into: int | None = Field(default=None, ge=1, le=INT64_MAX, description="merge: the proposal's id")

    def verdict(self) -> Verdict:
        return Verdict(
            ReviewAction(self.action),
            self.lead_department,
            self.co_departments,
            self.topic,
            self.reason,
            self.version,
            self.ground,
            self.merge_into,
        )

    @model_validator(mode="after")
    def _complete(self) -> ReviewIn:
        changes = (self.lead_department, self.co_departments, self.topic)
        if self.action == "correct" and all(c is None for c in changes):
            raise ValueError("更正时至少指定主办单位、协办单位或主题之一（lead_department、co_departments、topic）")
        if self.action == "accept" and (self.lead_department is not None or self.topic is not None):
            raise ValueError("接受建议时不能指定主办单位或主题：如需修改请更正（correct）")
        if self.action == "reject" and any(c is not None for c in changes):
            raise ValueError("不予立案时不能指定主办单位、协办单位或主题")
        if self.action == "reject" and not (self.reason or "").strip() and self.ground is None:
            raise ValueError("不予立案须填写理由（reason）或选择不予立案的情形（ground）")
        if self.action == "merge" and (self.merge_into is None or any(c is not None for c in changes)):
            raise ValueError("并案须指定并入的提案（merge_into），不能另行指定主办单位、协办单位或主题")
        if self.action != "merge" and self.merge_into is not None:
            raise ValueError("只有并案（merge）才指定 merge_into")
        if self.action == "reassign" and not (self.reason or "").strip():
            raise ValueError("改办须填写理由（reason）")
        return self


class ReviewOut(BaseModel):
    proposal: ProposalOut
    review_id: int


class KeyOut(BaseModel):
    name: str
    role: Role
    department: str | None = None
    prefix: str
    created_at: datetime


class ModelInfo(BaseModel):
    version: str
    model_type: str
    components: list[str]
    encoder: str | None
    labels: dict[str, list[str]]
    thresholds: dict[str, float]
    metrics: dict[str, Any]


class ErrorOut(BaseModel):
    detail: str | list[dict[str, Any]]


class TermOut(Term):
    """The explainer's `Term`, its weight rounded: four places are what a reviewer can read."""

    @field_validator("weight")
    @classmethod
    def _rounded(cls, value: float) -> float:
        return round(value, 4)
