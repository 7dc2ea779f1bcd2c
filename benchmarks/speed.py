"""Speed benchmark: the usual transformers pipeline vs our torch-free runtime (ONNX fp32 and int8).

    python benchmarks/speed.py [--models me5-small-zh-l4 me5-small-zh] [--short 2000] [--long 1000]

For each encoder it fine-tunes a bundle on the demo proposals (or uses `--bundle MODEL=DIR`), exports int8,
then measures in a fresh subprocess per method (so peak memory is that method's own):
1. `pipeline("text-classification")` over the same fine-tuned torch encoder (truncation at 512 tokens, and
   at 256 tokens: as many as the bundle's window, so the same work per text), 2. our `Router` with the fp32
   ONNX encoder, 3. with the int8 encoder,
on (a) THUCNews test headlines and (b) long real texts of 300–3,000 characters (citizen messages from
attachment3 and the demo proposals). It reports proposals per second (batch), p50/p99 latency of one
proposal at a time, peak memory, the work per proposal (encoder FLOPs from the model's shape and the tokens
actually processed) against a float32 matrix-multiply measured on the same cores, and the accuracy change
of int8 on the demo intake. Results: benchmarks/results/speed.json and the table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from readme_section import write_section

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proposal_router.model.encoder import default_threads  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "speed.json"
SINGLE_CALLS = 200


def short_texts(shared: Path, n: int) -> list[str]:
    with (shared / "data" / "thucnews_title10" / "test.csv").open(encoding="utf-8") as fh:
        return [row["title"] for row in csv.DictReader(fh)][:n]


def long_texts(shared: Path, n: int) -> list[str]:
    texts = []
    with (shared / "data" / "tipdm2020_c_messages" / "attachment3_unlabeled_raw.csv").open(encoding="utf-8") as fh:
        texts += [f"{r['title']}\n{r['text']}" for r in csv.DictReader(fh)]
    with (REPO / "data" / "demo" / "train.csv").open(encoding="utf-8") as fh:
        texts += [f"{r['title']}\n{r['body']}" for r in csv.DictReader(fh)]
    picked = [t for t in texts if 300 <= len(t) <= 3000]
    rng = np.random.default_rng(0)
    return [picked[i] for i in rng.permutation(len(picked))[:n]]


def encoder_flops(config: dict[str, Any], window_lengths: list[int]) -> float:
    """Forward FLOPs of a BERT encoder: 2·n·(4h² + 2hf) for the dense layers and 4·n²·h for attention."""
    h, f, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return float(sum(layers * (2 * n * (4 * h * h + 2 * h * f) + 4 * n * n * h) for n in window_lengths))


METHODS = ("pipeline", "pipeline-256", "onnx-fp32", "onnx-int8")


def matmul_gflops(threads: int) -> float:
    """What the cores reach on a float32 matrix multiply: the practical ceiling for this encoder."""
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 2048**3 / (time.perf_counter() - start) / 1e9


def _peak_rss_mb() -> float:
    """This process image's own peak resident memory (VmHWM). ru_maxrss is no use here: Linux carries the
    parent's value over fork and exec, so every worker would report the orchestrator's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timings(call: Any, texts: list[str], batch: Any) -> dict[str, float]:
    start = time.perf_counter()
    batch(texts)
    throughput = len(texts) / (time.perf_counter() - start)
    single = []
    for text in texts[:SINGLE_CALLS]:
        t = time.perf_counter()
        call(text)
        single.append(1000 * (time.perf_counter() - t))
    return {
        "per_second": throughput,
        "p50_ms": float(np.percentile(single, 50)),
        "p99_ms": float(np.percentile(single, 99)),
    }


def worker(method: str, bundle: Path, texts_file: Path, threads: int) -> dict[str, Any]:
    texts = json.loads(texts_file.read_text(encoding="utf-8"))
    if method.startswith("pipeline"):
        import torch
        from transformers import BertForSequenceClassification, PreTrainedTokenizerFast, pipeline

        torch.set_num_threads(threads)
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        labels = manifest["heads"]["lead"]["labels"]
        model = BertForSequenceClassification.from_pretrained(bundle / "torch", num_labels=len(labels)).eval()
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_file=str(bundle / "tokenizer.json"),
            bos_token="<s>",
            eos_token="</s>",
            cls_token="<s>",
            sep_token="</s>",
            pad_token="<pad>",
            unk_token="<unk>",
            model_max_length=512,
        )
        classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
        limit = 256 if method == "pipeline-256" else 512  # 256: the same tokens per text as our runtime reads
        lengths = [min(len(tokenizer(t)["input_ids"]), limit) for t in texts]
        result = _timings(
            lambda t: classify(t, truncation=True, max_length=limit),
            texts,
            lambda ts: classify(ts, batch_size=16, truncation=True, max_length=limit),
        )
    else:
        from proposal_router.model.router import Router
        from proposal_router.model.schemas import Proposal

        encoder = "encoder.onnx" if method == "onnx-fp32" else "encoder.int8.onnx"
        router = Router(bundle, threads=threads, encoder_file=encoder)
        assert router.encoder is not None
        lengths = [len(w) for doc in router.encoder.tokenizer.windows(texts) for w in doc.ids]
        result = _timings(
            lambda t: router.route([Proposal(body=t)]),
            texts,
            lambda ts: router.route([Proposal(body=t) for t in ts]),
        )
        assert "torch" not in sys.modules
    config = json.loads((bundle / "torch" / "config.json").read_text(encoding="utf-8"))
    flops = encoder_flops(config, lengths)
    result.update(
        tokens_per_text=sum(lengths) / len(texts),
        gflop_per_text=flops / len(texts) / 1e9,
        achieved_gflops=flops / len(texts) * result["per_second"] / 1e9,
        peak_mb=_peak_rss_mb(),
    )
    return result


