"""The demo's fleet, at the decision paper's scale (PCD 1322) for a 45,000-person force and
in proportion for smaller demos: the 10,000 handsets already issued before the rollout
(senior officers, staff, detectives), and the 29,737 new Samsung A32s arriving in four
supplier deliveries. A few of the issued ones (about 0.5%) have been reported lost or
stolen: their wipes queued for Intune, their SIM bars asked of the carrier by e-mail and
mostly confirmed.

Everything goes through the same operations users run: manifests are written as CSV and
imported through the manifest importer, handsets move along the declared lifecycle, and
the fleet already in officers' hands is handed over in one bulk run (one transaction,
audited per handset) with acceptance recorded.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.core.words import label
from mobilise.devices import carrier, handsets, manifests
from mobilise.devices.carrier import EmailCarrier
from mobilise.devices.identifiers import with_check_digit
from mobilise.devices.models import Handset, HandsetModel, HandsetStatus, Sim
from mobilise.people.models import Person, PersonStatus, Site

DEMO_ACTOR = Actor("demo")
FORCE = 45_000
ALREADY_ISSUED = 10_000
NEW_HANDSETS = 29_737
LOST_SHARE = 0.005  # about 1% of a fleet a year is lost or stolen: half a year's worth
CARRIER = "EE"  # the existing airtime contract
CARRIER_ADDRESS = "mobile-accounts@carrier.example"  # unless the settings name one
# The fleet already issued: bought, then staged and enrolled, then handed out, in order.
PURCHASED_ON = datetime(2022, 9, 5, 9, 0, tzinfo=UTC)
ENROLLED_ON = datetime(2022, 9, 26, 9, 0, tzinfo=UTC)
ISSUED_ON = datetime(2022, 10, 3, 9, 0, tzinfo=UTC)
REPORTED_ON = datetime(2023, 1, 16, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Delivery:
    """One supplier delivery: when, its share of the new handsets, and how far it has got
    by the demo's "now" (January 2023)."""

    purchase_order: str
    arrives: date
    share: float
    state: HandsetStatus  # in_stock (staged, enrolled, on the shelf), received or ordered


DELIVERIES = (
    Delivery("PO-A32-001", date(2022, 11, 1), 0.35, HandsetStatus.IN_STOCK),
    Delivery("PO-A32-002", date(2022, 12, 1), 0.30, HandsetStatus.IN_STOCK),
    Delivery("PO-A32-003", date(2023, 1, 3), 0.20, HandsetStatus.RECEIVED),
    Delivery("PO-A32-004", date(2023, 2, 13), 0.15, HandsetStatus.ORDERED),
)


def scaled(count: int, people: int) -> int:
    """``count`` for a 45,000-person force, in proportion for ``people``."""
    return round(count * people / FORCE)


def _manifest(path: Path, po: str, numbers: range) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["PO", "IMEI", "IMEI2", "Serial", "Model", "ICCID", "Network"])
        for n in numbers:
            w.writerow([po, with_check_digit(f"35{n:012d}"), with_check_digit(f"35{n + 1:012d}"),
                        f"R58R{n:08d}", "SM-A325F", with_check_digit(f"894430{n:012d}"),
                        CARRIER])
    return path


def _catalogue(session: Session, seats: int) -> None:
    if session.scalar(select(HandsetModel).where(HandsetModel.code == "SM-A325F")):
        return
    handsets.add_model(session, DEMO_ACTOR, "SM-A325F", "Samsung", "Galaxy A32",
                       warranty_months=24)
    handsets.add_kit(session, DEMO_ACTOR, "KIT-A32", "Galaxy A32 kit",
                     "rugged case, screen protector, USB-C charger, lanyard")
    handsets.add_pool(session, DEMO_ACTOR, "NM-PCD1322", seats, reseller="Licensing reseller",
                      purchase_order="PO-NM-1322")


def _register(session: Session, settings: Settings, clock: FixedClock, path: Path,
              site: Site, state: HandsetStatus, prepared: FixedClock | None = None
              ) -> list[Handset]:
    """Import a delivery's manifest (bought as of ``clock``) and take its handsets as far
    as ``state`` (staged and enrolled as of ``prepared``, by default the same day)."""
    arrival = HandsetStatus.ORDERED if state is HandsetStatus.ORDERED else \
        HandsetStatus.RECEIVED
    manifests.import_manifest(session, DEMO_ACTOR, settings, path, site=site, status=arrival,
                              clock=clock)
    session.flush()
    found = list(session.scalars(select(Handset).where(Handset.purchase_order == path.stem)
                                 .order_by(Handset.id)))
    if state is HandsetStatus.IN_STOCK:
        for name, params in (("stage", {}), ("enrol", {"compliance": "compliant"}),
                             ("stock", {"site": site})):
            handsets.move_handsets(session, DEMO_ACTOR, settings, prepared or clock, name,
                                   found, reason="demo fleet", **params)
    return found


