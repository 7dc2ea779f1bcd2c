"""`Router`: the one runtime entry point. Loads a bundle and turns proposals into routing decisions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array, sigmoid, softmax
from proposal_router.model.cases import CaseScorer
from proposal_router.model.encoder import DocumentEmbedder, TransformerScorer
from proposal_router.model.errors import BundleError
from proposal_router.model.manifest import (
    ENCODER_FILES,
    SERVING,
    BundleManifest,
    HeadName,
    HeadSpec,
    Precision,
    load_manifest,
)
from proposal_router.model.mentions import MentionScorer
from proposal_router.model.policy import review_reason
from proposal_router.model.prior import LeadPrior
from proposal_router.model.quality import QualityWarning, check_form, several_asks
from proposal_router.model.reform import Reform, bundle_taxonomy, check_taxonomy
from proposal_router.model.schemas import Candidate, Decision, Proposal, RoutingResult
from proposal_router.model.screening import Flag, Screener
from proposal_router.model.taxonomy import Taxonomy
from proposal_router.model.text import WindowTokenizer
from proposal_router.model.tfidf import TfidfScorer


def combine(head: HeadSpec, component_logits: dict[str, dict[str, Array]], name: str) -> Array:
    """Calibrated probabilities of one head from the weighted logits of every component."""
    total: Array | None = None
    for component, weight in head.weights.items():
        if weight == 0.0:
            continue
        z = component_logits[component][name] * weight
        total = z if total is None else total + z
    if total is None:
        raise BundleError(f"预测项 {name!r} 没有权重非零的组件：模型包已损坏，请重新训练")
    total = total + head.bias
    return softmax(total, head.temperature) if head.kind == "softmax" else sigmoid(total, head.temperature)


def stack(
    heads: dict[HeadName, HeadSpec], logits: dict[str, dict[str, Array]], prior: LeadPrior | None
) -> dict[str, Array]:
    """Every head's probabilities; the lead comes first since the prior of topic and co reads it."""
    probs: dict[str, Array] = {}
    if "lead" in heads:
        probs["lead"] = combine(heads["lead"], logits, "lead")
        if prior is not None:
            logits = {**logits, "prior": prior.logits(probs["lead"])}
    for name, head in heads.items():
        if name != "lead":
            probs[name] = combine(head, logits, name)
    return {name: probs[name] for name in heads}


MAX_CO = 3


def rank(labels: list[str], probs: Array, k: int) -> list[Candidate]:
    """The k most probable labels of one row; evaluation uses this too, so ties break as in serving."""
    order = np.argsort(-probs)[:k]
    return [Candidate(name=labels[i], confidence=round(float(probs[i]), 6)) for i in order]


def suggest_co(labels: list[str], probs: Array, threshold: float, lead: str | None) -> list[Candidate]:
    """Co-departments above their threshold, never the lead itself, at most MAX_CO."""
    ranked = rank(labels, probs, MAX_CO + 1)
    return [c for c in ranked if c.confidence >= threshold and c.name != lead][:MAX_CO]


