"""Accuracy benchmark: the TF-IDF baseline and the cross-fitted stack side by side on real data.

Each (data set, model) run appends JSON lines to benchmarks/results/accuracy.jsonl and the table in
benchmarks/README.md is regenerated from all lines, so a long grid can be run in parts:

    python benchmarks/accuracy.py                                 # everything (about an hour on 2 cores)
    python benchmarks/accuracy.py --datasets faq demo --models baseline me5-small-zh

Data comes from ../shared/data at run time (never copied into the repo). An encoder run trains the
README's default recipe with that frozen encoder and reports two rows: the encoder's linear head alone and
the stack the bundle actually serves. Rows of earlier recipes (the fine-tuned encoder blended on a
validation split) stay in the file and the table, labelled as such, for comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from readme_section import write_section  # noqa: E402

from proposal_router.model.calibration import softmax  # noqa: E402
from proposal_router.model.intake.records import ColumnMap  # noqa: E402
from proposal_router.model.router import Router  # noqa: E402
from proposal_router.model.taxonomy import load_taxonomy  # noqa: E402
from proposal_router.training.config import TrainConfig  # noqa: E402
from proposal_router.training.data import Example, LabelledData, load_labelled  # noqa: E402
from proposal_router.training.evaluate import Evaluation, compute_metrics  # noqa: E402
from proposal_router.training.pipeline import train_bundle  # noqa: E402
from proposal_router.training.splits import stratified_split  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "accuracy.jsonl"
_SEGMENT_SPACE = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")


@dataclass
class Dataset:
    name: str
    head: str
    train: LabelledData
    test: list[Example]
    settings: dict[str, Any]
    published: str = ""


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def examples_from(rows: list[dict[str, str]], text_key: str, head: str, prefix: str) -> list[Example]:
    out = []
    for i, row in enumerate(rows):
        text = _SEGMENT_SPACE.sub("", row[text_key]).strip()
        if text:
            out.append(Example(id=f"{prefix}{i}", text=text, **{head: row["label"]}))
    return out


def labelled(name: str, examples: list[Example], head: str) -> LabelledData:
    labels = sorted({str(getattr(e, head)) for e in examples})
    return LabelledData(name, examples, [head], {head: labels}, sha256=name)


def _held_out(title: str, examples: list[Example], head: str, settings: dict[str, Any], published: str) -> Dataset:
    """A stratified 20% test split with seed 0, the rest for training."""
    test_idx, train_idx = stratified_split([str(getattr(e, head)) for e in examples], (0.2,), seed=0)
    train = labelled(title, [examples[i] for i in train_idx], head)
    return Dataset(title, head, train, [examples[i] for i in test_idx], settings, published)


def load_dataset(name: str, shared: Path) -> Dataset:
    data = shared / "data"
    if name == "faq":
        rows = read_rows(data / "tw_central_gov_faq_departments" / "data.csv")
        return _held_out(
            "FAQ departments (35)",
            examples_from(rows, "title_simplified", "lead", "faq"),
            "lead",
            {"max_length": 64, "strategy": "head", "views": ["text"]},
            "none published for this split",
        )
    if name == "messages":
        rows = read_rows(data / "tipdm2020_c_messages" / "messages_labeled_full_segmented.csv")
        return _held_out(
            "Citizen messages (7 topics)",
            examples_from(rows, "text", "topic", "msg"),
            "topic",
            {"max_length": 256, "strategy": "head_tail", "views": ["text"]},
            "tfidf+SVM(rbf) 0.920 / macro-F1 0.92 (team report, 20% hold-out)",
        )
    if name == "thucnews":
        folder = data / "thucnews_title10"
        return Dataset(
            "THUCNews headlines (10)",
            "topic",
            labelled("thucnews", examples_from(read_rows(folder / "train.csv"), "title", "topic", "tr"), "topic"),
            examples_from(read_rows(folder / "test.csv"), "title", "topic", "te"),
            {"max_length": 48, "strategy": "head", "views": ["text"]},
            "bert-base-chinese 0.9483, FastText 0.9223, TextCNN 0.9122 (180k train)",
        )
    if name == "demo":
        taxonomy = load_taxonomy(REPO / "data" / "taxonomy.yaml")
        train = load_labelled(REPO / "data" / "demo" / "train.csv", ColumnMap(), taxonomy)
        test = load_labelled(REPO / "data" / "demo" / "intake_labelled.csv", ColumnMap(), taxonomy)
        return Dataset(
            "Demo proposals (27 departments)",
            "lead",
            train,
            test.examples,
            {"taxonomy": taxonomy},
            "—",
        )
    raise SystemExit(f"unknown data set {name!r}")


def coverage_at(confidence: np.ndarray, correct: np.ndarray, precision: float) -> float:
    """Largest share of the test set that can be auto-routed at `precision` (read off the test curve)."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    counts = np.arange(1, len(order) + 1)
    ok = np.flatnonzero(hits >= precision * counts)
    return float(counts[ok[-1]] / len(order)) if len(ok) else 0.0


