"""Load on the routing service: concurrent clients submitting proposals over loopback for a fixed time.

Starts `proposal-router serve` as its own process on a fresh SQLite file with the bundle's int8 encoder
(the default demo bundle, on me5-small-zh, is trained and exported when no `--bundle` is given), then
runs `--clients` concurrent clients for `--seconds`, each posting one proposal at a time (demo
proposals and real citizen messages, short and long) and waiting for the answer. Traffic goes to
127.0.0.1 only; the loop is bounded in time and count.

    python benchmarks/load.py                                       # 16 clients, 60 s, me5-small-zh int8
    python benchmarks/load.py --bundle runs/demo/model --clients 4 --seconds 20

Results go to benchmarks/results/load.json and the `load` table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from readme_section import write_section
from server import serve
from speed import REPO, long_texts, prepare_bundle, short_texts

RESULTS = REPO / "benchmarks" / "results" / "load.json"
MAX_REQUESTS = 1_000_000  # a bound on the loop besides the clock


async def _client(
    http: httpx.AsyncClient, texts: list[str], start: int, deadline: float, out: list[tuple[float, int, str]]
) -> None:
    i = start
    while time.monotonic() < deadline and len(out) < MAX_REQUESTS:
        text = texts[i % len(texts)]
        title, _, body = text.partition("\n")
        began = time.perf_counter()
        try:
            response = await http.post("/v1/proposals", json={"title": title, "body": body})
            decision = response.json()["routing"]["decision"] if response.status_code == 201 else ""
            out.append((time.perf_counter() - began, response.status_code, decision))
        except httpx.HTTPError as exc:
            out.append((time.perf_counter() - began, 0, type(exc).__name__))
        i += 1


async def _run(url: str, key: str, texts: list[str], clients: int, seconds: float) -> list[tuple[float, int, str]]:
    out: list[tuple[float, int, str]] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60, limits=limits) as http:
        warm = await http.post("/v1/proposals", json={"title": "预热", "body": texts[0]})
        warm.raise_for_status()
        deadline = time.monotonic() + seconds
        step = len(texts) // clients
        await asyncio.gather(*(_client(http, texts, c * step, deadline, out) for c in range(clients)))
    return out


def measure(bundle: Path, encoder: str, clients: int, seconds: float, shared: Path) -> dict[str, Any]:
    texts = long_texts(shared, 500) + short_texts(shared, 500)
    np.random.default_rng(0).shuffle(texts)  # type: ignore[arg-type]
    with serve(bundle, encoder) as server:
        began = time.monotonic()
        out = asyncio.run(_run(server.url, server.key, texts, clients, seconds))
        wall = time.monotonic() - began
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    latencies = np.array([o[0] for o in out]) * 1000
    ok = [o for o in out if o[1] == 201]
    return {
        "model": Path(manifest.get("base_model") or "tf-idf").name,
        "encoder": encoder,
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(out),
        "errors": len(out) - len(ok),
        "per_second": len(out) / wall,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "auto": sum(o[2] == "auto" for o in ok),
        "review": sum(o[2] == "review" for o in ok),
        "mean_chars": float(np.mean([len(t) for t in texts])),
        "measured_at": time.strftime("%Y-%m-%d"),
    }


def write_table(row: dict[str, Any]) -> None:
    write_section(
        "load",
        [
            "| encoder | clients | duration | requests | requests/s | p50 | p99 | errors |",
            "|---|---|---|---|---|---|---|---|",
            f"| {row['model']} {row['encoder']} | {row['clients']} | {row['seconds']:.0f} s | {row['requests']} "
            f"| {row['per_second']:.1f} | {row['p50_ms']:.0f} ms | {row['p99_ms']:.0f} ms | {row['errors']} |",
            "",
            f"Measured {row['measured_at']}; texts average {row['mean_chars']:.0f} characters (half long proposals "
            f"and messages, half headlines); {row['auto']} answers were routed automatically and {row['review']} "
            "went to review.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle to serve (default: train the demo on --model)")
    parser.add_argument("--model", default="me5-small-zh", help="encoder under ../shared/models to train")
    parser.add_argument("--encoder", choices=["fp32", "int8"], default="int8")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    bundle = args.bundle or prepare_bundle(args.model, args.shared, Path(tempfile.mkdtemp(prefix="load-")) / "b")
    row = measure(bundle, args.encoder, args.clients, args.seconds, args.shared)
    print(json.dumps(row))
    RESULTS.write_text(json.dumps(row, indent=2), encoding="utf-8")
    write_table(row)


if __name__ == "__main__":
    sys.exit(main())
