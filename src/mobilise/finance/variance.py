"""Budget against actual and forecast, by decision, financial year, budget type and purpose.

- *committed*: purchase orders raised;
- *actual*: invoices received;
- *outstanding*: for each order, what is not yet invoiced against it (never below zero);
  it stays with the order's own year and type;
- *forecast* (outturn): actual + outstanding;
- *variance*: envelope − forecast; negative means a forecast overspend.
"""

from __future__ import annotations

from collections import defaultdict
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


def variance_lines(session: Session, *, decision: str | None = None) -> list[Line]:
    lines: dict[Key, Line] = {}

    def line(key: Key) -> Line:
        if key not in lines:
            lines[key] = Line(*key)
        return lines[key]

    stmt = (select(Decision.reference, Envelope.year, Envelope.budget, Envelope.purpose,
                   Envelope.amount_pence).join(Decision, Envelope.decision_id == Decision.id))
    if decision:
        stmt = stmt.where(Decision.reference == decision)
    for ref, year, budget, purpose, amount in session.execute(stmt):
        line((ref, year, budget, purpose)).envelope += amount
    invoiced = _invoiced_by_order(session)
    spend = (select(Decision.reference, SpendLine.year, SpendLine.budget, SpendLine.purpose,
                    SpendLine.kind, SpendLine.reference, SpendLine.amount_pence)
             .join(Decision, SpendLine.decision_id == Decision.id))
    if decision:
        spend = spend.where(Decision.reference == decision)
    for ref, year, budget, purpose, kind, doc, amount in session.execute(spend):
        target = line((ref, year, budget, purpose))
        if kind == SpendKind.ORDER.value:
            target.committed += amount
            target.outstanding += max(amount - invoiced.get(doc, 0), 0)
        else:
            target.actual += amount
    return sorted(lines.values(), key=lambda x: (x.decision, x.year, x.budget, x.purpose))


def _invoiced_by_order(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(SpendLine.order_reference, func.sum(SpendLine.amount_pence))
        .where(SpendLine.kind == SpendKind.INVOICE.value,
               SpendLine.order_reference.is_not(None))
        .group_by(SpendLine.order_reference)).all()
    return {str(ref): int(total or 0) for ref, total in rows}


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