class Router:
    """Predict topic, lead and co-departments with calibrated confidence, then apply the routing policy."""

    def __init__(
        self,
        directory: str | Path,
        threads: int | None = None,
        encoder_file: str | None = None,
        verify: bool = True,
        precision: Precision | None = None,
        taxonomy: Taxonomy | None = None,
        manifest: BundleManifest | None = None,
    ) -> None:
        """`precision` picks an exported encoder (fp32/int8); by default the one the manifest serves.

        Only the bundle's serving/ part is read (and checked against the manifest). `manifest` is one in hand,
        used instead of the file: training builds its router before the manifest is final and written once.
        `taxonomy` is the one the router is used with; when it is not the bundle's own (`reform`), the
        outputs are given in its names (see reform.py) and the bundle's own taxonomy still resolves the
        names it was trained with.
        """
        self.directory = Path(directory)
        serving = self.directory / SERVING
        self.manifest: BundleManifest = (
            manifest if manifest is not None else load_manifest(self.directory, verify, parts=(SERVING,))
        )
        self.bundle_taxonomy = bundle_taxonomy(self.directory, self.manifest)
        self.taxonomy = taxonomy or self.bundle_taxonomy
        self.reform: Reform | None = check_taxonomy(self.manifest, self.bundle_taxonomy, taxonomy)
        self.labels: dict[str, list[str]] = {
            name: self.reform.apply(head, np.zeros((0, len(head.labels))))[0] if self.reform else head.labels
            for name, head in self.manifest.heads.items()
        }
        components = self.manifest.components
        self.tfidf = TfidfScorer(serving / "baseline") if "baseline" in components else None
        self.mentions = MentionScorer.load(serving) if "mentions" in components else None
        self.cases = CaseScorer.load(serving) if "cases" in components else None
        self.prior = LeadPrior.load(serving) if "prior" in components else None
        info = self.manifest.screening
        self.screener = Screener(serving, info) if info is not None else None
        self.encoder: DocumentEmbedder | None = None
        if "transformer" in components or "cases" in components:
            text = self.manifest.text
            if precision is not None and precision not in self.manifest.exports:
                exported = ", ".join(self.manifest.exports) or "none"
                raise BundleError(f"{self.directory}：没有 {precision} 编码器（已导出：{exported}）：请先运行 export")
            encoder = encoder_file or (ENCODER_FILES[precision] if precision else self.manifest.encoder_file)
            if text is None or encoder is None:
                raise BundleError(f"{self.directory}：transformer 模型包缺少文本设置或编码器文件：请重新训练")
            tokenizer = WindowTokenizer(serving / "tokenizer.json", text)
            scorer = TransformerScorer if "transformer" in components else DocumentEmbedder
            self.encoder = scorer(serving, tokenizer, encoder, threads)

    @property
    def version(self) -> str:
        return self.manifest.version

    def component_logits(self, texts: list[str], docs: Array | None = None) -> dict[str, dict[str, Array]]:
        """Each component's logits per head; `docs` replaces the ONNX encoder's vectors (export parity)."""
        logits: dict[str, dict[str, Array]] = {}
        if self.tfidf is not None:
            logits["baseline"] = self.tfidf.logits(texts)
        if self.mentions is not None:
            logits["mentions"] = self.mentions.logits(texts)
        if self.encoder is not None:
            vectors = self.encoder.embeddings(texts) if docs is None else docs
            if isinstance(self.encoder, TransformerScorer):
                logits["transformer"] = self.encoder.head_logits(vectors)
            if self.cases is not None:
                logits["cases"] = self.cases.logits(vectors)
        return logits

    def probabilities(self, texts: list[str], docs: Array | None = None) -> dict[str, Array]:
        """Calibrated probabilities per head (`topic`, `lead`, `co`) for each text, in order; the columns are
        `labels[head]`, the served names (a reform's merged departments summed)."""
        probs = stack(self.manifest.heads, self.component_logits(texts, docs), self.prior)
        if self.reform is None:
            return probs
        heads = self.manifest.heads
        return {name: self.reform.apply(heads[name], probs[name])[1] for name in heads}

    def department(self, name: str) -> str | None:
        """A department name, alias or former name (of the given or the bundle's taxonomy) as a served name."""
        known = list(dict.fromkeys(self.labels.get("lead", []) + self.labels.get("co", [])))
        if self.reform is not None:
            return self.reform.name(name, known)
        resolved = self.taxonomy.resolve_department(name) if self.taxonomy is not None else None
        return next((n for n in (name, resolved) if n in known), None)

    def route(self, proposals: Sequence[Proposal]) -> list[RoutingResult]:
        texts = [p.text for p in proposals]
        probs = self.probabilities(texts)
        flags = self.screener.flags(texts) if self.screener is not None else [[] for _ in texts]
        return [
            self._result(p, t, {h: v[i] for h, v in probs.items()}, flags[i])
            for i, (p, t) in enumerate(zip(proposals, texts, strict=True))
        ]

    def _quality(self, proposal: Proposal) -> list[QualityWarning]:
        warnings = check_form(proposal.title, proposal.body)
        several = several_asks(proposal.title, proposal.body, self.tfidf.cosine) if self.tfidf is not None else None
        return [*warnings, several] if several is not None else warnings

    def _result(self, proposal: Proposal, text: str, probs: dict[str, Array], flags: list[Flag]) -> RoutingResult:
        labels = self.labels
        topic = rank(labels["topic"], probs["topic"], 1)[0] if "topic" in labels else None
        candidates = rank(labels["lead"], probs["lead"], 3) if "lead" in labels else []
        lead_name = candidates[0].name if candidates else None
        co = suggest_co(labels["co"], probs["co"], self.manifest.co_threshold(), lead_name) if "co" in labels else []
        reason = review_reason(self.manifest.routing, text, candidates, flags)
        return RoutingResult(
            id=proposal.id,
            topic=topic,
            lead_department=candidates[0] if candidates else None,
            co_departments=co,
            candidates=candidates,
            decision=Decision.AUTO if reason is None else Decision.REVIEW,
            reason=reason,
            model_version=self.version,
            screening=flags,
            quality=self._quality(proposal),
        )