def prepare_bundle(model: str, shared: Path, out: Path) -> Path:
    from proposal_router.model.intake.records import ColumnMap
    from proposal_router.model.taxonomy import load_taxonomy
    from proposal_router.training.config import TrainConfig
    from proposal_router.training.data import load_labelled
    from proposal_router.training.export import export_bundle
    from proposal_router.training.pipeline import train_bundle

    taxonomy = load_taxonomy(REPO / "data" / "taxonomy.yaml")
    data = load_labelled(REPO / "data" / "demo" / "train.csv", ColumnMap(), taxonomy)
    config = TrainConfig(base_model=str(shared / "models" / model))
    train_bundle(data, taxonomy, out, config)
    export_bundle(out, quantize=True, serve="fp32", int8_bar=0.0)  # measured, not gated: parity is reported
    return out


def int8_accuracy_change(bundle: Path) -> dict[str, float]:
    from proposal_router.model.intake.records import ColumnMap
    from proposal_router.model.router import Router
    from proposal_router.model.taxonomy import load_taxonomy
    from proposal_router.training.data import load_labelled

    taxonomy = load_taxonomy(REPO / "data" / "taxonomy.yaml")
    held = load_labelled(REPO / "data" / "demo" / "intake_labelled.csv", ColumnMap(), taxonomy).examples
    out = {}
    for name, file in (("fp32", "encoder.onnx"), ("int8", "encoder.int8.onnx")):
        router = Router(bundle, encoder_file=file)
        labels = router.manifest.heads["lead"].labels
        pred = router.probabilities([e.text for e in held])["lead"].argmax(1)
        out[name] = float(np.mean([labels[p] == e.lead for p, e in zip(pred, held, strict=True)]))
    parity = router.manifest.exports["int8"].parity
    if parity is not None:
        out["agreement"] = parity.lead_agreement
        out["validation_rows"] = parity.rows
    return out


def write_table(results: dict[str, Any]) -> None:
    lines = [
        f"Machine: {results['cores']} cores. The float32 matmul ceiling is measured at the start of each encoder's run "
        "(this shared machine's speed varies between days), and each row's share is of its own run's ceiling.",
        "",
        "| encoder | texts | method | proposals/s | p50 one | p99 one | peak MB | tokens/text | GFLOP/text "
        "| achieved GFLOP/s (% of matmul) | matmul GFLOP/s, date |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        ceiling = row.get("matmul_gflops", results["matmul_gflops"])
        share = 100 * row["achieved_gflops"] / ceiling
        lines.append(
            f"| {row['model']} | {row['texts']} | {row['method']} | {row['per_second']:.1f} | {row['p50_ms']:.1f} ms "
            f"| {row['p99_ms']:.1f} ms | {row['peak_mb']:.0f} | {row['tokens_per_text']:.0f} | "
            f"{row['gflop_per_text']:.2f} | {row['achieved_gflops']:.1f} ({share:.0f}%) "
            f"| {ceiling:.0f}, {row.get('measured_at', results['measured_at'])} |"
        )
    lines += ["", "int8 vs fp32 lead-department accuracy on the demo intake (108 proposals):", ""]
    for model, acc in results["int8_accuracy"].items():
        parity = (
            f"; same lead department as torch on {acc['agreement']:.1%} of {acc['validation_rows']} validation rows"
            if "agreement" in acc
            else ""
        )
        lines.append(
            f"- {model}: fp32 {acc['fp32']:.3f}, int8 {acc['int8']:.3f} "
            f"({100 * (acc['int8'] - acc['fp32']):+.1f} points){parity}"
        )
    write_section("speed", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["me5-small-zh-l4", "me5-small-zh"])
    parser.add_argument("--bundle", action="append", default=[], help="MODEL=DIR: use an existing bundle")
    parser.add_argument("--short", type=int, default=2000)
    parser.add_argument("--long", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "BUNDLE", "TEXTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, bundle, texts = args.worker
        print(json.dumps(worker(method, Path(bundle), Path(texts), args.threads)))
        return
    given = dict(item.split("=", 1) for item in args.bundle)
    work = Path(tempfile.mkdtemp(prefix="speed-"))
    sets = {
        "short (headlines)": short_texts(args.shared, args.short),
        "long (300-3000 chars)": long_texts(args.shared, args.long),
    }
    files = {}
    for name, texts in sets.items():
        files[name] = work / f"{len(files)}.json"
        files[name].write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    previous = (
        json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {"rows": [], "int8_accuracy": {}}
    )
    results: dict[str, Any] = {
        "cores": args.threads,
        "matmul_gflops": matmul_gflops(args.threads),
        "measured_at": time.strftime("%Y-%m-%d"),
        "rows": [r for r in previous["rows"] if r["model"] not in args.models],  # other encoders' earlier runs
        "int8_accuracy": {m: a for m, a in previous["int8_accuracy"].items() if m not in args.models},
    }
    for model in args.models:
        bundle = Path(given[model]) if model in given else prepare_bundle(model, args.shared, work / model)
        results["int8_accuracy"][model] = int8_accuracy_change(bundle)
        for name, file in files.items():
            for method in METHODS:
                command = [
                    sys.executable,
                    __file__,
                    "--threads",
                    str(args.threads),
                    "--worker",
                    method,
                    str(bundle),
                    str(file),
                ]
                output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                row = {"model": model, "texts": name, "method": method, **json.loads(output.strip().splitlines()[-1])}
                row.update(matmul_gflops=results["matmul_gflops"], measured_at=results["measured_at"])
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2), encoding="utf-8")
    write_table(results)


if __name__ == "__main__":
    main()
