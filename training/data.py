"""Last year's final assignments as labelled examples, checked against the taxonomy row by row."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from proposal_router.model.errors import DataError, RowIssue
from proposal_router.model.intake.records import ColumnMap, missing_column, read_proposals, split_list
from proposal_router.model.intake.tables import read_table
from proposal_router.model.taxonomy import Resolver, Taxonomy

HEADS = ("topic", "lead", "co")
HEAD_NAMES = {"topic": "主题", "lead": "主办单位", "co": "协办单位"}


@dataclass
class Example:
    id: str
    text: str
    topic: str | None = None
    lead: str | None = None
    co: list[str] | None = None
    row: int | None = None


@dataclass
class LabelledData:
    path: str
    examples: list[Example]
    heads: list[str]
    labels: dict[str, list[str]]
    warnings: list[RowIssue] = field(default_factory=list)
    sha256: str = ""
    remapped: dict[tuple[str, str], int] = field(default_factory=dict)
    """(old name, new name) → rows that named a department by a former name and were learnt as the new one."""
    files: list[DataFile] = field(default_factory=list)
    """Each file read, in the order given (one, or last year's export and earlier years')."""


@dataclass
class DataFile:
    path: str
    sha256: str
    rows: int


def remap_lines(data: LabelledData) -> list[str]:
    """What training says of a 机构改革: each old name and how many rows it moved to the new name."""
    return [f"{old} → {new}：{rows} 行按新名称学习" for (old, new), rows in data.remapped.items()]


def _label_order(values: set[str], taxonomy_order: list[str] | None) -> list[str]:
    if taxonomy_order is None:
        return sorted(values)
    return [name for name in taxonomy_order if name in values]


def duty_examples(taxonomy: Taxonomy) -> list[Example]:
    """Each department's duty statement as one extra lead example: it names what the department handles."""
    return [
        Example(id=f"duties:{d.name}", text=f"{d.name}（{'、'.join(d.aliases)}）\n{d.duties}", lead=d.name)
        for d in taxonomy.departments
        if d.duties
    ]


def topic_examples(taxonomy: Taxonomy) -> list[Example]:
    """Each topic's description as one extra topic example."""
    return [
        Example(id=f"topic:{t.name}", text=f"{t.name}\n{t.description}", topic=t.name)
        for t in taxonomy.topics
        if t.description
    ]


def load_labelled(
    path: str | Path | Sequence[str | Path], columns: ColumnMap, taxonomy: Taxonomy | None, sheet: str | None = None
) -> LabelledData:
    """Read and validate one training file or several (last year's export and earlier years' files);
    raise `DataError` listing every fatal problem of every file at once, each naming its own file and row.

    Several files' fingerprint (`sha256`) is the digest of their digests in the order given."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths:
        raise DataError(RowIssue("", None, None, "没有给出训练数据文件"))
    parts: list[LabelledData] = []
    unreadable: list[RowIssue] = []
    for one in paths:
        try:
            parts.append(_load_one(one, columns, taxonomy, sheet))
        except DataError as exc:  # read on: every file's problems are told at once
            unreadable.extend(exc.issues)
    issues = [issue for part in parts for issue in part.warnings]
    fatal = unreadable + [i for i in issues if i.fatal]
    if fatal:
        raise DataError(fatal)
    examples = [e for part in parts for e in part.examples]
    if not examples:
        raise DataError(RowIssue(parts[0].path, None, None, "没有可用的行"))
    present = {h for part in parts for h in part.heads}
    topic_order = taxonomy.topic_names if taxonomy else None
    dept_order = taxonomy.department_names if taxonomy else None
    labels = {
        "topic": _label_order({e.topic for e in examples if e.topic}, topic_order),
        "lead": _label_order({e.lead for e in examples if e.lead}, dept_order),
        "co": _label_order({c for e in examples for c in e.co or []}, dept_order),
    }
    heads = [h for h in HEADS if h in present and len(labels[h]) >= (1 if h == "co" else 2)]
    remapped: Counter[tuple[str, str]] = Counter()
    for part in parts:
        remapped.update(part.remapped)
    ordered = dict(sorted(remapped.items(), key=lambda item: (-item[1], item[0])))
    if len(parts) == 1:
        digest = parts[0].sha256
    else:
        digest = hashlib.sha256("\n".join(part.sha256 for part in parts).encode()).hexdigest()
    files = [DataFile(part.path, part.sha256, len(part.examples)) for part in parts]
    name = "、".join(part.path for part in parts)
    return LabelledData(name, examples, heads, {h: labels[h] for h in heads}, issues, digest, ordered, files)


def _load_one(path: str | Path, columns: ColumnMap, taxonomy: Taxonomy | None, sheet: str | None) -> LabelledData:
    """One file's examples, all its issues (fatal ones not raised) and the heads its columns hold."""
    table = read_table(path, sheet)
    present = {
        head: name in table.columns for head, name in zip(HEADS, (columns.topic, columns.lead, columns.co), strict=True)
    }
    if not (present["topic"] or present["lead"]):
        raise DataError(
            [
                missing_column(table, columns.topic, "topic"),
                missing_column(table, columns.lead, "lead"),
            ]
        )
    rows, issues = read_proposals(table, columns)
    resolver = Resolver(taxonomy) if taxonomy is not None else None
    examples: list[Example] = []
    remapped: Counter[tuple[str, str]] = Counter()
    for item in rows:
        raw, row = item.raw, item.row
        example = Example(id=item.proposal.id or "", text=item.proposal.text, row=row)
        moved: set[tuple[str, str]] = set()  # a row counts once per old name, in the lead or among the co
        for head, column in (("topic", columns.topic), ("lead", columns.lead)):
            value = str(raw.get(column, "")).strip() if present[head] else ""
            if not value:
                if present[head]:
                    name = HEAD_NAMES[head]
                    issues.append(RowIssue(table.path, row, column, f"{name}为空，此行不用于学习{name}", False))
                continue
            if resolver is None:
                setattr(example, head, value)
                continue
            resolved = (
                resolver.topic(value, table.path, row, column)
                if head == "topic"
                else resolver.department(value, table.path, row, column)
            )
            if isinstance(resolved, RowIssue):
                issues.append(resolved)
            else:
                setattr(example, head, resolved)
                if head == "lead" and resolver.successor(value):
                    moved.add((value, resolved))
        if present["co"]:
            names = split_list(raw.get(columns.co, ""))
            resolved_co: list[str] = []
            for name in names:
                found = name if resolver is None else resolver.department(name, table.path, row, columns.co)
                if isinstance(found, RowIssue):
                    issues.append(found)
                    continue
                if resolver is not None and resolver.successor(name):
                    moved.add((name, found))
                if found != example.lead and found not in resolved_co:
                    resolved_co.append(found)
            example.co = resolved_co
        remapped.update(moved)
        examples.append(example)
    heads = [h for h in HEADS if present[h]]
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return LabelledData(table.path, examples, heads, {}, issues, digest, dict(remapped))
