"""The routing policy: route automatically only what the calibrated confidence says is safe."""

from __future__ import annotations

from proposal_router.model.manifest import RoutingSettings
from proposal_router.model.schemas import Candidate, ReasonCode, ReviewReason


def review_reason(settings: RoutingSettings, text: str, candidates: list[Candidate]) -> ReviewReason | None:
    """None means route automatically; otherwise the first reason a reviewer should know."""
    if len("".join(text.split())) < settings.min_chars:
        return ReviewReason(
            code=ReasonCode.TEXT_TOO_SHORT, message=f"文本过短（少于{settings.min_chars}字），无法可靠判断主办单位"
        )
    if not candidates:
        return ReviewReason(code=ReasonCode.NO_LEAD_MODEL, message="模型未训练主办单位，需人工指定")
    top = candidates[0]
    if top.confidence >= settings.lead_threshold:
        return None
    if len(candidates) > 1 and top.confidence - candidates[1].confidence < settings.tie_margin:
        second = candidates[1]
        return ReviewReason(
            code=ReasonCode.NEAR_TIE,
            message=f"{top.name}（{top.confidence:.2f}）与{second.name}（{second.confidence:.2f}）难以区分",
        )
    return ReviewReason(
        code=ReasonCode.LOW_CONFIDENCE,
        message=f"主办单位置信度{top.confidence:.2f}低于自动交办阈值{settings.lead_threshold:.2f}",
    )
