"""`proposal-router compare`: before switching the served bundle, both bundles on the same labelled data.

Writes into `--out` the office's workbook `compare.xlsx` (汇总, 各单位, 变化的提案), `report.md` and
`metrics.json`, and prints a short summary. The computation is `training/compare.py`; this module builds
the two routers (each checked against the taxonomy in use, as `evaluate` does), words and writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from proposal_router.model.errors import BundleError, SetupError
from proposal_router.model.manifest import MANIFEST, NEVER_AUTO
from proposal_router.model.router import Router
from proposal_router.service.commands import bundle_use_taxonomy, column_map, report
from proposal_router.service.config import Settings
from proposal_router.service.labels import DECISIONS, REASONS
from proposal_router.service.sheet_format import CONFIDENCE, PERCENT, bold_row, summary_sheet, table_sheet
from proposal_router.training.compare import Answer, Comparison, Verdict, compare_bundles
from proposal_router.training.data import load_labelled

WORKBOOK, REPORT, METRICS = "compare.xlsx", "report.md", "metrics.json"
ROLES = {"model": "新模型", "against": "现用模型"}
VERDICTS = {
    Verdict.FIXED: "新模型对",
    Verdict.BROKEN: "现用模型对",
    Verdict.BOTH_WRONG: "都不对",
    Verdict.UNLABELLED: "无标注",
}
THRESHOLD = "0.000"
CHANGE = "+0.0%;-0.0%;0.0%"  # a difference of two shares, in percentage points
CHANGE_HEADERS = [
    "编号",
    "提案标题",
    "正确的主办单位",
    "现用模型主办单位",
    "现用置信度",
    "现用交办方式",
    "新模型主办单位",
    "新模型置信度",
    "新模型交办方式",
    "哪个对",
]
DEPARTMENT_HEADERS = [
    "单位",
    "提案数",
    "现用准确率",
    "新模型准确率",
    "准确率变化",
    "现用交办给它",
    "新模型交办给它",
    "现用自动交办给它",
    "新模型自动交办给它",
]


def _unusable(message: str, option: str) -> BundleError:
    """A bundle flag that names no usable bundle; `option` is that flag's setting (model, against)."""
    error = BundleError(message)
    error.option = option
    return error


def _router(args: argparse.Namespace, settings: Settings, option: str) -> Router:
    """The bundle of `--model` or `--against`, used with the taxonomy in use (a 机构改革 said on stderr)."""
    role, directory = ROLES[option], Path(getattr(args, option))
    if not directory.is_dir():
        raise _unusable(f"{role}目录 {directory} 不存在", option)
    if not (directory / MANIFEST).is_file():
        raise _unusable(f"{directory} 不是模型目录（没有 {MANIFEST}）；模型由 proposal-router train 生成", option)
    try:
        taxonomy = bundle_use_taxonomy(directory, args.taxonomy, settings, f"{role}：")
        return Router(directory, threads=args.threads or settings.threads, precision=args.encoder, taxonomy=taxonomy)
    except BundleError as exc:
        raise _unusable(f"{role} {directory} 不可用：{exc}", option) from exc


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _difference(new: float | None, current: float | None) -> float | None:
    return None if new is None or current is None else new - current


def _decision(answer: Answer, inner: bool = False) -> str:
    """自动交办, or 人工复核 with the reason: in brackets, or after a colon inside a bracket of its own."""
    wording = DECISIONS[answer.decision.value]
    if answer.reason is None:
        return wording
    reason = REASONS.get(answer.reason, answer.reason)
    return f"{wording}：{reason}" if inner else f"{wording}（{reason}）"


def _threshold(value: float) -> float | str:
    return "不自动交办" if value >= NEVER_AUTO else value


def _metric_rows(c: Comparison) -> list[tuple[str, Any, Any, Any, str | None]]:
    """(label, current, new, change, number format) for the 汇总 table and the report."""
    old, new = c.current, c.new
    rows: list[tuple[str, Any, Any, Any, str | None]] = [
        ("主办单位准确率", old.lead_accuracy, new.lead_accuracy, None, PERCENT),
        ("主办单位前三命中率", old.top3_accuracy, new.top3_accuracy, None, PERCENT),
        ("主题准确率", old.topic_accuracy, new.topic_accuracy, None, PERCENT),
        ("自动交办阈值", _threshold(old.threshold), _threshold(new.threshold), "", THRESHOLD),
        ("目标精确率", old.target_precision, new.target_precision, None, PERCENT),
        ("自动交办件数", old.n_auto, new.n_auto, new.n_auto - old.n_auto, None),
        ("自动交办覆盖率", old.coverage, new.coverage, None, PERCENT),
        ("自动交办精确率", old.auto_precision, new.auto_precision, None, PERCENT),
        ("自动交办精确率95%下限", old.auto_precision_lower, new.auto_precision_lower, None, PERCENT),
    ]
    rows = [(label, a, b, _difference(b, a) if d is None else d, f) for label, a, b, d, f in rows]
    for code in dict.fromkeys([*old.reasons, *new.reasons]):
        before, after = old.reasons.get(code, 0), new.reasons.get(code, 0)
        rows.append((f"复核原因：{REASONS.get(code, code)}", before, after, after - before, None))
    return rows


