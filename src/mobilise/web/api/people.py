"""``/api/v1/people``: the people register."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.people import roster
from mobilise.people.register import PeopleQuery, find_people, get_person, person_row_for
from mobilise.web.auth import db, requires
from mobilise.web.uploads import uploaded

router = APIRouter(prefix="/api/v1/people", tags=["people"])


@router.get("")
def list_people(
    request: Request,
    q: str | None = Query(None, max_length=200, description="name, number or UPN contains"),
    org_unit: str | None = Query(None, max_length=30),
    site: str | None = Query(None, max_length=30),
    status: str | None = Query(None, pattern="^(active|leaver)$"),
    kind: str | None = Query(None, pattern="^(officer|staff)$"),
    eligible: bool | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    session: Session = Depends(db, scope="function"),
    actor: Actor = Depends(requires(Role.VIEWER)),
) -> dict[str, Any]:
    query = PeopleQuery(q, org_unit, site, status, kind, eligible, limit, offset)
    found, total = find_people(session, query)
    next_url = None
    if offset + limit < total:
        next_url = str(request.url.include_query_params(offset=offset + limit))
    return {"items": [person_row_for(p, actor) for p in found], "total": total, "limit": limit,
            "offset": offset, "next": next_url}


@router.get("/{key}")
def show_person(key: str, session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    return person_row_for(get_person(session, key), actor)


@router.get("/{key}/journey")
def person_journey(key: str, session: Session = Depends(db, scope="function"),
                   actor: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """One person through both programmes: roster, appointment, hand-over, H: drive
    migration and its end state, files reviewed, messages sent."""
    from mobilise.programme.journey import journey

    return journey(session, key).as_json()


@router.post("/import")
def import_people(
    request: Request,
    file: UploadFile = File(..., description="roster CSV or XLSX"),
    dry_run: bool = Query(False),
    allow_mass_leavers: bool = Query(
        False, description="confirm an import that makes more than roster_max_leaver_share "
                           "of the register leavers, or has under 10% of its rows"),
    session: Session = Depends(db, scope="function"),
    actor: Actor = Depends(requires(Role.PROGRAMME)),
) -> dict[str, Any]:
    with uploaded(file, "roster.csv") as path:
        diff = roster.import_roster(
            session, actor, path, dry_run=dry_run, allow_mass_leavers=allow_mass_leavers,
            max_leaver_share=request.app.state.settings.roster_max_leaver_share)
    if dry_run:
        session.rollback()
    return {"dry_run": dry_run, **diff.summary(), "added": diff.added, "leavers": diff.leavers,
            "changed": {k: {f: [str(a), str(b)] for f, (a, b) in v.items()}
                        for k, v in diff.changed.items()}}
