"""Errors as clients may read them: each kind with its own status, in Chinese, and nothing of the input.

Every `ProposalRouterError` has its status in `STATUSES`, looked up along its class's MRO; anything else is
a bug, logged with its traceback and answered 500 without details.

Validation errors: where, and what is wrong.

FastAPI's own 422 echoes each offending `input` (a 4 MB string comes back whole, and an infinite number or a
lone surrogate there makes the answer itself fail) and pydantic's and the codecs' English texts. The answer
keeps FastAPI's shape, `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`, so clients that read
`loc` and `type` keep working; `msg` is a Chinese description chosen by `type` alone.

A JSON body that the parser itself refuses other than as malformed JSON (bytes that are not UTF-8, an integer
of more than 4,300 digits) is a 400 "There was an error parsing the body" in FastAPI; it is a 422
`json_invalid` here like any other JSON that cannot be read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from proposal_router.model.errors import (
    BundleError,
    Conflict,
    DataError,
    Forbidden,
    InvalidRequest,
    NotFound,
    ProposalRouterError,
    SetupError,
    UnknownName,
)
from proposal_router.model.intake.records import ColumnMap
from proposal_router.service.uploads import UnsupportedFile

log = logging.getLogger("proposal_router.api")

MAX_ERRORS = 50  # a body of a thousand unknown fields is told about the first ones, not answered a thousand times
MAX_NAME_CHARS = 64  # of a field name in `loc`: a client's made-up key is not echoed at any length
BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's detail when reading the body failed

PLACES = {"body": "请求体", "query": "查询参数", "path": "路径参数", "header": "请求头", "cookie": "Cookie"}

# The description of each error type; {name} fields come from the error's `ctx` (limits the app set itself).
DESCRIPTIONS = {
    "missing": "缺少此项",
    "extra_forbidden": "不接受此字段",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "mapping_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "set_type": "应为列表",
    "string_type": "应为字符串",
    "string_sub_type": "应为字符串",
    "string_unicode": "应为有效的 UTF-8 文本",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_parsing_size": "整数位数过多",
    "int_from_float": "应为整数，不能有小数部分",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_type": "应为布尔值（true 或 false）",
    "bool_parsing": "应为布尔值（true 或 false）",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "literal_error": "应为以下取值之一：{expected}",
    "enum": "应为以下取值之一：{expected}",
    "bytes_type": "应为文件或字节数据",
    "date_type": "应为日期，如 2026-01-31",
    "date_parsing": "应为日期，如 2026-01-31",
    "date_from_datetime_parsing": "应为日期，如 2026-01-31",
    "date_from_datetime_inexact": "应为日期，如 2026-01-31",
    "datetime_type": "应为日期时间，如 2026-01-31T09:00:00+08:00",
    "datetime_parsing": "应为日期时间，如 2026-01-31T09:00:00+08:00",
    "datetime_from_date_parsing": "应为日期时间，如 2026-01-31T09:00:00+08:00",
    "datetime_object_invalid": "应为日期时间，如 2026-01-31T09:00:00+08:00",
    "timezone_naive": "不应带时区",
    "timezone_aware": "应带时区，如 +08:00",
}
INVALID = "取值无效"
# too_short and too_long count items for these; for a constrained value (a string checked after a validator,
# pydantic's "Value") they measure length, whatever the unit
COLLECTIONS = {"List", "Tuple", "Set", "Frozenset", "Dictionary"}
LENGTHS = {"too_short": "长度至少为 {min_length}", "too_long": "长度最多为 {max_length}"}
CTX_FIELDS = ("min_length", "max_length", "gt", "ge", "lt", "le", "expected")


def _name(part: object) -> str | int:
    """A `loc` element safe to send: numbers as they are, names cut short and lone surrogates escaped."""
    if isinstance(part, int) and not isinstance(part, bool):
        return part
    name = str(part)
    if len(name) > MAX_NAME_CHARS:
        name = name[:MAX_NAME_CHARS] + "…"
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _where(loc: Sequence[str | int], kind: str) -> str:
    """`["body", 0, "title"]` as 请求体 [0].title; a JSON parse error's character offset as 第 N 个字符处."""
    if not loc:
        return "请求"
    place = PLACES.get(str(loc[0]), str(loc[0]))
    rest = list(loc[1:])
    if kind == "json_invalid" and len(rest) == 1 and isinstance(rest[0], int):
        return f"{place}第 {rest[0]} 个字符处"
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return f"{place} {path}" if path else place


def _description(kind: str, ctx: Mapping[str, Any] | None, message: str) -> str:
    if kind == "value_error":
        # The app's own validators raise these (service/schemas.py, model/intake/clean.py): their text is ours.
        return message.removeprefix("Value error, ")[:500] or INVALID
    template = DESCRIPTIONS.get(kind)
    if kind in LENGTHS and (ctx or {}).get("field_type") not in COLLECTIONS:
        template = LENGTHS[kind]
    if template is None:
        return INVALID
    values = {name: str((ctx or {}).get(name, "")) for name in CTX_FIELDS}
    values["expected"] = values["expected"].replace(" or ", ", ")
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return INVALID


def _union_tag(part: object) -> bool:
    """pydantic's name for a member of a union body (`ProposalIn`, `list[function-after[_has_text(), …]]`)."""
    return isinstance(part, str) and ("[" in part or re.fullmatch(r"[A-Z]\w*", part) is not None)


