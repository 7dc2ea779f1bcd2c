"""Request plumbing shared by both front ends (the API and the reviewers' pages), below both.

The app's state is reached through `Services`, a protocol naming only what the adapters use, so neither
front end imports the other: `service.api.app` builds the state and wires both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from proposal_router.model.explain import Explainer
from proposal_router.model.router import Router
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.config import Settings
from proposal_router.service.metrics import Metrics


class Services(Protocol):
    """What every request may need, built once per app."""

    settings: Settings
    router: Router
    sessions: sessionmaker[Session]
    catalogue: Catalogue
    metrics: Metrics
    explainer: Explainer


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request, shared by every dependency of that request."""
    with get_services(request).sessions() as session:
        yield session


DB = Annotated[Session, Depends(get_session)]
