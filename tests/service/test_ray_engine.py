"""`--engine ray`: the demo intake routed on a local Ray gives the local engine's output, row for row."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proposal_router.model.errors import SetupError
from proposal_router.service.cli import main
from proposal_router.service.engines import batch_engine
from tests.conftest import OFFICE_COLUMNS, REPO

ray = pytest.importorskip("ray", reason="--engine ray needs the ray extra: pip install -e '.[ray]'")
INTAKE = REPO / "data" / "demo" / "intake.xlsx"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def route(bundle: Path, out: Path, *extra: str) -> str:
    args = ["route", "--model", str(bundle), "--input", str(INTAKE), "--output", str(out), *OFFICE_COLUMNS]
    assert main([*args, "--batch-size", "16", *extra]) == 0
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["tfidf", "int8"])
def test_ray_routes_the_demo_intake_exactly_as_the_local_engine(
    kind: str, demo_bundle: Path, int8_bundle: Path, tmp_path: Path, local_ray: None
) -> None:
    bundle = demo_bundle if kind == "tfidf" else int8_bundle
    local = route(bundle, tmp_path / "local.jsonl")
    on_ray = route(bundle, tmp_path / "ray.jsonl", "--engine", "ray", "--workers", "2")
    assert on_ray == local
    assert len(local.splitlines()) == 108


def test_a_ray_job_stores_what_the_local_engine_routes(demo_bundle: Path, tmp_path: Path, local_ray: None) -> None:
    local = route(demo_bundle, tmp_path / "local.csv")
    db = f"sqlite:///{tmp_path / 'jobs.db'}"
    on_ray = route(demo_bundle, tmp_path / "ray.csv", "--job", "--db", db, "--engine", "ray", "--workers", "2")
    stored = list(csv.DictReader(io.StringIO(on_ray)))
    assert {r.pop("final_status") for r in stored} <= {"pending", "auto"}
    for row in stored:  # a stored job also shows where each row stands now (none decided yet)
        auto = row["route_decision"] == "auto"
        assert row.pop("final_lead_department") == (row["route_lead_department"] if auto else "")
        row.pop("final_co_departments")
    assert stored == list(csv.DictReader(io.StringIO(local)))


def test_more_workers_than_a_local_ray_has_cpus_is_a_clear_error(
    demo_bundle: Path, tmp_path: Path, local_ray: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["route", "--model", str(demo_bundle), "--input", str(INTAKE), "--output", str(tmp_path / "out.csv")]
    assert main([*args, *OFFICE_COLUMNS, "--engine", "ray", "--workers", "3"]) == 2
    assert (
        "错误：3 个工作进程 × 每个 1 个线程需要 3 个 CPU，本机的 Ray 只有 2 个（请用 --workers 指定）"
        in capsys.readouterr().err
    )


def test_without_ray_installed_the_error_says_how_to_get_it(demo_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SetupError, match=r"需要安装 Ray：pip install 'proposal-router\[ray\]'"):
        batch_engine("ray", demo_bundle)
