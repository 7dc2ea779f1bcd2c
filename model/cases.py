"""Similarity to past cases and to the departments' duty statements (职责), on the encoder's vectors.

A department's score for a proposal is the mean cosine similarity of the proposal to its `k` most similar
past proposals that the department handled (or its duty statement, which counts as one more case). This
is nearest-neighbour routing: it needs no fitting, keeps working for a department with few examples, and
the stacker weighs it against the linear heads by how well it predicted out of fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array

CASES_FILE = "cases.npz"


def normalise(vectors: Array) -> Array:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: Array = vectors / np.maximum(norms, 1e-12)
    return out


def top_k_similarity(similarity: Array, members: np.ndarray, k: int) -> Array:
    """Per class: mean of the k largest similarities among its members (fewer if it has fewer; 0 if none)."""
    out = np.zeros((similarity.shape[0], members.shape[1]))
    for col in range(members.shape[1]):
        own = similarity[:, members[:, col]]
        if own.shape[1]:
            take = min(k, own.shape[1])
            out[:, col] = np.sort(own, axis=1)[:, -take:].mean(axis=1)
    return out


class CaseScorer:
    """Scores document vectors against the stored cases: `vectors` (unit rows) and `members_<head>` masks."""

    def __init__(self, vectors: Array, members: dict[str, np.ndarray], k: int) -> None:
        # Held as the float32 that is saved, so training's out-of-fold scores are the ones serving gives.
        self.vectors = normalise(vectors).astype(np.float32).astype(np.float64)
        self.members, self.k = members, k

    @classmethod
    def load(cls, directory: Path) -> CaseScorer:
        with np.load(directory / CASES_FILE) as data:
            members = {
                key[len("members_") :]: data[key].astype(bool) for key in data.files if key.startswith("members_")
            }
            return cls(data["vectors"].astype(np.float64), members, int(data["k"]))

    def save(self, directory: Path) -> None:
        arrays = {f"members_{head}": mask for head, mask in self.members.items()}
        arrays["vectors"], arrays["k"] = self.vectors.astype(np.float32), np.array(self.k)
        np.savez_compressed(directory / CASES_FILE, allow_pickle=False, **arrays)

    def logits(self, docs: Array) -> dict[str, Array]:
        similarity = normalise(docs) @ self.vectors.T
        return {head: top_k_similarity(similarity, mask, self.k) for head, mask in self.members.items()}
