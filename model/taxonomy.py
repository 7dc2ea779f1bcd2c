"""The city's topics and departments, and resolution of the many names a department goes by."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from proposal_router.model.errors import DataError, RowIssue


class Topic(BaseModel):
    key: str
    name: str
    description: str = ""


class Department(BaseModel):
    name: str
    aliases: list[str] = Field(default_factory=list)
    former_names: list[str] = Field(
        default_factory=list,
        description="names it had as a department before a 机构改革: one is a rename, several are a merge",
    )
    duties: str = ""

    @property
    def names(self) -> list[str]:
        """Every name that means this department: its own, its aliases and its former names."""
        return [self.name, *self.aliases, *self.former_names]


def _normalise(name: str) -> str:
    return "".join(name.split()).casefold()


class Taxonomy(BaseModel):
    """Topics and departments; aliases and former names (机构改革) resolve to the canonical name."""

    city: str = ""
    version: str = ""
    topics: list[Topic]
    departments: list[Department]

    @model_validator(mode="after")
    def _names_are_unambiguous(self) -> Taxonomy:
        owner: dict[str, str] = {}
        for dept in self.departments:
            for name in dept.names:
                key = _normalise(name)
                if key in owner and owner[key] != dept.name:
                    raise ValueError(f"名称「{name}」同时属于 {owner[key]} 和 {dept.name}")
                owner[key] = dept.name
        topic_names = [t.key for t in self.topics] + [t.name for t in self.topics]
        if len(set(topic_names)) != len(topic_names):
            raise ValueError("主题的代码和名称不能重复")
        return self

    @property
    def department_names(self) -> list[str]:
        return [d.name for d in self.departments]

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.topics]

    def fingerprint(self) -> str:
        payload = json.dumps(self.model_dump(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def _department_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for dept in self.departments:
            for name in dept.names:
                index[_normalise(name)] = dept.name
        return index

    def _topic_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for topic in self.topics:
            index[_normalise(topic.key)] = topic.name
            index[_normalise(topic.name)] = topic.name
        return index

    def resolve_department(self, name: str) -> str | None:
        return self._department_index().get(_normalise(name))

    def resolve_topic(self, name: str) -> str | None:
        return self._topic_index().get(_normalise(name))

    def suggest_department(self, name: str) -> list[str]:
        index = self._department_index()
        close = difflib.get_close_matches(_normalise(name), list(index), n=3, cutoff=0.5)
        return list(dict.fromkeys(index[c] for c in close))


class Resolver:
    """Resolves labels against a taxonomy with cached indexes, reporting unknown names as row issues."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._departments = taxonomy._department_index()
        self._topics = taxonomy._topic_index()
        self._former = {_normalise(f): d.name for d in taxonomy.departments for f in d.former_names}

    def successor(self, name: str) -> str | None:
        """The department a former name now belongs to (机构改革); None for a current name or an alias."""
        return self._former.get(_normalise(name))

    def department(self, name: str, file: str, row: int, column: str) -> str | RowIssue:
        found = self._departments.get(_normalise(name))
        if found is not None:
            return found
        hint = self.taxonomy.suggest_department(name)
        tip = f"; did you mean {'、'.join(hint)}?" if hint else ""
        return RowIssue(file, row, column, f"unknown department {name!r} (not in the taxonomy{tip})")

    def topic(self, name: str, file: str, row: int, column: str) -> str | RowIssue:
        found = self._topics.get(_normalise(name))
        if found is not None:
            return found
        known = "、".join(self.taxonomy.topic_names)
        return RowIssue(file, row, column, f"unknown topic {name!r}; the taxonomy has {known}")


@dataclass(frozen=True)
class TaxonomyDiff:
    """What a 机构改革 changed between two taxonomies, department by department.

    An old department whose name the new taxonomy still resolves (as a former name or alias) went to that
    department: alone it was renamed, with others (or into a department that kept its name) it was merged.
    """

    added: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # old name → new name
    merged: dict[str, list[str]] = field(default_factory=dict)  # new name → the old departments it joins
    removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.renamed or self.merged or self.removed)

    @property
    def successors(self) -> dict[str, str]:
        """Old department → the department that carries on its work, for every old name that changed."""
        found = dict(self.renamed)
        for new, olds in self.merged.items():
            found.update({old: new for old in olds if old != new})
        return found

    def lines(self) -> list[str]:
        """One Chinese line per change, in the order 新增, 更名, 合并, 撤销."""
        return [
            *(f"新增：{name}" for name in self.added),
            *(f"更名：{old} → {new}" for old, new in self.renamed.items()),
            *(f"合并：{'、'.join(olds)} → {new}" for new, olds in self.merged.items()),
            *(f"撤销：{name}" for name in self.removed),
        ]


def diff_taxonomies(old: Taxonomy, new: Taxonomy) -> TaxonomyDiff:
    """The departments `new` added, renamed, merged or removed relative to `old`."""
    kept = set(new.department_names)
    groups: dict[str, list[str]] = {}
    removed: list[str] = []
    for name in old.department_names:
        target = name if name in kept else new.resolve_department(name)
        if target is None:
            removed.append(name)
        else:
            groups.setdefault(target, []).append(name)
    renamed = {olds[0]: new_name for new_name, olds in groups.items() if len(olds) == 1 and olds[0] != new_name}
    merged = {new_name: olds for new_name, olds in groups.items() if len(olds) > 1}
    added = [name for name in new.department_names if name not in groups]
    return TaxonomyDiff(added=added, renamed=renamed, merged=merged, removed=removed)


def save_taxonomy(taxonomy: Taxonomy, path: Path) -> None:
    """Written as YAML a person can read; loading it gives the same taxonomy (and fingerprint)."""
    text = yaml.safe_dump(taxonomy.model_dump(), allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(text, encoding="utf-8")


def load_taxonomy(path: str | Path) -> Taxonomy:
    path = Path(path)
    if not path.is_file():
        raise DataError(RowIssue(str(path), None, None, "找不到分类表文件"))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Taxonomy.model_validate(raw)
    except (yaml.YAMLError, ValidationError, UnicodeDecodeError) as exc:
        raise DataError(RowIssue(str(path), None, None, f"不是有效的分类表：{exc}")) from exc
