"""Everything a request needs, built once per app: settings, the loaded bundle, the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from proposal_router.model.explain import Explainer
from proposal_router.model.router import Router
from proposal_router.service.api.batch_worker import BatchWorker
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.config import Settings
from proposal_router.service.metrics import Metrics
from proposal_router.service.similar import Lookup
from proposal_router.service.web.session import SessionSigner


@dataclass
class AppState:
    settings: Settings
    router: Router
    engine: Engine
    sessions: sessionmaker[Session]
    catalogue: Catalogue
    metrics: Metrics
    explainer: Explainer
    signer: SessionSigner
    batch_worker: BatchWorker
    lookup: Lookup  # 并案 candidates among the stored filings
