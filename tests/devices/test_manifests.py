"""Supplier manifests: all or nothing, line-numbered errors; identifier export; the
database's own uniqueness and length constraints."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.audit import AuditEntry
from mobilise.core.errors import ImportRejected
from mobilise.core.settings import Settings
from mobilise.devices import manifests
from mobilise.devices.models import Handset, HandsetModel, Sim
from tests.devices.fleet import (
    catalogue,
    clock,
    iccid,
    imei,
    manifest_row,
    write_manifest,
)
from tests.factories import ADMIN


def _import(session: Session, settings: Settings, path: Path) -> manifests.ManifestResult:
    return manifests.import_manifest(session, ADMIN, settings, path, clock=clock())


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_manifest_registers_handsets_and_sims(settings: Settings, session: Session,
                                              tmp_path: Path) -> None:
    catalogue(session)
    path = write_manifest(tmp_path / "delivery.csv",
                          [manifest_row(n) for n in range(5)] + [manifest_row(5, po="PO-2")])
    result = _import(session, settings, path)
    session.commit()
    assert (result.handsets, result.sims, result.purchase_orders) == (6, 6, ["PO-1322", "PO-2"])
    h = session.scalars(select(Handset).where(Handset.imei == imei(0))).one()
    assert (h.status, h.purchase_date, h.warranty_end, h.end_of_life) == (
        "received", date(2023, 1, 10), date(2025, 1, 10), date(2026, 1, 10))
    assert h.sim is not None and h.sim.iccid == iccid(0)
    # One audit entry per handset and per SIM, recording the row as stored; the chain holds.
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_(["handset.register", "sim.add"]))).all()
    assert len(entries) == 12
    logged = next(e for e in entries if e.entity == "handset" and e.entity_id == str(h.id))
    assert logged.after == h.audit_snapshot()
    assert logged.reason == "manifest delivery.csv"
    assert audit.verify(session).entries == _count(session, AuditEntry)


def test_thirty_thousand_lines_with_one_bad_check_digit_import_nothing(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    from mobilise.core.db import session_factory

    session = session_factory(sqlite_settings)()
    catalogue(session)
    session.commit()
    rows = [manifest_row(n) for n in range(30_000)]
    good = rows[21_344][1]
    rows[21_344][1] = good[:-1] + str((int(good[-1]) + 3) % 10)
    path = write_manifest(tmp_path / "big.csv", rows)
    audit_before = _count(session, AuditEntry)
    with pytest.raises(ImportRejected) as err:
        _import(session, sqlite_settings, path)
    session.rollback()
    # The header is line 1, so data row 21,344 (0-based) is on line 21,346.
    assert [str(p) for p in err.value.problems] == [
        f"{path}:21346:2: imei: IMEI {rows[21_344][1]} has a bad check digit "
        f"(expected {good[-1]}, found {rows[21_344][1][-1]})"]
    assert _count(session, Handset) == 0 and _count(session, Sim) == 0
    assert _count(session, AuditEntry) == audit_before
    session.close()


def test_every_kind_of_problem_is_named_by_line(settings: Settings, session: Session,
                                               tmp_path: Path) -> None:
    catalogue(session)
    _import(session, settings, write_manifest(tmp_path / "first.csv", [manifest_row(1)]))
    session.commit()
    rows = [
        manifest_row(2),
        manifest_row(2)[:1] + [imei(3)] + manifest_row(2)[2:],   # line 3: dup serial/imei2
        manifest_row(1),                                          # line 4: already registered
        manifest_row(4, model="iPhone 99"),                       # line 5: unknown model
        manifest_row(5)[:5] + ["8944110000000000000"],           # line 6: bad ICCID digit
    ]
    with pytest.raises(ImportRejected) as err:
        _import(session, settings, write_manifest(tmp_path / "bad.csv", rows))
    text = "\n".join(str(p) for p in err.value.problems)
    assert ":3:3: duplicate imei2" in text and "(also on line 2)" in text
    assert ":3:4: duplicate serial" in text
    assert f":4:2: IMEI {imei(1)} is already registered" in text
    assert f":4:6: ICCID {iccid(1)} is already registered" in text
    assert ":5:5: unknown model 'iPhone 99'" in text
    assert ":6:6: iccid: ICCID 8944110000000000000 has a bad check digit" in text
    session.rollback()
    assert _count(session, Handset) == 1


def test_imei2_that_is_another_rows_imei_is_refused(settings: Settings, session: Session,
                                                   tmp_path: Path) -> None:
    catalogue(session)
    rows = [manifest_row(1), [*manifest_row(2)[:2], imei(1), *manifest_row(2)[3:]]]
    with pytest.raises(ImportRejected, match=f"IMEI2 {imei(1)} is the IMEI on line 2"):
        _import(session, settings, write_manifest(tmp_path / "x.csv", rows))


def test_xlsx_manifest_and_model_by_name(settings: Settings, session: Session,
                                        tmp_path: Path) -> None:
    catalogue(session)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Purchase Order", "IMEI 1", "IMEI 2", "Serial Number", "Model"])
    sheet.append(["PO-9", int(imei(7)), None, "r58n7", "galaxy a32"])
    path = tmp_path / "delivery.xlsx"
    book.save(path)
    result = _import(session, settings, path)
    assert (result.handsets, result.sims) == (1, 0)
    h = session.scalars(select(Handset)).one()
    assert (h.imei, h.serial, h.imei2) == (imei(7), "R58N7", None)


def test_dry_run_changes_nothing(settings: Settings, session: Session, tmp_path: Path) -> None:
    catalogue(session)
    path = write_manifest(tmp_path / "m.csv", [manifest_row(n) for n in range(3)])
    result = manifests.import_manifest(session, ADMIN, settings, path, dry_run=True,
                                       clock=clock())
    assert (result.handsets, result.dry_run) == (3, True)
    assert _count(session, Handset) == 0


def test_export_identifiers_for_intune_in_files_of_5000(settings: Settings, session: Session,
                                                        tmp_path: Path) -> None:
    catalogue(session)
    path = write_manifest(tmp_path / "m.csv", [manifest_row(n, po="=HYPERLINK(1)")
                                               for n in range(5_003)])
    _import(session, settings, path)
    files = manifests.export_identifiers(session, tmp_path / "ids.csv")
    assert [f.name for f in files] == ["ids.csv", "ids-2.csv"]
    first = files[0].read_text().splitlines()
    assert len(first) == 5000 and len(files[1].read_text().splitlines()) == 3
    assert first[0] == f"{imei(0)},SM-A325F R58N00000000 PO =HYPERLINK(1)"
    assert not any(line.split(",", 1)[1].startswith("=") for line in first)


def test_database_refuses_duplicates_and_bad_lengths(settings: Settings, session: Session,
                                                     tmp_path: Path) -> None:
    """Even a careless code path cannot register one IMEI twice."""
    from mobilise.core import audit

    catalogue(session)
    model = session.scalars(select(HandsetModel)).one()

    def add(**values: object) -> None:
        fields = {"imei": imei(1), "serial": "S1", "model_id": model.id, "status": "received"}
        fields.update(values)
        audit.create(session, ADMIN, "handset.register", Handset(**fields))
        session.flush()

    add()
    session.commit()
    for values in ({"serial": "S2"}, {"imei": imei(2)}, {"imei": "1234", "serial": "S3"},
                   {"imei": imei(3), "imei2": imei(3), "serial": "S4"}):
        with pytest.raises(IntegrityError):
            add(**values)
        session.rollback()
    assert _count(session, Handset) == 1
