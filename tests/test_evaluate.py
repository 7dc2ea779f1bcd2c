"""Evaluation metrics on hand-built cases whose right answers were worked out on paper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.text import Text

from proposal_router.model.manifest import RoutingSettings
from proposal_router.training import evaluate
from proposal_router.training.data import Example
from proposal_router.training.evaluate import Evaluation, compute_metrics, write_evaluation

EDU, HEALTH, TRAFFIC, POLICE = "教育局", "卫健委", "交通局", "公安局"
LEADS = [EDU, HEALTH, TRAFFIC, POLICE]
TOPICS = ["教育", "卫生", "交通"]
LONG = "关于进一步加强城市公共服务设施建设的建议"
ROUTING = RoutingSettings(lead_threshold=0.85, target_precision=0.9, min_chars=10, tie_margin=0.1)

# (gold lead, lead probabilities over LEADS); the last two rows have no known lead.
LEAD_ROWS: list[tuple[str | None, list[float]]] = [
    (EDU, [0.90, 0.04, 0.03, 0.03]),  # right, auto
    (EDU, [0.80, 0.10, 0.05, 0.05]),  # right, low confidence
    (EDU, [0.05, 0.90, 0.03, 0.02]),  # EDU → HEALTH, auto and wrong
    (EDU, [0.45, 0.50, 0.03, 0.02]),  # EDU → HEALTH, near tie
    (HEALTH, [0.02, 0.95, 0.02, 0.01]),  # right, auto
    (HEALTH, [0.10, 0.80, 0.05, 0.05]),  # right, low confidence
    (HEALTH, [0.15, 0.05, 0.60, 0.20]),  # HEALTH → TRAFFIC, gold ranked 4th
    (TRAFFIC, [0.03, 0.02, 0.92, 0.03]),  # right, auto
    (TRAFFIC, [0.10, 0.05, 0.80, 0.05]),  # right, low confidence
    (TRAFFIC, [0.05, 0.05, 0.85, 0.05]),  # right, but the text is too short
    (None, [0.01, 0.01, 0.01, 0.97]),  # would add POLICE to the macro-F1 labels if counted
    (None, [0.97, 0.01, 0.01, 0.01]),
]
# gold topic → predicted topic for the first eight rows; the rest have no known topic.
TOPIC_ROWS = [(0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (2, 2), (2, 2), (2, 0)]
# (gold co-departments, co probabilities over LEADS) for the first four rows; the rest are unknown.
CO_ROWS: list[tuple[list[str], list[float]]] = [
    ([HEALTH], [0.9, 0.7, 0.1, 0.1]),  # EDU is the predicted lead: excluded → {HEALTH}, 1 hit
    ([TRAFFIC], [0.6, 0.2, 0.6, 0.55]),  # EDU excluded → {TRAFFIC, POLICE}, 1 hit, 1 false
    ([EDU], [0.1, 0.9, 0.1, 0.1]),  # HEALTH is the predicted lead: excluded → {}, 1 miss
    ([], [0.2, 0.2, 0.2, 0.2]),
]


def _confident(pred: int, k: int, p: float = 0.8) -> list[float]:
    return [p if j == pred else (1 - p) / (k - 1) for j in range(k)]


def _evaluation(heads: tuple[str, ...] = ("topic", "lead", "co")) -> Evaluation:
    examples = []
    for i, (lead, _) in enumerate(LEAD_ROWS):
        topic = TOPICS[TOPIC_ROWS[i][0]] if i < len(TOPIC_ROWS) else None
        co = CO_ROWS[i][0] if i < len(CO_ROWS) else None
        text = "交通" if i == 9 else f"{LONG}（第{i}号）"
        examples.append(Example(id=f"P{i:02d}", text=text, topic=topic, lead=lead, co=co))
    topic_pred = [p for _, p in TOPIC_ROWS] + [0] * (len(LEAD_ROWS) - len(TOPIC_ROWS))
    probs = {
        "topic": np.array([_confident(p, len(TOPICS)) for p in topic_pred]),
        "lead": np.array([p for _, p in LEAD_ROWS]),
        "co": np.array([p for _, p in CO_ROWS] + [[0.9] * 4] * (len(LEAD_ROWS) - len(CO_ROWS))),
    }
    labels = {"topic": TOPICS, "lead": LEADS, "co": LEADS}
    return Evaluation(
        examples=examples,
        probs={h: probs[h] for h in heads},
        labels={h: labels[h] for h in heads},
        routing=ROUTING,
    )


def test_lead_metrics_exclude_unknown_rows() -> None:
    lead = compute_metrics(_evaluation())["lead_department"]
    assert lead["n"] == 10
    assert lead["accuracy"] == pytest.approx(0.7)
    assert lead["top3_accuracy"] == pytest.approx(0.9)
    # F1: EDU 2/3 (P 1, R 1/2), HEALTH 4/7 (P 1/2, R 2/3), TRAFFIC 6/7 (P 3/4, R 1); POLICE never seen.
    assert lead["macro_f1"] == pytest.approx((2 / 3 + 4 / 7 + 6 / 7) / 3)


def test_topic_metrics() -> None:
    topic = compute_metrics(_evaluation())["topic"]
    assert topic == pytest.approx({"accuracy": 0.75, "macro_f1": (2 / 3 + 0.8 + 0.8) / 3, "n": 8})


def test_co_micro_f1_excludes_predicted_lead() -> None:
    co = compute_metrics(_evaluation())["co_departments"]
    assert co == pytest.approx(
        {
            "micro_f1": 2 / 3,
            "precision": 2 / 3,
            "recall": 2 / 3,
            "rows_with_suggestions": 2,
            "suggestions_with_one_right": 1.0,
            "n": 4,
        }
    )


def test_co_without_lead_head_keeps_every_label() -> None:
    co = compute_metrics(_evaluation(("topic", "co")))["co_departments"]
    # Predicted sets {EDU, HEALTH}, {EDU, TRAFFIC, POLICE}, {HEALTH}, {}: 2 hits of 6 predicted, 3 gold.
    # Rows with suggestions: 0 (HEALTH right), 1 (TRAFFIC right), 2 (none right).
    assert co == pytest.approx(
        {
            "micro_f1": 4 / 9,
            "precision": 1 / 3,
            "recall": 2 / 3,
            "rows_with_suggestions": 3,
            "suggestions_with_one_right": 2 / 3,
            "n": 4,
        }
    )


def test_routing_follows_the_serving_policy() -> None:
    routing = compute_metrics(_evaluation())["routing"]
    # Auto: rows 0, 2, 4, 7 (one wrong); row 9 clears the threshold but its text is too short.
    assert routing.pop("reasons") == {"low_confidence": 4, "near_tie": 1, "text_too_short": 1}
    # Auto-routed to EDU: row 0 (right); to HEALTH: rows 2 (wrong) and 4; to TRAFFIC: row 7.
    departments = routing.pop("departments")
    assert [(d["department"], d["proposals"], d["auto_routed"]) for d in departments] == [
        (EDU, 4, 1),
        (TRAFFIC, 3, 1),
        (HEALTH, 3, 2),
    ]
    health = departments[2]
    assert health["precision"] == 0.5 and health["coverage"] == pytest.approx(1 / 3)
    assert 0 < health["precision_lower"] < 0.5
    assert routing.pop("aurc") == pytest.approx(
        evaluate.aurc(
            np.array([p for _, p in LEAD_ROWS[:10]]).max(1),
            np.array([True, True, False, False, True, True, False, True, True, True]),
        )
    )
    assert routing == pytest.approx(
        {
            "threshold": 0.85,
            "target_precision": 0.9,
            "auto_precision": 0.75,
            "coverage": 0.4,
            "n_auto": 4,
            "n_review": 6,
        }
    )


def test_aurc_is_the_mean_error_of_the_most_confident_rows() -> None:
    # Most confident first: right (risk 0), wrong (1/2), right (1/3).
    assert evaluate.aurc(np.array([0.9, 0.8, 0.7]), np.array([True, False, True])) == pytest.approx(5 / 18)
    assert evaluate.aurc(np.array([0.7, 0.8, 0.9]), np.array([True, False, True])) == pytest.approx(5 / 18)
    assert evaluate.aurc(np.array([0.9, 0.8]), np.array([True, True])) == 0.0


def test_routing_rounds_confidence_like_serving() -> None:
    ev = Evaluation(
        examples=[Example(id="a", text=LONG, lead=EDU)],
        probs={"lead": np.array([[0.8499999996, 0.1500000004]])},
        labels={"lead": [EDU, HEALTH]},
        routing=ROUTING,
    )
    assert compute_metrics(ev)["routing"]["n_auto"] == 1


def test_routing_without_auto_rows_has_no_precision() -> None:
    ev = _evaluation()
    ev.routing = RoutingSettings(lead_threshold=1.01)
    routing = compute_metrics(ev)["routing"]
    assert routing["auto_precision"] is None
    assert routing["coverage"] == 0.0


def _calibration_case(confidence: list[float], correct: list[bool]) -> Evaluation:
    examples = [Example(id=str(i), text=LONG, lead=EDU if ok else HEALTH) for i, ok in enumerate(correct)]
    probs = np.array([[c, 1 - c] for c in confidence])
    return Evaluation(examples, {"lead": probs}, {"lead": [EDU, HEALTH]}, ROUTING)


def test_ece_is_zero_when_calibrated() -> None:
    # Two bins: confidence 0.6 with 3 of 5 right, confidence 0.9 with 9 of 10 right.
    ev = _calibration_case([0.6] * 5 + [0.9] * 10, [True] * 3 + [False] * 2 + [True] * 9 + [False])
    assert compute_metrics(ev)["calibration"] == pytest.approx({"ece": 0.0, "n_bins": 10}, abs=1e-12)


def test_ece_measures_overconfidence() -> None:
    ev = _calibration_case([0.95] * 10, [True] * 5 + [False] * 5)
    assert compute_metrics(ev)["calibration"]["ece"] == pytest.approx(0.45)


def test_absent_heads_and_unknown_labels_drop_their_groups() -> None:
    ev = _evaluation(("topic", "co"))
    for example in ev.examples:
        example.co = None
    metrics = compute_metrics(ev)
    assert set(metrics) == {"topic", "calibration"}
    # Calibration falls back to the topic head: eight rows at confidence 0.8 with six right.
    assert metrics["calibration"]["ece"] == pytest.approx(0.05)


def test_misaligned_probabilities_are_rejected() -> None:
    with pytest.raises(ValueError, match="lead"):
        Evaluation([Example(id="a", text=LONG, lead=EDU)], {"lead": np.ones((2, 4))}, {"lead": LEADS}, ROUTING)


def test_write_evaluation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate, "_cjk_font", lambda: None)
    out = tmp_path / "eval"
    metrics = write_evaluation(out, _evaluation(), "测试评估")

    assert sorted(p.name for p in out.iterdir()) == [
        "confusion_lead.png",
        "metrics.json",
        "reliability.png",
        "report.md",
        "risk_coverage.png",
    ]
    for name in ("confusion_lead.png", "reliability.png", "risk_coverage.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == metrics
    assert "lead_department" in metrics and "auto_precision" in metrics["routing"]  # identifiers stay English

    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# 测试评估\n\n## 概要\n\n| 指标 | 数值 |")
    assert "| 主办单位准确率 | 0.700 |" in report
    assert "## 主办单位：各类别指标" in report and "| 类别 | 样本数 | 精确率 | 召回率 | F1 |" in report
    assert "## 最常见的混淆（主办单位，真实 → 预测）" in report
    assert f"| {EDU} | {HEALTH} | 2 | `P02`: {LONG}（第2号）<br>`P03`:" in report
    assert "| 内容过短 | text_too_short | 1 |" in report
    assert "| 单位 | 提案数 | 自动交办给该单位 | 精确率 | 覆盖率 |" in report
    assert "有已知真实标签的行数：主办单位 10 行，主题 8 行，协办单位 4 行。" in report
    assert "apt-get install fonts-noto-cjk" in report
    assert f"| 3 | {TRAFFIC} |" in report  # numbered axis legend, since no CJK font was available
    assert "(confusion_lead.png)" in report
    for english in ("Summary", "Metric", "Routing", "Department", "Plots", "accuracy"):
        assert english not in report


def _cjk_installed() -> bool:
    return any("NotoSansCJK" in Path(p).name for p in font_manager.findSystemFonts())


needs_cjk = pytest.mark.skipif(not _cjk_installed(), reason="fonts-noto-cjk is not installed")


@needs_cjk
def test_a_stale_font_cache_is_rebuilt_to_find_noto_sans_cjk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache matplotlib built before fonts-noto-cjk was installed: no CJK font in it.
    stale = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    cache = tmp_path / "fontlist.json"
    monkeypatch.setattr(evaluate, "_font_cache", lambda: cache)

    assert evaluate._cjk_font() == "Noto Sans CJK SC"
    assert "Noto Sans CJK SC" in {f.name for f in font_manager.fontManager.ttflist}
    assert "Noto Sans CJK SC" in cache.read_text(encoding="utf-8")  # the next run reads the fixed cache


def test_without_a_cjk_font_a_chinese_warning_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    cache = tmp_path / "fontlist.json"
    cache.write_text("{}", encoding="utf-8")
    monkeypatch.setattr(evaluate, "_font_cache", lambda: cache)

    assert evaluate._cjk_font() is None
    err = capsys.readouterr().err
    assert "未找到中文字体" in err and "apt-get install fonts-noto-cjk" in err
    assert not cache.exists()  # deleted, so matplotlib rebuilds it once the font is installed


@needs_cjk
def test_every_text_of_the_plots_is_drawn_in_the_cjk_font(tmp_path: Path) -> None:
    font = evaluate._cjk_font()
    assert font == "Noto Sans CJK SC"
    lead = evaluate._head(_evaluation(), "lead")
    assert lead is not None
    figures = [
        evaluate._plot_confusion(lead, font, tmp_path / "c.png"),
        evaluate._plot_reliability(lead, font, tmp_path / "r.png"),
        evaluate._plot_risk_coverage(lead, font, 0.85, 0.9, tmp_path / "k.png"),
    ]
    titles = [fig.axes[0].get_title() for fig in figures]
    assert titles[0] == "主办单位混淆矩阵（按行归一化）"
    assert titles[1].startswith("主办单位可靠性图") and titles[2].startswith("置信度阈值变化时的风险-覆盖曲线")
    for fig in figures:
        texts = [t for t in fig.findobj(Text) if t.get_text()]
        assert any(t.get_text() == EDU for t in texts) or fig is not figures[0]
        legend = fig.axes[0].get_legend()
        assert legend is None or all(
            "准确率" in t.get_text() or "校准" in t.get_text() or "目标" in t.get_text() or "阈值" in t.get_text()
            for t in legend.get_texts()
        )
        for text in texts:
            path = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
            assert "NotoSansCJK" in Path(path).name, (text.get_text(), path)
