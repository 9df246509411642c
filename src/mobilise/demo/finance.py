"""Demo finance: both decision papers' envelopes, the handset purchase batches, and a year
of synthetic spend (November 2022 to October 2023) imported through the same spend
importer a finance officer uses.

Orders and invoices are invented for the demo (suppliers are fictional); the envelopes are
the papers' own figures. One order deliberately has no approval recorded and the last
handset tranche arrives in April 2023, so the board report has real findings to show.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mobilise.core.actor import Actor
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.core.words import counts_text
from mobilise.demo.devices import ALREADY_ISSUED, DELIVERIES, NEW_HANDSETS, PURCHASED_ON
from mobilise.finance.decisions import record_papers
from mobilise.finance.money import format_pounds, parse_pounds
from mobilise.finance.papers import PAPERS
from mobilise.finance.refresh import import_purchases
from mobilise.finance.spend import import_spend

DEMO_ACTOR = Actor("demo")
SPEND_HEADER = ["kind", "reference", "date", "supplier", "description", "decision",
                "budget", "amount", "order", "approval"]


@dataclass(frozen=True)
class DemoOrder:
    reference: str
    dated: date
    supplier: str
    description: str
    budget: str
    amount: str
    invoices: int  # monthly invoices drawn against it
    invoiced_percent: int  # how much of it is invoiced by the end of the demo year
    approval: str


ORDERS = (
    DemoOrder("PO-22-0101", date(2022, 11, 7), "Northwind Mobile Ltd",
              "Samsung A32 handsets, 29,737", "capital", "6,899,000", 4, 100, "PCD 1322"),
    DemoOrder("PO-22-0102", date(2022, 11, 14), "Staging Partners plc",
              "Staging, enrolment and on-boarding", "capital", "650,000", 8, 90, "PCD 1322"),
    DemoOrder("PO-22-0103", date(2022, 11, 21), "Secure Reseller Ltd",
              "NetMotion VPN licences, year 1", "revenue", "420,000", 1, 100, "PCD 1322"),
    DemoOrder("PO-22-0104", date(2022, 12, 5), "Case & Cable Co",
              "Accessories: cases, chargers, screen protectors", "capital", "380,000", 3, 100,
              ""),
    DemoOrder("PO-22-0105", date(2022, 12, 12), "Airtime Services Ltd",
              "Voice and data, 2022/23", "revenue", "180,000", 4, 100, "PCD 1322"),
    DemoOrder("PO-23-0201", date(2023, 4, 3), "Staging Partners plc",
              "Staging tail and returns", "capital", "150,000", 4, 75, "PCD 1322"),
    DemoOrder("PO-23-0202", date(2023, 4, 10), "Airtime Services Ltd",
              "Voice and data, 2023/24", "revenue", "1,600,000", 7, 55, "PCD 1322"),
    DemoOrder("PO-23-0203", date(2023, 4, 17), "Secure Reseller Ltd",
              "Intune and NetMotion support, 2023/24", "revenue", "900,000", 6, 50,
              "PCD 1322"),
)

def _purchases() -> tuple[tuple[str, date, int], ...]:
    """The batches bought, at full scale, under the purchase orders the handset register
    names (the demo's register holds a scaled share of each: the refresh forecast takes
    those handsets' dates from the register and the rest from these batches)."""
    shares = [round(NEW_HANDSETS * d.share) for d in DELIVERIES[:-1]]
    shares.append(NEW_HANDSETS - sum(shares))
    return (("PO-FLEET-2022", PURCHASED_ON.date(), ALREADY_ISSUED),
            *((d.purchase_order, d.arrives, n) for d, n in zip(DELIVERIES, shares, strict=True)))


PURCHASES = _purchases()
HANDSET_PRICE = "232.00"
LAST_DAY = date(2023, 10, 31)


def _month(day: date, months: int) -> date:
    total = day.month - 1 + months
    return date(day.year + total // 12, total % 12 + 1, min(day.day, 28))


def spend_rows(seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    rows: list[list[str]] = []
    for order in ORDERS:
        rows.append(["order", order.reference, order.dated.isoformat(), order.supplier,
                     order.description, "PCD 1322", order.budget, order.amount, "",
                     order.approval])
        total = parse_pounds(order.amount)
        to_invoice = total * order.invoiced_percent // 100
        weights = [rng.randint(70, 130) for _ in range(order.invoices)]
        shares = [to_invoice * w // sum(weights) for w in weights]
        shares[-1] += to_invoice - sum(shares)
        for n, share in enumerate(shares, start=1):
            day = _month(order.dated, n)
            if day > LAST_DAY:
                continue
            rows.append(["invoice", f"INV-{order.reference[3:]}-{n:02d}", day.isoformat(),
                         order.supplier, f"{order.description}: invoice {n}", "PCD 1322",
                         order.budget, format_pounds(share).lstrip("£"),
                         order.reference, ""])
    return rows


def write_demo_files(out_dir: Path, seed: int) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    spend = out_dir / "spend.csv"
    with spend.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SPEND_HEADER)
        writer.writerows(spend_rows(seed))
    purchases = out_dir / "handset-purchases.csv"
    with purchases.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["reference", "purchased_on", "handsets", "unit_cost", "model"])
        for ref, day, count in PURCHASES:
            writer.writerow([ref, day.isoformat(), count, HANDSET_PRICE, "Samsung A32"])
    return spend, purchases


def load_finance(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    spend, purchases = write_demo_files(out_dir, seed)
    with session_scope(settings) as s:
        record_papers(s, DEMO_ACTOR)
        batches = import_purchases(s, DEMO_ACTOR, purchases)
        result = import_spend(s, DEMO_ACTOR, spend)
    return (f"Finance: {len(PAPERS)} decision papers, {batches} handset purchase batches, "
            f"spend lines {counts_text(result.summary())}")
