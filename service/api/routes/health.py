"""Liveness and readiness: the only endpoints without a key, so they tell nothing else.

`/readyz` answers ready (and the version of the model being served) or not ready; why the database could not
be reached (its host, port, the driver's text) goes to the server's log, not to whoever asked.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlalchemy import text

from proposal_router.service.api.deps import State

router = APIRouter(tags=["health"])
log = logging.getLogger("proposal_router")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(state: State) -> dict[str, str] | JSONResponse:
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        log.exception("readiness check failed: the database cannot be reached")
        return JSONResponse({"status": "not_ready", "detail": "服务未就绪"}, status.HTTP_503_SERVICE_UNAVAILABLE)
    return {"status": "ready", "model_version": state.router.version}
