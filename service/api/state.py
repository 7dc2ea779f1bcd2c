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
from proposal_router.service.domain.quality import Breaker
from proposal_router.service.engine import LocalEngine
from proposal_router.service.metrics import Metrics
from proposal_router.service.trust import Arrival
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
    arrival: Arrival  # 并案 candidates among the stored filings, the circuit breaker, audit sampling

    def breaker(self) -> Breaker:
        """The circuit breaker's terms for the model served now."""
        settings = self.settings
        target = self.router.manifest.routing.target_precision
        return Breaker(target, self.router.version, settings.breaker_min_audits, settings.breaker_margin)

    def serve(self, router: Router) -> None:
        """Route with `router` from the next request on (POST /v1/model/reload); requests under way finish
        with the one they began with. Batch jobs routed in this process follow; on Ray they keep theirs."""
        self.router = router
        self.catalogue = Catalogue.of(router)
        self.explainer = Explainer(router)
        engine = self.batch_worker.engine
        if isinstance(engine, LocalEngine):
            engine.router = router
