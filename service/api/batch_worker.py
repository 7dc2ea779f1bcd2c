"""One background thread per server process that claims batch jobs from the database and runs them.

The database is the queue: the worker polls it for claimable jobs (`claims.claim_next`), so a job uploaded
to another server process, or left behind by one that crashed, is found as well as its own uploads
(`submit` only wakes it sooner). It is started and stopped by the app's lifespan; `stop` sets an Event
that the job checks between chunks, so the chunk in hand is committed, the claim is given up and another
process (or the next start) resumes the rest.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from proposal_router.model.intake.tables import ReadLimits
from proposal_router.service import batches, claims
from proposal_router.service.db.models import BatchJob
from proposal_router.service.db.retry import retrying, transient
from proposal_router.service.engine import BatchEngine
from proposal_router.service.statuses import UNFINISHED, JobStatus
from proposal_router.service.trust import Arrival

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
        lease: timedelta = timedelta(seconds=60),
        poll_seconds: float = 2.0,
        arrival: Arrival | None = None,
    ) -> None:
        self.sessions, self.engine, self.max_chars = sessions, engine, max_chars
        self.limits, self.budget, self.lease, self.poll_seconds = limits, budget, lease, poll_seconds
        self.arrival = arrival  # 并案 candidates, the circuit breaker, audit sampling on each stored row
        self.owner = claims.new_owner()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job_id: int) -> None:
        """A job was just stored: look now rather than at the next poll (any worker may claim it)."""
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        """Finish the chunk in hand and stop; the rest of the job is released to be resumed."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            job_id = self._claim()
            if job_id is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            try:
                with claims.Heartbeat(self.sessions, job_id, self.owner, self.lease.total_seconds() / 4):
                    self._process(job_id)
            except Exception as exc:  # one broken job must not stop the worker for the jobs behind it
                log.exception("batch job %s failed", job_id)
                self._fail(job_id, batches.DATABASE_FAILED if transient(exc) else batches.ROUTE_FAILED)
            finally:
                self._release(job_id)

    def _claim(self) -> int | None:
        try:
            with self.sessions() as session:
                return claims.claim_next(session, self.owner, self.lease)
        except Exception:  # the database may be down for a while: keep polling
            log.exception("looking for batch jobs failed")
            return None

    def _process(self, job_id: int) -> None:
        actor = retrying(partial(self._read, job_id))
        if actor is not None and not self._stop.is_set():
            batches.run_job(
                self.sessions,
                self.engine,
                job_id,
                actor,
                CHUNK,
                None,
                self.budget,
                owner=self.owner,
                stop=self._stop,
                arrival=self.arrival,
            )

    def _read(self, job_id: int) -> str | None:
        """Store an uploaded file's rows if they are not yet; who created the job, or None if it is not to run."""
        with self.sessions() as session:
            job = session.get(BatchJob, job_id)
            if job is None or job.status not in UNFINISHED or job.owner != self.owner:
                return None
            if job.status == JobStatus.READING:
                after = batches.read_upload(session, job, self.max_chars, self.limits, owner=self.owner)
                if after != JobStatus.QUEUED:
                    log.warning("batch job %s: %s %s", job_id, after, job.error or "")
                    return None
            return job.created_by

    def _fail(self, job_id: int, message: str) -> None:
        """Whatever broke (the database, a bug) is in the log; the job's user reads a message without it."""
        try:
            with self.sessions() as session:
                job = session.get(BatchJob, job_id)
                if job is not None and job.status in UNFINISHED and job.owner == self.owner:
                    job.status, job.error = JobStatus.FAILED, message
                    session.commit()
        except Exception:  # the database is still down: the claim lapses, and another worker retries the job
            log.exception("batch job %s: could not be marked failed", job_id)

    def _release(self, job_id: int) -> None:
        try:
            with self.sessions() as session:
                claims.release(session, job_id, self.owner)
        except Exception:
            log.exception("batch job %s: claim not released; it lapses after the lease", job_id)
