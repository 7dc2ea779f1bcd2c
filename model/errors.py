"""The errors that are the user's to fix, under one base, `ProposalRouterError`.

Each front end maps every subclass explicitly: the command line to exit code 2 with a message that names
its flags, the API to a 4xx that names its fields. Anything that is not a `ProposalRouterError` is a bug
and is treated as one (a traceback, a logged 500), never reported as "bad input": a `KeyError` raised by a
mistake in our code must not read as the user's mistake.

Messages never name a flag or a form field themselves. Where the fix is to change an input, the error
carries `option`, the name of that input in the settings' own terms (a `ColumnMap` or `TrainConfig`
field), and the front end says how to set it (`--title-field` on the command line, `title_field` in the
upload form).

    ProposalRouterError
    ├── DataError       a file whose rows cannot be used as given (every issue, with file/row/column),
    │                   including a taxonomy file that contradicts itself
    ├── BundleError     a model bundle that is missing, incomplete, corrupt or incompatible
    ├── UnknownName     a department or topic name that neither the bundle nor the taxonomy knows
    ├── InvalidRequest  a request whose values contradict each other or the item they act on
    ├── NotFound        a stored proposal, key or batch job that does not exist
    ├── Forbidden       an action the caller's department may not take on this item (another's proposal)
    ├── Conflict        a change the stored state refuses (already decided, a duplicate name)
    └── SetupError      a setting or flag that is missing or wrong, or an optional part not installed
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

OptionWording = Callable[[str], str]
"""How a front end names an input to change: the option's field name → e.g. `--title-field`."""


_KINDS = {"department": "单位", "topic": "主题"}


class ProposalRouterError(Exception):
    """Base of every error the user can act on; `option` names the input that fixes it, if one does."""

    option: str | None = None

    def describe(self, wording: OptionWording | None = None) -> str:
        """The message, with how to set `option` in the caller's own words."""
        text = str(self)
        return f"{text}（请用 {wording(self.option)} 指定）" if wording and self.option else text


@dataclass(frozen=True)
class RowIssue:
    """One problem in an input table; `row` is the 1-based line or sheet row a person would look at."""

    file: str
    row: int | None
    column: str | None
    message: str
    fatal: bool = True
    option: str | None = None
    """The column-map field that names this column, where choosing another column is the fix."""

    def describe(self, wording: OptionWording | None = None) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.column is not None:
            where.append(f"「{self.column}」列")
        hint = f"（请用 {wording(self.option)} 指定列名）" if wording and self.option else ""
        return f"{'，'.join(where)}：{self.message}{hint}"

    def __str__(self) -> str:
        return self.describe()


class DataError(ProposalRouterError):
    """Input data that cannot be used as given; carries every issue found, not just the first."""

    SHOWN = 20

    def __init__(self, issues: list[RowIssue] | RowIssue) -> None:
        self.issues = issues if isinstance(issues, list) else [issues]
        super().__init__(self.describe())

    def describe(self, wording: OptionWording | None = None) -> str:
        shown = "\n".join(f"  - {issue.describe(wording)}" for issue in self.issues[: self.SHOWN])
        extra = len(self.issues) - self.SHOWN
        more = f"\n  …… 另有 {extra} 处" if extra > 0 else ""
        return f"输入中有 {len(self.issues)} 处问题：\n{shown}{more}"


class BundleError(ProposalRouterError):
    """A model bundle that is missing, incomplete, corrupt or from an incompatible version."""


class UnknownName(ProposalRouterError):
    """A department or topic name that the bundle's labels and the taxonomy's aliases do not know."""

    def __init__(self, kind: str, name: str, suggestions: list[str]) -> None:
        hint = f"；是否指 {'、'.join(suggestions)}？" if suggestions else ""
        super().__init__(f"未知的{_KINDS.get(kind, kind)}「{name}」{hint}")
        self.kind, self.name, self.suggestions = kind, name, suggestions


class InvalidRequest(ProposalRouterError):
    """A request whose values contradict each other or the item they act on."""


class NotFound(ProposalRouterError):
    """A stored item (proposal, key, batch job) that does not exist."""


class Forbidden(ProposalRouterError):
    """An action the caller's role or department may not take on this item (another department's proposal)."""


class Conflict(ProposalRouterError):
    """A change that the stored state refuses, e.g. a proposal another reviewer already decided."""


class SetupError(ProposalRouterError):
    """A setting or flag that is missing or contradicts another, or an optional dependency not installed."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option
