"""A value a caller or a rule file sent, written into a message the way JSON writes it."""

from __future__ import annotations

import json
import re
from typing import Any


def shown(value: object, limit: int | None = None) -> str:
    """Text in double quotes ("maybe"); numbers, true, false, null, lists and objects
    as JSON writes them; a value JSON has no form for (a YAML date) as its text.

    Beyond `limit` characters the rest is cut to "..." (inside the quotes of text).
    A lone surrogate, which cannot become UTF-8, is kept as its JSON escape (\\ud800),
    so the message can be sent.
    """
    if type(value) is str and value.isprintable() and '"' not in value and "\\" not in value:
        # What json.dumps would write, without its cost: lead notes are written for
        # most new places.
        text = f'"{value}"'
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if limit is None or len(text) <= limit:
        return text
    limit = max(limit, 6)
    if isinstance(value, str):
        # Text is cut between characters, never inside an escape, and keeps its
        # closing quote, so that it still reads as text.
        kept = len(value)
        while kept and len(shown(value[:kept])) + 3 > limit:
            kept = min(kept - 1, limit)
        return shown(value[:kept])[:-1] + '..."'
    return text[: limit - 3] + "..."


# Pydantic quotes the values it expected Python-style: 'round_robin', '^[a-z]+$'.
_PYTHON_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_QUOTING_TYPES = frozenset({"literal_error", "enum", "string_pattern_mismatch"})


def pydantic_words(item: Any) -> str:
    """Pydantic's message for one error, with what it expected written as JSON text
    ("round_robin", not 'round_robin'), and a boolean's expectation in JSON's words."""
    kind = item.get("type", "")
    message = str(item.get("msg", "is invalid"))
    if kind == "bool_parsing" or kind == "bool_type":
        return "should be true or false"
    if kind in _QUOTING_TYPES:
        return _PYTHON_QUOTED.sub(lambda found: shown(found[1]), message)
    return message
