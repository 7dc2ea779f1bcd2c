"""Prometheus scrape endpoint (analyst key: Prometheus sends it as `authorization: Bearer`)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from proposal_router.service.api.deps import Analyst, State

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics(state: State, _: Analyst) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
