"""What an unauthenticated or hostile client can learn: the docs only when switched on, a readiness answer
without the database's address, and 422s that explain in Chinese without echoing the input or internals."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.service.conftest import Service, start_service

LEAKS = ("sys.set_int_max_str_digits", "codec", "position", "0xff", "Traceback", "input")


def test_docs_and_schema_are_off_by_default(service: Service) -> None:
    for path in ("/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect", "/docs/assets/swagger-ui-bundle.js"):
        assert service.client.get(path).status_code == 404, path


def test_docs_when_switched_on_load_only_local_files(database_url: str, demo_bundle: Path) -> None:
    running = start_service(database_url, demo_bundle, api_docs=True)
    try:
        client = running.client
        page = client.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: *["']([^"']+)["']""", page.text)
        urls = [u for pair in urls for u in pair if u]
        assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
        assert "http://" not in page.text and "https://" not in page.text
        for url in urls:
            assert client.get(url).status_code == 200, url
        assert client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
        schema = client.get("/openapi.json").json()
        assert schema["openapi"].startswith("3.1") and "/v1/proposals" in schema["paths"]
        assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN
    finally:
        running.client.close()
        running.state.engine.dispose()


def test_readiness_says_ready_or_not_and_nothing_else(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    ready = service.client.get("/readyz")
    assert ready.json() == {"status": "ready", "model_version": service.state.router.version}
    working = service.state.engine
    service.state.engine = create_engine("postgresql+psycopg://router:secret@127.0.0.1:9/intake?connect_timeout=2")
    try:
        with caplog.at_level(logging.ERROR, logger="proposal_router"):
            down = service.client.get("/readyz")
    finally:
        service.state.engine.dispose()
        service.state.engine = working
    assert down.status_code == 503 and down.json() == {"status": "not_ready", "detail": "服务未就绪"}
    assert "127.0.0.1" in caplog.text  # the reason is in the server's log
    assert service.client.get("/readyz").status_code == 200


def test_a_5000_digit_integer_is_a_422_without_the_number(service: Service) -> None:
    digits = "9" * 5000
    headers = {**service.headers("reviewer"), "content-type": "application/json"}
    for body in (f'{{"action": "accept", "version": {digits}}}', f'{{"action": "accept", "version": "{digits}"}}'):
        response = service.client.post("/v1/review/1", content=body.encode(), headers=headers)
        assert response.status_code == 422, response.text
        assert digits[:100] not in response.text and not any(leak in response.text for leak in LEAKS)
        [error] = response.json()["detail"]
        assert set(error) == {"loc", "msg", "type"} and error["loc"][0] == "body"
        assert "位数过多" in error["msg"]
    query = service.client.get(f"/v1/review?limit={digits}", headers=service.headers("reviewer"))
    assert query.status_code == 422 and digits[:100] not in query.text
    assert query.json()["detail"] == [
        {"loc": ["query", "limit"], "msg": "查询参数 limit：整数位数过多", "type": "int_parsing_size"}
    ]


def test_a_body_that_is_not_utf8_is_a_422_without_codec_details(service: Service) -> None:
    headers = {**service.headers("screener"), "content-type": "application/json"}
    for body in ('{"body": "正文"}'.encode("gbk"), b'{"body": "\xff\xfe"}'):
        response = service.client.post("/v1/proposals", content=body, headers=headers)
        assert response.status_code == 422, response.text
        assert not any(leak in response.text for leak in LEAKS)
        assert response.json()["detail"] == [
            {
                "loc": ["body"],
                "msg": "请求体：不是有效的 UTF-8 文本（JSON 请求体须以 UTF-8 编码）",
                "type": "json_invalid",
            }
        ]


def test_422s_are_in_chinese_and_echo_nothing(service: Service) -> None:
    huge = "假" * 100_000
    headers = service.headers("reviewer")
    cases = [
        (
            {"action": huge},
            ["body", "action"],
            "literal_error",
            "请求体 action：应为以下取值之一：'accept', 'correct', 'reject', 'reassign', 'merge'",
        ),
        (
            {"action": "accept", "version": 1.5},
            ["body", "version"],
            "int_from_float",
            "请求体 version：应为整数，不能有小数部分",
        ),
        ({"action": "accept", "version": -1}, ["body", "version"], "greater_than_equal", "请求体 version：应不小于 0"),
        (
            {"action": "accept", "reason": "长" * 2001},
            ["body", "reason"],
            "too_long",
            "请求体 reason：长度最多为 2000",
        ),
        ({"action": "accept", huge: 1}, ["body", "假" * 64 + "…"], "extra_forbidden", None),
    ]
    for payload, loc, kind, message in cases:
        response = service.client.post("/v1/review/1", json=payload, headers=headers)
        assert response.status_code == 422 and len(response.text) < 1_000, response.text[:300]
        [error] = response.json()["detail"]
        assert (error["loc"], error["type"]) == (loc, kind)
        assert message is None or error["msg"] == message
    # an infinite number and a lone surrogate key made FastAPI's own answer fail to encode
    raw = {**headers, "content-type": "application/json"}
    for body in (b'{"action": "accept", "version": 1e400}', b'{"action": "accept", "\\ud800": 1}'):
        response = service.client.post("/v1/review/1", content=body, headers=raw)
        assert (
            response.status_code == 422 and "surrogates" not in response.text and "JSON compliant" not in response.text
        )
    broken = service.client.post("/v1/review/1", content=b'{"action": "acc', headers=raw)
    assert broken.json()["detail"] == [
        {"loc": ["body", 11], "msg": "请求体第 11 个字符处：不是有效的 JSON", "type": "json_invalid"}
    ]


def test_a_thousand_errors_are_told_about_fifty(service: Service) -> None:
    payload = {"action": "accept", **{f"field{i}": i for i in range(1000)}}
    response = service.client.post("/v1/review/1", json=payload, headers=service.headers("reviewer"))
    detail = response.json()["detail"]
    assert response.status_code == 422 and len(detail) == 51
    assert detail[-1] == {"loc": [], "msg": "另有 950 处错误未列出", "type": "too_many_errors"}


def test_every_error_a_client_gets_is_in_chinese(service: Service) -> None:
    client, screener, admin = service.client, service.headers("screener"), service.headers("admin")
    cases = [
        (client.get("/v1/no-such-thing", headers=screener), 404, "没有这个地址：/v1/no-such-thing"),
        (client.put("/v1/proposals", json=[], headers=screener), 405, "此地址不接受 PUT 请求"),
        (client.post("/v1/proposals", json=[], headers=screener), 422, "提案列表为空"),
        (client.get("/v1/batches/424242", headers=screener), 404, "没有批处理任务 424242"),
        (client.delete("/v1/keys/nosuchkey", headers=admin), 404, "没有以 nosuchkey 开头的有效密钥"),
        (client.get("/v1/batches/1"), 401, "需要 API 密钥（请求头 X-API-Key 或 Authorization: Bearer）"),
    ]
    for response, code, detail in cases:
        assert (response.status_code, response.json()["detail"]) == (code, detail), response.request.url
    many = [{"title": "关于路灯的建议", "body": "建议增设路灯"}] * (service.state.settings.max_items + 1)
    too_many = client.post("/v1/proposals", json=many, headers=screener)
    assert too_many.status_code == 413
    assert too_many.json()["detail"].startswith(f"一次请求含 {len(many)} 件提案，最多 {len(many) - 1} 件")
    empty = client.post("/v1/proposals", json={"title": " ", "body": ""}, headers=screener)
    assert empty.status_code == 422
    assert [e["msg"] for e in empty.json()["detail"]] == ["请求体：提案标题和提案内容都为空：提案须有文字"]
    long = client.post("/v1/proposals", json={"title": "长", "body": "字" * 10**5}, headers=screener)
    if long.status_code == 422:  # the per-proposal character limit, when it is below the body limit
        assert long.json()["detail"].startswith("第 0 件提案（编号 无）：") or "字符" in str(long.json()["detail"])
