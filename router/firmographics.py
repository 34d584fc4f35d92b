"""Read company size figures (employees, revenue, deal size) as lead forms write them."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Literal, NamedTuple

from router.shown import shown

_EMPLOYEES_EXPECTED = 'a number of employees (expected e.g. 1200, "1,200", "5k")'
_MONEY_EXPECTED = 'an amount of money (expected e.g. 5000000, "$2.5M", "750k")'

_SCALES: dict[str, int] = {
    "k": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "mm": 1_000_000,
    "mn": 1_000_000,
    "million": 1_000_000,
    "b": 1_000_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
}

# Thousands separators: comma, space, no-break space and narrow no-break space.
_SEPARATORS = ", \u00a0\u202f"
_FIGURE = re.compile(
    r"(?P<number>\d{1,3}(?:[, \u00a0\u202f]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"\s*(?P<scale>" + "|".join(sorted(_SCALES, key=len, reverse=True)) + r")?"
)
_RANGE = re.compile(r"(?P<low>.+?)\s*(?:-|\u2013|\u2014|\bto\b)\s*(?P<high>.+)")
_CURRENCY = re.compile(r"[$€£¥]|\b(?:usd|eur|gbp|cad|aud|chf|jpy|inr|sgd|nzd)\b")


# Above this nothing on a lead is a real figure (a quadrillion employees or dollars).
LIMIT = 10**15


class FigureError(ValueError):
    """A value on a lead is not the figure its field expects."""


class _Figure(NamedTuple):
    number: Decimal
    scale: int | None

    @property
    def value(self) -> Decimal:
        return self.number * (self.scale or 1)


def _figure(text: str) -> _Figure | None:
    match = _FIGURE.fullmatch(text)
    if match is None:
        return None
    digits = "".join(char for char in match["number"] if char not in _SEPARATORS)
    scale = _SCALES[match["scale"]] if match["scale"] else None
    return _Figure(Decimal(digits), scale)


def _lower_bound(text: str) -> Decimal | None:
    """The figure in `text`, or the lower bound of a range such as '51-200' or '$1-5M'.

    The low end of a range without a scale borrows the high end's when it is the smaller
    number, so '1-5M' starts at one million while '500-2k' starts at 500.
    """
    single = _figure(text)
    if single is not None:
        return single.value
    match = _RANGE.fullmatch(text)
    if match is None:
        return None
    low, high = _figure(match["low"]), _figure(match["high"])
    if low is None or high is None:
        return None
    if low.scale is None and low.number <= high.number:
        low = low._replace(scale=high.scale)
    return min(low.value, high.value)


def _parse_text(text: str) -> Decimal | None:
    """A figure from free text: lower-cased, an open-ended '10000+' read as 10000."""
    return _lower_bound(text.strip().lower().removesuffix("+").rstrip())


# How an infinite figure was written, when the reader of the body could tell: a number
# such as 1e400 (read as infinity), the token Infinity (which JSON does not allow), or
# either (both were in one body).
Written = Literal["number", "token", "either"]


def _infinite(value: float, written: Written) -> str:
    if written == "token":
        return f"{'-' if value < 0 else ''}Infinity (not a number JSON allows)"
    sign = "minus " if value < 0 else ""
    if written == "either":
        return f"{sign}infinity (Infinity, not a number JSON allows, or a number beyond 1.8e308)"
    return f"{sign}infinity (a number beyond 1.8e308)"


def _check_number(value: int | float, expected: str, written: Written) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        # Say what was sent, not "inf"; NaN can only have been written as NaN.
        if math.isnan(value):
            raise FigureError(f"NaN (not a number JSON allows) is not {expected}")
        raise FigureError(f"{_infinite(value, written)} is not {expected}")
    if isinstance(value, bool) or value < 0:
        raise FigureError(f"{_shown(value)} is not {expected}")
    if value > LIMIT:
        raise FigureError(f"{_shown(value)} is too large to be {expected}")


def _shown(value: object) -> str:
    return shown(value, limit=40)


def parse_count(value: int | float | str | None, infinity: Written = "number") -> int | None:
    """Number of employees from an int, a whole float or text such as '1,200', '5k', '2M'.

    A range such as '51-200' gives its lower bound (51), the conservative reading, and
    '10000+' gives 10000. None or blank text gives None.

    Raises FigureError for booleans, negative, fractional or non-finite numbers and text
    that is not a count; `infinity` says how an infinite number was written, for its
    message.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        count = _parse_text(value)
        if count is None or count != count.to_integral_value():
            raise FigureError(f"{_shown(value)} is not {_EMPLOYEES_EXPECTED}")
        if count > LIMIT:
            raise FigureError(f"{_shown(value)} is too large to be {_EMPLOYEES_EXPECTED}")
        return int(count)
    _check_number(value, _EMPLOYEES_EXPECTED, infinity)
    if isinstance(value, float) and not value.is_integer():
        raise FigureError(f"{_shown(value)} is not {_EMPLOYEES_EXPECTED}")
    return int(value)


def parse_money(value: int | float | str | None, infinity: Written = "number") -> float | None:
    """Amount of money (revenue, deal size) in units from a number or text such as '5M',
    '$2.5B', '2.5bn', '750k', '$1,200,000', '1.5 million' or 'USD 300k'.

    Currency symbols and codes are accepted and ignored: no conversion is made. A range
    gives its lower bound, as for parse_count. None or blank text gives None.

    Raises FigureError for booleans, negative or non-finite numbers and text that is not
    an amount.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        amount = _parse_text(_CURRENCY.sub(" ", value.lower()))
        if amount is None:
            raise FigureError(f"{_shown(value)} is not {_MONEY_EXPECTED}")
        if amount > LIMIT:
            raise FigureError(f"{_shown(value)} is too large to be {_MONEY_EXPECTED}")
        return float(amount)
    _check_number(value, _MONEY_EXPECTED, infinity)
    return float(value)