def _cell(sheet: Any, value: Any, number_format: str | None) -> Any:
    cell = WriteOnlyCell(sheet, value)
    if number_format and isinstance(value, float):
        cell.number_format = number_format
    return cell


def _summary(book: Workbook, c: Comparison, data: Sequence[str]) -> None:
    facts: list[tuple[str, Any, str | None]] = [
        ("数据", "、".join(data), None),
        ("提案数", c.n, None),
        ("有主办单位标注的", c.n_lead, None),
        ("新模型", c.new.version, None),
        ("现用模型", c.current.version, None),
        ("主办单位变化的提案", len(c.changes), None),
        ("　其中改对", c.verdicts[Verdict.FIXED], None),
        ("　其中改错", c.verdicts[Verdict.BROKEN], None),
        ("　其中都不对", c.verdicts[Verdict.BOTH_WRONG], None),
        ("自动交办→人工复核", c.decision_changes["auto_to_review"], None),
        ("人工复核→自动交办", c.decision_changes["review_to_auto"], None),
    ]
    if c.verdicts[Verdict.UNLABELLED]:
        facts.insert(9, ("　其中无标注", c.verdicts[Verdict.UNLABELLED], None))
    sheet = summary_sheet(book, "汇总", facts)
    sheet.append([])
    bold_row(sheet, ["指标", "现用模型", "新模型", "变化"])
    for label, old, new, change, number_format in _metric_rows(c):
        delta_format = CHANGE if number_format == PERCENT else None
        sheet.append(
            [
                label,
                _cell(sheet, old, number_format),
                _cell(sheet, new, number_format),
                _cell(sheet, change, delta_format),
            ]
        )


def write_workbook(path: Path, c: Comparison, data: Sequence[str]) -> None:
    book = Workbook(write_only=True)
    _summary(book, c, data)
    departments = [
        [
            d.department,
            d.proposals,
            d.current_accuracy,
            d.new_accuracy,
            _difference(d.new_accuracy, d.current_accuracy),
            d.current_routed,
            d.new_routed,
            d.current_auto,
            d.new_auto,
        ]
        for d in c.departments
    ]
    formats = {"现用准确率": PERCENT, "新模型准确率": PERCENT, "准确率变化": CHANGE}
    table_sheet(book, "各单位", DEPARTMENT_HEADERS, departments, formats)
    changes = [
        [
            ch.id,
            ch.title,
            ch.gold_lead or "",
            ch.current.lead or "",
            ch.current.confidence,
            _decision(ch.current),
            ch.new.lead or "",
            ch.new.confidence,
            _decision(ch.new),
            VERDICTS[ch.verdict],
        ]
        for ch in c.changes
    ]
    formats = {"现用置信度": CONFIDENCE, "新模型置信度": CONFIDENCE}
    table_sheet(book, "变化的提案", CHANGE_HEADERS, changes, formats, typed=["编号"])
    book.save(path)


