"""For analysts: quality in production (audits, reviews, returns), the circuit breaker, and switching the
served model without a restart."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from proposal_router.model.errors import BundleError, InvalidRequest
from proposal_router.model.router import Router
from proposal_router.model.taxonomy import load_taxonomy
from proposal_router.service.api.deps import Admin, Analyst, State
from proposal_router.service.api.routes.analysis import model_info
from proposal_router.service.deps import DB
from proposal_router.service.domain import quality
from proposal_router.service.schemas import ModelInfo

router = APIRouter(prefix="/v1", tags=["quality"])


def _figures(session: DB, state: State) -> quality.Quality:
    settings = state.settings
    return quality.figures(session, state.breaker(), settings.audit_rate, settings.timezone)


@router.get("/quality", response_model=quality.Quality, summary="Audited precision, reviews, returns, the breaker")
def figures(session: DB, state: State, _: Analyst) -> quality.Quality:
    return _figures(session, state)


@router.post(
    "/quality/resume",
    response_model=quality.Quality,
    summary="Restart automatic routing after the circuit breaker paused it; audits are counted afresh",
)
def resume(session: DB, state: State, caller: Analyst) -> quality.Quality:
    quality.resume(session, caller.actor)
    return _figures(session, state)


class ReloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        default=None,
        max_length=1000,
        description="bundle directory; default: the configured one (PROPOSAL_ROUTER_MODEL)",
    )


@router.post(
    "/model/reload",
    response_model=ModelInfo,
    summary="Serve another bundle (or the configured directory again) without a restart; resumes routing",
    responses={422: {"description": "the directory is not a bundle this service can load"}},
)
def reload(session: DB, state: State, caller: Admin, payload: ReloadIn | None = None) -> ModelInfo:
    settings = state.settings
    path = (payload.path if payload else None) or settings.model or str(state.router.directory)
    taxonomy_path = settings.checked_taxonomy(None)
    try:
        taxonomy = load_taxonomy(taxonomy_path) if taxonomy_path is not None else None
        loaded = Router(Path(path), threads=settings.threads, precision=settings.encoder, taxonomy=taxonomy)
    except BundleError as exc:
        raise InvalidRequest(f"无法加载模型 {path}：{exc}") from exc
    before = state.router.version
    state.serve(loaded)
    quality.model_loaded(session, before, loaded.version, path, caller.actor)
    return model_info(state, caller)
