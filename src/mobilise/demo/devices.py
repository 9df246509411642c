"""The demo's fleet: the handsets already issued before the rollout (about a quarter of
the eligible people, as the 10,000 of 39,737 in the 2022 decision), and the first
delivery of new Samsung A32s, enrolled and in stock at the issuing sites.

Everything goes through the same operations users run: manifests are written as CSV and
imported, handsets are moved along the lifecycle and handed over with acceptance.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.devices import handsets, manifests
from mobilise.devices.identifiers import with_check_digit
from mobilise.devices.models import Handset, HandsetModel
from mobilise.people.models import Person, PersonStatus, Site

DEMO_ACTOR = Actor("demo")
ISSUED_SHARE = 10_000 / 39_737
DELIVERY_SHARE = 0.10
ISSUED_ON = datetime(2022, 10, 3, 9, 0, tzinfo=UTC)
DELIVERED_ON = datetime(2022, 11, 1, 9, 0, tzinfo=UTC)


def _manifest(path: Path, po: str, numbers: range) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["PO", "IMEI", "IMEI2", "Serial", "Model", "ICCID"])
        for n in numbers:
            w.writerow([po, with_check_digit(f"35{n:012d}"), with_check_digit(f"35{n + 1:012d}"),
                        f"R58R{n:08d}", "SM-A325F", with_check_digit(f"894430{n:012d}")])
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


def _in_stock(session: Session, settings: Settings, clock: FixedClock, path: Path,
              site: Site) -> list[Handset]:
    manifests.import_manifest(session, DEMO_ACTOR, settings, path, site=site, clock=clock)
    session.flush()
    po = path.stem
    found = list(session.scalars(select(Handset).where(Handset.purchase_order == po)
                                 .order_by(Handset.id)))
    for name, params in (("stage", {}), ("enrol", {"compliance": "compliant"}),
                         ("stock", {"site": site})):
        handsets.move_handsets(session, DEMO_ACTOR, settings, clock, name, found,
                               reason="demo fleet", **params)
    return found


def load_devices(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    rng = random.Random(seed)
    with session_scope(settings) as s:
        eligible = list(s.scalars(select(Person).where(
            Person.eligible.is_(True), Person.status == PersonStatus.ACTIVE.value)
            .order_by(Person.id)))
        site = s.scalars(select(Site).where(Site.issuing.is_(True)).order_by(Site.code)).first()
        if site is None:
            return "devices: no issuing site, no fleet"
        if s.scalar(select(Handset.id).limit(1)) is not None:
            return "devices: fleet already loaded"
        issued_n = round(len(eligible) * ISSUED_SHARE)
        delivered_n = max(50, round(len(eligible) * DELIVERY_SHARE))
        _catalogue(s, seats=issued_n + delivered_n)
        s.flush()
        fleet = _manifest(out_dir / "PO-FLEET-2022.csv", "PO-FLEET-2022",
                          range(100_000, 100_000 + 2 * issued_n, 2))
        clock = FixedClock(ISSUED_ON)
        stock = _in_stock(s, settings, clock, fleet, site)
        kit = handsets.get_kit(s, "KIT-A32")
        for handset, person in zip(stock, rng.sample(eligible, issued_n), strict=True):
            handsets.issue_handset(s, DEMO_ACTOR, settings, clock, handset, person,
                                   method="paper", policy_version="1.0", kit=kit)
        delivery = _manifest(out_dir / "PO-A32-001.csv", "PO-A32-001",
                             range(500_000, 500_000 + 2 * delivered_n, 2))
        _in_stock(s, settings, FixedClock(DELIVERED_ON), delivery, site)
    return (f"devices: {issued_n:,} handsets already issued, {delivered_n:,} delivered and "
            f"in stock at {site.code}")
