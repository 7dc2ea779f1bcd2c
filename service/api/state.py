"""Everything a request needs, built once per app: settings, the loaded bundle, the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from model.explain import Explainer
from model.router import Router
from service.api.batch_worker import BatchWorker
from service.api.metrics import Metrics
from service.catalogue import Catalogue
from service.config import Settings
from service.web.session import SessionSigner


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
