"""Training settings: one definition, read by `train_bundle`; the `train` command generates its flags from it.

Kept free of heavy imports so the CLI can build its flags without loading scikit-learn or torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from proposal_router.model.manifest import Component
from proposal_router.model.text import Strategy, View

DEFAULT_VIEWS: tuple[View, ...] = ("text", "title", "ask")


class TrainConfig(BaseModel):
    """Every training setting, once: `train_bundle` reads it, and the `train` command's flags (type, choices,
    default, bounds and help) are generated from the fields listed in `FLAGS`."""

    model_type: Literal["transformer", "baseline"] = Field(
        default="transformer", description="transformer：预训练编码器加线性头；baseline：只用 TF-IDF"
    )
    base_model: str | None = Field(default=None, description="预训练编码器的本地目录（transformer）")
    max_length: int = Field(default=256, ge=16, le=512, description="每个窗口的词元数（≤ 512）")
    strategy: Strategy = Field(default="chunks", description="长文本的处理方法（见 README）")
    max_chunks: int = Field(default=4, ge=1, description="每件提案最多合并的窗口数（chunks）")
    views: list[View] = Field(default_factory=lambda: list(DEFAULT_VIEWS))
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    baseline_c: float = 0.5
    head_c: float = 3.0
    components: list[Component] | None = Field(
        default=None, description="只在这些组件中选择堆叠（默认：数据和模型允许的全部）"
    )
    use_duties: bool = Field(
        default=True,
        description="不学习分类表中的单位职责和主题说明",
        json_schema_extra={"flag": "--no-duties"},
    )
    folds: int = Field(default=5, ge=2, description="交叉拟合的折数（每一行都参与拟合和评估）")
    holdout: float = Field(
        default=0.0, ge=0.0, lt=0.9, description="另留这一比例的行作真正的测试集（数据量大时才值得）"
    )
    target_precision: float = Field(default=0.95, gt=0.0, le=1.0, description="自动交办要达到的准确率")
    seed: int = Field(default=0, description="随机种子")
    threads: int | None = Field(default=None, ge=1, description="推理线程数（默认：全部核心）")


FLAGS = (
    "model_type",
    "base_model",
    "max_length",
    "strategy",
    "max_chunks",
    "target_precision",
    "folds",
    "holdout",
    "components",
    "use_duties",
    "seed",
    "threads",
)
"""The settings a person sets on the command line; the rest are for experiments in code."""
