"""Drives of the people in the register: find their homes, scan them, keep the summaries.

The functions here join the pure parts (discovery, scanner, assessment) to the database:
people come from the register, each scan's totals and readiness land in ``drive_scan``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from mobilise.core.clock import Clock
from mobilise.core.errors import InvalidInput
from mobilise.core.progress import Progress
from mobilise.core.settings import Settings
from mobilise.drives.assess import DriveInventory, PersonReadiness, assess
from mobilise.drives.discover import (
    Discovery,
    PersonHome,
    RefusedDrive,
    discover_drives,
    list_homes,
    translate_path,
)
from mobilise.drives.models import DriveScan, ScanStatus
from mobilise.drives.roots import DriveRootRefused, confine_drive_root
from mobilise.drives.scan import DriveToScan, ScanFailure, ScanResult, scan_drives
from mobilise.drives.smb_source import SmbSource, list_smb_homes
from mobilise.people.models import OrgUnit, Person, PersonStatus


def person_home(person: Person) -> PersonHome:
    return PersonHome(person.number, person.upn, person.sam_account_name,
                      person.home_directory, leaver=person.status == PersonStatus.LEAVER)


def smb_source(settings: Settings) -> SmbSource:
    if not settings.smb_server or not settings.smb_share:
        raise InvalidInput("--source smb needs smb_server and smb_share in the settings")
    password = settings.smb_password.get_secret_value() if settings.smb_password else None
    return SmbSource(settings.smb_server, settings.smb_port, settings.smb_username, password,
                     map_private_names=settings.smb_map_private_names)


def discover(settings: Settings, people: Sequence[Person], *,
             source: SmbSource | None = None) -> Discovery:
    """Match people to the home directories that exist: on this machine under
    ``home_root``, or with ``source`` at the top of the SMB share ``smb_share``."""
    if source is not None:
        root = source.unc(settings.smb_share or "")
        unc = [(settings.home_unc_root, root)] if settings.home_unc_root else []
        homes = list_smb_homes(source, settings.smb_share or "")
    else:
        unc = [(settings.home_unc_root, str(settings.home_root))] if settings.home_unc_root \
            else []
        homes = list_homes(settings.home_root) if settings.home_root.is_dir() else []
        # Roster paths outside the home root count when they exist.
        translated = (translate_path(p.home_directory, unc) for p in people if p.home_directory)
        homes += [h for h in translated if os.path.isdir(h)]
    found = discover_drives([person_home(p) for p in people], sorted(set(homes)),
                            template=settings.home_template, unc_roots=unc)
    return _confined(found, root if source is not None else str(settings.home_root))


def _confined(found: Discovery, home_root: str) -> Discovery:
    """Discovery with every drive outside the home root moved to ``refused``."""
    kept = []
    for match in found.matched:
        try:
            confine_drive_root(match.home, home_root)
            kept.append(match)
        except DriveRootRefused as err:
            found.refused.append(RefusedDrive(match, err.message))
    found.matched = kept
    return found


def select_people(session: Session, keys: Sequence[str] = (), *, everyone: bool = False,
                  include_leavers: bool = False) -> list[Person]:
    """People by number or UPN, or (``everyone``) every active person (and leavers)."""
    query = select(Person).options(joinedload(Person.org_unit)).order_by(Person.number)
    if not everyone:
        wanted = [k.strip() for k in keys]
        query = query.where(Person.number.in_(wanted) | Person.upn.in_([k.lower()
                                                                      for k in wanted]))
    elif not include_leavers:
        query = query.where(Person.status == PersonStatus.ACTIVE.value)
    return list(session.scalars(query).unique())


@dataclass
class EstateScan:
    discovery: Discovery
    scans: list[DriveScan]


def scan_people(session: Session, settings: Settings, people: Sequence[Person], clock: Clock,
                *, progress: Progress | None = None, target_folder: str = "",
                source: SmbSource | None = None) -> EstateScan:
    """Scan the drives of ``people`` in parallel, assess them, record one row each."""
    found = discover(settings, people, source=source)
    drives = [DriveToScan(m.person_key, m.upn, m.home) for m in found.matched]
    results = scan_drives(drives, settings.data_dir, clock, processes=settings.scan_processes,
                          progress=progress, source=source)
    done = [r for r in results if isinstance(r, ScanResult)]
    upns = {d.person_key: d.upn for d in drives}
    assessment = assess([DriveInventory(r.person_key, upns[r.person_key], r.inventory)
                         for r in done], quota_bytes=settings.onedrive_quota_bytes,
                        target_folder=target_folder)
    readiness = {p.person_key: p for p in assessment.people}
    by_number = {p.number: p for p in people}
    homes = {d.person_key: d.home for d in drives}
    rows = [_scan_row(by_number[r.person_key], r, homes[r.person_key], readiness, clock)
            for r in results]
    # A refused drive is recorded as a failed scan with the reason, so it shows wherever
    # a failed scan does (and is never scanned).
    rows += [_scan_row(by_number[d.match.person_key],
                       ScanFailure(d.match.person_key, d.match.home, d.reason), d.match.home,
                       readiness, clock) for d in found.refused]
    session.add_all(rows)
    session.flush()
    return EstateScan(found, rows)


def _scan_row(person: Person, result: ScanResult | ScanFailure, home: str,
              readiness: dict[str, PersonReadiness], clock: Clock) -> DriveScan:
    if isinstance(result, ScanFailure):
        return DriveScan(person_id=person.id, status=ScanStatus.FAILED.value,
                         reason=result.reason, root=home, scanned_at=clock.now(), entries=0,
                         files=0, folders=0, bytes=0, errors=0, to_rename=0, cannot_move=0,
                         warnings=0, fits_quota=True, issues={})
    r = readiness[result.person_key]
    return DriveScan(person_id=person.id, scan_id=result.scan_id,
                     status=ScanStatus.COMPLETE.value, root=home,
                     inventory=str(result.inventory), scanned_at=clock.now(),
                     entries=result.entries, files=result.files, folders=r.folders,
                     bytes=result.bytes,
                     errors=result.errors, to_rename=r.to_rename, cannot_move=r.cannot_move,
                     warnings=r.warnings, fits_quota=r.fits_quota, issues=r.issues)


def latest_scans(session: Session, person_ids: Sequence[int] | None = None
                 ) -> list[tuple[Person, DriveScan]]:
    """Each person's latest complete scan."""
    latest = (select(DriveScan.person_id, func.max(DriveScan.id).label("id"))
              .where(DriveScan.status == ScanStatus.COMPLETE.value)
              .group_by(DriveScan.person_id).subquery())
    query = (select(Person, DriveScan).join(DriveScan, DriveScan.person_id == Person.id)
             .join(latest, latest.c.id == DriveScan.id)
             .options(joinedload(Person.org_unit)).order_by(Person.number))
    if person_ids is not None:
        query = query.where(Person.id.in_(person_ids))
    return [(p, s) for p, s in session.execute(query).unique().all()]


