"""The finance page and the investment board report (page, HTML document, PDF)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import ImportRejected
from mobilise.core.readcache import aggregates
from mobilise.core.settings import Settings
from mobilise.finance import decisions as register
from mobilise.finance import spend as spending
from mobilise.finance.board import build_board_report
from mobilise.finance.sources import current_sources
from mobilise.finance.thresholds import threshold_rows
from mobilise.web.auth import db, requires
from mobilise.web.board_report import charts, context, render_document
from mobilise.web.chromium import print_pdf
from mobilise.web.pages.render import page
from mobilise.web.uploads import uploaded

router = APIRouter(include_in_schema=False)


def finance_aggregates(session: Session, settings: Settings, *, fresh: bool = False
                       ) -> tuple[Any, Any]:
    """The board report reads every register: once per audited change (and day) for all
    readers."""
    clock = SystemClock()

    def build() -> tuple[Any, Any]:
        report = build_board_report(session, settings, clock, current_sources())
        return report, charts(report)

    return aggregates.get(session, "finance", (clock.now().date(), settings.model_dump_json()),
                          build, stale=0 if fresh else settings.web_aggregates_stale_seconds)


def _finance_page(request: Request, session: Session, **extra: Any) -> HTMLResponse:
    report, drawn = finance_aggregates(session, request.app.state.settings)
    return page(request, "finance.html", report=report, charts=drawn,
                envelopes=register.envelope_rows(session),
                spend=spending.spend_rows(session)[-50:],
                threshold_table=threshold_rows(session),
                funding=register.funding_rows(session), **extra)


@router.get("/finance")
def finance(request: Request, session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    return _finance_page(request, session, problems=None, imported=None)


@router.post("/finance/spend")
def upload_spend(request: Request, file: UploadFile = File(...),
                 session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.PROGRAMME))) -> HTMLResponse:
    try:
        with uploaded(file) as path:
            result = spending.import_spend(session, actor, path)
    except ImportRejected as err:
        session.rollback()
        return _finance_page(request, session, problems=err.details, imported=None)
    session.flush()
    return _finance_page(request, session, problems=None, imported=result.summary())


@router.get("/reports/board")
def board_page(request: Request, session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    report = build_board_report(session, request.app.state.settings, SystemClock(),
                                current_sources())
    return page(request, "board_page.html", **context(report))


@router.get("/reports/board.html")
def board_document(request: Request, session: Session = Depends(db, scope="function"),
                   _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    report = build_board_report(session, request.app.state.settings, SystemClock(),
                                current_sources())
    return HTMLResponse(render_document(report))


@router.get("/reports/board.pdf")
def board_pdf(request: Request, session: Session = Depends(db, scope="function"),
              _: Actor = Depends(requires(Role.VIEWER))) -> Response:
    settings = request.app.state.settings
    report = build_board_report(session, settings, SystemClock(), current_sources())
    with tempfile.TemporaryDirectory() as tmp:
        pdf = print_pdf(settings, render_document(report), Path(tmp) / "board-report.pdf")
        content = pdf.read_bytes()
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="board-report.pdf"'})
