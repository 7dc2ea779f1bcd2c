"""`audit-labels`: before retraining, list last year's assignments whose lead department looks wrong.

The suspects are found in training/label_audit.py (out-of-fold probabilities as `train` computes them,
then confident learning, Northcutt et al., JAIR 2021). Here they are written for the office: 疑似错标.xlsx
(sheets 疑似错标, 按单位, 说明) for an analyst to check and correct in the data file before the next
`train`, and report.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from proposal_router.model.errors import SetupError
from proposal_router.service.commands import column_map, report, training_taxonomy
from proposal_router.service.config import Settings
from proposal_router.service.flags import build_model
from proposal_router.service.sheet_format import PERCENT, bold_row, summary_sheet, table_sheet

WORKBOOK = "疑似错标.xlsx"
REPORT = "report.md"
HEADERS = [
    "序号",
    "行号",
    "编号",
    "标题",
    "主题",
    "现主办单位",
    "现协办单位",
    "建议主办单位",
    "建议置信度",
    "现单位的概率",
    "处理意见",
]
FORMATS = {"建议置信度": PERCENT, "现单位的概率": PERCENT}
MODEL_NAMES = {
    "transformer": "预训练编码器（冻结）加 TF-IDF 等组件",
    "baseline": "TF-IDF 基线等组件（不用预训练编码器）",
}
SHOWN_IN_REPORT = 30


def _out_dir(value: str) -> Path:
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise SetupError(f"{out} 是一个文件，不是目录：请给出写入清单和报告的目录", option="out")
    return out


def _config(args: argparse.Namespace, settings: Settings) -> Any:
    """`train`'s settings; without a pretrained encoder (and no --model-type) the TF-IDF baseline is used."""
    from proposal_router.training.config import FLAGS, TrainConfig

    config = build_model(TrainConfig, args, FLAGS, base_model=settings.base_model, threads=settings.threads)
    if config.model_type == "transformer" and not config.base_model and getattr(args, "model_type", None) is None:
        print(
            "未配置预训练编码器（--base-model 或 PROPOSAL_ROUTER_BASE_MODEL）：只用 TF-IDF 基线等组件检查",
            file=sys.stderr,
        )
        config = config.model_copy(update={"model_type": "baseline"})
    if config.holdout > 0:
        print("警告：audit-labels 检查每一行，--holdout 不适用，已忽略", file=sys.stderr)
    return config


def _rows(audit: Any, several: bool) -> list[list[Any]]:
    rows = []
    for place, s in enumerate(audit.suspects, 1):
        row = s.row if s.row is not None else ""
        where = f"{Path(s.file).name} 第 {row} 行" if several else row
        rows.append(
            [
                place,
                where,
                s.id,
                s.title,
                s.topic or "",
                s.given,
                "、".join(s.co),
                s.suggested,
                s.suggested_confidence,
                s.given_probability,
                "",
            ]
        )
    return rows


def _co_suggested(audit: Any) -> int:
    return sum(1 for s in audit.suspects if s.suggested in s.co)


def _explanation(audit: Any, data: Any, command: str) -> list[str]:
    model = MODEL_NAMES.get(audit.model_type, audit.model_type)
    return [
        f"怎样找出的：与 train 相同，把全部 {audit.rows} 件提案分为 {audit.folds} 折交叉拟合"
        f"（{model}：{'、'.join(audit.components)}），每件提案的主办单位概率都来自没有见过它的模型；",
        "再用置信学习（Confident Learning，Northcutt 等，JAIR 2021；cleanlab 的 find_label_issues）找出"
        "现主办单位在这些概率下不大可能的提案，按现单位的概率从低到高排列。",
        f"这些袋外概率的主办单位准确率为 {audit.accuracy:.1%}：清单是待核对的疑问，不是结论；"
        "建议主办单位是除现单位外概率最高的单位；它若是现协办单位之一，要核对的常是主办与协办的分工。",
        "怎样处理：逐件核对，在“处理意见”一栏写明“改为某单位”或“原交办正确”；",
        f"确有错误的，在训练数据文件（{data.path}）中按行号或编号改正主办单位，再运行 train 重新训练。",
        "行号即用 Excel 打开该文件时的行号（表头为第 1 行）。",
        f"命令：{command}",
    ]


