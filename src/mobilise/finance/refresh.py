"""The handset refresh forecast: when each handset reaches the end of its service life,
what replacing it costs, by financial year, against the approved refresh envelopes.

A handset bought on day D with a service life of N years is due on the same day N years
later (a leap-day purchase falls due on 28 February), and its replacement is charged to
the financial year holding that day. Replacement is costed at the batch's purchase price
unless a current unit price is given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.importer import read_rows
from mobilise.finance.importers import PURCHASES
from mobilise.finance.models import BudgetType, HandsetPurchase, Purpose
from mobilise.finance.sources import ProgrammeSources, PurchaseBatch, Reading
from mobilise.finance.variance import envelope_amounts
from mobilise.finance.years import FinancialYear, add_years, financial_year


@dataclass(frozen=True)
class RefreshYear:
    year: FinancialYear
    handsets_due: int
    cost_pence: int
    envelope_pence: int

    @property
    def headroom_pence(self) -> int:
        return self.envelope_pence - self.cost_pence

    def row(self) -> dict[str, Any]:
        return {"year": self.year.label, "handsets_due": self.handsets_due,
                "cost_pence": self.cost_pence, "envelope_pence": self.envelope_pence,
                "headroom_pence": self.headroom_pence}


def due_on(batch: PurchaseBatch, service_life_years: int) -> FinancialYear:
    return financial_year(add_years(batch.purchased_on, service_life_years))


def forecast_refresh(batches: list[PurchaseBatch], service_life_years: int,
                     envelopes: dict[int, int], *,
                     unit_cost_pence: int | None = None) -> list[RefreshYear]:
    """One row per year that has handsets due or a refresh envelope, in year order."""
    if service_life_years < 1:
        raise ValueError("a handset's service life is at least one year")
    due: dict[int, int] = defaultdict(int)
    cost: dict[int, int] = defaultdict(int)
    for batch in batches:
        year = due_on(batch, service_life_years).start_year
        due[year] += batch.handsets
        cost[year] += batch.handsets * (unit_cost_pence or batch.unit_cost_pence)
    years = sorted(set(due) | set(envelopes))
    return [RefreshYear(FinancialYear(y), due[y], cost[y], envelopes.get(y, 0)) for y in years]


def refresh_envelopes(session: Session) -> dict[int, int]:
    """Capital approved for refreshing handsets, by year, over every decision."""
    out: dict[int, int] = defaultdict(int)
    for (_, year, budget, purpose), amount in envelope_amounts(session):
        if budget == BudgetType.CAPITAL.value and purpose == Purpose.REFRESH.value:
            out[year] += amount
    return dict(out)


def refresh_plan(session: Session, service_life_years: int, sources: ProgrammeSources, *,
                 unit_cost_pence: int | None = None
                 ) -> tuple[Reading[list[PurchaseBatch]], list[RefreshYear]]:
    """The forecast from the installed sources' purchase dates; no purchase dates, no
    forecast (rather than a year of envelopes against zero handsets)."""
    purchases = sources.handset_purchases(session)
    if purchases.value is None:
        return purchases, []
    return purchases, forecast_refresh(purchases.value, service_life_years,
                                       refresh_envelopes(session),
                                       unit_cost_pence=unit_cost_pence)


def import_purchases(session: Session, actor: Actor, path: Path) -> int:
    """Handset purchase batches (reference, date, handsets, unit cost); all or nothing;
    a batch already recorded is updated."""
    rows = read_rows(path, PURCHASES)
    existing = {p.reference: p for p in session.scalars(select(HandsetPurchase))}
    for row in rows:
        v = row.values
        wanted = {"purchased_on": v["purchased_on"], "handsets": v["handsets"],
                  "unit_cost_pence": v["unit_cost"], "model": v["model"]}
        batch = existing.get(v["reference"])
        if batch is None:
            audit.create(session, actor, "handset_purchase.add",
                         HandsetPurchase(reference=v["reference"], **wanted),
                         reason=f"purchases {path.name}")
        elif any(getattr(batch, k) != val for k, val in wanted.items()):
            with audit.change(session, actor, "handset_purchase.update", batch,
                              reason=f"purchases {path.name}"):
                for k, val in wanted.items():
                    setattr(batch, k, val)
    session.flush()
    return len(rows)


REFRESH_COLUMNS = ["year", "handsets_due", "cost", "envelope", "headroom"]