def _md(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _md_value(value: Any, number_format: str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if number_format == CHANGE:
            return f"{value * 100:+.1f} 个百分点" if round(value * 1000) else "0"
        return f"{value:.1%}" if number_format == PERCENT else f"{value:.3f}"
    return str(value)


REPORT_CHANGES = 100  # rows of 变化的提案 in report.md; the workbook has all


def render_report(c: Comparison, data: Sequence[str]) -> str:
    v = c.verdicts
    unlabelled = f"，无标注 {v[Verdict.UNLABELLED]} 件" if v[Verdict.UNLABELLED] else ""
    lines = [
        "# 换模型之前：新旧模型对比",
        "",
        f"- 数据：{'、'.join(data)}（{c.n} 件提案，其中 {c.n_lead} 件有主办单位标注）",
        f"- 新模型：`{c.new.version}`",
        f"- 现用模型：`{c.current.version}`",
        "",
        "两个模型都按服务时的规则交办每件提案（各自的自动交办阈值，含审查立案提示）。覆盖率是自动交办的提案占全部"
        "提案的比例，精确率是自动交办且有标注的提案中主办单位正确的比例（95%下限为 Wilson 单侧下限）。",
        "",
        "## 汇总",
        "",
        "| 指标 | 现用模型 | 新模型 | 变化 |",
        "|---|---:|---:|---:|",
    ]
    for label, old, new, change, number_format in _metric_rows(c):
        delta = CHANGE if number_format == PERCENT else None
        cells = [_md_value(old, number_format), _md_value(new, number_format), _md_value(change, delta)]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    lines += [
        "",
        f"主办单位变化的提案 {len(c.changes)} 件：改对 {v[Verdict.FIXED]} 件，改错 {v[Verdict.BROKEN]} 件，"
        f"都不对 {v[Verdict.BOTH_WRONG]} 件{unlabelled}。",
        f"交办方式变化：自动交办→人工复核 {c.decision_changes['auto_to_review']} 件，"
        f"人工复核→自动交办 {c.decision_changes['review_to_auto']} 件。",
        "",
        "## 各单位",
        "",
        "准确率：该单位自己的提案（按标注）中主办单位判断正确的比例；交办给它：模型判为该单位主办的提案数。",
        "",
        "| 单位 | 提案数 | 现用准确率 | 新模型准确率 | 变化 | 现用交办给它 | 新模型交办给它 | 现用自动 | 新模型自动 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d in c.departments:
        change = _difference(d.new_accuracy, d.current_accuracy)
        cells = [
            _md(d.department),
            str(d.proposals),
            _md_value(d.current_accuracy, PERCENT),
            _md_value(d.new_accuracy, PERCENT),
            _md_value(change, CHANGE),
            str(d.current_routed),
            str(d.new_routed),
            str(d.current_auto),
            str(d.new_auto),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    lines += ["", "## 主办单位变化的提案", ""]
    if not c.changes:
        lines.append("没有：两个模型对每件提案给出的主办单位都相同。")
    else:
        lines += [
            "先列改错的，再列改对的和都不对的。",
            "",
            "| 编号 | 提案标题 | 正确的主办单位 | 现用模型 | 新模型 | 哪个对 |",
            "|---|---|---|---|---|---|",
        ]
        for ch in c.changes[:REPORT_CHANGES]:
            old = f"{ch.current.lead or '—'}（{_md_value(ch.current.confidence, None)}，{_decision(ch.current, True)}）"
            new = f"{ch.new.lead or '—'}（{_md_value(ch.new.confidence, None)}，{_decision(ch.new, True)}）"
            cells = [ch.id, ch.title, ch.gold_lead or "—", old, new, VERDICTS[ch.verdict]]
            lines.append(f"| {' | '.join(_md(x) for x in cells)} |")
        if len(c.changes) > REPORT_CHANGES:
            lines += ["", f"另有 {len(c.changes) - REPORT_CHANGES} 件见 {WORKBOOK} 的「变化的提案」。"]
    return "\n".join(lines) + "\n"


def summary_line(c: Comparison) -> str:
    old, new, v = c.current, c.new, c.verdicts
    parts = [
        f"新模型主办单位准确率 {_share(new.lead_accuracy)}（现用 {_share(old.lead_accuracy)}）",
        f"前三命中率 {_share(new.top3_accuracy)}（现用 {_share(old.top3_accuracy)}）",
        f"自动交办 {_percent(new.coverage)}（现用 {_percent(old.coverage)}），"
        f"其准确率 {_share(new.auto_precision)}（现用 {_share(old.auto_precision)}）",
    ]
    changed = (
        f"答案变化 {len(c.changes)} 件：改对 {v[Verdict.FIXED]}，改错 {v[Verdict.BROKEN]}，"
        f"都不对 {v[Verdict.BOTH_WRONG]}"
    )
    if v[Verdict.UNLABELLED]:
        changed += f"，无标注 {v[Verdict.UNLABELLED]}"
    return "，".join(parts) + "；" + changed


def run_compare(args: argparse.Namespace, settings: Settings) -> None:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SetupError(f"{out} 是文件，不是目录：对比报告要写入一个目录", option="out")
    new = _router(args, settings, "model")
    current = _router(args, settings, "against")
    data = load_labelled(args.data, column_map(args), new.taxonomy, args.sheet)
    report(data.warnings)
    print(f"对比数据共 {len(data.examples)} 件提案", file=sys.stderr)
    comparison = compare_bundles(new, current, data.examples)
    out.mkdir(parents=True, exist_ok=True)
    files = [str(p) for p in args.data]
    write_workbook(out / WORKBOOK, comparison, files)
    (out / REPORT).write_text(render_report(comparison, files), encoding="utf-8")
    metrics = {"data": files, **comparison.model_dump(mode="json")}
    (out / METRICS).write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(summary_line(comparison))
    print(f"对比报告：{out / REPORT}；工作簿：{out / WORKBOOK}")
