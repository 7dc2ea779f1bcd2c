"""Command-line flags generated from a pydantic model's fields, and its validation errors told as flags.

The training settings are defined once, in `TrainConfig`; writing them again as argparse arguments is how
defaults and bounds drifted apart before. Each listed field becomes `--field-name` with the field's type,
its `Literal` values as choices, a list as `nargs="+"`, a boolean that defaults to true as a `--no-…`
switch, and its description and default as the help. Flags default to `None`: an unset flag leaves the
model's own default in force.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from proposal_router.model.errors import SetupError

M = TypeVar("M", bound=BaseModel)


def flag_of(name: str, info: FieldInfo) -> str:
    extra = info.json_schema_extra
    if isinstance(extra, Mapping) and isinstance(extra.get("flag"), str):
        return str(extra["flag"])
    return "--" + name.replace("_", "-")


def _shape(annotation: Any) -> tuple[type, list[Any] | None, bool]:
    """(element type, choices, many) of an annotation such as `list[Literal["a", "b"]] | None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = [a for a in get_args(annotation) if a is not type(None)]
    many = get_origin(annotation) is list
    if many:
        (annotation,) = get_args(annotation)
    if get_origin(annotation) is Literal:
        choices = list(get_args(annotation))
        return type(choices[0]), choices, many
    return annotation, None, many


def add_flags(group: argparse._ActionsContainer, model: type[BaseModel], names: Iterable[str]) -> None:
    for name in names:
        info = model.model_fields[name]
        default = info.get_default(call_default_factory=True)
        kind, choices, many = _shape(info.annotation)
        help_text = info.description or ""
        if kind is bool:
            action = "store_false" if default else "store_true"
            group.add_argument(flag_of(name, info), dest=name, action=action, default=None, help=help_text)
            continue
        shown = "、".join(map(str, default)) if isinstance(default, list) else default
        if default is not None:
            help_text = f"{help_text}（默认：{shown}）"
        group.add_argument(
            flag_of(name, info),
            dest=name,
            type=kind,
            choices=choices,
            nargs="+" if many else None,
            default=None,
            help=help_text,
        )


def build_model(model: type[M], args: argparse.Namespace, names: Iterable[str], **fallback: Any) -> M:
    """The model from the flags that were given, then `fallback` (e.g. environment settings), then defaults.

    A value out of bounds is a `SetupError` naming the flag, not pydantic's English report."""
    values = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    values |= {k: v for k, v in fallback.items() if v is not None and k not in values}
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        raise SetupError(f"取值 {values.get(field)!r} 不可用：{_bound(error)}", option=field) from None


def _bound(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    words = {"ge": "应不小于", "gt": "应大于", "le": "应不大于", "lt": "应小于"}
    for key, word in words.items():
        if key in ctx:
            return f"{word} {ctx[key]}"
    return str(error.get("msg", ""))
