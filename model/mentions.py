"""Departments named in the text: "建议市教育局会同市公安局……" says who should act, in so many words.

Precise where it fires and silent otherwise (most proposals say only 有关部门), so it is one signal among
several: the stacker learns out of fold how much a mention is worth for the lead and for co-departments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array

MENTIONS_FILE = "mentions.json"


class MentionScorer:
    """1 where a department's name or one of its aliases occurs in the text, else 0, per head's labels."""

    def __init__(self, names: Mapping[str, list[str]], heads: Mapping[str, list[str]]) -> None:
        self.names = {
            dept: sorted({n for n in spellings if n}, key=len, reverse=True) for dept, spellings in names.items()
        }
        self.heads = dict(heads)

    @classmethod
    def load(cls, directory: Path) -> MentionScorer:
        raw = json.loads((directory / MENTIONS_FILE).read_text(encoding="utf-8"))
        return cls(raw["names"], raw["heads"])

    def save(self, directory: Path) -> None:
        payload = {"names": self.names, "heads": self.heads}
        (directory / MENTIONS_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")

    def named(self, text: str) -> set[str]:
        return {dept for dept, spellings in self.names.items() if any(s in text for s in spellings)}

    def logits(self, texts: list[str]) -> dict[str, Array]:
        found = [self.named(t) for t in texts]
        return {
            head: np.array([[float(name in f) for name in labels] for f in found]).reshape(len(texts), len(labels))
            for head, labels in self.heads.items()
        }
