"""The exported transformer: an ONNX encoder giving one mean-pooled vector per window, and linear heads."""

from __future__ import annotations

import itertools
import mmap
import os
from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array
from proposal_router.model.errors import BundleError
from proposal_router.model.text import Windows, WindowTokenizer


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _dynamically_quantized(path: Path) -> bool:
    """Whether the graph quantises activations at run time; an op type is stored as plain text in the file."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b"DynamicQuantizeLinear") >= 0


BATCH_TOKENS = 2048
ALONE = 1
"""Tokens per batch for a dynamically quantised encoder: each window runs alone. Its activations are
quantised with one scale per tensor, so in a batch a proposal's confidence moved with its neighbours (by up
to 0.019 on the demo intake); alone it is the same in every batch, at the same speed (108 against 110
proposals/s, 324 demo texts, 2 cores)."""


class OnnxEncoder:
    """Runs `encoder.onnx` (inputs input_ids/attention_mask, output `pooled`) over padded batches."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BundleError(f"{path}：无法加载 ONNX 编码器（{exc}）") from exc
        names = {i.name for i in self.session.get_inputs()}
        if names != {"input_ids", "attention_mask"}:
            raise BundleError(f"{path}：编码器的输入应为 input_ids 和 attention_mask，实为 {sorted(names)}")
        self.hidden_size = int(self.session.get_outputs()[0].shape[-1])
        self.quantized = _dynamically_quantized(Path(path))

    def embed(self, windows: list[list[int]], pad_id: int, batch_tokens: int | None = None) -> Array:
        """Embed windows in length-sorted batches so short texts do not pay for long ones' padding.

        Small batches are both faster and leaner on a CPU: 324 demo proposals (int8, 2 cores) ran at 87/s
        with 8,192 tokens per batch and 110/s with 2,048, and peak memory fell from 533 to 285 MB, since the
        attention scores of a batch grow with windows × length² and stay in onnxruntime's arena.
        """
        batch_tokens = batch_tokens or (ALONE if self.quantized else BATCH_TOKENS)
        out = np.zeros((len(windows), self.hidden_size), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        start = 0
        while start < len(order):
            stop = start + 1
            while stop < len(order) and (stop - start + 1) * len(windows[order[stop]]) <= batch_tokens:
                stop += 1
            batch = order[start:stop]
            longest = len(windows[batch[-1]])
            ids = np.full((len(batch), longest), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : len(windows[i])] = windows[i]
                mask[row, : len(windows[i])] = 1
            (pooled,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[batch] = pooled
            start = stop
        return out


def pool_documents(window_vectors: Array, documents: list[Windows]) -> Array:
    """Each document's vector: its windows' vectors weighted by their share (training does the same)."""
    bounds = np.cumsum([0, *(len(d.ids) for d in documents)])
    return np.vstack(
        [
            np.asarray(d.weights) @ window_vectors[a:b]
            for d, (a, b) in zip(documents, itertools.pairwise(bounds), strict=True)
        ]
    ).reshape(len(documents), window_vectors.shape[1])


class DocumentEmbedder:
    """Tokenise → windows → ONNX encoder → one vector per document."""

    def __init__(self, directory: Path, tokenizer: WindowTokenizer, encoder_file: str, threads: int | None):
        self.tokenizer = tokenizer
        self.encoder = OnnxEncoder(directory / encoder_file, threads)

    def embeddings(self, texts: list[str]) -> Array:
        if not texts:
            return np.zeros((0, self.encoder.hidden_size))
        documents = self.tokenizer.windows(texts)
        flat = [w for d in documents for w in d.ids]
        vectors = self.encoder.embed(flat, self.tokenizer.config.pad_id)
        return pool_documents(vectors, documents)


class TransformerScorer(DocumentEmbedder):
    """Document vectors, then the linear heads of `heads.npz` (numpy)."""

    def __init__(self, directory: Path, tokenizer: WindowTokenizer, encoder_file: str, threads: int | None):
        super().__init__(directory, tokenizer, encoder_file, threads)
        with np.load(directory / "heads.npz") as heads:
            self.heads = {
                key[len("weight_") :]: (heads[key], heads["bias_" + key[len("weight_") :]])
                for key in heads.files
                if key.startswith("weight_")
            }
        for name, (weight, _) in self.heads.items():
            if weight.shape[1] != self.encoder.hidden_size:
                raise BundleError(
                    f"{directory / encoder_file}：编码器输出 {self.encoder.hidden_size} 维向量，"
                    f"预测项 {name!r} 需要 {weight.shape[1]} 维：该 ONNX 文件属于另一个模型"
                )

    def head_logits(self, docs: Array) -> dict[str, Array]:
        """The linear heads on document vectors (the similarity component reads the same vectors)."""
        return {head: docs @ w.T + b for head, (w, b) in self.heads.items()}

    def logits(self, texts: list[str]) -> dict[str, Array]:
        return self.head_logits(self.embeddings(texts))
