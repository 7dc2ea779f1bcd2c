"""What the commands share (`cli` and the command modules `comparison` and `label_audit`): the column flags and
the columns they name, an option's flag, row warnings, and the taxonomy a bundle is used with."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from proposal_router.model.errors import RowIssue
from proposal_router.model.intake.records import ColumnMap
from proposal_router.model.manifest import load_manifest
from proposal_router.model.reform import bundle_taxonomy, check_taxonomy
from proposal_router.model.taxonomy import Taxonomy, load_taxonomy
from proposal_router.service.config import Settings

TAXONOMY_HELP = (
    "单位表 YAML（默认：PROPOSAL_ROUTER_TAXONOMY 或 data/taxonomy.yaml）；train 时写 none 则从数据中学习单位名；"
    "使用模型时与模型自带的单位表核对（机构改革），找不到单位表时用模型自带的"
)


def column_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("列名（各命令相同）")
    group.add_argument("--id-field", default="id", help="提案编号所在列（默认：id）")
    group.add_argument("--title-field", action="append", help="标题所在列；可重复给出以拼接多列（默认：title）")
    group.add_argument("--body-field", action="append", help="正文所在列；可重复给出以拼接多列（默认：body）")
    group.add_argument("--topic-field", default="topic", help="主题标签所在列（默认：topic）")
    group.add_argument("--lead-field", default="lead_department", help="主办单位所在列（默认：lead_department）")
    group.add_argument(
        "--co-field", default="co_departments", help="协办单位所在列（列表或以、分隔；默认：co_departments）"
    )
    group.add_argument("--sheet", help="XLSX 工作表名（默认：第一个工作表）")
    group.add_argument("--taxonomy", help=TAXONOMY_HELP)
    return parent


def column_map(args: argparse.Namespace) -> ColumnMap:
    return ColumnMap(
        id=args.id_field,
        title=args.title_field or ["title"],
        body=args.body_field or ["body"],
        topic=args.topic_field,
        lead=args.lead_field,
        co=args.co_field,
    )


def option_flag(option: str) -> str:
    """The flag that sets a setting named in an error: `title` → `--title-field`, `base_model` → `--base-model`."""
    if option in ColumnMap.model_fields:
        return f"--{option}-field"
    return "--" + option.replace("_", "-")


def report(issues: Sequence[RowIssue], limit: int = 20) -> None:
    for issue in issues[:limit]:
        print(f"警告：{issue.describe(option_flag)}", file=sys.stderr)
    if len(issues) > limit:
        print(f"警告：…… 另有 {len(issues) - limit} 处", file=sys.stderr)


def training_taxonomy(args: argparse.Namespace, settings: Settings) -> Taxonomy | None:
    """The taxonomy training learns names from (`none`: from the data)."""
    path = settings.taxonomy_path(args.taxonomy)
    return load_taxonomy(path) if path is not None else None


def bundle_use_taxonomy(bundle: str | Path, given: str | None, settings: Settings, who: str = "") -> Taxonomy | None:
    """The taxonomy a bundle is used with; a 机构改革 between it and the bundle's own is said on stderr
    (`who` names the bundle when there are two)."""
    path = settings.checked_taxonomy(given)
    taxonomy = load_taxonomy(path) if path is not None else None
    if taxonomy is not None:
        manifest = load_manifest(bundle, verify_files=False)
        reform = check_taxonomy(manifest, bundle_taxonomy(Path(bundle), manifest), taxonomy)
        if reform is not None:
            print(f"警告：{who}{reform.message(manifest)}", file=sys.stderr)
    return taxonomy
