"""The batch jobs page: a reviewer sees every upload's progress and can cancel one that has not finished."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from proposal_router.service.db.models import AuditEvent, BatchJob
from tests.service.conftest import Service
from tests.service.test_batches import intake
from tests.service.test_hostile_inputs import _stored_job
from tests.service.test_web import log_in


def test_a_reviewer_cancels_a_queued_job_from_the_page(service: Service, tmp_path: Path) -> None:
    with service.state.sessions() as session:
        job_id = _stored_job(session, intake(tmp_path / "年度提案.csv", 5)).id
    csrf = log_in(service)
    page = service.client.get("/ui/batches")
    assert page.status_code == 200 and "年度提案.csv" in page.text and "排队中" in page.text
    assert f'action="/ui/batches/{job_id}/cancel"' in page.text
    forged = service.client.post(f"/ui/batches/{job_id}/cancel", data={"csrf": "forged"})
    assert forged.status_code == 403
    done = service.client.post(f"/ui/batches/{job_id}/cancel", data={"csrf": csrf})
    assert done.status_code == 200 and done.url.path == "/ui/batches"
    assert f"批处理任务 {job_id} 已取消" in done.text and f'action="/ui/batches/{job_id}/cancel"' not in done.text
    with service.state.sessions() as session:
        stored = session.get(BatchJob, job_id)
        assert stored is not None and stored.status == "cancelled"
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "batch.cancel")).all()
        assert [e.details["batch"] for e in events] == [job_id] and events[0].actor == "reviewer tester"
        assert events[0].actor_key_id is not None


def test_the_page_needs_a_log_in(service: Service) -> None:
    response = service.client.get("/ui/batches", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/login")
