"""A wave's laptops: who has synced their offline copy since the freeze; the inventory
upload, the message to the others and the override (CSRF checked by the role guard)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.errors import ImportRejected
from mobilise.endpoints.inventory import import_endpoints
from mobilise.migration import offline
from mobilise.migration.models import MigrationWave
from mobilise.migration.waves import get_wave, member_of
from mobilise.web.auth import db, requires
from mobilise.web.pages.render import page
from mobilise.web.uploads import uploaded

router = APIRouter(include_in_schema=False)


def _laptops_page(request: Request, session: Session, wave: MigrationWave,
                  **extra: Any) -> HTMLResponse:
    rows = offline.wave_laptops(session, wave)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return page(request, "wave_laptops.html", wave=wave, rows=rows, counts=counts,
                held=sum(1 for r in rows if r.holds_back), freeze=offline.freeze_of(wave),
                may_act=request.state.actor.has_any(frozenset({Role.MIGRATION})),
                notice=request.query_params.get("notice"), **extra)


@router.get("/waves/{key}/laptops")
def laptops(request: Request, key: str, session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    return _laptops_page(request, session, get_wave(session, key))


@router.post("/waves/{key}/laptops/import")
def upload_inventory(request: Request, key: str, file: UploadFile = File(...),
                     session: Session = Depends(db, scope="function"),
                     actor: Actor = Depends(requires(Role.MIGRATION))) -> Response:
    wave = get_wave(session, key)
    try:
        with uploaded(file, "endpoints.csv") as path:
            result = import_endpoints(session, actor, path)
    except ImportRejected as err:
        session.rollback()
        return _laptops_page(request, session, wave, problems=err.details)
    session.commit()
    notice = (f"Inventory imported: {result.added} laptops added, {result.updated} updated, "
              f"{result.unchanged} unchanged, {len(result.unmatched)} not matched to a person.")
    return RedirectResponse(f"/waves/{wave.id}/laptops?notice={notice}", status_code=303)


@router.post("/waves/{key}/laptops/notify")
def notify(request: Request, key: str, session: Session = Depends(db, scope="function"),
           _: Actor = Depends(requires(Role.MIGRATION))) -> Response:
    wave = get_wave(session, key)
    queued, before = offline.notify(session, request.app.state.settings, wave)
    session.commit()
    notice = f"{queued} messages queued ({before} were queued before)."
    return RedirectResponse(f"/waves/{wave.id}/laptops?notice={notice}", status_code=303)


@router.post("/waves/{key}/people/{person}/offline-override")
def override(request: Request, key: str, person: str,
             reason: str = Form(..., min_length=1, max_length=2000),
             session: Session = Depends(db, scope="function"),
             actor: Actor = Depends(requires(Role.MIGRATION))) -> Response:
    wave = get_wave(session, key)
    offline.override(session, actor, member_of(session, wave, person), reason)
    session.commit()
    notice = f"{person} will be cut over without waiting for their laptop."
    return RedirectResponse(f"/waves/{wave.id}/laptops?notice={notice}", status_code=303)
