"""``/api/v1/drives``: H: drive readiness for the estate and for one person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import NotFound
from mobilise.core.settings import Settings
from mobilise.drives import estate
from mobilise.drives.reports import add_retention, estate_summary, person_report, summary_rows
from mobilise.people.register import get_person
from mobilise.web.auth import db, requires

router = APIRouter(prefix="/api/v1/drives", tags=["drives"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/summary")
def drives_summary(request: Request, session: Session = Depends(db, scope="function"),
                   _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """People, files, TB, issues by kind and by org unit, from each latest scan."""
    quota = _settings(request).onedrive_quota_bytes
    pairs = estate.latest_scans(session)
    readiness = [estate.readiness_of(scan, person, quota) for person, scan in pairs]
    units = {p.number: p.org_unit.code if p.org_unit else "(none)" for p, _ in pairs}
    return {**estate_summary(readiness, units), "people_detail": summary_rows(readiness)}


@router.get("/people/{key}")
def person_readiness(key: str, request: Request, target_folder: str = "",
                     session: Session = Depends(db, scope="function"),
                     actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    """One person's readiness report: what will be renamed, what cannot move and why, and
    (``retention``) what the rule set in force decides for the files.
    File paths are personal data, so this needs the migration role."""
    person = get_person(session, key)
    pairs = estate.latest_scans(session, [person.id])
    if not pairs:
        raise NotFound(f"{person.number}: no complete scan yet")
    _, scan = pairs[0]
    settings = _settings(request)
    report = person_report(person.number, person.upn, estate.inventory_of(scan),
                           quota_bytes=settings.onedrive_quota_bytes,
                           target_folder=target_folder[:200])
    add_retention(report, session, person, SystemClock().today())
    return {**report.as_dict(), "scan_id": scan.scan_id, "scanned_at": scan.scanned_at}
