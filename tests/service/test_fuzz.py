"""Property-based requests generated from the OpenAPI schema (schemathesis): nothing may produce a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.service.conftest import Service, start_service

KEYS: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, demo_bundle: Path) -> Iterator[Service]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'service.db'}"
    running = start_service(url, demo_bundle, api_docs=True)  # the schema is served only then
    KEYS.update(running.keys)
    try:
        yield running
    finally:
        running.client.close()
        running.state.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzzed: Service) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed.client.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_server_fail(case: Any) -> None:
    response = case.call(headers={"X-API-Key": KEYS["admin"]})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
