"""Health, the OpenAPI schema, who am I, and the audit log over the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mobilise import __version__
from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.web.auth import db, public_route, requires

router = APIRouter(tags=["system"])


ICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"


@router.get("/favicon.ico", dependencies=[Depends(public_route)], include_in_schema=False)
def favicon() -> FileResponse:
    """The site's icon, for documents that name none (the board report, a certificate):
    browsers ask for it, and a 404 would be logged in every such page's console."""
    return FileResponse(ICON, media_type="image/svg+xml")


@router.get("/healthz", dependencies=[Depends(public_route)])
def healthz(session: Session = Depends(db, scope="function")) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}


@router.get("/api/v1/openapi.json", include_in_schema=False)
def openapi(request: Request, _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/api/v1/me")
def me(actor: Actor = Depends(requires(Role.VIEWER, Role.PERSON))) -> dict[str, Any]:
    """Who is signed in; ``person`` among the roles when the login is linked to a person
    (the self-service routes under /api/v1/me/ are theirs)."""
    return {"name": actor.name, "roles": sorted(r.value for r in actor.roles)}


@router.get("/api/v1/audit")
def audit_entries(
    entity: str | None = Query(None, max_length=100),
    entity_id: str | None = Query(None, max_length=200),
    before_seq: int | None = Query(None, ge=1, le=2**62),
    limit: int = Query(100, ge=1, le=1000),
    session: Session = Depends(db, scope="function"),
    _: Actor = Depends(requires(Role.AUDITOR)),
) -> dict[str, Any]:
    stmt = select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc()).limit(limit)
    if entity:
        stmt = stmt.where(audit.AuditEntry.entity == entity)
    if entity_id:
        stmt = stmt.where(audit.AuditEntry.entity_id == entity_id)
    if before_seq:
        stmt = stmt.where(audit.AuditEntry.seq < before_seq)
    items = [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
              "entity": e.entity, "entity_id": e.entity_id, "before": e.before,
              "after": e.after, "reason": e.reason, "hash": e.hash}
             for e in session.scalars(stmt)]
    return {"items": items}


@router.get("/api/v1/audit/verify")
def audit_verify(session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(Role.AUDITOR))) -> dict[str, Any]:
    return _verdict(audit.verify(session))


class CheckpointIn(BaseModel):
    """A checkpoint as ``mobilise audit checkpoint`` wrote it (or the API answered it)."""

    format: str = Field(..., max_length=100)
    seq: int = Field(..., ge=0, le=2**62)
    hash: str = Field(..., max_length=64)
    taken_at: str = Field(..., max_length=40)
    key_id: str = Field(..., max_length=16)
    mac: str = Field(..., max_length=64)


@router.post("/api/v1/audit/verify")
def audit_verify_checkpoint(body: CheckpointIn,
                            session: Session = Depends(db, scope="function"),
                            _: Actor = Depends(requires(Role.AUDITOR))) -> dict[str, Any]:
    """Verify the chain, and that nothing up to the checkpoint was deleted or rewritten."""
    mark = audit.Checkpoint.from_json(body.model_dump_json(), audit.keys_of(session))
    return _verdict(audit.verify(session, checkpoint=mark))


@router.post("/api/v1/audit/checkpoint")
def audit_checkpoint(session: Session = Depends(db, scope="function"),
                     actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    """The signed (sequence, hash) of the newest entry: keep it away from the database."""
    result: dict[str, Any] = json.loads(audit.checkpoint(session, actor).to_json())
    return result


def _verdict(result: audit.Verification) -> dict[str, Any]:
    out: dict[str, Any] = {"intact": True, "entries": result.entries, "keyed": result.keyed,
                           "last_hash": result.last_hash}
    if result.checkpoint is not None:
        out["checkpoint"] = {"seq": result.checkpoint.seq,
                             "taken_at": result.checkpoint.taken_at}
    return out
