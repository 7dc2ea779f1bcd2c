"""Submit an intake sheet to a running service, as the committee's screening client would (demo helper)."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections import Counter

from proposal_router.model.intake.tables import read_table


def main(url: str, key: str, path: str) -> None:
    table = read_table(path)
    items = [
        {"external_id": r["编号"], "title": r["提案标题"], "body": r["提案内容"], "submitter": r.get("提案人") or None}
        for r in table.rows
    ]
    decisions: Counter[str] = Counter()
    for start in range(0, len(items), 50):
        request = urllib.request.Request(
            f"{url}/v1/proposals",
            data=json.dumps(items[start : start + 50], ensure_ascii=False).encode("utf-8"),
            headers={"X-API-Key": key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            decisions.update(p["routing"]["decision"] for p in json.load(response))
    print(f"submitted {len(items)} proposals from {path}: {decisions['auto']} routed, {decisions['review']} to review")


if __name__ == "__main__":
    main(*sys.argv[1:4])
