"""Two bundles on the same labelled proposals: what switching the served bundle would change.

Both bundles answer every proposal as serving would (`Router.route`: the lead, its calibrated confidence,
and the policy's decision at the bundle's own threshold, 审查立案 flags included), so the coverage and the
precision here are what the office would see after the switch. Gold names are taken into each router's
own names (a 机构改革 between the bundles' taxonomies is no disagreement), and the current bundle's answers
are then told in the new bundle's names.

Only the runtime and `training.data` are needed: a serving install can compare the bundle it is sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

import numpy as np
from pydantic import BaseModel

from proposal_router.model.calibration import wilson_lower
from proposal_router.model.router import Router
from proposal_router.model.schemas import Decision, Proposal, RoutingResult
from proposal_router.training.data import Example


class Verdict(StrEnum):
    """Of a proposal whose lead changes: which bundle agrees with the gold lead."""

    FIXED = "fixed"  # the new bundle is right, the current one was wrong
    BROKEN = "broken"  # the current bundle was right, the new one is wrong
    BOTH_WRONG = "both_wrong"
    UNLABELLED = "unlabelled"  # no gold lead to judge by


class Answer(BaseModel):
    """One bundle's answer to one proposal, in the new bundle's department names."""

    lead: str | None
    confidence: float | None
    decision: Decision
    reason: str | None
    """The review reason's code (`ReasonCode`), None when routed automatically."""
    top3: list[str]
    topic: str | None


class Side(BaseModel):
    """One bundle's figures on the data."""

    version: str
    threshold: float
    target_precision: float
    lead_accuracy: float | None
    top3_accuracy: float | None
    topic_accuracy: float | None
    n_auto: int
    coverage: float
    """Share of all proposals the bundle routes automatically."""
    auto_precision: float | None
    """Share right of the automatically routed proposals that have a gold lead."""
    auto_precision_lower: float | None
    """Its one-sided 95% Wilson lower bound."""
    reasons: dict[str, int]
    """Review reasons (codes) and their counts, most frequent first."""


class DepartmentRow(BaseModel):
    department: str
    proposals: int
    """Proposals whose gold lead is this department."""
    current_accuracy: float | None
    new_accuracy: float | None
    """Share of the department's own proposals whose lead each bundle gets right."""
    current_routed: int
    new_routed: int
    """Proposals each bundle names this department the lead of (automatically or for review)."""
    current_auto: int
    new_auto: int
    """Of those, the ones routed to it automatically."""


class Change(BaseModel):
    """A proposal whose lead department differs between the bundles."""

    id: str
    title: str
    row: int | None
    gold_lead: str | None
    current: Answer
    new: Answer
    verdict: Verdict


class Comparison(BaseModel):
    n: int
    n_lead: int
    """Proposals with a gold lead."""
    n_topic: int
    current: Side
    new: Side
    departments: list[DepartmentRow]
    changes: list[Change]
    verdicts: dict[Verdict, int]
    decision_changes: dict[str, int]
    """How many proposals move auto→review and review→auto (same lead or not)."""


def _proposal(example: Example) -> Proposal:
    """The proposal whose composed text is the example's: its first line is the title when there are two."""
    title, sep, body = example.text.partition("\n")
    return Proposal(id=example.id, title=title, body=body) if sep else Proposal(id=example.id, body=title)


