"""How a value someone sent is written into a message: as JSON writes it."""

from __future__ import annotations

import datetime as dt

import pytest

from router.shown import shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Deutschland", '"Deutschland"'),
        ("São Paulo", '"São Paulo"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\temp", '"C:\\\\temp"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("tab\there", '"tab\\there"'),
        ("\u2028", '"\u2028"'),
        ("lone \ud800", '"lone \\ud800"'),
        ("", '""'),
        (True, "true"),
        (None, "null"),
        (1200, "1200"),
        (2.5, "2.5"),
        (["US", 1], '["US", 1]'),
        ({"a": "b"}, '{"a": "b"}'),
        (dt.date(2026, 2, 28), '"2026-02-28"'),
    ],
)
def test_values_are_written_as_json_writes_them(value: object, expected: str) -> None:
    assert shown(value) == expected


def test_long_values_are_cut_to_the_limit() -> None:
    assert shown("x" * 100, limit=10) == '"xxxxx..."'
    assert shown("x" * 8, limit=10) == '"xxxxxxxx"'
    assert shown(list(range(100)), limit=12) == "[0, 1, 2,..."
    # Cut between characters, never inside an escape; a limit below 6 counts as 6.
    assert shown("\ud800" * 10, limit=20) == '"\\ud800\\ud800..."'
    assert shown("\n" * 30, limit=10) == '"\\n\\n..."'
    assert shown("x" * 10, limit=2) == '"x..."'
