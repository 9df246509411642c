from __future__ import annotations

from sqlalchemy import select

from mobilise.core import audit
from mobilise.devices.models import HandsetStatus, Stocktake
from mobilise.devices.stocktake import take_stock
from mobilise.people.models import Site
from tests.devices.fleet import Fleet, imei, spares
from tests.factories import ADMIN

S = HandsetStatus


def test_stocktake_reports_missing_unexpected_misplaced(fleet: Fleet) -> None:
    session = fleet.session
    other = Site(code="NW-01", name="North West 1", accessible=True, issuing=True)
    audit.create(session, ADMIN, "site.add", other)
    shelf = spares(fleet)
    moved = shelf[0]
    session.flush()
    with audit.change(session, ADMIN, "handset.move", moved):
        moved.site_id = other.id
    scans = [
        fleet.by_state[S.RECEIVED].imei, fleet.by_state[S.RECEIVED].imei,  # scanned twice
        fleet.by_state[S.STAGED].imei2 or "",   # second IMEI of a dual-SIM handset
        *[h.imei for h in shelf[1:3]],
        moved.imei,                             # registered at NW-01
        fleet.by_state[S.STOLEN].imei,          # should never be on a shelf
        imei(9999),                             # not in the register
        "35000000000000X", "350000000000001",  # unreadable
    ]
    report = take_stock(session, ADMIN, fleet.clock, fleet.site, scans)
    assert report.scanned == 10
    assert sorted(report.found) == sorted([fleet.by_state[S.RECEIVED].imei,
                                           fleet.by_state[S.STAGED].imei,
                                           shelf[1].imei, shelf[2].imei])
    assert report.misplaced == [{"imei": moved.imei, "detail": "registered at NW-01"}]
    assert report.unexpected == [
        {"imei": fleet.by_state[S.STOLEN].imei, "detail": "registered as stolen"},
        {"imei": imei(9999), "detail": "not in the register"}]
    assert [u["imei"] for u in report.unreadable] == ["35000000000000X", "350000000000001"]
    missing = {m["imei"] for m in report.missing}
    expected_missing = {fleet.by_state[s].imei for s in
                        (S.ENROLLED, S.IN_STOCK, S.RETURNED, S.RETIRED)}
    expected_missing |= {h.imei for h in shelf[3:]}
    assert missing == expected_missing
    saved = session.scalars(select(Stocktake)).one()
    assert (saved.scanned, saved.found, len(saved.missing)) == (10, 4, len(expected_missing))