def _title(example: Example, limit: int = 60) -> str:
    first = example.text.partition("\n")[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _share(hits: int, n: int) -> float | None:
    return hits / n if n else None


def _answer(result: RoutingResult, name: Router) -> Answer:
    """`result` told in the names of the router `name` (the new bundle's)."""

    def named(department: str) -> str:
        return name.department(department) or department

    lead = result.lead_department
    return Answer(
        lead=None if lead is None else named(lead.name),
        confidence=None if lead is None else lead.confidence,
        decision=result.decision,
        reason=None if result.reason is None else result.reason.code.value,
        top3=[named(c.name) for c in result.candidates],
        topic=None if result.topic is None else result.topic.name,
    )


def _gold(router: Router, example: Example) -> str | None:
    return example.lead and (router.department(example.lead) or example.lead)


def _side(router: Router, examples: Sequence[Example], results: Sequence[RoutingResult]) -> Side:
    gold = [_gold(router, e) for e in examples]
    leads = [None if r.lead_department is None else r.lead_department.name for r in results]
    labelled = [i for i, g in enumerate(gold) if g is not None]
    right = [leads[i] == gold[i] for i in labelled]
    top3 = [gold[i] in {c.name for c in results[i].candidates} for i in labelled]
    topics = [(e.topic, r.topic.name if r.topic else None) for e, r in zip(examples, results, strict=True) if e.topic]
    auto = [r.decision == Decision.AUTO for r in results]
    judged = [i for i in labelled if auto[i]]
    hits = sum(leads[i] == gold[i] for i in judged)
    lower = float(wilson_lower(np.array([hits]), np.array([len(judged)]))[0]) if judged else None
    reasons = Counter(r.reason.code.value for r in results if r.reason is not None)
    policy = router.manifest.routing
    return Side(
        version=router.version,
        threshold=policy.lead_threshold,
        target_precision=policy.target_precision,
        lead_accuracy=_share(sum(right), len(labelled)),
        top3_accuracy=_share(sum(top3), len(labelled)),
        topic_accuracy=_share(sum(g == p for g, p in topics), len(topics)),
        n_auto=sum(auto),
        coverage=sum(auto) / len(results) if results else 0.0,
        auto_precision=_share(hits, len(judged)),
        auto_precision_lower=lower,
        reasons=dict(reasons.most_common()),
    )


def _verdict(gold: str | None, current: str | None, new: str | None) -> Verdict:
    if gold is None:
        return Verdict.UNLABELLED
    if new == gold:
        return Verdict.FIXED
    return Verdict.BROKEN if current == gold else Verdict.BOTH_WRONG


def _departments(gold: Sequence[str | None], current: Sequence[Answer], new: Sequence[Answer]) -> list[DepartmentRow]:
    names = {g for g in gold if g} | {a.lead for a in (*current, *new) if a.lead}
    rows = []
    for name in names:
        own = [i for i, g in enumerate(gold) if g == name]
        rows.append(
            DepartmentRow(
                department=name,
                proposals=len(own),
                current_accuracy=_share(sum(current[i].lead == name for i in own), len(own)),
                new_accuracy=_share(sum(new[i].lead == name for i in own), len(own)),
                current_routed=sum(a.lead == name for a in current),
                new_routed=sum(a.lead == name for a in new),
                current_auto=sum(a.lead == name and a.decision == Decision.AUTO for a in current),
                new_auto=sum(a.lead == name and a.decision == Decision.AUTO for a in new),
            )
        )
    return sorted(rows, key=lambda r: (-r.proposals, -r.new_routed, r.department))


def compare_bundles(new: Router, current: Router, examples: Sequence[Example]) -> Comparison:
    """Route `examples` with both bundles and set their answers side by side (all in `new`'s names)."""
    proposals = [_proposal(e) for e in examples]
    new_results, current_results = new.route(proposals), current.route(proposals)
    new_answers = [_answer(r, new) for r in new_results]
    current_answers = [_answer(r, new) for r in current_results]
    gold = [_gold(new, e) for e in examples]
    changes = [
        Change(
            id=e.id,
            title=_title(e),
            row=e.row,
            gold_lead=g,
            current=c,
            new=n,
            verdict=_verdict(g, c.lead, n.lead),
        )
        for e, g, c, n in zip(examples, gold, current_answers, new_answers, strict=True)
        if c.lead != n.lead
    ]
    order = {Verdict.BROKEN: 0, Verdict.FIXED: 1, Verdict.BOTH_WRONG: 2, Verdict.UNLABELLED: 3}
    changes.sort(key=lambda c: (order[c.verdict], -(c.new.confidence or 0.0)))
    verdicts = Counter(c.verdict for c in changes)
    moves = Counter(
        f"{c.decision.value}_to_{n.decision.value}"
        for c, n in zip(current_answers, new_answers, strict=True)
        if c.decision != n.decision
    )
    return Comparison(
        n=len(examples),
        n_lead=sum(g is not None for g in gold),
        n_topic=sum(e.topic is not None for e in examples),
        current=_side(current, examples, current_results),
        new=_side(new, examples, new_results),
        departments=_departments(gold, current_answers, new_answers),
        changes=changes,
        verdicts={v: verdicts[v] for v in Verdict},
        decision_changes={k: moves[k] for k in ("auto_to_review", "review_to_auto")},
    )
