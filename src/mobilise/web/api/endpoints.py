"""``/api/v1/endpoints`` and a wave's laptops: the endpoint inventory, who has synced their
offline copy since the freeze, the message telling the others, and the override."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.endpoints.inventory import import_endpoints
from mobilise.migration import offline
from mobilise.migration.waves import get_wave, member_of
from mobilise.web.auth import db, requires
from mobilise.web.uploads import uploaded

router = APIRouter(tags=["endpoints"])


class OverrideIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=2000)


def laptop_row(row: offline.LaptopState) -> dict[str, Any]:
    e = row.endpoint
    return {"person": row.member.person.number, "name": row.member.person.display_name,
            "device": e.device if e else None, "state": row.state,
            "holds_back": row.holds_back, "last_sync": e.last_sync if e else None,
            "pending_items": e.pending_items if e else None,
            "cache_bytes": e.cache_bytes if e else None,
            "override": row.member.offline_override,
            "override_by": row.member.offline_override_by}


@router.post("/api/v1/endpoints/import")
def import_inventory(file: UploadFile = File(..., description="CSV or XLSX export"),
                     session: Session = Depends(db, scope="function"),
                     actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    with uploaded(file, "endpoints.csv") as path:
        result = import_endpoints(session, actor, path)
    session.commit()
    return {"added": result.added, "updated": result.updated, "unchanged": result.unchanged,
            "unmatched": result.unmatched}


@router.get("/api/v1/waves/{key}/laptops")
def wave_laptops(key: str, since: datetime | None = Query(None),
                 held: bool = Query(False, description="only people their laptop holds back"),
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    wave = get_wave(session, key)
    rows = [laptop_row(r) for r in offline.wave_laptops(session, wave, since)
            if r.holds_back or not held]
    return {"wave": wave.name, "freeze": offline.freeze_of(wave), "since": since,
            "laptops": rows}


@router.post("/api/v1/waves/{key}/laptops/notify")
def notify(request: Request, key: str, session: Session = Depends(db, scope="function"),
           _: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, int]:
    queued, before = offline.notify(session, request.app.state.settings,
                                    get_wave(session, key))
    session.commit()
    return {"queued": queued, "queued_before": before}


@router.post("/api/v1/waves/{key}/people/{person}/offline-override")
def override(key: str, person: str, body: OverrideIn,
             session: Session = Depends(db, scope="function"),
             actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    member = member_of(session, get_wave(session, key), person)
    offline.override(session, actor, member, body.reason)
    session.commit()
    return {"person": member.person.number, "override": member.offline_override,
            "override_by": member.offline_override_by}
