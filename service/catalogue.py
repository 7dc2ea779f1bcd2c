"""The names a reviewer may assign: the bundle's labels, with the taxonomy's aliases and former names."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from proposal_router.model.errors import UnknownName
from proposal_router.model.taxonomy import Taxonomy


class Catalogue:
    def __init__(self, departments: list[str], topics: list[str], taxonomy: Taxonomy | None = None) -> None:
        self.departments = departments
        self.topics = topics
        self.aliases: dict[str, list[str]] = {d: [] for d in departments}
        self.taxonomy = taxonomy
        if taxonomy is not None:
            for department in taxonomy.departments:
                if department.name in self.aliases:
                    self.aliases[department.name] = list(department.aliases)

    def department(self, name: str) -> str:
        return self._resolve("department", name, self.departments, self._taxonomy_department)

    def topic(self, name: str) -> str:
        return self._resolve("topic", name, self.topics, self._taxonomy_topic)

    def _taxonomy_department(self, name: str) -> str | None:
        return self.taxonomy.resolve_department(name) if self.taxonomy else None

    def _taxonomy_topic(self, name: str) -> str | None:
        return self.taxonomy.resolve_topic(name) if self.taxonomy else None

    @staticmethod
    def _resolve(kind: str, name: str, known: list[str], via_taxonomy: Callable[[str], str | None]) -> str:
        name = name.strip()
        if name in known:
            return name
        resolved = via_taxonomy(name)
        if resolved in known:
            return resolved
        raise UnknownName(kind, name, difflib.get_close_matches(name, known, n=3, cutoff=0.4))