def _without_unions(errors: Sequence[Any]) -> list[Any]:
    """A body that fits no member of a union: its errors without pydantic's member names in `loc`, and without
    the members it plainly is not ("应为列表" for an object) when another member says what is wrong."""
    cleaned = []
    tagged = False
    for error in errors:
        loc = list(error.get("loc", ()))
        kept = loc[:1] + [p for p in loc[1:] if not _union_tag(p)]
        tagged = tagged or len(kept) < len(loc)
        cleaned.append({**error, "loc": kept})
    if tagged:
        specific = [e for e in cleaned if not str(e.get("type", "")).endswith("_type")]
        cleaned = specific or cleaned
    return cleaned


def describe(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's error list as `{loc, msg, type}` items with Chinese messages, at most MAX_ERRORS of them."""
    out: list[dict[str, Any]] = []
    errors = _without_unions(errors)
    for error in errors[:MAX_ERRORS]:
        loc = [_name(p) for p in error.get("loc", ())]
        kind = str(error.get("type", "value_error"))
        text = _description(kind, error.get("ctx"), str(error.get("msg", "")))
        out.append({"loc": loc, "msg": f"{_where(loc, kind)}：{text}", "type": kind})
    if len(errors) > MAX_ERRORS:
        out.append({"loc": [], "msg": f"另有 {len(errors) - MAX_ERRORS} 处错误未列出", "type": "too_many_errors"})
    return out


def unreadable_json(cause: BaseException) -> dict[str, Any]:
    """The 422 item for a body the JSON parser could not read for a reason other than its syntax."""
    if isinstance(cause, UnicodeDecodeError):
        text = "不是有效的 UTF-8 文本（JSON 请求体须以 UTF-8 编码）"
    elif "digits" in str(cause):
        text = "含有位数过多的数字"
    else:
        text = "不是有效的 JSON"
    return {"loc": ["body"], "msg": f"请求体：{text}", "type": "json_invalid"}


async def validation_failed(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": describe(exc.errors())}, status.HTTP_422_UNPROCESSABLE_CONTENT)


# Starlette's own details are the English reason phrases ("Not Found", "Method Not Allowed"): said in Chinese.
REASON_PHRASES = {
    status.HTTP_400_BAD_REQUEST: "请求有误",
    status.HTTP_401_UNAUTHORIZED: "需要登录或 API 密钥",
    status.HTTP_403_FORBIDDEN: "无权执行此操作",
    status.HTTP_404_NOT_FOUND: "没有这个地址：{path}",
    status.HTTP_405_METHOD_NOT_ALLOWED: "此地址不接受 {method} 请求",
    status.HTTP_406_NOT_ACCEPTABLE: "无法以请求的格式作答",
    status.HTTP_409_CONFLICT: "与当前状态冲突",
    status.HTTP_413_CONTENT_TOO_LARGE: "请求体过大",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "不支持此内容类型",
    status.HTTP_422_UNPROCESSABLE_CONTENT: "请求内容无法处理",
    status.HTTP_429_TOO_MANY_REQUESTS: "请求过于频繁，请稍后重试",
}


def _phrase(code: int) -> str | None:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return None


async def http_failed(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, with Starlette's English phrases and unparsable bodies in Chinese."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and exc.detail == BODY_PARSE_ERROR:
        if isinstance(exc.__cause__, ValueError):
            return JSONResponse({"detail": [unreadable_json(exc.__cause__)]}, status.HTTP_422_UNPROCESSABLE_CONTENT)
        return JSONResponse({"detail": "无法读取请求体"}, status.HTTP_400_BAD_REQUEST)
    if exc.detail == _phrase(exc.status_code):
        template = REASON_PHRASES.get(exc.status_code, "请求失败（HTTP {code}）")
        path = _name(request.url.path)
        detail = template.format(path=path, method=_name(request.method), code=exc.status_code)
        exc = HTTPException(exc.status_code, detail, headers=exc.headers)
    return await http_exception_handler(request, exc)


# The client's mistakes are 4xx; a bundle or setting that is wrong is the server's (500, logged).
STATUSES: dict[type[ProposalRouterError], int] = {
    DataError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    UnknownName: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InvalidRequest: status.HTTP_422_UNPROCESSABLE_CONTENT,
    UnsupportedFile: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    BundleError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    SetupError: status.HTTP_500_INTERNAL_SERVER_ERROR,
}
SERVER_FAULT = "服务器内部错误，已记录在服务日志中；请联系管理员"


def upload_field(option: str) -> str:
    """An upload names its columns in the form fields `title_field`, `body_field`, …; a JSON body by field."""
    return f"表单字段 {option}_field" if option in ColumnMap.model_fields else f"字段 {option}"


def status_of(exc: ProposalRouterError) -> int:
    return next(STATUSES[kind] for kind in type(exc).__mro__ if kind in STATUSES)


async def user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProposalRouterError)
    code = status_of(exc)
    if code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        log.error("%s %s: %s", request.method, request.url.path, exc, exc_info=exc)
        return JSONResponse({"detail": SERVER_FAULT}, code)
    return JSONResponse({"detail": exc.describe(upload_field)}, code)


async def server_fault(request: Request, exc: Exception) -> Response:
    """A bug: Starlette logs the traceback after this answer; the client learns nothing of the internals."""
    return JSONResponse({"detail": SERVER_FAULT}, status.HTTP_500_INTERNAL_SERVER_ERROR)
