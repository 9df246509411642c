"""Stocktake: scan every handset on the shelves of a site and compare with the register.

    found       registered here, in a shelf state, and scanned
    missing     registered here in a shelf state, not scanned
    misplaced   scanned here, but registered at another site (or none)
    unexpected  scanned, but not registered, or in a state that is never on a shelf
                (issued, lost, stolen, in repair, disposed)
    unreadable  a scan that is not a valid IMEI (bad check digit, wrong length)

The report is kept (a ``stocktake`` row) and changes nothing else: moving a misplaced
handset is a decision for a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.devices.identifiers import parse_imei
from mobilise.devices.models import SHELF_STATES, Handset, HandsetStatus, Stocktake
from mobilise.people.models import Site


@dataclass
class StocktakeReport:
    site: str
    scanned: int
    found: list[str] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    misplaced: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    stocktake_id: int | None = None

    def rows(self) -> list[dict[str, Any]]:
        out = [{"finding": "found", "imei": imei, "detail": ""} for imei in self.found]
        for finding in ("missing", "misplaced", "unexpected", "unreadable"):
            out += [{"finding": finding, **item} for item in getattr(self, finding)]
        return out

    def summary(self) -> dict[str, int]:
        return {"scanned": self.scanned, "found": len(self.found),
                "missing": len(self.missing), "misplaced": len(self.misplaced),
                "unexpected": len(self.unexpected), "unreadable": len(self.unreadable)}


def _valid_scans(scans: Iterable[str], report: StocktakeReport) -> list[str]:
    valid: list[str] = []
    seen: set[str] = set()
    for raw in scans:
        text = raw.strip()
        if not text:
            continue
        report.scanned += 1
        try:
            imei = parse_imei(text)
        except ValueError as err:
            report.unreadable.append({"imei": text, "detail": str(err)})
            continue
        if imei not in seen:  # a handset scanned twice counts once
            seen.add(imei)
            valid.append(imei)
    return valid


def _registered(session: Session, imeis: list[str]) -> dict[str, Handset]:
    found: dict[str, Handset] = {}
    for start in range(0, len(imeis), 500):
        chunk = imeis[start:start + 500]
        for h in session.scalars(select(Handset).options(joinedload(Handset.site)).where(
                or_(Handset.imei.in_(chunk), Handset.imei2.in_(chunk)))):
            found[h.imei] = h
            if h.imei2:
                found[h.imei2] = h
    return found


def take_stock(session: Session, actor: Actor, clock: Clock, site: Site,
               scans: Iterable[str]) -> StocktakeReport:
    report = StocktakeReport(site=site.code, scanned=0)
    valid = _valid_scans(scans, report)
    registered = _registered(session, valid)
    seen_ids: set[int] = set()
    for imei in valid:
        h = registered.get(imei)
        if h is None:
            report.unexpected.append({"imei": imei, "detail": "not in the register"})
            continue
        if h.id in seen_ids:
            continue  # both IMEIs of one dual-SIM handset scanned
        seen_ids.add(h.id)
        state = HandsetStatus(h.status)
        if state not in SHELF_STATES:
            report.unexpected.append({"imei": h.imei, "detail": f"registered as {state.label}"})
        elif h.site_id != site.id:
            where = h.site.code if h.site else "no site"
            report.misplaced.append({"imei": h.imei, "detail": f"registered at {where}"})
        else:
            report.found.append(h.imei)
    shelf = [s.value for s in SHELF_STATES]
    for h in session.scalars(select(Handset).where(
            Handset.site_id == site.id, Handset.status.in_(shelf)).order_by(Handset.id)):
        if h.id not in seen_ids:
            report.missing.append({"imei": h.imei,
                                   "detail": f"registered here as {HandsetStatus(h.status).label}"})
    record = Stocktake(site_id=site.id, taken_at=clock.now(), scanned=report.scanned,
                       found=len(report.found), missing=report.missing,
                       unexpected=report.unexpected, misplaced=report.misplaced,
                       unreadable=report.unreadable)
    audit.create(session, actor, "stocktake.record", record)
    session.flush()
    report.stocktake_id = record.id
    return report
