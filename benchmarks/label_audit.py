"""Label-audit benchmark (issue 16 item 6): plant wrong lead departments in a copy of the demo training
data and count how many `audit-labels` finds.

    cd /work/main && PYTHONPATH=/work/main python benchmarks/label_audit.py
    python benchmarks/label_audit.py --planted 30 --seeds 0 1 2 3 4 --no-transformer

A copy of data/demo/train.csv gets `--planted` wrong leads (seeded): a row with co-departments has its
lead swapped with its first co-department (the clerical slip of mixing up 主办 and 协办); a row without
gets the lead of another row of the same topic. Each plausible other department is in the taxonomy. The
audit then runs as the office would, through `proposal-router audit-labels` (cli.main), once with the
TF-IDF baseline per seed and once with the frozen encoder (me5-small-zh from ../shared/models, seed 0),
and its XLSX is read back. Found (recall) = planted rows listed; precision = listed rows that were planted
(the rest are rows of the demo data itself that look doubtful, listed also on the clean copy); "top N" =
planted among the N most doubtful, N the number planted; "suggested right" = found planted rows whose
suggested department is the lead they had before planting.

writes benchmarks/results/label_audit.json and the "Label audit" table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from openpyxl import load_workbook  # noqa: E402
from readme_section import write_section  # noqa: E402

from proposal_router.model.taxonomy import Resolver, load_taxonomy  # noqa: E402
from proposal_router.service.cli import main as cli  # noqa: E402

DEMO = REPO / "data" / "demo"
TAXONOMY = REPO / "data" / "taxonomy.yaml"
BASE_MODEL = Path(os.environ.get("PROPOSAL_ROUTER_BASE_MODEL", REPO.parent / "shared" / "models" / "me5-small-zh"))
RESULTS = REPO / "benchmarks" / "results" / "label_audit.json"


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def plant(rows: list[dict[str, str]], n: int, seed: int) -> dict[str, tuple[str, str]]:
    """Give `n` rows a plausible wrong lead, in place; id → (lead before, lead planted), canonical names."""
    resolver = Resolver(load_taxonomy(TAXONOMY))

    def name(value: str) -> str | None:
        found = resolver.department(value, "", 0, "")
        return found if isinstance(found, str) else None

    by_topic: dict[str, set[str]] = {}
    for row in rows:
        lead = name(row["lead_department"])
        if lead:
            by_topic.setdefault(row["topic"], set()).add(lead)
    rng = random.Random(seed)
    planted: dict[str, tuple[str, str]] = {}
    for row in rng.sample(rows, len(rows)):
        if len(planted) == n:
            break
        before = name(row["lead_department"])
        if before is None:
            continue
        co = [c for c in row["co_departments"].split("、") if c.strip()]
        co_names = [name(c) for c in co]
        if co and co_names[0] and co_names[0] != before:
            row["lead_department"], co[0] = co[0], row["lead_department"]
            row["co_departments"] = "、".join(co)
            planted[row["id"]] = (before, co_names[0])
            continue
        others = sorted(by_topic.get(row["topic"], set()) - {before})
        if others:
            after = rng.choice(others)
            row["lead_department"] = after
            planted[row["id"]] = (before, after)
    return planted


def audit(data: Path, out: Path, model: list[str], seed: int) -> tuple[list[dict[str, Any]], float, str]:
    """Run `audit-labels` as the office would; the listed rows (编号, 建议主办单位) and the seconds it took."""
    args = ["audit-labels", "--data", str(data), "--out", str(out), "--taxonomy", str(TAXONOMY), "--seed", str(seed)]
    started = time.perf_counter()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli([*args, *model])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"audit-labels failed ({code}): {printed.getvalue()}")
    sheet = load_workbook(out / "疑似错标.xlsx", read_only=True)["疑似错标"]
    values = list(sheet.iter_rows(values_only=True))
    header = list(values[0])
    listed = [dict(zip(header, v, strict=True)) for v in values[1:]]
    return listed, seconds, printed.getvalue().strip()


def measure(
    fields: list[str], rows: list[dict[str, str]], n: int, seed: int, model: list[str], tmp: Path
) -> dict[str, Any]:
    copy = [dict(r) for r in rows]
    planted = plant(copy, n, seed)
    data = tmp / f"train-planted-{seed}.csv"
    with data.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(copy)
    listed, seconds, printed = audit(data, tmp / f"audit-{seed}-{len(list(tmp.iterdir()))}", model, seed)
    ids = [str(r["编号"]) for r in listed]
    found = [i for i in ids if i in planted]
    right = sum(1 for r in listed if str(r["编号"]) in planted and r["建议主办单位"] == planted[str(r["编号"])][0])
    return {
        "seed": seed,
        "rows": len(rows),
        "planted": len(planted),
        "listed": len(ids),
        "found": len(found),
        "top_n": sum(1 for i in ids[: len(planted)] if i in planted),
        "suggested_right": right,
        "seconds": round(seconds, 1),
        "missed": sorted(set(planted) - set(found)),
        "summary": printed.split(" → ")[0],
    }


def clean(rows: int, model: list[str], tmp: Path) -> dict[str, Any]:
    listed, seconds, printed = audit(DEMO / "train.csv", tmp / f"clean-{len(list(tmp.iterdir()))}", model, 0)
    return {"rows": rows, "listed": len(listed), "seconds": round(seconds, 1), "summary": printed.split(" → ")[0]}


def _pct(hits: int, total: int) -> str:
    return f"{100 * hits / total:.0f}% ({hits}/{total})" if total else "—"


def table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| 模型 model | 种子 seed | 埋入错标 planted | 列出 listed | 找到 found (recall) | 列出中为埋入 precision | "
        "前 N 件中 top N | 建议单位正确 suggested right | 用时 time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in result["runs"].items():
        for r in runs:
            lines.append(
                f"| {name} | {r['seed']} | {r['planted']} | {r['listed']} | {_pct(r['found'], r['planted'])} | "
                f"{_pct(r['found'], r['listed'])} | {_pct(r['top_n'], r['planted'])} | "
                f"{_pct(r['suggested_right'], r['found'])} | {r['seconds']:.0f} s |"
            )
    lines += ["", "| 模型 model | 未埋入的原数据 clean copy: 列出 listed | 用时 time |", "|---|---|---|"]
    for name, c in result["clean"].items():
        lines.append(f"| {name} | {_pct(c['listed'], c['rows'])} | {c['seconds']:.0f} s |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--planted", type=int, default=30, help="wrong leads to plant (default 30)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="baseline seeds (default 0 1 2)")
    parser.add_argument("--no-transformer", action="store_true", help="skip the frozen-encoder run")
    args = parser.parse_args()
    fields, rows = _rows(DEMO / "train.csv")
    models = {"TF-IDF 基线 baseline": ["--model-type", "baseline"]}
    if not args.no_transformer and (BASE_MODEL / "config.json").is_file():
        models[f"冻结编码器 {BASE_MODEL.name} + TF-IDF"] = ["--base-model", str(BASE_MODEL)]
    result: dict[str, Any] = {
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "data": "data/demo/train.csv",
        "runs": {},
        "clean": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            seeds = args.seeds if "baseline" in name else args.seeds[:1]
            result["runs"][name] = [measure(fields, rows, args.planted, s, model, Path(tmp)) for s in seeds]
            result["clean"][name] = clean(len(rows), model, Path(tmp))
            for r in result["runs"][name]:
                print(f"{name} seed {r['seed']}: found {r['found']}/{r['planted']}, listed {r['listed']}")
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    day, cores = result["measured"][:10], result["machine"]["cores"]
    lines = [*table(result), ""]
    lines.append(
        f"{len(rows)} rows of data/demo/train.csv, {args.planted} wrong leads planted per seed; measured {day} on "
        f"{cores} cores, Python {result['machine']['python']} (`python benchmarks/label_audit.py`)."
    )
    write_section("label-audit", lines)


if __name__ == "__main__":
    main()
