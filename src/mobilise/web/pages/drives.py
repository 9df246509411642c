"""H: drive readiness pages: the estate, and one person's drive."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.readcache import aggregates
from mobilise.core.settings import Settings
from mobilise.core.words import label
from mobilise.drives import estate
from mobilise.drives.reports import add_retention, estate_summary, person_report, summary_rows
from mobilise.people.register import get_person, person_row
from mobilise.retention.dry_run import bytes_text
from mobilise.web.auth import db, requires
from mobilise.web.charts import bar_chart
from mobilise.web.pages.render import page

router = APIRouter(include_in_schema=False)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/drives")
def drives(request: Request, session: Session = Depends(db, scope="function"),
           _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    summary, issues, chart, rows = estate_aggregates(session, _settings(request))
    return page(request, "drives.html", summary=summary, issues=issues, chart=chart,
                people=rows)


def estate_aggregates(session: Session, settings: Settings, *, fresh: bool = False
                      ) -> tuple[Any, Any, Any, list[dict[str, Any]]]:
    """The whole estate, summed: computed again only when a scan or an audited change
    lands (scans are not audited, so their own count is part of the key)."""
    quota = settings.onedrive_quota_bytes
    return aggregates.get(session, "drives", (quota, estate.scans_version(session)),
                          lambda: _estate(session, quota),
                          stale=0 if fresh else settings.web_aggregates_stale_seconds)


def _estate(session: Session, quota: int) -> tuple[Any, Any, Any, list[dict[str, Any]]]:
    pairs = estate.latest_readiness(session, quota)
    readiness = [r for r, _ in pairs]
    summary = estate_summary(readiness, {r.person_key: unit for r, unit in pairs})
    issues = sorted(summary["issues_by_kind"].items(), key=lambda kv: -kv[1])
    chart = bar_chart("Findings by kind", [(label(k), n) for k, n in issues]) \
        if issues else None
    rows = sorted(summary_rows(readiness), key=lambda r: (-r["cannot_move"], -r["to_rename"]))
    return summary, issues, chart, rows[:200]


@router.get("/drives/people/{key}")
def drive(request: Request, key: str, session: Session = Depends(db, scope="function"),
          actor: Actor = Depends(requires(Role.MIGRATION))) -> HTMLResponse:
    person = get_person(session, key)
    pairs = estate.latest_scans(session, [person.id])
    report = None
    scan = None
    if pairs:
        scan = pairs[0][1]
        one = person_report(person.number, person.upn, estate.inventory_of(scan),
                            quota_bytes=_settings(request).onedrive_quota_bytes)
        report = add_retention(one, session, person, SystemClock().today()).as_dict()
    return page(request, "drive.html", person=person_row(person), report=report, scan=scan,
                bytes_text=bytes_text)
