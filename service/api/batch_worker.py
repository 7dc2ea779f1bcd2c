"""One background thread that runs batch jobs in order, and on start-up resumes those a stop interrupted."""

from __future__ import annotations

import logging
import queue
import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from proposal_router.model.intake.tables import ReadLimits
from proposal_router.service import batches
from proposal_router.service.batches import JobStatus
from proposal_router.service.db.models import BatchJob
from proposal_router.service.engine import BatchEngine

log = logging.getLogger("proposal_router.batches")
CHUNK = 64


class BatchWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: BatchEngine,
        max_chars: int | None = None,
        limits: ReadLimits | None = None,
        budget: timedelta | None = None,
    ) -> None:
        self.sessions, self.engine, self.max_chars = sessions, engine, max_chars
        self.limits, self.budget = limits, budget
        self._jobs: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="batch-worker", daemon=True)
        self._stopping = False

    def start(self) -> None:
        with self.sessions() as session:
            unfinished = session.scalars(
                select(BatchJob.id).where(BatchJob.status.in_(batches.UNFINISHED)).order_by(BatchJob.id)
            )
            for job_id in unfinished:
                self._jobs.put(job_id)
        self._thread.start()

    def submit(self, job_id: int) -> None:
        self._jobs.put(job_id)

    def stop(self, timeout: float = 30) -> None:
        """Finish the chunk in hand and stop; the rest of the job resumes at the next start."""
        self._stopping = True
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while (job_id := self._jobs.get()) is not None:
            try:
                self._process(job_id)
            except _Stopped:
                return
            except Exception:  # one broken job must not stop the worker for the jobs behind it
                log.exception("batch job %s failed", job_id)
                self._fail(job_id)

    def _process(self, job_id: int) -> None:
        with self.sessions() as session:
            job = session.get(BatchJob, job_id)
            if job is None or job.status not in batches.UNFINISHED:
                return
            if job.status == JobStatus.READING:
                batches.read_upload(session, job, self.max_chars, self.limits)
                if job.status != JobStatus.QUEUED:
                    log.warning("batch job %s: %s %s", job_id, job.status, job.error or "")
                    return
            actor = job.created_by
        batches.run_job(self.sessions, self.engine, job_id, actor, CHUNK, self._check_stop, self.budget)

    def _fail(self, job_id: int) -> None:
        """Whatever broke (the database, a bug) is in the log; the job's user reads a message without it."""
        with self.sessions() as session:
            job = session.get(BatchJob, job_id)
            if job is not None and job.status in batches.UNFINISHED:
                job.status, job.error = JobStatus.FAILED, batches.ROUTE_FAILED
                session.commit()

    def _check_stop(self, _done: int) -> None:
        if self._stopping:
            raise _Stopped


class _Stopped(BaseException):
    """Not an Exception, so that run_job leaves the job `running` (to resume) instead of marking it failed."""
