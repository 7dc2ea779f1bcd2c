"""Which engine routes a file: `local` (this process) or `ray` (a Ray cluster, imported only when asked for).

Kept apart from engine.py so that the Ray engine, which builds on engine.py's types, and the local engine
never import each other; this module, above both, is the only one that knows them both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from proposal_router.model.manifest import Precision
from proposal_router.model.router import Router
from proposal_router.model.taxonomy import Taxonomy
from proposal_router.service.engine import BatchEngine, LocalEngine

EngineName = Literal["local", "ray"]


def batch_engine(
    name: EngineName,
    bundle: str | Path,
    threads: int | None = None,
    precision: Precision | None = None,
    workers: int | None = None,
    address: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> BatchEngine:
    """`taxonomy` is the one routing is checked against and names its output in (see model/reform.py)."""
    if name == "ray":
        from proposal_router.service.ray_engine import RayEngine

        return RayEngine(bundle, threads, precision, workers, address, taxonomy)
    return LocalEngine(Router(bundle, threads=threads, precision=precision, taxonomy=taxonomy))
