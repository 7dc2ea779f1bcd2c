"""Fine-tuning a pretrained encoder with three heads, and exporting it for the torch-free runtime.

Each proposal becomes one or more windows (model.text); the encoder mean-pools every window (as E5 was
trained), the windows of a proposal are averaged, and the heads read that vector. The export holds only
the encoder and pooling (training/export.py); the linear heads go to `heads.npz` for numpy.
"""

from __future__ import annotations

import copy
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from model.text import WindowTokenizer
from training.data import Example

IGNORE = -100


@dataclass
class FitConfig:
    epochs: int = 4
    batch_size: int = 16
    encoder_lr: float = 1e-4
    head_lr: float = 2e-3
    layer_decay: float = 1.0
    weight_decay: float = 0.01
    warmup: float = 0.06
    dropout: float = 0.1
    prototype_scale: float = 10.0
    seed: int = 0
    threads: int | None = None


class ProposalModel(nn.Module):
    def __init__(self, base_model: str, head_sizes: dict[str, int], dropout: float) -> None:
        super().__init__()
        from transformers import AutoModel

        self.encoder = AutoModel.from_pretrained(base_model, add_pooling_layer=False)
        hidden = int(self.encoder.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, size) for name, size in head_sizes.items()})

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def documents(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, doc_index: torch.Tensor, n_docs: int
    ) -> torch.Tensor:
        """One vector per document: the mean of its windows' vectors (serving's pool_documents)."""
        windows = self.pooled(input_ids, attention_mask)
        docs = torch.zeros(n_docs, windows.shape[1], dtype=windows.dtype).index_add_(0, doc_index, windows)
        return docs / torch.bincount(doc_index, minlength=n_docs).clamp(min=1).unsqueeze(1)

    def classify(self, docs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: head(docs) for name, head in self.heads.items()}

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, doc_index: torch.Tensor, n_docs: int
    ) -> dict[str, torch.Tensor]:
        return self.classify(self.dropout(self.documents(input_ids, attention_mask, doc_index, n_docs)))


