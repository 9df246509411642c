from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobilise.devices.identifiers import (
    luhn_valid,
    parse_iccid,
    parse_imei,
    parse_msisdn,
    with_check_digit,
)


def test_known_imei() -> None:
    assert parse_imei("49-015420-323751-8") == "490154203237518"
    with pytest.raises(ValueError, match="bad check digit \\(expected 8, found 9\\)"):
        parse_imei("490154203237519")
    with pytest.raises(ValueError, match="14 digits, not 15"):
        parse_imei("49015420323751")
    with pytest.raises(ValueError, match="other than digits"):
        parse_imei("49015420323751X")


def test_iccid() -> None:
    good = with_check_digit("894411000000000123")
    assert parse_iccid(good) == good
    with pytest.raises(ValueError, match="does not start with 89"):
        parse_iccid(with_check_digit("444411000000000123"))
    with pytest.raises(ValueError, match="bad check digit"):
        parse_iccid(good[:-1] + str((int(good[-1]) + 1) % 10))


def test_msisdn() -> None:
    assert parse_msisdn("07700 900123") == "+447700900123"
    assert parse_msisdn("+44 7700 900123") == "+447700900123"
    with pytest.raises(ValueError):
        parse_msisdn("020 7946 0000")


@given(st.text(alphabet="0123456789", min_size=14, max_size=14), st.integers(0, 13),
       st.integers(1, 9))
def test_any_single_digit_error_is_caught(payload: str, position: int, delta: int) -> None:
    number = with_check_digit(payload)
    assert luhn_valid(number)
    wrong = list(number)
    wrong[position] = str((int(wrong[position]) + delta) % 10)
    assert not luhn_valid("".join(wrong))
