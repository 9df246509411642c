"""Builders for handset tests: a catalogue, a licence pool, a delivered manifest, and one
handset in every lifecycle state, reached through the real transitions."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.clock import FixedClock
from mobilise.core.settings import Settings
from mobilise.devices import handsets, manifests
from mobilise.devices.identifiers import with_check_digit
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.people.models import Person, Site
from tests.factories import ADMIN, load_people

MANIFEST_HEADER = ["PO", "IMEI", "IMEI2", "Serial", "Model", "ICCID"]
S = HandsetStatus


def imei(n: int) -> str:
    return with_check_digit(f"35{n:012d}")


def imei2(n: int) -> str:
    return with_check_digit(f"86{n:012d}")


def iccid(n: int) -> str:
    return with_check_digit(f"894411{n:012d}")


def manifest_row(n: int, po: str = "PO-1322", model: str = "SM-A325F") -> list[str]:
    return [po, imei(n), imei2(n), f"R58N{n:08d}", model, iccid(n)]


def write_manifest(path: Path, rows: list[list[Any]],
                   header: list[str] = MANIFEST_HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def clock() -> FixedClock:
    return FixedClock(datetime(2023, 1, 10, 9, 0, tzinfo=UTC))


def catalogue(session: Session, seats: int = 50) -> None:
    handsets.add_model(session, ADMIN, "SM-A325F", "Samsung", "Galaxy A32",
                       warranty_months=24)
    if seats:
        handsets.add_pool(session, ADMIN, "NM-2022", seats, reseller="Reseller Ltd")
    handsets.add_kit(session, ADMIN, "KIT-A32", "A32 kit", "case, charger, lanyard")
    session.flush()


@dataclass
class Fleet:
    session: Session
    settings: Settings
    clock: FixedClock
    site: Site
    people: list[Person]
    by_state: dict[HandsetStatus, Handset]

    def move(self, name: str, hs: list[Handset], **params: Any) -> handsets.Moved:
        return handsets.move_handsets(self.session, ADMIN, self.settings, self.clock, name,
                                      hs, **params)

    def issue(self, h: Handset, person: Person, **params: Any) -> Handset:
        params.setdefault("method", "signature")
        return handsets.issue_handset(self.session, ADMIN, self.settings, self.clock, h,
                                      person, **params)


def register(session: Session, settings: Settings, tmp: Path, numbers: range,
             site: Site | None, status: HandsetStatus = S.RECEIVED, name: str = "m.csv"
             ) -> list[Handset]:
    path = write_manifest(tmp / name, [manifest_row(n) for n in numbers])
    manifests.import_manifest(session, ADMIN, settings, path, site=site, status=status,
                              clock=clock())
    session.flush()
    imeis = [imei(n) for n in numbers]
    found = {h.imei: h for h in session.scalars(select(Handset).where(Handset.imei.in_(imeis)))}
    return [found[i] for i in imeis]


def build_fleet(session: Session, settings: Settings, tmp: Path, people: int = 12,
                seats: int = 50) -> Fleet:
    """One handset in each state (handset n for state n) plus spares in stock."""
    load_people(session, tmp, count=people)
    catalogue(session, seats=seats)
    site = session.scalars(select(Site).where(Site.code == "CE-01")).one()
    staff = list(session.scalars(select(Person).order_by(Person.number)))
    fleet = Fleet(session, settings, clock(), site, staff, {})
    ordered = register(session, settings, tmp, range(0, 1), site, S.ORDERED, "ordered.csv")
    hs = register(session, settings, tmp, range(1, 16), site)
    fleet.by_state[S.ORDERED] = ordered[0]
    fleet.by_state[S.RECEIVED] = hs[0]
    fleet.move("stage", hs[1:])
    fleet.by_state[S.STAGED] = hs[1]
    fleet.move("enrol", hs[2:], compliance="compliant")
    fleet.by_state[S.ENROLLED] = hs[2]
    fleet.move("stock", hs[3:], site=site)
    fleet.by_state[S.IN_STOCK] = hs[3]
    fleet.issue(hs[5], staff[1])
    fleet.move("return", [hs[5]], site=site)
    fleet.by_state[S.RETURNED] = hs[5]
    fleet.issue(hs[4], staff[0])
    fleet.by_state[S.ISSUED] = hs[4]
    fleet.move("repair", [hs[6]], repair_reference="REP-1")
    fleet.by_state[S.IN_REPAIR] = hs[6]
    fleet.move("lose", [hs[7]], police_reference="CAD 123/22")
    fleet.by_state[S.LOST] = hs[7]
    fleet.move("steal", [hs[8]], police_reference="CRIS 456/22")
    fleet.by_state[S.STOLEN] = hs[8]
    fleet.move("retire", [hs[9]], reason="damaged in transit")
    fleet.by_state[S.RETIRED] = hs[9]
    fleet.move("retire", [hs[10]], reason="damaged in transit")
    fleet.move("dispose", [hs[10]], wipe_evidence="Blancco report 77",
               weee_reference="WEEE-2023-001")
    fleet.by_state[S.DISPOSED] = hs[10]
    session.commit()
    assert {h.state for h in fleet.by_state.values()} == set(HandsetStatus)
    return fleet


def spares(fleet: Fleet) -> list[Handset]:
    """Handsets 11 to 15: enrolled, compliant, in stock at CE-01."""
    return [h for h in fleet.session.scalars(select(Handset).order_by(Handset.id))
            if h.status == S.IN_STOCK.value and h.holder_id is None
            and h.id != fleet.by_state[S.IN_STOCK].id]


def stock(session: Session, settings: Settings, tmp: Path, numbers: range) -> list[Handset]:
    """Register, stage, enrol (compliant) and stock handsets at CE-01."""
    site = session.scalars(select(Site).where(Site.code == "CE-01")).one()
    hs = register(session, settings, tmp, numbers, site, name=f"stock-{numbers.start}.csv")
    for name, params in (("stage", {}), ("enrol", {"compliance": "compliant"}),
                         ("stock", {"site": site})):
        handsets.move_handsets(session, ADMIN, settings, clock(), name, hs, **params)
    return hs
