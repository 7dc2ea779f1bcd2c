"""Property-based requests: the API from its OpenAPI schema (schemathesis) and the reviewers' pages from
hypothesis strategies, logged in. Nothing may produce a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


TEXT = st.text(max_size=300)  # NUL and every other code point a browser can send
NUMBER = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=25))
FORMS = st.fixed_dictionaries(
    {name: TEXT for name in ("lead_department", "co_departments", "topic", "reason")}
    | {"action": st.one_of(st.sampled_from(["accept", "correct", "reject"]), TEXT), "version": NUMBER}
)


@pytest.fixture(scope="module")
def reviewer_page(fuzzed: Service) -> tuple[Service, str, list[int]]:
    """A reviewer logged in to the page, its CSRF token and proposals to open."""
    items = [{"title": f"关于公交线路调整的提案{i}", "body": "建议增加公交线路"} for i in range(3)]
    stored = fuzzed.client.post("/v1/proposals", json=items, headers=fuzzed.headers("screener")).json()
    logged_in = fuzzed.client.post("/ui/login", data={"key": fuzzed.keys["reviewer"], "next": "/ui/queue"})
    token = re.search(r'name="csrf" value="([^"]+)"', logged_in.text)
    assert token is not None, logged_in.text[:500]
    return fuzzed, token.group(1), [item["id"] for item in stored]


@given(department=TEXT, topic=TEXT, order=TEXT, page=NUMBER, done=NUMBER)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_queue_query_makes_the_page_fail(
    reviewer_page: tuple[Service, str, list[int]], department: str, topic: str, order: str, page: Any, done: Any
) -> None:
    service, _, _ = reviewer_page
    params = {"department": department, "topic": topic, "order": order, "page": page, "done": done}
    response = service.client.get("/ui/queue", params=params)
    assert response.status_code < 500, f"{params}: {response.status_code} {response.text[:300]}"


@given(target=st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 1, 2])), form=FORMS)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_decision_form_makes_the_page_fail(
    reviewer_page: tuple[Service, str, list[int]], target: int, form: dict[str, Any]
) -> None:
    service, csrf, ids = reviewer_page
    proposal = ids[target] if 0 <= target < len(ids) else target
    opened = service.client.get(f"/ui/proposals/{proposal}")
    assert opened.status_code < 500, f"open {proposal}: {opened.status_code} {opened.text[:300]}"
    decided = service.client.post(f"/ui/proposals/{proposal}", data={**form, "csrf": csrf}, follow_redirects=False)
    assert decided.status_code < 500, f"{proposal} {form}: {decided.status_code} {decided.text[:300]}"
