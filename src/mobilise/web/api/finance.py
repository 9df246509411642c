"""``/api/v1/finance``: decisions, envelopes, spend, variance, refresh, thresholds, board."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput
from mobilise.finance import decisions as register
from mobilise.finance import refresh as refresh_forecast
from mobilise.finance import spend as spending
from mobilise.finance import variance as budget
from mobilise.finance.board import build_board_report, unit_costs
from mobilise.finance.money import in_pounds, parse_pounds
from mobilise.finance.sources import current_sources
from mobilise.finance.thresholds import flagged_commitments, threshold_rows
from mobilise.finance.years import parse_year
from mobilise.web.auth import db, requires
from mobilise.web.uploads import uploaded

router = APIRouter(prefix="/api/v1/finance", tags=["finance"])
READ = Depends(requires(Role.VIEWER))
WRITE = Depends(requires(Role.PROGRAMME))


@router.get("/decisions")
def decisions(session: Session = Depends(db, scope="function"),
              _: Actor = READ) -> list[dict[str, Any]]:
    out = []
    for decision in register.list_decisions(session):
        row = in_pounds(register.decision_row(decision))
        row["envelopes"] = [in_pounds(r) for r in register.envelope_rows(session)
                            if r["decision"] == decision.reference]
        out.append(row)
    return out


@router.get("/envelopes")
def envelopes(decision: str | None = Query(None, max_length=60),
              session: Session = Depends(db, scope="function"),
              _: Actor = READ) -> list[dict[str, Any]]:
    return [in_pounds(r) for r in register.envelope_rows(session)
            if decision is None or r["decision"] == decision]


@router.get("/spend")
def spend(kind: str | None = Query(None, pattern="^(order|invoice)$"),
          decision: str | None = Query(None, max_length=60),
          limit: int = Query(500, ge=1, le=5000), offset: int = Query(0, ge=0),
          session: Session = Depends(db, scope="function"), _: Actor = READ) -> dict[str, Any]:
    rows = spending.spend_rows(session, kind, decision)
    return {"items": [in_pounds(r) for r in rows[offset:offset + limit]], "total": len(rows),
            "limit": limit, "offset": offset}


@router.post("/spend/import")
def import_spend(file: UploadFile = File(..., description="spend CSV or XLSX"),
                 dry_run: bool = Query(False), session: Session = Depends(db, scope="function"),
                 actor: Actor = WRITE) -> dict[str, Any]:
    with uploaded(file) as path:
        result = spending.import_spend(session, actor, path, dry_run=dry_run)
    if dry_run:
        session.rollback()
    return {"dry_run": dry_run, **result.summary(), "added": result.added,
            "changed": result.changed}


@router.post("/purchases/import")
def import_purchases(file: UploadFile = File(..., description="purchase batches CSV/XLSX"),
                     session: Session = Depends(db, scope="function"),
                     actor: Actor = WRITE) -> dict[str, Any]:
    with uploaded(file) as path:
        count = refresh_forecast.import_purchases(session, actor, path)
    return {"batches": count}


@router.get("/variance")
def variance(decision: str | None = Query(None, max_length=60), detail: bool = False,
             through: str | None = Query(None, max_length=12),
             session: Session = Depends(db, scope="function"),
             _: Actor = READ) -> list[dict[str, Any]]:
    """``through``: project open-ended envelopes through that year (default: the latest
    year any envelope or spend line names)."""
    try:
        last = parse_year(through).start_year if through else None
    except ValueError as err:
        raise InvalidInput(f"through: {err}") from None
    lines = budget.variance_lines(session, decision=decision, through=last)
    shown = lines if detail or decision else budget.by_year_and_budget(lines)
    return [in_pounds(x.row()) for x in shown]


@router.get("/refresh")
def refresh(request: Request, unit_cost: str | None = Query(None, max_length=20),
            session: Session = Depends(db, scope="function"), _: Actor = READ) -> dict[str, Any]:
    try:
        price = parse_pounds(unit_cost) if unit_cost else None
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    settings = request.app.state.settings
    purchases, years = refresh_forecast.refresh_plan(
        session, settings.handset_service_life_years, current_sources(), unit_cost_pence=price)
    return {"service_life_years": settings.handset_service_life_years,
            "source": purchases.source, "available": purchases.available,
            "note": purchases.note, "years": [in_pounds(y.row()) for y in years]}


@router.get("/thresholds")
def thresholds(request: Request, session: Session = Depends(db, scope="function"),
               _: Actor = READ) -> list[dict[str, Any]]:
    return [in_pounds(r) for r in flagged_commitments(session, request.app.state.settings)]


@router.get("/funding")
def funding(session: Session = Depends(db, scope="function"),
            _: Actor = READ) -> list[dict[str, Any]]:
    """Each decision's funding sources; ``amount`` is null where the paper states none."""
    return [{"amount": None, **in_pounds(r)} for r in register.funding_rows(session)]


@router.get("/threshold-table")
def threshold_table(session: Session = Depends(db, scope="function"),
                    _: Actor = READ) -> list[dict[str, Any]]:
    """Approval thresholds by the day each takes effect."""
    return [in_pounds(r) for r in threshold_rows(session)]


@router.get("/unit-costs")
def unit_cost_list(session: Session = Depends(db, scope="function"),
                   _: Actor = READ) -> list[dict[str, Any]]:
    return [u.row() for u in unit_costs(session, current_sources(), SystemClock().today())]


@router.get("/board")
def board(request: Request, session: Session = Depends(db, scope="function"),
          _: Actor = READ) -> dict[str, Any]:
    from mobilise.core.audit import json_safe

    report = build_board_report(session, request.app.state.settings, SystemClock(),
                                current_sources())
    return json_safe(report.summary())  # type: ignore[no-any-return]
