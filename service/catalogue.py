"""The names a reviewer may assign: the router's labels, with the taxonomy's aliases and former names.

Built from a router (`Catalogue.of`), the labels are the served names: after a 机构改革 the new ones, and a
name of the bundle's own taxonomy (an old department, its aliases) resolves to the department it became.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from proposal_router.model.errors import UnknownName
from proposal_router.model.router import Router
from proposal_router.model.taxonomy import Taxonomy


class Catalogue:
    def __init__(
        self,
        departments: list[str],
        topics: list[str],
        taxonomy: Taxonomy | None = None,
        resolve: Callable[[str], str | None] | None = None,
    ) -> None:
        """`resolve` replaces the taxonomy's own resolution of department names (a router's, see `of`)."""
        self.departments = departments
        self.topics = topics
        self.aliases: dict[str, list[str]] = {d: [] for d in departments}
        self.taxonomy = taxonomy
        self._resolve_department = resolve
        if taxonomy is not None:
            for department in taxonomy.departments:
                if department.name in self.aliases:
                    self.aliases[department.name] = [*department.aliases, *department.former_names]

    @classmethod
    def of(cls, router: Router) -> Catalogue:
        """The router's served names; the picker also finds a department by the names the bundle knew it by."""
        labels = router.labels
        catalogue = cls(labels.get("lead", []), labels.get("topic", []), router.taxonomy, router.department)
        old, reform = router.bundle_taxonomy, router.reform
        if old is not None and reform is not None:
            for department in old.departments:
                served = reform.served(department.name)
                if served in catalogue.aliases:
                    names = [n for n in department.names if n != served]
                    catalogue.aliases[served] = list(dict.fromkeys([*catalogue.aliases[served], *names]))
        return catalogue

    def department(self, name: str) -> str:
        return self._resolve("department", name, self.departments, self._taxonomy_department)

    def topic(self, name: str) -> str:
        return self._resolve("topic", name, self.topics, self._taxonomy_topic)

    def _taxonomy_department(self, name: str) -> str | None:
        if self._resolve_department is not None:
            return self._resolve_department(name)
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
