"""An attacker with a screener's key, on both databases: every hostile upload or request answers a clear
4xx or finishes its job with the bad rows listed, and the server's memory stays bounded."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from proposal_router.model.intake.records import ColumnMap, read_proposals
from proposal_router.model.intake.tables import read_table
from proposal_router.service import batches
from proposal_router.service.db.models import BatchJob, BatchUpload, ProposalRecord
from proposal_router.service.engine import LocalEngine
from tests import attacks
from tests.service.conftest import Service
from tests.service.test_batches import intake
from tests.service.test_batches_api import wait_done

COLUMNS = {"id_field": "编号", "title_field": "提案标题", "body_field": "提案内容"}
MEMORY_MB = 300  # what one hostile upload may add to the server's resident memory
OWNER = "test:0:hostile"  # jobs these tests run themselves are claimed, so the service's worker leaves them


def send(service: Service, path: Path, name: str | None = None, **form: str) -> Any:
    with path.open("rb") as fh:
        files = {"file": (name or path.name, fh, "application/octet-stream")}
        return service.client.post(
            "/v1/batches", files=files, data={**COLUMNS, **form}, headers=service.headers("screener")
        )


BOMBS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "merged A1:XFD1048576": (attacks.merge_bomb, "找不到此列"),
    "zip bomb": (lambda p: attacks.zip_bomb(p, 30_000_000), "PROPOSAL_ROUTER_MAX_ZIP_RATIO"),
    "billion laughs": (attacks.billion_laughs, "被禁止的实体"),
    "undefined entity": (attacks.undefined_entity, "未定义的实体"),
}


@pytest.mark.parametrize("attack", list(BOMBS))
def test_a_bomb_is_a_422_naming_the_cause_with_memory_bounded(service: Service, tmp_path: Path, attack: str) -> None:
    build, reason = BOMBS[attack]
    path = build(tmp_path / "intake.xlsx")
    with attacks.PeakMemory() as memory:
        answer = send(service, path)
    assert answer.status_code == 422, answer.text
    assert reason in answer.json()["detail"] and "intake.xlsx" in answer.json()["detail"]
    assert str(tmp_path) not in answer.text and "/tmp" not in answer.text
    assert memory.grown_mb < MEMORY_MB, f"{attack}: +{memory.grown_mb:.0f} MB"


def test_a_dimension_bomb_fails_its_job_at_the_row_limit_quickly(service: Service, tmp_path: Path) -> None:
    with attacks.PeakMemory() as memory:
        answer = send(service, attacks.dimension_bomb(tmp_path / "intake.xlsx"))
        assert answer.status_code == 202, answer.text
        state = wait_done(service.client, service.keys["screener"], answer.json()["id"], seconds=60)
    assert state["status"] == "failed", state  # not 47 minutes of the only worker's time
    assert "第 1048576 行" in state["error"] and "PROPOSAL_ROUTER_MAX_ROWS" in state["error"]
    assert "intake.xlsx" in state["error"] and "/tmp" not in state["error"]
    assert memory.grown_mb < MEMORY_MB
    with service.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(BatchUpload)) == 0  # the upload is removed


def test_bad_lines_are_rejected_rows_and_the_rest_is_routed(service: Service, tmp_path: Path) -> None:
    answer = send(service, attacks.bad_rows_jsonl(tmp_path / "intake.jsonl"))
    assert answer.status_code == 202, answer.text
    state = wait_done(service.client, service.keys["screener"], answer.json()["id"])
    assert state["status"] == "done", state
    assert (state["done_rows"], state["failed_rows"]) == (2, 4)
    result = service.client.get(f"/v1/batches/{state['id']}/result", headers=service.headers("screener"))
    rejected = list(load_workbook(io.BytesIO(result.content))["未处理行"].iter_rows(min_row=2, values_only=True))
    messages = " ".join(str(cell) for row in rejected for cell in row)
    assert "嵌套超过 20 层" in messages and "孤立的代理项" in messages and "数字位数过多" in messages
    assert "set_int_max_str_digits" not in messages
    with service.state.sessions() as session:
        titles = set(session.scalars(select(ProposalRecord.title)))
    assert "关于医保" in titles  # its NUL dropped, so PostgreSQL could store it


def test_a_nul_in_a_csv_cell_is_dropped_and_the_row_routes(service: Service, tmp_path: Path) -> None:
    path = tmp_path / "intake.csv"
    path.write_text("编号,提案标题,提案内容\nN1,关于\x00公交线路的提案,建议增加公交线路\x00\n", encoding="utf-8")
    state = wait_done(service.client, service.keys["screener"], send(service, path).json()["id"])
    assert (state["status"], state["done_rows"]) == ("done", 1), state


def test_names_past_what_can_be_stored_are_refused_or_kept_clear(service: Service, tmp_path: Path) -> None:
    source = intake(tmp_path / "intake.csv", 3)
    assert send(service, source, sheet="表" * 201).status_code == 422
    assert send(service, source, name="提" * 300 + ".csv").status_code == 422
    long_name = "关于" * 50 + ".csv"  # 100 CJK characters: 300 bytes, past what a file system takes
    answer = send(service, source, name=long_name)
    assert answer.status_code == 202, answer.text
    state = wait_done(service.client, service.keys["screener"], answer.json()["id"])
    assert (state["status"], state["source"]) == ("done", long_name)


def test_text_the_database_cannot_hold_is_cleaned_or_refused_by_the_api(service: Service) -> None:
    headers = {**service.headers("screener"), "Content-Type": "application/json"}
    surrogate = service.client.post("/v1/proposals", content='{"title": "\\ud800abc"}', headers=headers)
    assert surrogate.status_code == 422 and "孤立的代理项" in surrogate.text
    body = json.dumps({"title": "关于\x00公交\x07线路的提案", "body": "建议增加"})
    stored = service.client.post("/v1/proposals", content=body, headers=headers)
    assert stored.status_code in (200, 201), stored.text
    assert stored.json()["title"] == "关于公交线路的提案"
    nul = service.client.get("/v1/proposals?department=%00", headers=service.headers("reviewer"))
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]


def test_a_job_can_be_cancelled_and_then_routes_nothing_more(service: Service, tmp_path: Path) -> None:
    table_path = intake(tmp_path / "intake.csv", 30)
    with service.state.sessions() as session:
        job = _stored_job(session, table_path)
        job_id = job.id

    def cancel_after_first_chunk(_: int) -> None:
        with service.state.sessions() as session:
            stored = session.get(BatchJob, job_id)
            if stored is not None and stored.status == "running":
                batches.cancel(session, stored, "tester")

    engine = LocalEngine(service.state.router)
    batches.run_job(service.state.sessions, engine, job_id, "tester", 8, cancel_after_first_chunk, owner=OWNER)
    screener = service.headers("screener")
    state = service.client.get(f"/v1/batches/{job_id}", headers=screener).json()
    assert state["status"] == "cancelled" and 8 <= state["done_rows"] <= 16, state
    again = service.client.post(f"/v1/batches/{job_id}/cancel", headers=screener)
    assert again.status_code == 409 and "已取消" in again.json()["detail"]
    assert service.client.post("/v1/batches/999999/cancel", headers=screener).status_code == 404


def test_a_queued_job_is_cancelled_over_the_api(service: Service, tmp_path: Path) -> None:
    with service.state.sessions() as session:
        job_id = _stored_job(session, intake(tmp_path / "intake.csv", 5)).id
    answer = service.client.post(f"/v1/batches/{job_id}/cancel", headers=service.headers("screener"))
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled", answer.text
    batches.run_job(service.state.sessions, LocalEngine(service.state.router), job_id, "tester", owner=OWNER)
    assert service.client.get(f"/v1/batches/{job_id}", headers=service.headers("screener")).json()["done_rows"] == 0


def test_a_job_past_its_time_budget_fails_and_says_why(service: Service, tmp_path: Path) -> None:
    with service.state.sessions() as session:
        job_id = _stored_job(session, intake(tmp_path / "intake.csv", 20)).id
    engine = LocalEngine(service.state.router)
    batches.run_job(service.state.sessions, engine, job_id, "tester", 8, budget=timedelta(0), owner=OWNER)
    state = service.client.get(f"/v1/batches/{job_id}", headers=service.headers("screener")).json()
    assert state["status"] == "failed" and state["done_rows"] == 8, state
    assert "超出时间预算" in state["error"] and "PROPOSAL_ROUTER_JOB_TIME_BUDGET_SECONDS" in state["error"]


def _stored_job(session: Any, path: Path) -> BatchJob:
    columns = ColumnMap(id="编号", title=["提案标题"], body=["提案内容"])
    table = read_table(path)
    rows, issues = read_proposals(table, columns)
    return batches.create_job(session, path.name, "test", table, rows, issues, columns, "tester", OWNER)


def test_a_key_name_the_database_cannot_hold_is_cleaned_or_refused(service: Service) -> None:
    admin = {**service.headers("admin"), "Content-Type": "application/json"}
    surrogate = service.client.post("/v1/keys", content='{"name": "\\ud800x", "role": "screener"}', headers=admin)
    assert surrogate.status_code == 422
    nul = service.client.post("/v1/keys", json={"name": "督查室\x00王科长", "role": "screener"}, headers=admin)
    assert nul.status_code == 201 and nul.json()["name"] == "督查室王科长", nul.text
