"""Which long-text method: head, head+tail, or pooled chunks, measured on real long citizen messages.

    python benchmarks/long_text.py [--train 2000] [--test 800] [--max-length 128]

Uses messages of at least 300 characters (median ~600) from ../shared/data/tipdm2020_c_messages, a window
deliberately shorter than the texts (128 tokens) so the methods differ, and me5-small-zh-l4 without the
baseline blend, so only the encoder's reading of the text is compared. Results go to
benchmarks/results/long_text.jsonl and the table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from accuracy import REPO, examples_from, labelled, read_rows, scores
from readme_section import write_section

from proposal_router.model.calibration import softmax
from proposal_router.model.router import Router
from proposal_router.training.pipeline import TrainConfig, train_bundle
from proposal_router.training.splits import stratified_split

RESULTS = REPO / "benchmarks" / "results" / "long_text.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=800)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--strategies", nargs="+", default=["head", "head_tail", "chunks"])
    args = parser.parse_args()

    rows = read_rows(args.shared / "data" / "tipdm2020_c_messages" / "messages_labeled_full_segmented.csv")
    examples = [e for e in examples_from(rows, "text", "topic", "msg") if len(e.text) >= 300]
    rng = np.random.default_rng(0)
    picked = [examples[i] for i in rng.permutation(len(examples))[: args.train + args.test]]
    test_idx, train_idx = stratified_split([str(e.topic) for e in picked], (args.test / len(picked),), seed=0)
    train = labelled("messages-long", [picked[i] for i in train_idx], "topic")
    test = [picked[i] for i in test_idx]
    median = int(np.median([len(e.text) for e in test]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for strategy in args.strategies:
        config = TrainConfig(
            base_model=str(args.shared / "models" / "me5-small-zh-l4"),
            max_length=args.max_length,
            strategy=strategy,
            max_chunks=4,
            views=["text"],
            components=["transformer"],
        )
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            train_bundle(train, None, Path(tmp) / "b", config)
            seconds = time.perf_counter() - started
            router = Router(Path(tmp) / "b")
            texts = [e.text for e in test]
            predict_started = time.perf_counter()
            logits = router.component_logits(texts)["transformer"]["topic"]
            predict_seconds = time.perf_counter() - predict_started
            labels = router.manifest.heads["topic"].labels
        row = {
            "strategy": strategy,
            **scores(softmax(logits), labels, [str(e.topic) for e in test]),
            "train_seconds": round(seconds, 1),
            "predict_ms_per_text": round(1000 * predict_seconds / len(test), 1),
            "train_rows": len(train.examples),
            "test_rows": len(test),
            "median_chars": median,
            "max_length": args.max_length,
        }
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    write_table()


def write_table() -> None:
    latest = {}
    for line in RESULTS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        latest[row["strategy"]] = row
    table = [
        "| method | accuracy | macro-F1 | train time | inference per text | setting |",
        "|---|---|---|---|---|---|",
    ]
    for row in latest.values():
        setting = (
            f"{row['train_rows']}/{row['test_rows']} texts, median {row['median_chars']} chars, "
            f"{row['max_length']}-token window, " + (f"{row['epochs']} epochs" if "epochs" in row else "frozen")
        )
        table.append(
            f"| {row['strategy']} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} | "
            f"{row['train_seconds']:.0f} s | {row['predict_ms_per_text']:.0f} ms | {setting} |"
        )
    write_section("long-text", table)


if __name__ == "__main__":
    sys.exit(main())
