"""People search and the person page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.audit import AuditEntry
from mobilise.devices.register import handset_row, held_by
from mobilise.migration.after import person_lifecycle, row_json
from mobilise.migration.reports import person_migrations
from mobilise.people.models import OrgUnit
from mobilise.people.register import PeopleQuery, find_people, get_person, person_row_for
from mobilise.programme.journey import journey
from mobilise.web.auth import db, requires
from mobilise.web.pages.render import page
from mobilise.web.params import PageNo, Pager

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/people")
def people(
    request: Request,
    q: str | None = Query(None, max_length=200),
    org_unit: str | None = Query(None, max_length=30),
    status: str | None = Query(None, pattern="^(active|leaver)?$"),
    page_no: int = PageNo,
    session: Session = Depends(db, scope="function"),
    actor: Actor = Depends(requires(Role.VIEWER)),
) -> HTMLResponse:
    query = PeopleQuery(q=q or None, org_unit=org_unit or None, status=status or None,
                        limit=PAGE, offset=(page_no - 1) * PAGE)
    found, total = find_people(session, query)
    units = session.scalars(select(OrgUnit).order_by(OrgUnit.code)).all()
    held = held_by(session, [p.id for p in found])
    rows = [{**person_row_for(p, actor), "handsets": [h.imei for h in held.get(p.id, [])]}
            for p in found]
    return page(request, "people.html", people=rows, total=total,
                q=q or "", org_unit=org_unit or "", status=status or "", units=units,
                pager=Pager.of(page_no, PAGE, total, q=q, org_unit=org_unit, status=status))


@router.get("/people/{key}")
def person(request: Request, key: str, session: Session = Depends(db, scope="function"),
           actor: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    found = get_person(session, key)
    history = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "person",
                                 AuditEntry.entity_id == str(found.id))
        .order_by(AuditEntry.seq.desc()).limit(50)
    ).all()
    handsets = [handset_row(h) for h in held_by(session, [found.id]).get(found.id, [])]
    return page(request, "person.html", person=person_row_for(found, actor),
                history=history, handsets=handsets,
                migrations=person_migrations(session, found),
                drive_after=_drive_after(session, found.id),
                journey=journey(session, found.id))


def _drive_after(session: Session, person_id: int) -> dict[str, Any] | None:
    row = person_lifecycle(session, person_id)
    return None if row is None else row_json(row)
