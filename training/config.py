"""Training settings: one definition, read by `train_bundle` and shown as the CLI's defaults.

Kept free of heavy imports so the CLI can show its defaults without loading scikit-learn or torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from proposal_router.model.manifest import Component
from proposal_router.model.text import Strategy, View

DEFAULT_VIEWS: tuple[View, ...] = ("text", "title", "ask")


class TrainConfig(BaseModel):
    model_type: Literal["transformer", "baseline"] = "transformer"
    base_model: str | None = None
    max_length: int = Field(default=256, ge=16, le=512)
    strategy: Strategy = "chunks"
    max_chunks: int = Field(default=4, ge=1)
    views: list[View] = Field(default_factory=lambda: list(DEFAULT_VIEWS))
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    baseline_c: float = 0.5
    head_c: float = 3.0
    components: list[Component] | None = None
    """Restrict what the stacker may choose from (default: every component the data and model allow)."""
    use_duties: bool = True
    folds: int = Field(default=5, ge=2)
    holdout: float = Field(default=0.0, ge=0.0, lt=0.9)
    target_precision: float = Field(default=0.95, gt=0.0, le=1.0)
    seed: int = 0
    threads: int | None = None