def scans_version(session: Session) -> int:
    """Moves whenever a scan is recorded (scans are results, not audited changes)."""
    return session.scalar(select(func.max(DriveScan.id))) or 0


_ReadinessRow = tuple[str, str, str | None, int, int, int, dict[str, int] | None, int, int, int]


def latest_readiness(session: Session, quota_bytes: int) -> list[tuple[PersonReadiness, str]]:
    """Each person's readiness from their latest complete scan, with their org unit's
    code: the columns only, no objects, so the whole estate reads in one quick pass."""
    latest = (select(func.max(DriveScan.id).label("id"))
              .where(DriveScan.status == ScanStatus.COMPLETE.value)
              .group_by(DriveScan.person_id).subquery())
    # Ten columns is past SQLAlchemy's typed select() overloads: name the row type here.
    rows = session.execute(
        select(Person.number, Person.upn, OrgUnit.code, DriveScan.files, DriveScan.folders,
               DriveScan.bytes, DriveScan.issues, DriveScan.to_rename, DriveScan.cannot_move,
               DriveScan.warnings)
        .join(DriveScan, DriveScan.person_id == Person.id)
        .join(latest, latest.c.id == DriveScan.id)
        .outerjoin(OrgUnit, OrgUnit.id == Person.org_unit_id).order_by(Person.number))
    return [(PersonReadiness(number, upn, files, folders, size, quota_bytes, dict(issues or {}),
                             to_rename, cannot_move, warnings), unit or "(none)")
            for number, upn, unit, files, folders, size, issues, to_rename, cannot_move,
            warnings in cast("Iterable[_ReadinessRow]", rows)]


def readiness_of(scan: DriveScan, person: Person, quota_bytes: int) -> PersonReadiness:
    return PersonReadiness(person.number, person.upn, scan.files, scan.folders, scan.bytes,
                           quota_bytes,
                           dict(scan.issues or {}), scan.to_rename, scan.cannot_move,
                           scan.warnings)


def inventory_of(scan: DriveScan) -> Path:
    if not scan.inventory:
        raise ValueError("a failed scan has no inventory")
    return Path(scan.inventory)
