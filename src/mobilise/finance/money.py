"""Money is integer pence. Parsing goes through ``Decimal`` so ``£1,234.56`` never meets a
float; anything finer than a penny is refused rather than rounded."""

from __future__ import annotations

import re
from decimal import Decimal

_CLEAN = re.compile(r"[£,\s]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_SUFFIX = {"k": Decimal(1_000), "m": Decimal(1_000_000)}


def parse_pounds(text: str) -> int:
    """``£1,234.56`` → 123456 pence; ``0.83m`` and ``450k`` are accepted for envelopes."""
    cleaned = _CLEAN.sub("", text.strip())
    scale = Decimal(1)
    if cleaned[-1:].lower() in _SUFFIX:
        scale = _SUFFIX[cleaned[-1].lower()]
        cleaned = cleaned[:-1]
    if not _NUMBER.match(cleaned):
        raise ValueError(f"{text!r} is not an amount of money")
    pounds = Decimal(cleaned) * scale
    pence = pounds * 100
    if pence != pence.to_integral_value():
        raise ValueError(f"{text!r} has fractions of a penny")
    return int(pence)


def pounds(whole: int | str) -> int:
    """Whole pounds (or a Decimal-parsable string of pounds) to pence."""
    return parse_pounds(str(whole))


def format_pounds(pence: int, *, signed: bool = False) -> str:
    sign = "-" if pence < 0 else ("+" if signed and pence > 0 else "")
    whole, part = divmod(abs(pence), 100)
    return f"{sign}£{whole:,}.{part:02d}"


def format_millions(pence: int) -> str:
    """``£8.200m``: how the decision papers and the board talk about money."""
    value = (Decimal(pence) / Decimal(100_000_000)).quantize(Decimal("0.001"))
    return f"-£{-value}m" if value < 0 else f"£{value}m"


def as_decimal_pounds(pence: int) -> Decimal:
    return (Decimal(pence) / 100).quantize(Decimal("0.01"))


def in_pounds(row: dict[str, object]) -> dict[str, object]:
    """A copy of ``row`` where each ``x_pence`` also appears as ``x`` in Decimal pounds,
    which every output format (table, JSON, CSV) prints exactly."""
    out = dict(row)
    for key, value in row.items():
        if key.endswith("_pence") and isinstance(value, int):
            out[key.removesuffix("_pence")] = as_decimal_pounds(value)
    return out
