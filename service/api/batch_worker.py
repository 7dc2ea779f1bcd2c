"""One background thread that runs batch jobs in order, and on start-up resumes those a stop interrupted."""

from __future__ import annotations

import logging
import queue
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import batches
from service.db.models import BatchJob
from service.engine import BatchEngine

log = logging.getLogger("proposal_router.batches")
CHUNK = 64


class BatchWorker:
    def __init__(self, sessions: sessionmaker[Session], engine: BatchEngine) -> None:
        self.sessions, self.engine = sessions, engine
        self._jobs: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="batch-worker", daemon=True)
        self._stopping = False

    def start(self) -> None:
        with self.sessions() as session:
            unfinished = session.scalars(
                select(BatchJob.id).where(BatchJob.status.in_(("queued", "running"))).order_by(BatchJob.id)
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
            with self.sessions() as session:
                job = session.get(BatchJob, job_id)
                actor = job.created_by if job else "batch"
            try:
                batches.run_job(self.sessions, self.engine, job_id, actor, CHUNK, self._check_stop)
            except _Stopped:
                return
            except Exception:
                log.exception("batch job %s failed", job_id)

    def _check_stop(self, _done: int) -> None:
        if self._stopping:
            raise _Stopped


class _Stopped(BaseException):
    """Not an Exception, so that run_job leaves the job `running` (to resume) instead of marking it failed."""
