"""IMEI, ICCID and MSISDN: parsing and the Luhn check digit.

An IMEI is 15 digits, the last a Luhn check digit over the first 14 (the first 8 are the
type allocation code). An ICCID is 19 or 20 digits starting ``89`` with a Luhn check
digit. Scanners and spreadsheets add spaces, dashes and lost leading zeros; we accept the
separators and refuse everything else with a sentence saying what is wrong.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-./]")
_MSISDN = re.compile(r"^(?:\+?44|0)(7\d{9})$")


def luhn_digit(payload: str) -> int:
    """The check digit that makes ``payload + digit`` pass the Luhn test."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        d = ord(char) - 48
        if position % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    return number.isascii() and number.isdigit() and luhn_digit(number[:-1]) == ord(number[-1]) - 48


def with_check_digit(payload: str) -> str:
    return payload + str(luhn_digit(payload))


def _digits(text: str) -> str:
    return _SEPARATORS.sub("", text.strip())


def parse_imei(text: str) -> str:
    number = _digits(text)
    if not (number.isascii() and number.isdigit()):
        raise ValueError(f"IMEI {text!r} has characters other than digits")
    if len(number) != 15:
        raise ValueError(f"IMEI {text!r} has {len(number)} digits, not 15")
    if not luhn_valid(number):
        raise ValueError(f"IMEI {number} has a bad check digit (expected "
                         f"{luhn_digit(number[:-1])}, found {number[-1]})")
    return number


def parse_iccid(text: str) -> str:
    number = _digits(text)
    if not (number.isascii() and number.isdigit()):
        raise ValueError(f"ICCID {text!r} has characters other than digits")
    if len(number) not in (19, 20):
        raise ValueError(f"ICCID {text!r} has {len(number)} digits, not 19 or 20")
    if not number.startswith("89"):
        raise ValueError(f"ICCID {number} does not start with 89 (telecoms)")
    if not luhn_valid(number):
        raise ValueError(f"ICCID {number} has a bad check digit (expected "
                         f"{luhn_digit(number[:-1])}, found {number[-1]})")
    return number


def parse_msisdn(text: str) -> str:
    """A UK mobile number in E.164 form (+447...)."""
    match = _MSISDN.match(_digits(text).replace("(", "").replace(")", ""))
    if not match:
        raise ValueError(f"{text!r} is not a UK mobile number (07... or +447...)")
    return f"+44{match.group(1)}"
