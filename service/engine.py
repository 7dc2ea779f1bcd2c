"""Where a file's routing runs: the engines' common shape, and the local engine (this process).

Both engines take keyed proposals and give back the routing of each in chunks and in the order given, so
a batch job can commit one chunk at a time whichever engine does the work. The Ray engine (ray_engine.py)
builds on these types and `engines.batch_engine` chooses between the two, so this module never imports
the Ray one and the two do not import each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol

from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal, RoutingResult


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
