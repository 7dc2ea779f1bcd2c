"""Retrying a unit of database work through transient failures, for background work that no client retries.

A request that meets a locked SQLite file or a dropped PostgreSQL connection answers 503 and its client
tries again; a batch job has no client waiting, so its worker retries each transaction itself, with
exponential backoff, and only then gives up. Each unit retried must be one transaction that is safe to run
again: a failed attempt is rolled back whole, and one whose commit reached the server before the
connection dropped is found done by the next attempt (rows already linked are skipped).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

log = logging.getLogger("proposal_router.db")
T = TypeVar("T")

ATTEMPTS = 6
WAIT_SECONDS = 0.5  # first wait; doubling, at most MAX_WAIT_SECONDS: about 15 s over all attempts
MAX_WAIT_SECONDS = 8.0


def transient(exc: BaseException) -> bool:
    """An error that the same statement may not meet a moment later: SQLite's "database is locked", a
    PostgreSQL server restarting or a connection it dropped. Constraint violations and bugs are not."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _logged(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    log.warning("database error, attempt %s of %s: %s", state.attempt_number, ATTEMPTS, error)


def retrying(work: Callable[[], T]) -> T:
    """`work()`, tried again after a transient error until ATTEMPTS have failed; then its last error."""
    retryer = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=WAIT_SECONDS, max=MAX_WAIT_SECONDS),
        retry=retry_if_exception(transient),
        before_sleep=_logged,
        reraise=True,
    )
    result: T = retryer(work)
    return result
