"""审查立案 flags: grounds on which the committee would not accept a filing (不予立案), with the sentence
that triggered each, for the reviewer to confirm or dismiss. A flag never rejects on its own.

The grounds are those of the CPPCC proposal rules. A bundle trained with rejected filings (their ground
as label) carries a character n-gram TF-IDF classifier over "proper" and the grounds in
`serving/screening/` (its labels and threshold in the manifest); a filing is flagged when its probability of
not being proper clears the threshold training chose on out-of-fold predictions, so that few proper
proposals are flagged. The evidence is the sentence that on its own scores highest for the ground.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from proposal_router.model.calibration import softmax
from proposal_router.model.tfidf import TfidfScorer

SCREENING = "screening"  # the folder under serving/
PROPER = "proper"
_SENTENCES = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")


class Ground(StrEnum):
    """Why a filing would not be accepted as a proposal (不予立案的情形)."""

    STATE_SECRET = "state_secret"
    PROHIBITED = "prohibited"
    PARTY_PERSONNEL = "party_personnel"
    PARTY_INTERNAL = "party_internal"
    LITIGATION = "litigation"
    ACADEMIC = "academic"
    PERSONAL = "personal"
    PROMOTION = "promotion"
    ACCUSATION = "accusation"
    EMPTY = "empty"


GROUND_NAMES = {
    Ground.STATE_SECRET: "涉及国家秘密",
    Ground.PROHIBITED: "涉及国家明令禁止的事项",
    Ground.PARTY_PERSONNEL: "党员对党内人事问题的意见",
    Ground.PARTY_INTERNAL: "民主党派、工商联的内部事务",
    Ground.LITIGATION: "已进入诉讼、仲裁或行政复议程序的案件",
    Ground.ACADEMIC: "属学术理论探讨",
    Ground.PERSONAL: "个人或亲属的求决事项",
    Ground.PROMOTION: "宣传推广产品、企业或作品",
    Ground.ACCUSATION: "检举揭发具体人员",
    Ground.EMPTY: "内容空泛，没有具体建议",
}
GROUND_DESCRIPTIONS = {  # what can be said of each ground: training learns from these as well as from rows
    Ground.STATE_SECRET: "提案涉及国家秘密、军事设施部署、涉密数据和保密文件内容，不宜公开讨论",
    Ground.PROHIBITED: "提案要求开办或放开国家明令禁止的活动，如赌博、彩票私售、违禁品经营",
    Ground.PARTY_PERSONNEL: "党员委员对党内干部任免、提拔、考察等人事问题提出意见",
    Ground.PARTY_INTERNAL: "民主党派或工商联机关内部的组织建设、经费、办公用房、会员发展等内部事务",
    Ground.LITIGATION: "某一具体案件已经起诉、判决、仲裁或申请行政复议，请求改变案件处理结果",
    Ground.ACADEMIC: "就学术理论、历史考据或学说观点进行探讨，不提出需要政府办理的具体事项",
    Ground.PERSONAL: "为本人或亲属解决工作调动、入学、职称、待遇、补贴等个人求决事项",
    Ground.PROMOTION: "宣传推介某个企业、产品、品牌或作品，请求政府推广采购",
    Ground.ACCUSATION: "检举揭发某位具体人员的违纪违法问题，请求查处",
    Ground.EMPTY: "表达感想、赞扬或泛泛号召，内容空泛，没有提出具体可办理的建议",
}


class Flag(BaseModel):
    """One ground a filing may fall under: its code, a message in Chinese and the sentence behind it."""

    code: Ground
    message: str
    evidence: str = Field(description="the sentence of the filing that weighed most for the ground")
    confidence: float


class ScreeningInfo(BaseModel):
    """What training chose, kept in the manifest."""

    labels: list[str] = Field(description=f"{PROPER!r} then the grounds, in the classifier's column order")
    threshold: float = Field(description="least probability of not being proper that raises a flag")
    metrics: dict[str, float] = Field(default_factory=dict)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.findall(text) if s.strip()]


class Screener:
    """The classifier of a bundle's serving/screening/ and the threshold training chose for it."""

    def __init__(self, serving: Path, info: ScreeningInfo) -> None:
        self.scorer = TfidfScorer(serving / SCREENING)
        self.labels, self.threshold = info.labels, info.threshold
        self.proper = self.labels.index(PROPER)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return softmax(self.scorer.logits(texts)["ground"], 1.0)

    def flags(self, texts: list[str]) -> list[list[Flag]]:
        """Each text's flags: none, or its most probable ground when not-proper clears the threshold."""
        probs = self.probabilities(texts) if texts else np.zeros((0, len(self.labels)))
        out: list[list[Flag]] = []
        for text, row in zip(texts, probs, strict=True):
            improper = 1.0 - float(row[self.proper])
            if improper < self.threshold:
                out.append([])
                continue
            grounds = [i for i in np.argsort(-row) if i != self.proper]
            column = int(grounds[0])
            ground = Ground(self.labels[column])
            out.append(
                [
                    Flag(
                        code=ground,
                        message=f"可能{GROUND_NAMES[ground]}，建议审查是否立案",
                        evidence=self._evidence(text, column),
                        confidence=round(improper, 4),
                    )
                ]
            )
        return out

    def _evidence(self, text: str, column: int) -> str:
        parts = sentences(text) or [text]
        scores = self.probabilities(parts)[:, column]
        return parts[int(np.argmax(scores))][:200]
