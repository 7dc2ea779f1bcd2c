"""`--engine ray`: the same routing on a Ray cluster through Ray Data, one model load per worker.

The bundle travels through Ray's object store, so a cluster's nodes need proposal-router installed but
no copy of the model and no shared disk. Each worker is a Ray Data actor holding one torch-free `Router`
with `threads` intra-op threads, fed by `map_batches`. A proposal's routing does not depend on the batch it
is in (fp32 is exact, int8 embeds each window alone), and results come back in the input's order, so the
output is the local engine's, row for row.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from proposal_router.model.errors import SetupError
from proposal_router.model.manifest import MANIFEST, SERVING, BundleManifest, Precision, load_manifest
from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal, RoutingResult
from proposal_router.model.taxonomy import Taxonomy
from proposal_router.service.engine import Keyed, Routed

BATCH = 32  # proposals per model call on a worker; a proposal's routing does not depend on it


def bundle_files(bundle: Path, manifest: BundleManifest) -> dict[str, bytes]:
    """What a worker needs to route: the manifest and the files of the bundle's serving part, never the
    training state (torch weights, parity texts, evaluation), which would triple what each worker is sent.
    Each worker's `Router` checks them against the manifest again, so a damaged transfer is refused there."""
    return {name: (bundle / name).read_bytes() for name in [MANIFEST, *manifest.files_of(SERVING)]}


class _RouteBatch:
    """A Ray Data actor: writes the shipped bundle to local disk once, then routes batch after batch."""

    def __init__(
        self, files: list[Any], threads: int, precision: Precision | None, taxonomy: dict[str, Any] | None = None
    ) -> None:
        """`files` holds the bundle's object ref in a list, so that Ray hands the ref over unresolved;
        `taxonomy` is the one the driver routes with, so that a worker gives a reform's new names too."""
        import ray

        contents: dict[str, bytes] = ray.get(files[0])
        self._directory = tempfile.TemporaryDirectory(prefix="proposal-router-bundle-")
        root = Path(self._directory.name)
        for name, data in contents.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        given = Taxonomy.model_validate(taxonomy) if taxonomy is not None else None
        self.router = Router(root, threads=threads, precision=precision, taxonomy=given)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        proposals = [
            Proposal(id=str(i) or None, title=str(t), body=str(b))
            for i, t, b in zip(batch["id"], batch["title"], batch["body"], strict=True)
        ]
        results = self.router.route(proposals)
        return {"key": batch["key"], "result": np.array([r.model_dump_json() for r in results], dtype=object)}


class RayEngine:
    """Routes on Ray: a local Ray started on demand, or the cluster at `address` (e.g. ray://head:10001)."""

    def __init__(
        self,
        bundle: str | Path,
        threads: int | None = None,
        precision: Precision | None = None,
        workers: int | None = None,
        address: str | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise SetupError("用 Ray 交办需要安装 Ray：pip install 'proposal-router[ray]'", option="engine") from exc
        self.bundle = Path(bundle)
        self.manifest = load_manifest(self.bundle)
        self.threads, self.precision = threads or 1, precision
        self.workers, self.address = workers, address
        self.taxonomy = taxonomy

    @property
    def version(self) -> str:
        return self.manifest.version

    def _connect(self) -> int:
        """Start or join Ray; the number of workers defaults to the cluster's CPUs over threads per worker."""
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        workers = self.workers or max(1, cpus // self.threads)
        if self.address is None and workers * self.threads > cpus:  # a local Ray cannot grow: it would wait forever
            raise SetupError(
                f"{workers} 个工作进程 × 每个 {self.threads} 个线程需要 {workers * self.threads} 个 CPU，"
                f"本机的 Ray 只有 {cpus} 个",
                option="workers",
            )
        return workers

    def stream(self, items: Sequence[Keyed], chunk: int) -> Iterator[Routed]:
        import ray

        if not items:
            return
        workers = self._connect()
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # not a line per dataset on the user's terminal
        rows = [{"key": k, "id": p.id or "", "title": p.title, "body": p.body} for k, p in items]
        blocks = max(1, min(len(rows) // BATCH, workers * 8))
        routed = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            _RouteBatch,
            fn_constructor_kwargs={
                "files": [ray.put(bundle_files(self.bundle, self.manifest))],
                "threads": self.threads,
                "precision": self.precision,
                "taxonomy": self.taxonomy.model_dump() if self.taxonomy is not None else None,
            },
            batch_size=BATCH,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=self.threads,
        )
        for batch in routed.iter_batches(batch_size=chunk, batch_format="numpy"):
            yield [
                (int(key), RoutingResult.model_validate_json(result))
                for key, result in zip(batch["key"], batch["result"], strict=True)
            ]
