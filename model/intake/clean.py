"""One normalisation for every text that enters, by file or by the API.

Office exports carry stray control characters (a NUL from a copied PDF, a vertical tab from Word):
invisible to a person, refused by PostgreSQL (NUL) or by XML writers, so they are dropped. A lone UTF-16
surrogate (``\\ud800`` escaped in JSON) is not text at all: no encoder can tokenise it and no database
can store it, so it is refused with a reason instead of guessed at.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SURROGATE = "含有无效的 Unicode 字符（孤立的代理项，如 \\ud800）"


def clean_text(text: str) -> str:
    """`text` without control characters other than tab and line breaks; ValueError for a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(SURROGATE) from None
    return _CONTROLS.sub("", text)
