"""The frozen pretrained encoder in torch: what is exported to ONNX, and the reference export is checked against.

The encoder is not fine-tuned. With a year or three of proposals (324–1,000 rows), fine-tuning me5-small-zh-l4
and blending it with TF-IDF scored 0.742 on proposals by another author, below TF-IDF alone (0.785), while
frozen mean-pooled embeddings with linear heads, cross-fitted with TF-IDF, scored 0.835 (see
benchmarks/README.md). Frozen, each text is embedded once and every fold fits only linear heads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from proposal_router.model.calibration import Array
from proposal_router.model.encoder import pool_documents
from proposal_router.model.errors import SetupError
from proposal_router.model.text import Windows

BATCH = 32


class FrozenEncoder(nn.Module):
    """Windows in, one mean-pooled vector per window out (E5 was trained with mean pooling)."""

    def __init__(self, base_model: str) -> None:
        super().__init__()
        from transformers import AutoModel

        self.encoder = AutoModel.from_pretrained(base_model, add_pooling_layer=False)
        self.eval()

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled: torch.Tensor = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return pooled


def _pad(windows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(w) for w in windows)
    ids = torch.full((len(windows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), longest), dtype=torch.long)
    for row, w in enumerate(windows):
        ids[row, : len(w)] = torch.tensor(w)
        mask[row, : len(w)] = 1
    return ids, mask


def document_vectors(model: FrozenEncoder, documents: list[Windows], pad_id: int) -> Array:
    """Document vectors through torch, pooled exactly as serving pools the ONNX encoder's windows."""
    flat = [w for d in documents for w in d.ids]
    parts = [np.zeros((0, model.hidden_size))]
    with torch.inference_mode():
        for start in range(0, len(flat), BATCH):
            ids, mask = _pad(flat[start : start + BATCH], pad_id)
            parts.append(model(ids, mask).double().numpy())
    return pool_documents(np.vstack(parts), documents)


def check_base_model(base_model: str) -> None:
    """Fail before any work when the encoder cannot be loaded here (offline networks have no hub)."""
    from transformers import AutoConfig

    local = Path(base_model)
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise SetupError(f"{base_model}：不是模型目录（没有 config.json）", option="base_model")
        return
    try:
        AutoConfig.from_pretrained(base_model)
    except OSError as exc:
        raise SetupError(
            f"预训练模型 {base_model} 既不是本地模型目录，也不在本地缓存中；内网环境请把模型目录复制到本机并给出其路径",
            option="base_model",
        ) from exc


def save_tokenizer(base_model: str, directory: Path) -> Path:
    """Put the base model's `tokenizer.json` in the bundle (from a local directory, or via transformers)."""
    target = directory / "tokenizer.json"
    local = Path(base_model) / "tokenizer.json"
    if local.is_file():
        shutil.copyfile(local, target)
    else:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(base_model).backend_tokenizer.save(str(target))
    return target
