"""Where a file's routing runs: in this process (`local`) or on a Ray cluster (`ray`, see ray_engine.py).

Both take keyed proposals and give back the routing of each in chunks and in the order given, so a batch
job can commit one chunk at a time whichever engine does the work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

from proposal_router.model.manifest import Precision
from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal, RoutingResult

EngineName = Literal["local", "ray"]


class Keyed(NamedTuple):
    key: int
    proposal: Proposal


Routed = list[tuple[int, RoutingResult]]


class BatchEngine(Protocol):
    @property
    def version(self) -> str: ...

    def stream(self, items: Sequence[Keyed], chunk: int) -> Iterator[Routed]:
        """The routing of every item, `chunk` at a time, in the items' order."""
        ...


class LocalEngine:
    """Routes in this process with one `Router`; its threads use all the cores it is given."""

    def __init__(self, router: Router) -> None:
        self.router = router

    @property
    def version(self) -> str:
        return self.router.version

    def stream(self, items: Sequence[Keyed], chunk: int) -> Iterator[Routed]:
        for start in range(0, len(items), chunk):
            part = items[start : start + chunk]
            results = self.router.route([item.proposal for item in part])
            yield [(item.key, result) for item, result in zip(part, results, strict=True)]


def batch_engine(
    name: EngineName,
    bundle: str | Path,
    threads: int | None = None,
    precision: Precision | None = None,
    workers: int | None = None,
    address: str | None = None,
) -> BatchEngine:
    if name == "ray":
        from proposal_router.service.ray_engine import RayEngine

        return RayEngine(bundle, threads=threads, precision=precision, workers=workers, address=address)
    return LocalEngine(Router(bundle, threads=threads, precision=precision))
