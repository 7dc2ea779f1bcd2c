"""The routing policy: route automatically only what the calibrated confidence says is safe."""

from __future__ import annotations

import math
from collections.abc import Sequence

from proposal_router.model.manifest import NEVER_AUTO, RoutingSettings
from proposal_router.model.schemas import Candidate, ReasonCode, ReviewReason
from proposal_router.model.screening import GROUND_NAMES, Flag


def review_reason(
    settings: RoutingSettings, text: str, candidates: list[Candidate], flags: Sequence[Flag] = ()
) -> ReviewReason | None:
    """None means route automatically; otherwise the first reason a reviewer should know. A filing flagged
    for 审查立案 is never routed automatically: whether to accept it comes before where it goes."""
    if flags:
        grounds = "、".join(GROUND_NAMES[f.code] for f in flags)
        return ReviewReason(code=ReasonCode.SCREENING_FLAG, message=f"可能不予立案（{grounds}），请先审查是否立案")
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
    if settings.lead_threshold >= NEVER_AUTO:
        return ReviewReason(
            code=ReasonCode.NO_SAFE_THRESHOLD,
            message=f"模型的验证数据不足以证明自动交办可达到{_percent(settings.target_precision)}精度，全部人工复核",
        )
    shown = below(top.confidence, settings.lead_threshold)
    return ReviewReason(
        code=ReasonCode.LOW_CONFIDENCE, message=f"主办单位置信度{shown}低于自动交办阈值{above(settings.lead_threshold)}"
    )


def below(confidence: float, threshold: float) -> str:
    """The confidence with the fewest digits (at least two) that still show it below the threshold: rounded
    down, never up to the threshold it failed (0.996 against 0.997 reads 0.996, not 1.00)."""
    for digits in range(2, 7):
        scale = 10**digits
        shown = math.floor(confidence * scale + 1e-9) / scale  # 1e-9: 0.29 * 100 is 28.999…
        if shown < threshold and math.floor(threshold * scale + 1e-9) / scale > shown:
            return f"{shown:.{digits}f}"
    return f"{confidence:.6f}"


def above(threshold: float) -> str:
    """The threshold with the fewest digits (at least three) rounded up and still under 1: 0.955897 reads
    0.956, 0.999991 reads 0.999991 (not 1), so a confidence shown below it is below the real one."""
    for digits in range(3, 7):
        shown = math.ceil(threshold * 10**digits - 1e-9) / 10**digits
        if shown < 1.0 or threshold >= 1.0:
            return f"{shown:.{digits}f}"
    return f"{threshold:.6f}"


def _percent(precision: float) -> str:
    return f"{precision * 100:g}%"
