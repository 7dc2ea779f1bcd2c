"""For analysts: what model is serving, and the year's final assignments for retraining."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response

from proposal_router.model.intake.cells import csv_cell
from proposal_router.service import store
from proposal_router.service.api.deps import Analyst, State
from proposal_router.service.deps import DB
from proposal_router.service.domain import proposals
from proposal_router.service.schemas import ModelInfo

router = APIRouter(prefix="/v1", tags=["analysis"])


@router.get("/model", response_model=ModelInfo)
def model_info(state: State, _: Analyst) -> ModelInfo:
    manifest = state.router.manifest
    thresholds = {"lead_auto": manifest.routing.lead_threshold, "tie_margin": manifest.routing.tie_margin}
    if "co" in manifest.heads:
        thresholds["co"] = manifest.co_threshold()
    return ModelInfo(
        version=manifest.version,
        model_type=manifest.model_type,
        components=list(manifest.components),
        encoder=manifest.encoder_file,
        labels={head: spec.labels for head, spec in manifest.heads.items()},
        thresholds=thresholds,
        metrics=manifest.metrics,
    )


@router.get(
    "/export/training-data",
    summary="Final assignments (reviewers' corrections included) in the training file format",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def training_data(
    session: DB, caller: Analyst, since: datetime | None = None, format: Literal["csv", "jsonl"] = "csv"
) -> Response:
    rows = proposals.training_data(session, since, caller.actor, format)
    return _table(rows, store.TRAINING_COLUMNS, format, "training-data")


@router.get(
    "/export/rejections",
    summary="Filings rejected (不予立案) with their ground, the file `train --rejections` reads",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def rejections(
    session: DB, caller: Analyst, since: datetime | None = None, format: Literal["csv", "jsonl"] = "csv"
) -> Response:
    rows = proposals.training_data(session, since, caller.actor, format, rejections=True)
    return _table(rows, store.REJECTION_COLUMNS, format, "rejections")


def _table(rows: list[dict[str, Any]], columns: list[str], format: str, name: str) -> Response:
    if format == "jsonl":
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return Response(body, media_type="application/x-ndjson; charset=utf-8")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
