"""Held-out evaluation: the numbers and pictures that decide whether a bundle may route without a human."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from proposal_router.model.calibration import Array, wilson_lower
from proposal_router.model.manifest import RoutingSettings
from proposal_router.model.policy import review_reason
from proposal_router.model.router import rank, suggest_co
from proposal_router.training.data import Example

N_BINS = 10
# Debian's fonts-noto-cjk first: the one scripts/install.sh installs and the tests check for.
_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Source Han Sans SC",
    "AR PL UMing CN",
)
_NO_CJK_FONT = (
    "警告：未找到中文字体（Noto Sans CJK SC），评估图的中文将无法显示，混淆矩阵坐标改用编号。"
    "请安装 Debian 的 fonts-noto-cjk：sudo apt-get install fonts-noto-cjk；"
    "已删除 matplotlib 的字体缓存 {cache}，安装后重新运行即可。"
)
_SUMMARY = (
    ("lead_department", "accuracy", "主办单位准确率"),
    ("lead_department", "top3_accuracy", "主办单位前三命中率"),
    ("lead_department", "macro_f1", "主办单位宏平均F1"),
    ("topic", "accuracy", "主题准确率"),
    ("topic", "macro_f1", "主题宏平均F1"),
    ("co_departments", "micro_f1", "协办单位微平均F1"),
    ("co_departments", "precision", "协办单位精确率"),
    ("co_departments", "recall", "协办单位召回率"),
    ("co_departments", "suggestions_with_one_right", "协办建议中至少对一个的比例"),
    ("routing", "auto_precision", "自动交办精确率"),
    ("routing", "coverage", "自动交办覆盖率"),
    ("calibration", "ece", "期望校准误差（ECE）"),
    ("routing", "aurc", "风险-覆盖曲线下面积（AURC）"),
)
_HEAD_TITLES = {"lead": "主办单位", "topic": "主题"}
_COUNTED = {"lead_department": "主办单位", "topic": "主题", "co_departments": "协办单位"}
# The reviewers' words for policy.review_reason's codes (service.labels.REASONS says the same).
_REASONS = {
    "low_confidence": "置信度低",
    "no_safe_threshold": "未达可自动交办条件",
    "near_tie": "两个单位接近",
    "text_too_short": "内容过短",
    "no_lead_model": "模型不含主办单位",
}


@dataclass
class Evaluation:
    """One held-out split: gold labels and the calibrated probabilities serving would have produced."""

    examples: list[Example]
    probs: dict[str, Array]
    labels: dict[str, list[str]]
    routing: RoutingSettings
    co_threshold: float = 0.5

    def __post_init__(self) -> None:
        """Misaligned rows or columns would not fail later, they would silently produce wrong numbers."""
        for head, probs in self.probs.items():
            expected = (len(self.examples), len(self.labels[head]))
            if probs.shape != expected:
                raise ValueError(f"probs[{head!r}] has shape {probs.shape}, expected {expected}")


@dataclass
class _Head:
    """A single-label head restricted to the rows whose gold label is known."""

    name: str
    labels: list[str]
    examples: list[Example]
    gold: list[str]
    probs: Array

    @cached_property
    def ranked(self) -> np.ndarray:
        # The same argsort as serving (model.router.rank), so ties break the same way.
        return np.argsort(-self.probs, axis=1)

    @cached_property
    def pred(self) -> list[str]:
        return [self.labels[i] for i in self.ranked[:, 0]]

    @cached_property
    def correct(self) -> np.ndarray:
        return np.array([g == p for g, p in zip(self.gold, self.pred, strict=True)])

    @cached_property
    def confidence(self) -> Array:
        top: Array = self.probs.max(axis=1)
        return top

    @cached_property
    def classes(self) -> list[str]:
        """Model columns first, then gold labels the model has no column for (they still count as errors)."""
        return self.labels + sorted(set(self.gold) - set(self.labels))


def _head(ev: Evaluation, name: str) -> _Head | None:
    if name not in ev.probs:
        return None
    rows = [i for i, e in enumerate(ev.examples) if getattr(e, name) is not None]
    if not rows:
        return None
    examples = [ev.examples[i] for i in rows]
    return _Head(name, ev.labels[name], examples, [getattr(e, name) for e in examples], ev.probs[name][rows])


def _single_metrics(h: _Head) -> dict[str, Any]:
    present = sorted(set(h.gold) | set(h.pred))
    return {
        "accuracy": float(h.correct.mean()),
        "macro_f1": float(f1_score(h.gold, h.pred, labels=present, average="macro", zero_division=0)),
    }


def _co_metrics(ev: Evaluation) -> dict[str, Any] | None:
    rows = [i for i, e in enumerate(ev.examples) if e.co is not None]
    if "co" not in ev.probs or not rows:
        return None
    names = ev.labels["co"]
    lead = [ev.labels["lead"][i] for i in np.argsort(-ev.probs["lead"], axis=1)[:, 0]] if "lead" in ev.probs else None
    hits = n_pred = n_gold = suggested_rows = any_right = 0
    for i in rows:
        suggested = suggest_co(names, ev.probs["co"][i], ev.co_threshold, None if lead is None else lead[i])
        predicted = {c.name for c in suggested}
        gold = set(ev.examples[i].co or [])
        hits, n_pred, n_gold = hits + len(predicted & gold), n_pred + len(predicted), n_gold + len(gold)
        suggested_rows += bool(predicted)
        any_right += bool(predicted & gold)
    return {
        "micro_f1": 2 * hits / (n_pred + n_gold) if n_pred + n_gold else 0.0,
        "precision": hits / n_pred if n_pred else 0.0,
        "recall": hits / n_gold if n_gold else 0.0,
        "rows_with_suggestions": suggested_rows,
        "suggestions_with_one_right": any_right / suggested_rows if suggested_rows else 0.0,
        "n": len(rows),
    }


def _reason_codes(settings: RoutingSettings, lead: _Head) -> list[str | None]:
    """The serving policy row by row, so precision and coverage are what production will actually see."""
    codes: list[str | None] = []
    for example, probs in zip(lead.examples, lead.probs, strict=True):
        candidates = rank(lead.labels, probs, 3)
        reason = review_reason(settings, example.text, candidates)
        codes.append(None if reason is None else reason.code)
    return codes


def aurc(confidence: Array, correct: np.ndarray) -> float:
    """Area under the risk–coverage curve: the mean error rate of the k most confident rows over every k.

    Lower is better; it scores the confidence ordering itself, whatever threshold is chosen.
    """
    order = np.argsort(-confidence, kind="stable")
    errors = 1.0 - correct[order].astype(float)
    return float(np.mean(np.cumsum(errors) / np.arange(1, len(order) + 1))) if len(order) else 0.0


def _operating_points(lead: _Head, auto: np.ndarray) -> list[dict[str, Any]]:
    """Per department at the chosen threshold: what is routed to it automatically and how often rightly.

    A committee trusts automatic routing department by department: `precision` is the share right of the
    proposals routed to it automatically (with its one-sided 95% lower bound), `coverage` the share of the
    department's own proposals that reached it without review.
    """
    gold, pred = np.array(lead.gold), np.array(lead.pred)
    rows = []
    for name in lead.classes:
        routed = auto & (pred == name)
        own = gold == name
        if not own.any() and not routed.any():
            continue
        hits = int((routed & own).sum())
        rows.append(
            {
                "department": name,
                "proposals": int(own.sum()),
                "auto_routed": int(routed.sum()),
                "precision": hits / int(routed.sum()) if routed.any() else None,
                "precision_lower": float(wilson_lower(np.array([hits]), np.array([int(routed.sum())]))[0])
                if routed.any()
                else None,
                "coverage": hits / int(own.sum()) if own.any() else 0.0,
            }
        )
    return sorted(rows, key=lambda r: (-r["proposals"], r["department"]))


def _routing_metrics(settings: RoutingSettings, lead: _Head) -> dict[str, Any]:
    codes = _reason_codes(settings, lead)
    auto = np.array([c is None for c in codes])
    return {
        "threshold": settings.lead_threshold,
        "target_precision": settings.target_precision,
        "auto_precision": float(lead.correct[auto].mean()) if auto.any() else None,
        "coverage": float(auto.mean()),
        "n_auto": int(auto.sum()),
        "n_review": int((~auto).sum()),
        "aurc": aurc(lead.confidence, lead.correct),
        "reasons": dict(Counter(c for c in codes if c is not None).most_common()),
        "departments": _operating_points(lead, auto),
    }


def _bins(h: _Head) -> tuple[np.ndarray, Array, Array]:
    """Per equal-width confidence bin: row count, accuracy and mean confidence (zero where empty)."""
    idx = np.minimum((h.confidence * N_BINS).astype(int), N_BINS - 1)
    count = np.bincount(idx, minlength=N_BINS)
    size = np.maximum(count, 1)
    accuracy = np.bincount(idx, weights=h.correct.astype(float), minlength=N_BINS) / size
    confidence = np.bincount(idx, weights=h.confidence, minlength=N_BINS) / size
    return count, accuracy, confidence


def _ece(h: _Head) -> float:
    count, accuracy, confidence = _bins(h)
    return float(np.sum(count * np.abs(accuracy - confidence)) / count.sum())


def compute_metrics(ev: Evaluation) -> dict[str, Any]:
    """Every headline number in one JSON-ready dict, so the manifest and the report cannot disagree."""
    lead, topic = _head(ev, "lead"), _head(ev, "topic")
    metrics: dict[str, Any] = {}
    if lead is not None:
        top3 = np.mean([g in {lead.labels[j] for j in r[:3]} for g, r in zip(lead.gold, lead.ranked, strict=True)])
        metrics["lead_department"] = {
            **_single_metrics(lead),
            "top3_accuracy": float(top3),
            "n": len(lead.gold),
        }
    if topic is not None:
        metrics["topic"] = {**_single_metrics(topic), "n": len(topic.gold)}
    co = _co_metrics(ev)
    if co is not None:
        metrics["co_departments"] = co
    if lead is not None:
        metrics["routing"] = _routing_metrics(ev.routing, lead)
    primary = lead or topic
    if primary is not None:
        metrics["calibration"] = {"ece": _ece(primary), "n_bins": N_BINS}
    return metrics


def _installed_cjk() -> str | None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in installed), None)


def _font_cache() -> Path:
    return Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"


def _rescan_fonts() -> None:
    """Add the system's fonts a stale matplotlib cache does not list, and write the cache afresh.

    matplotlib reads its font list from a cache built once; fonts installed after it (fonts-noto-cjk) stay
    invisible and the plots silently lose their Chinese.
    """
    manager = font_manager.fontManager
    known = {str(Path(f.fname)) for f in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if str(Path(path)) not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # an unreadable font file is skipped, as matplotlib does
                continue
    with contextlib.suppress(OSError):  # a read-only cache directory: found again next time, only slower
        font_manager.json_dump(manager, _font_cache())


def _cjk_font() -> str | None:
    """A font that can draw Chinese: found in matplotlib's list, or after rebuilding a stale one, or None.

    Without one the plots' Chinese would be empty boxes; the confusion-matrix axes are then numbered, a
    Chinese warning says which package to install, and the cache is deleted so the next run rebuilds it.
    """
    name = _installed_cjk()
    if name is None:
        _rescan_fonts()
        name = _installed_cjk()
    if name is None:
        cache = _font_cache()
        cache.unlink(missing_ok=True)
        print(_NO_CJK_FONT.format(cache=cache), file=sys.stderr)
    return name


def _style(font: str | None) -> contextlib.AbstractContextManager[Any]:
    """Every text of a figure (title, axes, legend, ticks) in the CJK font, with a plain minus it can draw."""
    if font is None:
        return contextlib.nullcontext()
    return rc_context(
        {
            "font.family": [font, "sans-serif"],  # kept by each text's FontProperties, not looked up later
            "axes.unicode_minus": False,
        }
    )


def _save(fig: Figure, path: Path) -> None:
    # An Agg canvas on a bare Figure: no pyplot state to leak or close, and no global backend switch.
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)


def _plot_confusion(h: _Head, font: str | None, path: Path) -> Figure:
    matrix = confusion_matrix(h.gold, h.pred, labels=h.classes).astype(float)
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    k = len(h.classes)
    ticks = h.classes if font else [str(i) for i in range(1, k + 1)]
    size = max(5.0, 0.3 * k + 2.5)
    with _style(font):
        fig = Figure(figsize=(size + 1, size), layout="constrained")
        ax = fig.add_subplot()
        image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
        fig.colorbar(image, ax=ax, shrink=0.8, label="占真实类别的比例" if font else "share of the gold row")
        fontsize = 7 if k > 15 else 9
        ax.set_xticks(range(k), ticks, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(k), ticks, fontsize=fontsize)
        if font:
            ax.set(xlabel="预测", ylabel="真实", title=f"{_HEAD_TITLES[h.name]}混淆矩阵（按行归一化）")
        else:  # no font could draw Chinese: English rather than empty boxes
            ax.set(xlabel="predicted", ylabel="gold", title="Confusion matrix (row-normalised)")
        _save(fig, path)
    return fig


def _plot_reliability(h: _Head, font: str | None, path: Path) -> Figure:
    count, accuracy, _ = _bins(h)
    centers = (np.arange(N_BINS) + 0.5) / N_BINS
    zh = font is not None
    with _style(font):
        fig = Figure(figsize=(5.5, 5), layout="constrained")
        ax = fig.add_subplot()
        bars = ax.bar(
            centers, accuracy, width=1 / N_BINS, edgecolor="black", alpha=0.7, label="准确率" if zh else "accuracy"
        )
        ax.bar_label(bars, labels=[str(c) if c else "" for c in count], fontsize=8)
        ax.plot([0, 1], [0, 1], "--", color="gray", label="完美校准" if zh else "perfect calibration")
        ece = f"{_ece(h):.3f}"
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.08),
            xlabel="最高置信度" if zh else "top-1 confidence",
            ylabel="准确率" if zh else "accuracy",
            title=f"{_HEAD_TITLES[h.name]}可靠性图（ECE {ece}；柱上数字为行数）"
            if zh
            else f"Reliability (ECE {ece}; bar labels = rows)",
        )
        ax.legend(loc="upper left")
        _save(fig, path)
    return fig


def _plot_risk_coverage(h: _Head, font: str | None, threshold: float | None, target: float, path: Path) -> Figure:
    order = np.argsort(-h.confidence, kind="stable")
    counts = np.arange(1, len(order) + 1)
    zh = font is not None
    with _style(font):
        fig = Figure(figsize=(6, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(
            counts / len(order),
            np.cumsum(h.correct[order]) / counts,
            label="自动交办部分的准确率" if zh else "accuracy of the auto-routed set",
        )
        ax.axhline(
            target, color="red", linestyle="--", label=f"目标精确率 {target:.2f}" if zh else f"target {target:.2f}"
        )
        if threshold is not None:
            covered = float(np.mean(np.round(h.confidence, 6) >= threshold))
            label = f"阈值 {threshold:.2f}" if zh else f"threshold {threshold:.2f}"
            ax.axvline(covered, color="green", linestyle=":", label=label)
        area = f"{aurc(h.confidence, h.correct):.3f}"
        ax.set(
            xlim=(0, 1),
            xlabel="覆盖率（自动交办的比例）" if zh else "coverage (share routed automatically)",
            ylabel="准确率" if zh else "accuracy",
            title=f"置信度阈值变化时的风险-覆盖曲线（AURC {area}）" if zh else f"Risk-coverage (AURC {area})",
        )
        ax.legend(loc="lower left")
        _save(fig, path)
    return fig


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _per_class(h: _Head) -> list[str]:
    precision, recall, f1, support = precision_recall_fscore_support(h.gold, h.pred, labels=h.classes, zero_division=0)
    predicted = Counter(h.pred)
    rows = sorted((i for i, name in enumerate(h.classes) if support[i] or predicted[name]), key=lambda i: -support[i])
    lines = ["| 类别 | 样本数 | 精确率 | 召回率 | F1 |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {h.classes[i]} | {support[i]} | {precision[i]:.3f} | {recall[i]:.3f} | {f1[i]:.3f} |" for i in rows]
    return lines


def _confusions(h: _Head) -> list[str]:
    pairs = Counter((g, p) for g, p in zip(h.gold, h.pred, strict=True) if g != p)
    if not pairs:
        return ["没有混淆：全部预测正确。"]
    lines = ["| 真实 | 预测 | 行数 | 示例 |", "|---|---|---:|---|"]
    for (gold, pred), count in pairs.most_common(10):
        shown = [e for e, g, p in zip(h.examples, h.gold, h.pred, strict=True) if (g, p) == (gold, pred)][:2]
        examples = "<br>".join(f"`{_cell(e.id)}`: {_cell(e.text)[:80]}" for e in shown)
        lines.append(f"| {gold} | {pred} | {count} | {examples} |")
    return lines


def _routing_section(routing: dict[str, Any]) -> list[str]:
    lines = [
        f"- 自动交办阈值（校准后的主办单位置信度）：{routing['threshold']:.3f}",
        f"- 目标精确率：{routing['target_precision']:.3f}",
        f"- 自动交办精确率：{_fmt(routing['auto_precision'])}",
        f"- 覆盖率：{routing['coverage']:.3f}（自动交办 {routing['n_auto']} 件，人工复核 {routing['n_review']} 件）",
        f"- 风险-覆盖曲线下面积（AURC，越低越好）：{routing['aurc']:.3f}",
        "",
        "| 复核原因 | 代码 | 件数 |",
        "|---|---|---:|",
    ]
    lines += [f"| {_REASONS.get(code, code)} | {code} | {count} |" for code, count in routing["reasons"].items()]
    lines += [
        "",
        "### 各单位的自动交办情况",
        "",
        "精确率：自动交办给该单位的提案中正确的比例（括号内为95%置信下限）。",
        "覆盖率：该单位自己的提案中无需复核即交办到该单位的比例。",
        "",
        "| 单位 | 提案数 | 自动交办给该单位 | 精确率 | 覆盖率 |",
        "|---|---:|---:|---:|---:|",
    ]
    for d in routing["departments"]:
        precision = "—" if d["precision"] is None else f"{d['precision']:.3f}（≥ {d['precision_lower']:.3f}）"
        lines.append(
            f"| {d['department']} | {d['proposals']} | {d['auto_routed']} | {precision} | {d['coverage']:.3f} |"
        )
    return lines


def _report(title: str, metrics: dict[str, Any], heads: list[_Head], font: str | None) -> str:
    lines = [f"# {title}", "", "## 概要", "", "| 指标 | 数值 |", "|---|---:|"]
    lines += [f"| {name} | {_fmt(metrics[g][k])} |" for g, k, name in _SUMMARY if g in metrics]
    counts = "，".join(f"{_COUNTED[m]} {metrics[m]['n']} 行" for m in _COUNTED if m in metrics)
    lines += ["", f"有已知真实标签的行数：{counts}。"]
    for h in heads:
        lines += ["", f"## {_HEAD_TITLES[h.name]}：各类别指标", "", *_per_class(h)]
    if heads:
        primary = heads[0]
        lines += ["", f"## 最常见的混淆（{_HEAD_TITLES[primary.name]}，真实 → 预测）", ""]
        lines += _confusions(primary)
    if "routing" in metrics:
        lines += ["", "## 自动交办", "", *_routing_section(metrics["routing"])]
    if heads:
        lines += [
            "",
            "## 图表",
            "",
            "![混淆矩阵](confusion_lead.png)",
            "",
            "![可靠性图](reliability.png)",
            "",
            "![风险-覆盖曲线](risk_coverage.png)",
        ]
        if font is None:
            lines += [
                "",
                "未找到中文字体（请安装 fonts-noto-cjk：`apt-get install fonts-noto-cjk`），"
                "图中文字为英文，混淆矩阵坐标改用编号：",
                "",
            ]
            lines += ["| 编号 | 类别 |", "|---:|---|"]
            lines += [f"| {i} | {name} |" for i, name in enumerate(heads[0].classes, 1)]
    return "\n".join(lines) + "\n"


def write_evaluation(out_dir: Path, ev: Evaluation, title: str) -> dict[str, Any]:
    """Metrics for machines, a report and plots for the people deciding whether to trust the threshold."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = compute_metrics(ev)
    text = json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"
    (out_dir / "metrics.json").write_text(text, encoding="utf-8")
    heads = [h for h in (_head(ev, "lead"), _head(ev, "topic")) if h is not None]
    font = _cjk_font()
    if heads:
        primary = heads[0]
        threshold = ev.routing.lead_threshold if primary.name == "lead" else None
        _plot_confusion(primary, font, out_dir / "confusion_lead.png")
        _plot_reliability(primary, font, out_dir / "reliability.png")
        _plot_risk_coverage(primary, font, threshold, ev.routing.target_precision, out_dir / "risk_coverage.png")
    (out_dir / "report.md").write_text(_report(title, metrics, heads, font), encoding="utf-8")
    return metrics