def write_audit_workbook(path: Path, audit: Any, data: Any, command: str) -> None:
    several = len(data.files) > 1
    headers = list(HEADERS)
    if several:
        headers[1] = "文件和行号"
    book = Workbook(write_only=True)
    # no heading row above the table: table_sheet's write-only sheet would then lose its frozen header
    table_sheet(book, "疑似错标", headers, _rows(audit, several), FORMATS, typed=["编号"])
    counts = summary_sheet(
        book,
        "按单位",
        [
            ("数据", data.path, None),
            ("检查的提案", audit.rows, None),
            ("疑似交办有误", len(audit.suspects), None),
            ("其中建议单位是现协办单位", _co_suggested(audit), None),
            ("袋外主办单位准确率", audit.accuracy, PERCENT),
        ],
    )
    counts.append([])
    bold_row(counts, ["现主办单位", "疑似有误"])
    for department, count in audit.per_department.items():
        counts.append([department, count])
    notes = book.create_sheet("说明")
    notes.column_dimensions["A"].width = 120
    for line in _explanation(audit, data, command):
        notes.append([line])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def _cell(value: Any) -> str:
    return str(value).replace("|", "｜").replace("\n", " ")


def write_report(path: Path, audit: Any, data: Any, command: str, xlsx: Path) -> None:
    lines = [
        "# 重新训练之前：疑似交办有误的提案",
        "",
        f"- 数据：{data.path}，检查 {audit.rows} 件（有主办单位的全部提案）",
        f"- 疑似交办有误：**{len(audit.suspects)} 件**（{len(audit.suspects) / max(audit.rows, 1):.1%}）→ {xlsx}",
        f"- 方法：{audit.folds} 折交叉拟合的袋外主办单位概率（与 train 相同；组件："
        f"{'、'.join(audit.components)}），再用置信学习找出现单位不大可能的提案"
        "（Northcutt, Jiang, Chuang: Confident Learning: Estimating Uncertainty in Dataset Labels, "
        "JAIR 70, 2021；cleanlab.filter.find_label_issues，prune_by_noise_rate，"
        f"按 {audit.rank_by} 排序）",
        f"- 其中建议主办单位是该件现协办单位之一的：{_co_suggested(audit)} 件（多为主办与协办分工的问题）",
        f"- 袋外主办单位准确率：{audit.accuracy:.1%}",
        f"- 用时：{audit.seconds:.0f} 秒"
        + (f"（其中编码器导出和嵌入 {audit.embed_seconds:.0f} 秒）" if audit.model_type == "transformer" else ""),
        f"- 命令：`{command}`",
        "",
        "## 怎样处理",
        "",
        "在 XLSX 的“处理意见”一栏逐件写明改为哪个单位或原交办正确；在训练数据文件中改正确有错误的主办单位"
        "（按行号或编号查找），再运行 `train` 重新训练。清单是待核对的疑问，不是结论。",
        "",
        f"## 最可疑的 {min(SHOWN_IN_REPORT, len(audit.suspects))} 件",
        "",
        "| 行号 | 编号 | 标题 | 现主办单位 | 建议主办单位 | 建议置信度 | 现单位的概率 |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in audit.suspects[:SHOWN_IN_REPORT]:
        lines.append(
            f"| {s.row or ''} | {_cell(s.id)} | {_cell(s.title)} | {s.given} | {s.suggested} | "
            f"{s.suggested_confidence:.1%} | {s.given_probability:.1%} |"
        )
    lines += ["", "## 按现主办单位", "", "| 现主办单位 | 疑似有误 |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in audit.per_department.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_audit_labels(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.training.data import load_labelled
    from proposal_router.training.label_audit import audit_labels

    out = _out_dir(args.out)
    config = _config(args, settings)
    taxonomy = training_taxonomy(args, settings)
    data = load_labelled(args.data, column_map(args), taxonomy, args.sheet)
    report(data.warnings)
    print(f"检查 {len(data.examples)} 件提案的主办单位（{config.folds} 折交叉拟合，与 train 相同）……", file=sys.stderr)
    audit = audit_labels(data, taxonomy, config)
    out.mkdir(parents=True, exist_ok=True)
    command = f"proposal-router audit-labels --data {' '.join(args.data)} --out {args.out}"
    xlsx = out / WORKBOOK
    write_audit_workbook(xlsx, audit, data, command)
    write_report(out / REPORT, audit, data, command, xlsx)
    print(f"{audit.rows} 件中 {len(audit.suspects)} 件疑似交办有误 → {xlsx}")
    print(f"报告：{out / REPORT}（用时 {audit.seconds:.0f} 秒）")
