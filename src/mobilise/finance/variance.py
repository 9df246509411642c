"""Budget against actual and forecast, by decision, financial year, budget type and purpose.

- *committed*: purchase orders raised;
- *actual*: invoices received;
- *outstanding*: for each order, what is not yet invoiced against it (never below zero
  nor above the order); it stays with the order's own year and type;
- *forecast* (outturn): actual + outstanding;
- *variance*: envelope − forecast; negative means a forecast overspend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.finance.models import Decision, Envelope, SpendKind, SpendLine
from mobilise.finance.years import FinancialYear

Key = tuple[str, int, str, str]  # decision reference, year, budget, purpose


@dataclass
class Line:
    decision: str
    year: int
    budget: str
    purpose: str
    envelope: int = 0
    committed: int = 0
    actual: int = 0
    outstanding: int = 0

    @property
    def forecast(self) -> int:
        return self.actual + self.outstanding

    @property
    def variance(self) -> int:
        return self.envelope - self.forecast

    def row(self) -> dict[str, Any]:
        return {"decision": self.decision, "year": FinancialYear(self.year).label,
                "budget": self.budget, "purpose": self.purpose,
                "envelope_pence": self.envelope, "committed_pence": self.committed,
                "actual_pence": self.actual, "outstanding_pence": self.outstanding,
                "forecast_pence": self.forecast, "variance_pence": self.variance,
                "spent_percent": _percent(self.actual, self.envelope)}


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class SpendFact:
    key: Key
    kind: str
    reference: str
    amount: int
    order: str | None = None


def compute_variance(envelopes: Iterable[tuple[Key, int]],
                     spend: Iterable[SpendFact]) -> list[Line]:
    """The variance arithmetic, apart from the database (and property-tested alone)."""
    lines: dict[Key, Line] = {}

    def line(key: Key) -> Line:
        if key not in lines:
            lines[key] = Line(*key)
        return lines[key]

    for key, amount in envelopes:
        line(key).envelope += amount
    facts = list(spend)
    invoiced: dict[str, int] = defaultdict(int)
    for fact in facts:
        if fact.kind == SpendKind.INVOICE.value and fact.order:
            invoiced[fact.order] += fact.amount
    for fact in facts:
        target = line(fact.key)
        if fact.kind == SpendKind.ORDER.value:
            target.committed += fact.amount
            # Never below zero (over-invoiced) nor above the order (more credited than
            # invoiced): a credit note cannot commit more than the order did.
            left = fact.amount - invoiced[fact.reference]
            target.outstanding += min(max(left, 0), fact.amount)
        else:
            target.actual += fact.amount
    return sorted(lines.values(), key=lambda x: (x.decision, x.year, x.budget, x.purpose))


def horizon(session: Session) -> int:
    """The last year a report covers unless asked for more: the latest year any envelope,
    open-ended envelope's start or spend line names."""
    years = [session.scalar(select(func.max(Envelope.year))),
             session.scalar(select(func.max(SpendLine.year)))]
    return max((y for y in years if y is not None), default=0)


def envelope_amounts(session: Session, *, through: int | None = None,
                     decision: str | None = None) -> list[tuple[Key, int]]:
    """Each envelope's (decision, year, budget, purpose) and amount; an open-ended envelope
    once for every year from its start through ``through`` (default: ``horizon``)."""
    stmt = (select(Decision.reference, Envelope.year, Envelope.budget, Envelope.purpose,
                   Envelope.amount_pence, Envelope.open_ended)
            .join(Decision, Envelope.decision_id == Decision.id))
    if decision:
        stmt = stmt.where(Decision.reference == decision)
    last = horizon(session) if through is None else through
    out: list[tuple[Key, int]] = []
    for ref, year, budget, purpose, amount, open_ended in session.execute(stmt):
        years = range(year, max(year, last) + 1) if open_ended else (year,)
        out += [((ref, y, budget, purpose), amount) for y in years]
    return out


def variance_lines(session: Session, *, decision: str | None = None,
                   through: int | None = None) -> list[Line]:
    """Approved, committed, actual and forecast by decision, year, budget and purpose;
    open-ended envelopes projected through ``through`` (default: ``horizon``)."""
    spend = (select(Decision.reference, SpendLine.year, SpendLine.budget, SpendLine.purpose,
                    SpendLine.kind, SpendLine.reference, SpendLine.amount_pence,
                    SpendLine.order_reference)
             .join(Decision, SpendLine.decision_id == Decision.id))
    if decision:
        spend = spend.where(Decision.reference == decision)
    return compute_variance(
        envelope_amounts(session, through=through, decision=decision),
        (SpendFact((ref, year, budget, purpose), kind, doc, amount, order)
         for ref, year, budget, purpose, kind, doc, amount, order in session.execute(spend)))


def by_year_and_budget(lines: list[Line]) -> list[Line]:
    """The same figures summed over decisions and purposes: the board's view."""
    totals: dict[tuple[int, str], Line] = defaultdict(lambda: Line("all", 0, "", "all"))
    for item in lines:
        total = totals[(item.year, item.budget)]
        total.year, total.budget = item.year, item.budget
        total.envelope += item.envelope
        total.committed += item.committed
        total.actual += item.actual
        total.outstanding += item.outstanding
    return [totals[k] for k in sorted(totals)]


VARIANCE_COLUMNS = ["decision", "year", "budget", "purpose", "envelope", "committed",
                    "actual", "outstanding", "forecast", "variance", "spent_percent"]
