"""Errors a user can act on: each names the file, and where it applies the row and column."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowIssue:
    """One problem in an input table; `row` is the 1-based line or sheet row a person would look at."""

    file: str
    row: int | None
    column: str | None
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"


class DataError(ValueError):
    """Input data that cannot be used as given; carries every issue found, not just the first."""

    def __init__(self, issues: list[RowIssue] | RowIssue) -> None:
        self.issues = issues if isinstance(issues, list) else [issues]
        shown = "\n".join(f"  - {issue}" for issue in self.issues[:20])
        more = f"\n  … and {len(self.issues) - 20} more" if len(self.issues) > 20 else ""
        super().__init__(f"{len(self.issues)} problem(s) in the input:\n{shown}{more}")


class BundleError(RuntimeError):
    """A model bundle that is missing, incomplete, corrupt or from an incompatible version."""
