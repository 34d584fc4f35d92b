"""Tests for reading employee counts and money amounts off lead forms."""

from __future__ import annotations

import pytest

from router.firmographics import FigureError, parse_count, parse_money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1200, 1200),
        (0, 0),
        (1200.0, 1200),
        ("1,200", 1200),
        ("1200", 1200),
        (" 1 200 ", 1200),
        ("1\u00a0200", 1200),
        ("5k", 5000),
        ("5K", 5000),
        ("1.2k", 1200),
        ("2M", 2_000_000),
        ("2m", 2_000_000),
        ("10000+", 10000),
        ("10,000+", 10000),
    ],
)
def test_employee_counts_are_read_from_numbers_and_text(
    value: int | float | str, expected: int
) -> None:
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("51-200", 51),
        ("51 - 200", 51),
        ("51\u2013200", 51),
        ("51 to 200", 51),
        ("1,001-5,000", 1001),
        ("1-5k", 1000),
        ("500-2k", 500),
    ],
)
def test_employee_ranges_give_their_lower_bound(value: str, expected: int) -> None:
    assert parse_count(value) == expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_employee_count_is_none(value: str | None) -> None:
    assert parse_count(value) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("lots", '"lots"'),
        ("-5", '"-5"'),
        ("1.5", '"1.5"'),
        ("1,5", '"1,5"'),
        ("$5k", '"$5k"'),
        (True, "true"),
        (-1, "-1"),
        (1.5, "1.5"),
        (float("nan"), "NaN (not a number JSON allows)"),
        (float("inf"), "infinity (a number beyond 1.8e308)"),
        (float("-inf"), "minus infinity (a number beyond 1.8e308)"),
    ],
)
def test_invalid_employee_counts_raise_naming_the_value(
    value: int | float | str, shown: str
) -> None:
    with pytest.raises(FigureError) as raised:
        parse_count(value)
    assert str(raised.value) == (
        f'{shown} is not a number of employees (expected e.g. 1200, "1,200", "5k")'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5_000_000, 5_000_000.0),
        (12.5, 12.5),
        (0, 0.0),
        ("5M", 5_000_000.0),
        ("$2.5B", 2_500_000_000.0),
        ("2.5bn", 2_500_000_000.0),
        ("750k", 750_000.0),
        ("$1,200,000", 1_200_000.0),
        ("€3M", 3_000_000.0),
        ("£40m", 40_000_000.0),
        ("1.5 million", 1_500_000.0),
        ("2 billion", 2_000_000_000.0),
        ("USD 300k", 300_000.0),
        ("300k EUR", 300_000.0),
        ("$1M - $10M", 1_000_000.0),
        ("$1-5M", 1_000_000.0),
        ("$5M+", 5_000_000.0),
    ],
)
def test_money_amounts_are_read_in_units_ignoring_currency(
    value: int | float | str, expected: float
) -> None:
    assert parse_money(value) == expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_money_amount_is_none(value: str | None) -> None:
    assert parse_money(value) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("lots", '"lots"'),
        ("USD", '"USD"'),
        ("-5M", '"-5M"'),
        (False, "false"),
        (-1, "-1"),
        (float("nan"), "NaN (not a number JSON allows)"),
        (float("-inf"), "minus infinity (a number beyond 1.8e308)"),
    ],
)
def test_invalid_money_amounts_raise_naming_the_value(value: int | float | str, shown: str) -> None:
    with pytest.raises(FigureError) as raised:
        parse_money(value)
    assert str(raised.value) == (
        f'{shown} is not an amount of money (expected e.g. 5000000, "$2.5M", "750k")'
    )


def test_figure_error_is_a_value_error() -> None:
    assert issubclass(FigureError, ValueError)
