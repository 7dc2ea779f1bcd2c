"""Claims on batch jobs, so that several processes on one database share the jobs and none routes a row twice.

A job is worked on only by the process that claimed it: its `owner` column names the process
(host:pid:random) and `heartbeat_at` is when the owner last said it is at work. Any process may claim a job
that has not ended and has no owner, or whose owner's heartbeat is older than the lease
(PROPOSAL_ROUTER_JOB_LEASE_SECONDS): a server killed mid-job leaves it to the others. Claiming is one
conditional UPDATE, so of two processes claiming the same job exactly one succeeds: on PostgreSQL it picks
the job with `FOR UPDATE SKIP LOCKED`, so that pollers pass over a row another is claiming (or whose chunk
another is committing) instead of queueing behind it; SQLite has no row locks, but a write transaction holds
the whole database, so its conditional UPDATE (the same statement, which SQLite renders without the lock
clause) is atomic already.

A claim can lapse while its owner still lives (a pause longer than the lease, a database outage): the
owner then finds, in the transaction of its next chunk, that the job is no longer its own, and stores
nothing more of it (`batches._hold`). Exactly-once rests on that check, not on the lease being long enough.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from types import TracebackType

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from proposal_router.service.db.models import BatchJob, now
from proposal_router.service.statuses import UNFINISHED, JobStatus

log = logging.getLogger("proposal_router.batches")
HOST = socket.gethostname()[:150]


def new_owner() -> str:
    """A name for one worker of this process: host and pid say where it runs, the random part tells apart
    two workers of one process and a later process that was given the same pid."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _lapsed(lease: timedelta) -> ColumnElement[bool]:
    return BatchJob.owner.is_(None) | BatchJob.heartbeat_at.is_(None) | (BatchJob.heartbeat_at < now() - lease)


def claim_next(session: Session, owner: str, lease: timedelta) -> int | None:
    """Claim the oldest unfinished job that nobody holds (or whose holder's lease lapsed, or whose holder was
    a process of this host that has exited); its id, or None."""
    claimable = BatchJob.status.in_(UNFINISHED) & _lapsed(lease)
    oldest = select(BatchJob.id).where(claimable).order_by(BatchJob.id).limit(1).with_for_update(skip_locked=True)
    taken = session.execute(
        update(BatchJob)
        .where((BatchJob.id == oldest.scalar_subquery()) & claimable)
        .values(owner=owner, heartbeat_at=now())
        .returning(BatchJob.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if taken is None:
        taken = _claim_orphan(session, owner, BatchJob.status.in_(UNFINISHED))
    session.commit()
    return taken


def claim(session: Session, job_id: int, owner: str, lease: timedelta) -> str | None:
    """Claim one job to run it (the command line resuming its file), unless it is done or cancelled; None if
    claimed, or else the live process that holds it."""
    open_job = (BatchJob.id == job_id) & BatchJob.status.not_in((JobStatus.DONE, JobStatus.CANCELLED))
    mine = open_job & (_lapsed(lease) | (BatchJob.owner == owner))
    taken = session.execute(update(BatchJob).where(mine).values(owner=owner, heartbeat_at=now()))
    claimed = bool(getattr(taken, "rowcount", 0)) or _claim_orphan(session, owner, open_job) is not None
    holder = None if claimed else session.scalar(select(BatchJob.owner).where(BatchJob.id == job_id))
    session.commit()
    return holder


def release(session: Session, job_id: int, owner: str) -> None:
    """Give up a claim on a job that has not ended (the server is stopping), so that another process resumes
    it now rather than after the lease. An ended job keeps its owner: the process that ended it."""
    held = (BatchJob.id == job_id) & (BatchJob.owner == owner) & BatchJob.status.in_(UNFINISHED)
    session.execute(update(BatchJob).where(held).values(owner=None, heartbeat_at=None))
    session.commit()


def _claim_orphan(session: Session, owner: str, condition: ColumnElement[bool]) -> int | None:
    """A job held by a process of this host that no longer runs is taken at once rather than after the lease:
    a server restarted after a crash, or a killed command line run again, resumes its job straight away. The
    UPDATE is conditional on the old owner, so two claimants cannot both take it; and were the pid reused
    across containers sharing a host name, the old owner would still store nothing more (`batches._hold`)."""
    held_here = condition & BatchJob.owner.startswith(f"{HOST}:", autoescape=True)
    for job_id, previous in session.execute(select(BatchJob.id, BatchJob.owner).where(held_here).order_by(BatchJob.id)):
        if previous is None or _alive(previous):
            continue
        taken = session.execute(
            update(BatchJob)
            .where((BatchJob.id == job_id) & (BatchJob.owner == previous))
            .values(owner=owner, heartbeat_at=now())
        )
        if getattr(taken, "rowcount", 0):
            log.info("batch job %s: its owner %s has exited; taken over by %s", job_id, previous, owner)
            return int(job_id)
    return None


def _alive(owner: str) -> bool:
    try:
        pid = int(owner.rsplit(":", 2)[1])
    except (IndexError, ValueError):
        return True  # not a name this module made: leave it to the lease
    if pid == os.getpid():
        return True  # another worker of this very process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


class Heartbeat:
    """Refreshes a claim from a thread of its own while the job is worked on: reading a large upload or
    routing one chunk on a slow model may take longer than the lease, and the owner must not look dead
    meanwhile. A failed refresh is logged and tried again at the next beat; `lost` is set once the job is
    no longer held (then the chunk check stops the work, too)."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, owner: str, interval: float) -> None:
        self.sessions, self.job_id, self.owner, self.interval = sessions, job_id, owner, interval
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        held = (BatchJob.id == self.job_id) & (BatchJob.owner == self.owner)
        while not self._done.wait(self.interval):
            try:
                with self.sessions() as session:
                    refreshed = session.execute(update(BatchJob).where(held).values(heartbeat_at=now()))
                    session.commit()
            except SQLAlchemyError as exc:
                log.warning("batch job %s: heartbeat not written: %s", self.job_id, exc)
                continue
            if not getattr(refreshed, "rowcount", 0):
                self.lost.set()
                return
