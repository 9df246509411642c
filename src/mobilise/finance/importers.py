"""Column maps and row validators for finance files: envelopes, spend (purchase orders and
invoices) and handset purchase batches."""

from __future__ import annotations

from typing import Any

from mobilise.core.importer import Column, ImportSpec, choice, parse_bool, parse_date
from mobilise.finance.money import parse_pounds
from mobilise.finance.years import FinancialYear, financial_year, parse_year

_KINDS = {"order": "order", "po": "order", "purchaseorder": "order", "commitment": "order",
          "invoice": "invoice", "inv": "invoice", "actual": "invoice"}


def parse_kind(text: str) -> str:
    folded = "".join(text.lower().split())
    if folded not in _KINDS:
        raise ValueError(f"{text!r} is not a purchase order or an invoice (order, invoice)")
    return _KINDS[folded]


def parse_positive_pounds(text: str) -> int:
    pence = parse_pounds(text)
    if pence <= 0:
        raise ValueError(f"{text!r} must be more than zero")
    return pence


def parse_nonzero_pounds(text: str) -> int:
    """Invoices may be negative (credit notes) but never zero."""
    pence = parse_pounds(text)
    if pence == 0:
        raise ValueError("an amount of zero records nothing")
    return pence


def parse_count(text: str) -> int:
    try:
        value = int(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise ValueError(f"{text!r} must be more than zero")
    return value


BUDGET = choice("capital", "revenue")
PURPOSE = choice("delivery", "refresh")

ENVELOPES = ImportSpec(
    name="envelopes",
    columns=(
        Column("decision", ("reference", "decision reference")),
        Column("title", ("decision title",)),
        Column("decided_on", ("date", "decision date", "signed"), parse_date, required=False),
        Column("approver", ("approved by",)),
        Column("programme", (), choice("rollout", "migration")),
        Column("year", ("financial year", "fy"), parse_year),
        Column("budget", ("type", "budget type", "capital or revenue"), BUDGET),
        Column("purpose", (), PURPOSE, required=False, default="delivery"),
        Column("amount", ("amount (£)", "value", "envelope"), parse_positive_pounds),
        Column("open_ended", ("every year", "recurring", "no end year"), parse_bool,
               required=False, default=False),
        Column("notes", (), required=False),
    ),
)


def allocated_year(values: dict[str, Any]) -> FinancialYear:
    """The year a spend line is charged to: as stated, else the year of its date."""
    stated: FinancialYear | None = values.get("year")
    return stated if stated is not None else financial_year(values["dated"])


EnvelopeKey = tuple[str, int, str, str]


def spend_spec(envelopes: set[EnvelopeKey]) -> ImportSpec:
    """``envelopes`` holds (decision reference, year, budget, purpose) of every envelope:
    spend must be charged to money a decision approved."""

    def check(values: dict[str, Any]) -> list[tuple[str, str]]:
        decision = values["decision"]
        if not any(key[0] == decision for key in envelopes):
            return [("decision", f"unknown decision {decision!r}")]
        year = allocated_year(values)
        key = (decision, year.start_year, values["budget"], values["purpose"])
        if key not in envelopes:
            return [("year" if values.get("year") else "budget",
                     f"{decision} has no {values['budget']} {values['purpose']} envelope "
                     f"in {year.label}")]
        if values["kind"] == "order" and values["amount"] < 0:
            return [("amount", "a purchase order cannot be negative")]
        if values["kind"] == "order" and values.get("order"):
            return [("order", "a purchase order does not draw on another order")]
        return []

    return ImportSpec(
        name="spend",
        columns=(
            Column("kind", ("type", "document", "document type", "record"), parse_kind),
            Column("reference", ("number", "document number", "po number", "invoice number")),
            Column("dated", ("date", "document date", "invoice date", "order date"),
                   parse_date),
            Column("supplier", ("vendor", "supplier name")),
            Column("description", ("details", "narrative"), required=False),
            Column("decision", ("decision reference", "approval decision")),
            Column("budget", ("budget type", "capital or revenue", "cap/rev"), BUDGET),
            Column("purpose", (), PURPOSE, required=False, default="delivery"),
            Column("year", ("financial year", "fy"), parse_year, required=False),
            Column("amount", ("amount (£)", "value", "gross", "amount inc vat"),
                   parse_nonzero_pounds),
            Column("order", ("po", "order reference", "purchase order"), required=False),
            Column("approval", ("approval reference", "approved by"), required=False),
        ),
        unique=(),
        row_check=check,
    )


PURCHASES = ImportSpec(
    name="handset purchases",
    columns=(
        Column("reference", ("batch", "order", "po")),
        Column("purchased_on", ("date", "purchase date", "bought"), parse_date),
        Column("handsets", ("count", "quantity", "qty"), parse_count),
        Column("unit_cost", ("unit price", "price", "unit cost (£)"), parse_positive_pounds),
        Column("model", ("handset model",), required=False),
    ),
    unique=("reference",),
)

