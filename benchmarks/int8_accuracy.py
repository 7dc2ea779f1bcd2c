"""What int8 costs in accuracy, on a labelled set large enough to see half a point.

The demo intake (108 proposals) moves 0.9 points per proposal, too coarse for the issue's goal (at most 0.5
points lost). This fine-tunes the encoder alone (no blend with the baseline, so nothing dilutes the encoder's
own change) on a real data set's stratified 80% split, exports fp32 and int8 the way `proposal-router export`
does, and compares both on the 20% test split:

    python benchmarks/int8_accuracy.py                         # FAQ departments, me5-small-zh-l4
    python benchmarks/int8_accuracy.py --datasets faq messages

Results go to benchmarks/results/int8_accuracy.json and the `int8-accuracy` table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import REPO, load_dataset
from readme_section import write_section

from proposal_router.model.router import Router
from proposal_router.training.config import TrainConfig
from proposal_router.training.export import export_bundle
from proposal_router.training.pipeline import train_bundle

RESULTS = REPO / "benchmarks" / "results" / "int8_accuracy.json"


def measure(name: str, model: str, shared: Path) -> dict[str, Any]:
    dataset = load_dataset(name, shared)
    settings = {k: v for k, v in dataset.settings.items() if k != "taxonomy"}
    config = TrainConfig(base_model=str(shared / "models" / model), components=["transformer"], **settings)
    texts = [e.text for e in dataset.test]
    gold = np.array([str(getattr(e, dataset.head)) for e in dataset.test])
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        train_bundle(dataset.train, dataset.settings.get("taxonomy"), bundle, config)
        manifest = export_bundle(bundle, quantize=True, serve="fp32", int8_bar=0.0)
        predicted = {}
        for precision in ("fp32", "int8"):
            router = Router(bundle, precision=precision)  # type: ignore[arg-type]
            labels = np.array(router.manifest.heads[dataset.head].labels)
            predicted[precision] = labels[router.probabilities(texts)[dataset.head].argmax(1)]
    parity = manifest.exports["int8"].parity
    return {
        "dataset": dataset.name,
        "model": model,
        "test_rows": len(texts),
        "fp32": float(np.mean(predicted["fp32"] == gold)),
        "int8": float(np.mean(predicted["int8"] == gold)),
        "same_prediction": float(np.mean(predicted["fp32"] == predicted["int8"])),
        "validation_agreement": parity.lead_agreement if parity else None,
        "validation_rows": parity.rows if parity else None,
        "measured_at": time.strftime("%Y-%m-%d"),
    }


def write_table(rows: list[dict[str, Any]]) -> None:
    lines = [
        "| data set | encoder | test rows | fp32 accuracy | int8 accuracy | change | same prediction "
        "| export parity (validation) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tuned = f"{r['epochs']} ep" if "epochs" in r else "frozen"
        lines.append(
            f"| {r['dataset']} | {r['model']} ({tuned}, alone) | {r['test_rows']} | {r['fp32']:.4f} "
            f"| {r['int8']:.4f} | {100 * (r['int8'] - r['fp32']):+.2f} points | {r['same_prediction']:.2%} "
            f"| {r['validation_agreement']:.2%} of {r['validation_rows']} |"
        )
    write_section("int8-accuracy", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["faq"], choices=["faq", "messages", "thucnews"])
    parser.add_argument("--model", default="me5-small-zh-l4")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    previous = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else []
    rows = [r for r in previous if not (r["model"] == args.model and r["dataset"] in args.datasets)]
    for name in args.datasets:
        row = measure(name, args.model, args.shared)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows = [r for r in rows if not (r["model"] == row["model"] and r["dataset"] == row["dataset"])] + [row]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    write_table(rows)


if __name__ == "__main__":
    main()
