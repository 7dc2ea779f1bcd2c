"""A bundle meeting a taxonomy other than the one it was trained with: a 机构改革 since, or before.

A bundle keeps the department names of its training data. Served with a newer taxonomy that maps those
names to new ones (a rename, or a merge listing both old departments as former names), it routes to the
new names: each output probability is moved to the department that now does that work, and merged
departments' probabilities are summed. Evaluated with an older taxonomy than its own, the gold labels are
moved the other way, onto the bundle's names, so that a correct prediction under a new name is not
scored as an error. Either way the change is said at start, naming every department it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array
from proposal_router.model.manifest import BundleManifest, HeadSpec
from proposal_router.model.taxonomy import Department, Taxonomy, TaxonomyDiff, diff_taxonomies, load_taxonomy

DEPARTMENT_HEADS = ("lead", "co")


@dataclass
class Reform:
    """How the labels of a bundle map into the names of the taxonomy it is used with."""

    given: Taxonomy
    bundle: Taxonomy | None
    diff: TaxonomyDiff
    given_is_newer: bool
    mapping: dict[str, str] = field(default_factory=dict)  # bundle label → served name, where they differ
    unknown: list[str] = field(default_factory=list)  # bundle labels the given taxonomy cannot place

    def served(self, label: str) -> str:
        return self.mapping.get(label, label)

    def sources(self, served: str, labels: list[str]) -> list[int]:
        """The columns of `labels` (the bundle's) whose probability goes to `served`."""
        return [i for i, label in enumerate(labels) if self.served(label) == served]

    def apply(self, head: HeadSpec, probs: Array) -> tuple[list[str], Array]:
        """The head's labels and probabilities in served names.

        A softmax head's merged columns are summed (the probability that one of the old departments leads is
        the probability that the merged department does); a sigmoid head's are combined as "at least one",
        1 − ∏(1 − p), which stays a probability where a sum could pass 1.
        """
        served = list(dict.fromkeys(self.served(label) for label in head.labels))
        if served == head.labels:
            return head.labels, probs
        columns = []
        for name in served:
            part = probs[..., self.sources(name, head.labels)]
            columns.append(part.sum(-1) if head.kind == "softmax" else 1.0 - np.prod(1.0 - part, axis=-1))
        return served, np.stack(columns, axis=-1)

    def name(self, name: str, known: list[str]) -> str | None:
        """A department name (canonical in either taxonomy, or an alias or former name) as a served name."""
        candidates = [name, self.served(name)]
        for taxonomy in (self.given, self.bundle):
            resolved = taxonomy.resolve_department(name) if taxonomy is not None else None
            if resolved is not None:
                candidates += [resolved, self.served(resolved)]
        return next((c for c in candidates if c in known), None)

    def message(self, manifest: BundleManifest) -> str:
        """The warning said at start: what changed, and what this run does about it (Chinese)."""
        trained = manifest.taxonomy
        bundle = f"{trained.city} {trained.version}（指纹 {trained.fingerprint}）" if trained else "（未记录）"
        given = f"{self.given.city} {self.given.version}（指纹 {self.given.fingerprint()}）"
        lines = [f"模型包 {manifest.version} 训练时的单位表 {bundle} 与所给单位表 {given} 不同："]
        older, newer = ("训练时", "所给") if self.given_is_newer else ("所给", "训练时")
        changes = self.diff.lines()
        lines += [f"  {line}" for line in changes] or ["  单位名称未变（其他内容有改动）"]
        if changes:
            lines.append(f"（以上为{newer}单位表相对{older}单位表的变化）")
        if self.mapping:
            moved = "；".join(f"{old} → {new}" for old, new in self.mapping.items())
            lines.append(f"本模型包按新单位名称交办：{moved}（合并单位的置信度相加），复核可改为新单位名称。")
        if not self.given_is_newer and self.diff.successors:
            lines.append("评估与复核时旧单位名称按模型包的单位表计为新名称。")
        if self.unknown:
            lines.append(
                f"所给单位表没有这些单位，模型仍可能建议它们：{'、'.join(self.unknown)}；请按新单位表重新训练。"
            )
        if self.given_is_newer and self.diff.added:
            lines.append(f"模型不会建议新增单位（{'、'.join(self.diff.added)}），需按新单位表重新训练。")
        return "\n".join(lines)


def bundle_taxonomy(directory: Path, manifest: BundleManifest) -> Taxonomy | None:
    """The taxonomy the bundle was trained with, from the file it carries (None: trained without one)."""
    info = manifest.taxonomy
    return load_taxonomy(directory / info.file) if info is not None and info.file else None


def department_labels(manifest: BundleManifest) -> list[str]:
    return list(
        dict.fromkeys(label for h in DEPARTMENT_HEADS if h in manifest.heads for label in manifest.heads[h].labels)
    )


def check_taxonomy(manifest: BundleManifest, bundle: Taxonomy | None, given: Taxonomy | None) -> Reform | None:
    """None when the given taxonomy is the bundle's own (same fingerprint) or none was given."""
    if given is None or (manifest.taxonomy is not None and manifest.taxonomy.fingerprint == given.fingerprint()):
        return None
    labels = department_labels(manifest)
    known = set(given.department_names)
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    for label in labels:
        target = label if label in known else given.resolve_department(label)
        if target is None:
            unknown.append(label)
        elif target != label:
            mapping[label] = target
    backward = diff_taxonomies(given, bundle) if bundle is not None else TaxonomyDiff()
    given_is_newer = bool(mapping) or not backward.successors
    if given_is_newer:
        diff = diff_taxonomies(bundle, given) if bundle is not None else _diff_of_labels(labels, given)
        if bundle is None and diff.empty:
            return None  # nothing to say: every label is a department of the given taxonomy
    else:
        diff = backward
        unknown = [label for label in unknown if label not in backward.successors.values()]
    return Reform(given, bundle, diff, given_is_newer, mapping, unknown)


def _diff_of_labels(labels: list[str], given: Taxonomy) -> TaxonomyDiff:
    """A bundle trained without a taxonomy: what its labels became in the given one. Departments the data
    never named are not "added": the bundle never knew the city's full list."""
    found = diff_taxonomies(Taxonomy(topics=[], departments=[Department(name=label) for label in labels]), given)
    return TaxonomyDiff(renamed=found.renamed, merged=found.merged, removed=found.removed)
