"""Label audit before retraining: last year's lead departments that look wrong.

Every row's lead-department probabilities are taken out of fold, exactly as `train` computes them
(training/pipeline.py `training_corpus`, `prepare_encoder`, `candidate_components`; training/crossfit.py
`cross_fit`: 5 folds, the stack chosen on the out-of-fold logits), so no row is judged by a model that
saw its label. Confident learning then picks the rows whose given label is unlikely under those
probabilities: `cleanlab.filter.find_label_issues` estimates the confident joint of given and true
labels from per-class thresholds (each department's mean self-confidence) and prunes the off-diagonal
rows by noise rate, ranked by self-confidence (the probability of the given department, lowest first).

Method: C. G. Northcutt, L. Jiang and I. L. Chuang, "Confident Learning: Estimating Uncertainty in
Dataset Labels", Journal of Artificial Intelligence Research 70 (2021) 1373-1411; cleanlab 2.x.

A suspect is a question for the analyst, not a verdict: the suggested department is the likeliest
other one, with its out-of-fold probability.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from proposal_router.model.encoder import default_threads
from proposal_router.model.errors import SetupError
from proposal_router.model.intake.tables import read_table
from proposal_router.model.manifest import SERVING, TRAINING, Component
from proposal_router.model.taxonomy import Taxonomy
from proposal_router.training.components import targets
from proposal_router.training.config import TrainConfig
from proposal_router.training.crossfit import cross_fit
from proposal_router.training.data import LabelledData
from proposal_router.training.pipeline import candidate_components, prepare_encoder, training_corpus

RankBy = Literal["self_confidence", "normalized_margin"]
METHOD = (
    "置信学习（Confident Learning，Northcutt 等，JAIR 2021）：cleanlab.filter.find_label_issues，"
    "按噪声率剪枝（prune_by_noise_rate），用与训练相同的 {folds} 折交叉拟合袋外概率"
)
TITLE_CHARS = 80


@dataclass
class Suspect:
    """One row whose given lead department looks wrong."""

    index: int
    """Position in `LabelledData.examples`."""
    file: str
    row: int | None
    """The row a person sees in Excel or a CSV viewer (the header is row 1)."""
    id: str
    title: str
    given: str
    suggested: str
    suggested_confidence: float
    given_probability: float
    topic: str | None = None
    co: list[str] = field(default_factory=list)
    """The row's co-departments as given: a suggestion among them may be a question of 主办 or 协办."""


@dataclass
class LabelAudit:
    suspects: list[Suspect]
    rows: int
    """Rows with a lead department, all audited."""
    labels: list[str]
    components: list[Component]
    accuracy: float
    """Out-of-fold accuracy of the stacked lead probabilities on the given labels."""
    model_type: str
    folds: int
    rank_by: RankBy
    embed_seconds: float
    seconds: float
    per_department: dict[str, int] = field(default_factory=dict)
    """Suspects by given department."""


def _title(text: str) -> str:
    """The title: `compose` puts it on the first line (a proposal without one shows its body's start)."""
    first = text.split("\n", 1)[0]
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"


def _file_of(data: LabelledData) -> list[str]:
    """Each example's source file (examples are the files' rows in the order given)."""
    if not data.files:
        return [data.path] * len(data.examples)
    found = [part.path for part in data.files for _ in range(part.rows)]
    return found if len(found) == len(data.examples) else [data.path] * len(data.examples)


def _shown_rows(data: LabelledData, files: list[str]) -> list[int | None]:
    """Each example's row as Excel shows it (the header is row 1). A CSV's row numbers count lines, and
    a cell with a line break takes several: there the row is the record's place in the file."""
    by_file: dict[str, dict[int, int]] = {}
    for name in dict.fromkeys(files):
        if Path(name).suffix.lower() == ".csv":
            numbers = read_table(name, None).row_numbers
            by_file[name] = {line: place + 2 for place, line in enumerate(numbers)}
    shown: list[int | None] = []
    for example, name in zip(data.examples, files, strict=True):
        places = by_file.get(name)
        row = example.row
        shown.append(places.get(row, row) if places is not None and row is not None else row)
    return shown


def out_of_fold_lead(
    data: LabelledData, taxonomy: Taxonomy | None, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Component], float]:
    """(rows with a lead, their given label index, out-of-fold probabilities, components, embed seconds).

    All rows are used (`--holdout` does not apply: every row is audited). With the transformer, the
    frozen encoder is exported and every row embedded through the ONNX file as training does, in a
    temporary directory that is removed afterwards."""
    if "lead" not in data.heads:
        raise SetupError("数据中没有主办单位列（或只有一个单位），无法检查主办单位", option="lead_field")
    if config.model_type == "transformer" and not config.base_model:
        raise SetupError("transformer 模型需要预训练模型（本地目录）", option="base_model")
    corpus = training_corpus(data, data.examples, taxonomy, config)
    started = time.perf_counter()
    if config.model_type == "transformer":
        with tempfile.TemporaryDirectory(prefix="label-audit-") as tmp:
            work = Path(tmp)
            for part in (SERVING, TRAINING):
                (work / part).mkdir()
            prepare_encoder(config, corpus, work, config.threads or default_threads())
    embed_seconds = time.perf_counter() - started
    result = cross_fit(corpus, candidate_components(config, corpus), config.folds, config.seed)
    labels = result.heads["lead"].labels
    rows, y = targets(corpus.examples, "lead", labels)
    return rows, y, result.probs["lead"][rows], result.components, embed_seconds


def audit_labels(
    data: LabelledData,
    taxonomy: Taxonomy | None,
    config: TrainConfig,
    rank_by: RankBy = "self_confidence",
) -> LabelAudit:
    """The rows whose given lead department confident learning finds unlikely, most doubtful first."""
    from cleanlab.filter import find_label_issues

    started = time.perf_counter()
    rows, y, probs, components, embed_seconds = out_of_fold_lead(data, taxonomy, config)
    labels = data.labels["lead"]
    probs = np.clip(probs, 0.0, 1.0)
    probs = probs / probs.sum(axis=1, keepdims=True)
    issues = find_label_issues(
        labels=y,
        pred_probs=probs,
        return_indices_ranked_by=rank_by,
        filter_by="prune_by_noise_rate",
        n_jobs=1,
    )
    files = _file_of(data)
    shown = _shown_rows(data, files)
    suspects: list[Suspect] = []
    per_department: dict[str, int] = {}
    for k in issues:
        index = int(rows[k])
        example = data.examples[index]
        given = int(y[k])
        others = probs[k].copy()
        others[given] = -1.0
        best = int(others.argmax())
        suspects.append(
            Suspect(
                index=index,
                file=files[index],
                row=shown[index],
                id=example.id,
                title=_title(example.text),
                given=labels[given],
                suggested=labels[best],
                suggested_confidence=float(probs[k, best]),
                given_probability=float(probs[k, given]),
                topic=example.topic,
                co=list(example.co or []),
            )
        )
        per_department[labels[given]] = per_department.get(labels[given], 0) + 1
    return LabelAudit(
        suspects=suspects,
        rows=len(rows),
        labels=labels,
        components=components,
        accuracy=float(np.mean(probs.argmax(axis=1) == y)),
        model_type=config.model_type,
        folds=config.folds,
        rank_by=rank_by,
        embed_seconds=embed_seconds,
        seconds=time.perf_counter() - started,
        per_department=dict(sorted(per_department.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