def collate(batch: list[list[list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    windows = [w for doc in batch for w in doc]
    doc_index = torch.tensor([d for d, doc in enumerate(batch) for _ in doc])
    longest = max(len(w) for w in windows)
    ids = torch.full((len(windows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), longest), dtype=torch.long)
    for row, w in enumerate(windows):
        ids[row, : len(w)] = torch.tensor(w)
        mask[row, : len(w)] = 1
    return ids, mask, doc_index


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within pools of 50 batches, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _targets(examples: list[Example], heads: list[str], labels: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for head in heads:
        if head == "co":
            co = torch.zeros(len(examples), len(labels[head]))
            for i, e in enumerate(examples):
                if e.co is None:
                    co[i] = float(IGNORE)
                for name in e.co or []:
                    if name in labels[head]:
                        co[i, labels[head].index(name)] = 1.0
            out[head] = co
        else:
            index = {name: k for k, name in enumerate(labels[head])}
            out[head] = torch.tensor([index.get(getattr(e, head) or "", IGNORE) for e in examples])
    return out


def _loss(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    total = torch.zeros(())
    for head, z in logits.items():
        y = targets[head]
        if head == "co":
            known = y[:, 0] != IGNORE
            if known.any():
                total = total + nn.functional.binary_cross_entropy_with_logits(z[known], y[known])
        elif (y != IGNORE).any():
            total = total + nn.functional.cross_entropy(z, y, ignore_index=IGNORE)
    return total


def _param_groups(model: ProposalModel, cfg: FitConfig) -> list[dict[str, object]]:
    """Head at its own rate; encoder layers decay geometrically towards the embeddings if asked."""
    layers = int(getattr(model.encoder.config, "num_hidden_layers", 0))
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if name.startswith("heads."):
            lr = cfg.head_lr
        else:
            depth = layers + 1
            if ".layer." in name:
                depth = int(name.split(".layer.")[1].split(".")[0]) + 1
            elif "embeddings" in name:
                depth = 0
            lr = cfg.encoder_lr * cfg.layer_decay ** (layers + 1 - depth)
        decay = 0.0 if param.ndim == 1 else cfg.weight_decay
        groups.setdefault((lr, decay), []).append(param)
    return [{"params": p, "lr": lr, "weight_decay": wd} for (lr, wd), p in groups.items()]


def document_vectors(model: ProposalModel, windows: list[list[list[int]]], pad: int) -> torch.Tensor:
    """Document vectors without dropout or gradients, in batches of 32; the model's mode is restored."""
    training = model.training
    model.eval()
    parts = [torch.zeros(0, int(model.encoder.config.hidden_size))]
    with torch.inference_mode():
        for start in range(0, len(windows), 32):
            batch = windows[start : start + 32]
            ids, mask, doc = collate(batch, pad)
            parts.append(model.documents(ids, mask, doc, len(batch)))
    model.train(training)
    return torch.cat(parts)


def _prototype_init(model: ProposalModel, docs: torch.Tensor, targets: dict[str, torch.Tensor], scale: float) -> None:
    """Start each softmax head as a nearest-centroid classifier on the pretrained embeddings.

    With a dozen examples per department a randomly initialised head needs many epochs before the
    encoder gets a useful gradient; E5's mean-pooled vectors already cluster by subject, so the
    centred, normalised class means are a strong first head (cosine-like logits times `scale`).
    """
    centre = docs.mean(dim=0)
    with torch.no_grad():
        for head, y in targets.items():
            if head == "co":
                continue
            layer = model.heads[head]
            assert isinstance(layer, nn.Linear)
            for k in range(layer.out_features):
                members = docs[y == k]
                if len(members):
                    direction = nn.functional.normalize(members.mean(dim=0) - centre, dim=0)
                    norm = (docs - centre).norm(dim=1).mean().clamp(min=1e-6)
                    layer.weight[k] = scale * direction / norm
            layer.bias.copy_(-(layer.weight @ centre))


def _accuracy(model: ProposalModel, windows: list[list[list[int]]], y: torch.Tensor, head: str, pad: int) -> float:
    known = y != IGNORE
    if not known.any():
        return 0.0
    with torch.no_grad():
        predicted = model.classify(document_vectors(model, windows, pad))[head].argmax(dim=1)
    return float((predicted[known] == y[known]).float().mean())


def fine_tune(
    base_model: str,
    tokenizer: WindowTokenizer,
    train: list[Example],
    val: list[Example],
    heads: list[str],
    labels: dict[str, list[str]],
    cfg: FitConfig,
) -> tuple[ProposalModel, list[dict[str, float]]]:
    """Train, keeping the epoch with the best validation accuracy on the main head."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model = ProposalModel(base_model, {h: len(labels[h]) for h in heads}, cfg.dropout)
    pad = tokenizer.config.pad_id
    train_windows = tokenizer.windows([e.text for e in train])
    val_windows = tokenizer.windows([e.text for e in val])
    train_y, val_y = _targets(train, heads, labels), _targets(val, heads, labels)
    main = "lead" if "lead" in heads else "topic"
    if cfg.prototype_scale > 0:
        _prototype_init(model, document_vectors(model, train_windows, pad), train_y, cfg.prototype_scale)
    lengths = [sum(len(w) for w in doc) for doc in train_windows]
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = max(1, steps_per_epoch * cfg.epochs)
    warmup = int(total * cfg.warmup)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / max(1, warmup), max(0.0, (total - s) / max(1, total - warmup)))
    )
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor] | None] = (-1.0, None)
    model.train()
    with tqdm(total=total, desc="fine-tuning", unit="step") as bar:
        for epoch in range(cfg.epochs):
            running = 0.0
            for batch in _batches(lengths, cfg.batch_size, rng):
                ids, mask, doc = collate([train_windows[i] for i in batch], pad)
                logits = model(ids, mask, doc, len(batch))
                loss = _loss(logits, {h: y[batch] for h, y in train_y.items()})
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                running += loss.item()
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
            score = _accuracy(model, val_windows, val_y[main], main, pad) if val else float(epoch)
            history.append({"epoch": epoch + 1, "loss": running / steps_per_epoch, f"val_{main}_accuracy": score})
            if score > best[0]:
                best = (score, copy.deepcopy(model.state_dict()))
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    return model, history


def check_base_model(base_model: str) -> None:
    """Fail before any work when the encoder cannot be loaded here (offline networks have no hub)."""
    from transformers import AutoConfig

    local = Path(base_model)
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ValueError(f"{base_model}: not a model directory (no config.json)")
        return
    try:
        AutoConfig.from_pretrained(base_model)
    except OSError as exc:
        raise ValueError(
            f"--base-model {base_model!r} is neither a local model directory nor in the local hub cache; "
            "on an offline network, copy the model's directory here and pass its path"
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
