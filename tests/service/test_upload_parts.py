"""Uploads are stored in parts: a file waiting to be read when the service is upgraded is still read."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from proposal_router.model.intake.records import ColumnMap
from proposal_router.service import batches
from proposal_router.service.db.engine import make_engine, session_factory
from proposal_router.service.db.migrate import upgrade
from proposal_router.service.db.models import BatchJob
from tests.service.test_batches import intake


def test_an_upload_stored_whole_before_the_upgrade_is_read_after_it(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0005")
        data = intake(tmp_path / "intake.csv", 3).read_bytes()
        columns = ColumnMap(id="编号", title=["提案标题"], body=["提案内容"]).model_dump_json()
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO batch_jobs (id, source, fingerprint, status, columns, issues, total_rows, "
                    "created_by, created_at) VALUES (1, 'intake.csv', 'x', 'reading', '[]', '[]', 0, 't', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text("INSERT INTO batch_uploads (job_id, columns, sheet, data) VALUES (1, :columns, NULL, :data)"),
                {"columns": columns, "data": data},
            )
        upgrade(engine)
        with session_factory(engine)() as session:
            job = session.get(BatchJob, 1)
            assert job is not None
            batches.read_upload(session, job, None)
            assert (job.status, job.total_rows, len(job.issues)) == ("queued", 3, 1)
    finally:
        engine.dispose()


def test_a_file_larger_than_a_part_comes_back_byte_for_byte(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        source = intake(tmp_path / "intake.csv", 40)
        columns = ColumnMap(id="编号", title=["提案标题"], body=["提案内容"])
        with session_factory(engine)() as session:
            original, batches.UPLOAD_PART = batches.UPLOAD_PART, 1000  # several parts from a small file
            try:
                job = batches.upload_job(session, source.name, source, columns, None, ["编号"], "t")
            finally:
                batches.UPLOAD_PART = original
            parts = session.execute(text("SELECT count(*) FROM batch_upload_parts")).scalar_one()
            assert parts == -(-source.stat().st_size // 1000)
            batches.read_upload(session, job, None)
            assert (job.status, job.total_rows) == ("queued", 40)
            assert session.execute(text("SELECT count(*) FROM batch_upload_parts")).scalar_one() == 0
    finally:
        engine.dispose()