def scores(probs: np.ndarray, labels: list[str], gold: list[str]) -> dict[str, float]:
    pred = [labels[i] for i in probs.argmax(axis=1)]
    correct = np.array([p == g for p, g in zip(pred, gold, strict=True)], dtype=float)
    return {
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(gold, pred, average="macro", labels=sorted(set(gold) | set(pred)))),
        "coverage_at_95": coverage_at(probs.max(axis=1), correct, 0.95),
    }


def run(dataset: Dataset, model: str, shared: Path, threads: int | None) -> list[dict[str, Any]]:
    settings = dict(dataset.settings)
    taxonomy = settings.pop("taxonomy", None)
    if model == "baseline":
        config = TrainConfig(model_type="baseline", components=["baseline"], threads=threads)
    else:
        config = TrainConfig(base_model=str(shared / "models" / model), threads=threads, **settings)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = train_bundle(dataset.train, taxonomy, Path(tmp) / "bundle", config)
        train_seconds = time.perf_counter() - started
        router = Router(Path(tmp) / "bundle", threads=threads)
        texts = [e.text for e in dataset.test]
        logits = router.component_logits(texts)
        served = router.probabilities(texts)
    labels = {h: s.labels for h, s in manifest.heads.items()}
    measured = compute_metrics(Evaluation(dataset.test, served, labels, manifest.routing, manifest.co_threshold()))
    gold = [str(getattr(e, dataset.head)) for e in dataset.test]
    spec = manifest.heads[dataset.head]  # type: ignore[index]
    base = {
        "dataset": dataset.name,
        "train_rows": len(dataset.train.examples),
        "test_rows": len(dataset.test),
        "train_seconds": round(train_seconds, 1),
        "recipe": "cross-fitted stack",
        "config": {k: v for k, v in config.model_dump().items() if k in ("max_length", "strategy", "views", "folds")},
        "published": dataset.published,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    routing = measured.get("routing", {})
    served_row = {
        **base,
        "model": "TF-IDF + LinearSVC" if model == "baseline" else f"{model} frozen, cross-fitted stack (served)",
        **scores(served[dataset.head], spec.labels, gold),
        "components": {h: {c: round(w, 3) for c, w in s.weights.items()} for h, s in manifest.heads.items()},
        "out_of_fold": manifest.crossfit.out_of_fold if manifest.crossfit else {},
        "auto_coverage": routing.get("coverage"),
        "auto_precision": routing.get("auto_precision"),
        "threshold": manifest.routing.lead_threshold,
        "metrics": {
            group: {k: v for k, v in values.items() if isinstance(v, float | int)}
            for group, values in measured.items()
            if isinstance(values, dict)
        },
    }
    if model == "baseline":
        return [served_row]
    alone = softmax(logits["transformer"][dataset.head]) if "transformer" in logits else None
    rows = [served_row]
    if alone is not None:
        rows.insert(0, {**base, "model": f"{model} frozen + linear head alone", **scores(alone, spec.labels, gold)})
    return rows


def write_table() -> None:
    lines = [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in lines:
        latest[(row["dataset"], row["model"])] = row
    table = [
        "| data set | recipe | model | accuracy | macro-F1 | cov@95% | auto (precision) | train time | train/test |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(latest.values(), key=lambda r: (r["dataset"], r.get("recipe", ""), r["model"])):
        auto = row.get("auto_coverage")
        precision = row.get("auto_precision")
        routed = "—" if auto is None else f"{auto:.2f} ({precision:.3f})" if precision is not None else f"{auto:.2f}"
        table.append(
            f"| {row['dataset']} | {row.get('recipe', 'fine-tuned, validation blend')} | {row['model']} | "
            f"{row['accuracy']:.3f} | {row['macro_f1']:.3f} | {row['coverage_at_95']:.2f} | {routed} | "
            f"{row['train_seconds']:.0f} s | {row['train_rows']}/{row['test_rows']} |"
        )
    published = sorted({(r["dataset"], r["published"]) for r in latest.values()})
    table += ["", "Published reference numbers:", ""] + [f"- {d}: {p}" for d, p in published]
    write_section("accuracy", table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["demo", "faq", "messages", "thucnews"])
    parser.add_argument("--models", nargs="+", default=["baseline", "me5-small-zh"])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--table-only", action="store_true", help="only regenerate the README table")
    args = parser.parse_args()
    if not args.table_only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        for name in args.datasets:
            dataset = load_dataset(name, args.shared)
            for model in args.models:
                for row in run(dataset, model, args.shared, args.threads):
                    with RESULTS.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    print(
                        json.dumps(
                            {k: row[k] for k in ("dataset", "model", "accuracy", "macro_f1")},
                            ensure_ascii=False,
                        ),
                        flush=True,
                    )
                write_table()
    write_table()


if __name__ == "__main__":
    main()
