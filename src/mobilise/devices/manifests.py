"""Supplier delivery manifests in; the corporate-identifier list out.

A manifest is imported all or nothing: every row is checked (check digits, duplicates in
the file, IMEIs, serials and ICCIDs already registered, unknown models) and any problem
rejects the whole file with ``file:line:column: message`` for each. Only a clean file
registers handsets (and the SIMs fitted to them), each creation audited.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import FileProblem, ImportRejected, InvalidInput
from mobilise.core.importer import Row, read_rows
from mobilise.core.output import neutralise
from mobilise.core.progress import NullProgress, Progress
from mobilise.core.settings import Settings
from mobilise.devices.importers import Registered, folded_models, manifest_spec
from mobilise.devices.models import Handset, HandsetModel, HandsetStatus, Sim
from mobilise.people.models import Site

# Intune refuses a corporate-identifier upload of more than 5,000 rows.
INTUNE_ROWS_PER_FILE = 5000
FLUSH_EVERY = 5000
ARRIVAL_STATES = (HandsetStatus.ORDERED, HandsetStatus.RECEIVED)


@dataclass(frozen=True)
class ManifestResult:
    handsets: int
    sims: int
    purchase_orders: list[str]
    dry_run: bool


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(f"no day in {year}-{month}")  # unreachable: 28 always exists


def _registered(session: Session) -> Registered:
    imeis: set[str] = set()
    for imei, imei2 in session.execute(select(Handset.imei, Handset.imei2)):
        imeis.add(imei)
        if imei2:
            imeis.add(imei2)
    return Registered(
        imeis=frozenset(imeis),
        serials=frozenset(session.scalars(select(Handset.serial))),
        iccids=frozenset(session.scalars(select(Sim.iccid))),
        asset_tags=frozenset(t for t in session.scalars(select(Handset.asset_tag)) if t),
    )


def _cross_column_duplicates(path: Path, rows: list[Row]) -> list[FileProblem]:
    """An IMEI2 that is another row's IMEI (the importer checks each column alone)."""
    first = {r.values["imei"]: r.line for r in rows}
    return [FileProblem(str(path), r.line, r.columns.get("imei2", 1),
                        f"IMEI2 {r.values['imei2']} is the IMEI on line {first[r.values['imei2']]}")
            for r in rows if r.values.get("imei2") and r.values["imei2"] in first]


def import_manifest(
    session: Session, actor: Actor, settings: Settings, path: Path, *,
    site: Site | None = None, status: HandsetStatus = HandsetStatus.RECEIVED,
    mapping: Mapping[str, str] | None = None, dry_run: bool = False,
    clock: Clock | None = None, progress: Progress | None = None,
) -> ManifestResult:
    """Register every handset in the manifest, or none."""
    if status not in ARRIVAL_STATES:
        raise InvalidInput("a manifest registers handsets as ordered or received")
    clock = clock or SystemClock()
    progress = progress or NullProgress()
    models = folded_models(list(session.execute(
        select(HandsetModel.id, HandsetModel.code, HandsetModel.name))))
    catalogue = {m.id: m for m in session.scalars(select(HandsetModel))}
    rows = read_rows(path, manifest_spec(models, _registered(session)), mapping=mapping)
    problems = _cross_column_duplicates(path, rows)
    if problems:
        raise ImportRejected(problems)
    if not rows:
        raise ImportRejected([FileProblem(str(path), 2, 1, "the manifest has no handsets")])
    sims = 0
    if not dry_run:
        progress.start(len(rows), f"registering {path.name}")
        why = f"manifest {path.name}"
        for start in range(0, len(rows), FLUSH_EVERY):
            chunk = rows[start:start + FLUSH_EVERY]
            sims += _register(session, actor, settings, chunk, catalogue, models, site,
                              status, clock.today(), why)
            progress.advance(len(chunk))
        progress.finish()
    else:
        sims = sum(1 for r in rows if r.values.get("iccid"))
    orders = sorted({r.values["purchase_order"] for r in rows})
    return ManifestResult(len(rows), sims, orders, dry_run)


def _register(
    session: Session, actor: Actor, settings: Settings, rows: list[Row],
    catalogue: dict[int, HandsetModel], models: Mapping[str, int], site: Site | None,
    status: HandsetStatus, today: date, why: str,
) -> int:
    """Register a chunk in batched inserts, one audit entry per SIM and per handset: SIMs
    first, so that each handset names its SIM by id."""
    fitted = [r.values for r in rows if r.values["iccid"]]
    sim_ids = audit.create_many(session, actor, "sim.add", Sim, [
        {"iccid": v["iccid"], "msisdn": v["msisdn"], "carrier": (v.get("carrier") or "")[:60],
         "barred": False}
        for v in fitted], reason=why, natural_key="iccid")
    sim_of = {v["iccid"]: sim_id for v, sim_id in zip(fitted, sim_ids, strict=True)}
    phones = []
    for row in rows:
        v = row.values
        model = catalogue[models[v["model"].strip().lower()]]
        bought = v["purchase_date"] or today
        phones.append({
            "imei": v["imei"], "imei2": v["imei2"], "serial": v["serial"],
            "model_id": model.id, "asset_tag": v["asset_tag"],
            "purchase_order": v["purchase_order"], "purchase_date": bought,
            "warranty_end": add_months(bought, model.warranty_months),
            "end_of_life": add_months(bought, 12 * settings.handset_service_life_years),
            "status": status.value, "compliance": "unknown",
            "site_id": site.id if site else None, "sim_id": sim_of.get(v["iccid"]),
        })
    audit.create_many(session, actor, "handset.register", Handset, phones, reason=why,
                      natural_key="imei")
    return len(sim_ids)


def export_identifiers(
    session: Session, path: Path, *, purchase_order: str | None = None,
    statuses: tuple[HandsetStatus, ...] = (),
) -> list[Path]:
    """Write the corporate-identifier list for Intune (and the Knox reseller upload):
    ``IMEI,details`` without a header, as Intune expects, split into files of at most
    5,000 rows (``name.csv``, ``name-2.csv``...). Returns the files written."""
    stmt = select(Handset.imei, Handset.serial, Handset.purchase_order, HandsetModel.code).join(
        HandsetModel, Handset.model_id == HandsetModel.id).order_by(Handset.id)
    wanted = statuses or tuple(s for s in HandsetStatus
                               if s not in (HandsetStatus.RETIRED, HandsetStatus.DISPOSED))
    stmt = stmt.where(Handset.status.in_([s.value for s in wanted]))
    if purchase_order:
        stmt = stmt.where(Handset.purchase_order == purchase_order)
    rows = session.execute(stmt).all()
    files: list[Path] = []
    for part, start in enumerate(range(0, max(len(rows), 1), INTUNE_ROWS_PER_FILE), start=1):
        target = path if part == 1 else path.with_name(f"{path.stem}-{part}{path.suffix}")
        with target.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            for imei, serial, order, model in rows[start:start + INTUNE_ROWS_PER_FILE]:
                details = f"{model} {serial} PO {order or '-'}"[:128]
                writer.writerow([imei, neutralise(details)])
        files.append(target)
    return files
