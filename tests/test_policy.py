"""The review reasons a reviewer reads: in words, never a confidence rounded up to the threshold it failed."""

from __future__ import annotations

import re

import pytest

from proposal_router.model.manifest import NEVER_AUTO, RoutingSettings
from proposal_router.model.policy import below, review_reason
from proposal_router.model.schemas import Candidate, ReasonCode
from proposal_router.service.labels import REASONS

TEXT = "关于加快老旧小区加装电梯改造进度的建议，居民上下楼困难，希望住建部门统筹推进"


def candidates(*confidences: float) -> list[Candidate]:
    return [Candidate(name=f"单位{i}", confidence=c) for i, c in enumerate(confidences)]


def test_never_auto_says_why_once_without_comparing_numbers() -> None:
    settings = RoutingSettings(lead_threshold=NEVER_AUTO, target_precision=0.95)
    reason = review_reason(settings, TEXT, candidates(0.996, 0.002))
    assert reason is not None and reason.code == ReasonCode.NO_SAFE_THRESHOLD
    assert reason.message == "模型的验证数据不足以证明自动交办可达到95%精度，全部人工复核"
    assert "1.01" not in reason.message and "阈值" not in reason.message
    assert REASONS[reason.code] == "未达可自动交办条件"


def test_the_target_precision_is_the_bundles() -> None:
    reason = review_reason(RoutingSettings(target_precision=0.9), TEXT, candidates(0.5, 0.1))
    assert reason is not None and "90%精度" in reason.message


@pytest.mark.parametrize(
    ("confidence", "threshold"),
    [(0.996, 0.997), (0.9949, 0.995), (0.5, 0.97), (0.29, 0.3), (0.99999, 0.999991), (0.94, 0.955897)],
)
def test_a_low_confidence_is_shown_below_its_threshold(confidence: float, threshold: float) -> None:
    reason = review_reason(RoutingSettings(lead_threshold=threshold), TEXT, candidates(confidence, 0.0))
    assert reason is not None and reason.code == ReasonCode.LOW_CONFIDENCE
    shown, limit = (float(x) for x in re.findall(r"\d+\.\d+", reason.message))
    assert shown <= confidence and shown < threshold <= limit < threshold + 1e-3  # the limit rounded up, never down


def test_the_confidence_keeps_two_digits_when_they_suffice() -> None:
    assert below(0.5, 0.97) == "0.50"
    assert below(0.996, 0.997) == "0.996"
    assert below(0.969, 0.97) == "0.96"


def test_every_reason_code_has_a_chinese_label() -> None:
    assert set(REASONS) == {code.value for code in ReasonCode}
