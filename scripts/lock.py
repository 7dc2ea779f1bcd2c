"""Write requirements/lock.txt: the exact versions installed here of everything the project depends on.

The ranges in pyproject.toml stay open for library users; the lock is what the demo, the tests and CI
install (`pip install -c requirements/lock.txt ...`), so a new release of any dependency cannot break a
fresh machine (pytest 9.2 with schemathesis 4.32 did). Refresh it on purpose with
`bash scripts/refresh-lock.sh`, which installs the newest versions in a new virtual environment, runs the
whole test suite there and only then rewrites this file.

pip-tools or uv could compile the lock from the index instead, but neither finds the local CPU build of
torch this machine installs from; reading the environment that just passed the tests records exactly what
was tested.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = "proposal-router"
EXTRAS = ("train", "dev", "ray")
LOCK = Path(__file__).resolve().parents[1] / "requirements" / "lock.txt"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, extras: tuple[str, ...]) -> dict[str, str]:
    """Installed version of every distribution reachable from `root[extras]`, by canonical name."""
    found: dict[str, str] = {}
    pending: list[tuple[str, tuple[str, ...]]] = [(root, extras)]
    seen: set[tuple[str, str]] = set()
    while pending:
        name, wanted = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a dependency whose marker excluded it here, or an extra nobody installed
        key = _canonical(dist.metadata["Name"])
        for extra in ("", *wanted):
            if (key, extra) in seen:
                continue
            seen.add((key, extra))
            for line in dist.requires or []:
                req = Requirement(line)
                env = {"extra": extra}
                if req.marker is not None and not req.marker.evaluate(env):
                    continue
                if req.marker is None and extra:
                    continue  # unconditional requirements were taken with the "" pass
                pending.append((req.name, tuple(sorted(req.extras))))
        if key != _canonical(root):
            found[key] = dist.version.split("+")[0]  # torch 2.13.0+cpu is asked for as torch==2.13.0
    return found


def main() -> None:
    pins = closure(ROOT, EXTRAS)
    if not pins:
        sys.exit(f"{ROOT} is not installed here: run `pip install -e '.[{','.join(EXTRAS)}]'` first")
    header = [
        "# Versions the whole test suite last passed with (scripts/lock.py wrote this; do not edit by hand).",
        "# Used as pip constraints by scripts/demo.sh, scripts/test.sh and CI. Refresh: bash scripts/refresh-lock.sh",
    ]
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    LOCK.write_text("\n".join([*header, *(f"{n}=={v}" for n, v in sorted(pins.items()))]) + "\n", encoding="utf-8")
    print(f"{LOCK}: {len(pins)} pinned versions")


if __name__ == "__main__":
    main()
