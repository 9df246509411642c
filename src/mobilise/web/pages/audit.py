"""The audit trail and its verification, for auditors."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.errors import AuditChainBroken
from mobilise.web.auth import db, requires
from mobilise.web.entities import entity_names
from mobilise.web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_page(
    request: Request,
    entity: str | None = Query(None, max_length=100),
    verify: bool = Query(False),
    session: Session = Depends(db, scope="function"),
    _: Actor = Depends(requires(Role.AUDITOR)),
) -> HTMLResponse:
    stmt = select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc()).limit(200)
    if entity:
        stmt = stmt.where(audit.AuditEntry.entity == entity)
    verdict = None
    if verify:
        try:
            result = audit.verify(session)
            verdict = (True, f"intact: {result.entries} entries, last hash {result.last_hash}")
        except AuditChainBroken as err:
            verdict = (False, err.message)
    entries = session.scalars(stmt).all()
    names = entity_names(session, [(e.entity, e.entity_id) for e in entries])
    return page(request, "audit.html", entries=entries, entity=entity or "",
                verdict=verdict, names=names)
