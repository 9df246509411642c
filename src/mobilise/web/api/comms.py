"""``/api/v1/comms``: templates, preview, the outbox and mail-merge export.

Sending is not an HTTP call: a send run can take minutes and must survive the request,
so it belongs to ``mobilise comms send`` (or a worker), not to a web request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.comms import outbox, templates
from mobilise.comms.models import MessageTemplate
from mobilise.core.actor import Actor, Role
from mobilise.core.output import Format, render
from mobilise.web.auth import db, requires
from mobilise.web.params import column_field

router = APIRouter(prefix="/api/v1/comms", tags=["comms"])


def _template_row(t: Any, body: bool = False) -> dict[str, Any]:
    row = {"name": t.name, "version": t.version, "subject": t.subject, "note": t.note,
           "created_at": t.created_at}
    if body:
        row["body"] = t.body
    return row


@router.get("/templates")
def list_templates(session: Session = Depends(db, scope="function"),
                   _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    return {"items": [_template_row(t) for t in templates.list_templates(session)]}


class TemplateRequest(BaseModel):
    subject: str = column_field(MessageTemplate.subject, min_length=1)
    body: str = Field(..., min_length=1, max_length=100_000)
    note: str | None = column_field(MessageTemplate.note, None)


@router.post("/templates/{name}", status_code=201)
def add_template_version(name: str, body: TemplateRequest,
                         session: Session = Depends(db, scope="function"),
                         actor: Actor = Depends(requires(Role.PROGRAMME))) -> dict[str, Any]:
    row = templates.add_version(session, actor, name, body.subject, body.body, note=body.note)
    return _template_row(row, body=True)


@router.get("/templates/{name}/preview")
def preview(request: Request, name: str, version: int | None = Query(None, ge=1, le=1_000_000),
            session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """The template rendered with its sample context."""
    out = templates.preview(session, name, request.app.state.settings.organisation,
                            version=version)
    return {"template": out.template, "version": out.version, "subject": out.subject,
            "body": out.body}


@router.get("/outbox")
def list_outbox(status: str | None = Query(None, max_length=10),
                template: str | None = Query(None, max_length=60),
                limit: int = Query(100, ge=1, le=1000),
                session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(Role.PROGRAMME, Role.SERVICE_DESK))
                ) -> dict[str, Any]:
    """Who is sent what (appointment notices): the programme and the service desk."""
    return {"items": outbox.outbox_rows(session, status, template, limit),
            "counts": outbox.counts(session)}


class RequeueRequest(BaseModel):
    status: str = Field(..., pattern="^(failed|uncertain)$")
    ids: list[int] = Field(default_factory=list, max_length=100_000)


@router.post("/outbox/requeue")
def requeue(body: RequeueRequest, session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(Role.PROGRAMME))) -> dict[str, Any]:
    return {"requeued": outbox.requeue(session, body.status, body.ids)}


@router.get("/export.csv")
def export(status: str = Query("queued", max_length=10),
           template: str | None = Query(None, max_length=60),
           session: Session = Depends(db, scope="function"),
           _: Actor = Depends(requires(Role.PROGRAMME))) -> Response:
    """Messages for a mail merge, formula cells neutralised."""
    rows = outbox.outbox_rows(session, status, template, limit=1_000_000, with_body=True)
    return Response(render(rows, outbox.MERGE_COLUMNS, Format.CSV),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="mail-merge.csv"'})