def _report_losses(session: Session, settings: Settings, rng: random.Random,
                   issued: list[Handset]) -> int:
    lost = rng.sample(issued, max(1, round(len(issued) * LOST_SHARE)))
    clock = FixedClock(REPORTED_ON)
    for n, handset in enumerate(lost):
        name, prefix = ("lose", "CAD") if n % 2 == 0 else ("steal", "CRIS")
        handsets.move_handsets(session, DEMO_ACTOR, settings, clock, name, [handset],
                               police_reference=f"{prefix} {1000 + n}/23")
    return len(lost)


def _bar_sims(session: Session, settings: Settings) -> tuple[int, int]:
    """Ask the carrier to bar the lost and stolen handsets' SIMs; it has confirmed about
    two in three of them so far (the rest show on /sims waiting for an answer)."""
    clock = FixedClock(REPORTED_ON + timedelta(hours=2))
    address = settings.carrier_default_address or CARRIER_ADDRESS
    email = EmailCarrier(settings.model_copy(update={"carrier_default_address": address}),
                         clock)
    sent = carrier.send_bars(session, DEMO_ACTOR, clock, email)
    confirmed = 0
    for n, iccid in enumerate(sent.requested):
        if n % 3 != 2:
            sim = session.scalars(select(Sim).where(Sim.iccid == iccid)).one()
            carrier.confirm_bar(session, DEMO_ACTOR, clock, sim, reference=f"EE-{70000 + n}")
            confirmed += 1
    return len(sent.requested), confirmed


def load_devices(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    rng = random.Random(seed)
    with session_scope(settings) as s:
        eligible = list(s.scalars(select(Person).where(
            Person.eligible.is_(True), Person.status == PersonStatus.ACTIVE.value)
            .order_by(Person.id)))
        sites = list(s.scalars(select(Site).where(Site.issuing.is_(True)).order_by(Site.code)))
        if not sites:
            return "Handsets: no issuing site, so no fleet"
        if s.scalar(select(Handset.id).limit(1)) is not None:
            return "Handsets: the fleet is loaded already"
        issued_n = min(len(eligible), max(1, scaled(ALREADY_ISSUED, people)))
        new_n = max(len(DELIVERIES), scaled(NEW_HANDSETS, people))
        _catalogue(s, seats=issued_n + new_n)
        s.flush()
        fleet = _manifest(out_dir / "PO-FLEET-2022.csv", "PO-FLEET-2022",
                          range(100_000, 100_000 + 2 * issued_n, 2))
        clock = FixedClock(ISSUED_ON)
        stock = _register(s, settings, FixedClock(PURCHASED_ON), fleet, sites[0],
                          HandsetStatus.IN_STOCK, prepared=FixedClock(ENROLLED_ON))
        handsets.issue_many(s, DEMO_ACTOR, settings, clock,
                            list(zip(stock, rng.sample(eligible, issued_n), strict=True)),
                            method="paper", policy_version="1.0",
                            kit=handsets.get_kit(s, "KIT-A32"))
        s.flush()
        lost = _report_losses(s, settings, rng, stock)
        bars, barred = _bar_sims(s, settings)
        counts: list[int] = []
        start = 1_000_000
        for n, d in enumerate(DELIVERIES):
            size = round(new_n * d.share) if n < len(DELIVERIES) - 1 else new_n - sum(counts)
            path = _manifest(out_dir / f"{d.purchase_order}.csv", d.purchase_order,
                             range(start, start + 2 * size, 2))
            arrived = FixedClock(datetime.combine(d.arrives, datetime.min.time(), tzinfo=UTC))
            _register(s, settings, arrived, path, sites[(n + 1) % len(sites)], d.state)
            counts.append(size)
            start += 2 * size
    shown = ", ".join(f"{d.purchase_order} {c:,} {label(d.state)}"
                      for d, c in zip(DELIVERIES, counts, strict=True))
    return (f"Handsets: {issued_n:,} handsets already issued ({lost} lost or stolen, wipes "
            f"queued, {bars} SIM bars requested, {barred} confirmed), {new_n:,} new in "
            f"{len(DELIVERIES)} deliveries ({shown})")
