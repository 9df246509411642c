"""H: drive readiness pages: the estate, and one person's drive."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
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
from mobilise.web.params import PageNo, Pager

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
    chart = bar_chart("Findings by kind", [(label(k), n) for k, n in issues],
                      table=False) \
        if issues else None
    rows = sorted(summary_rows(readiness), key=lambda r: (-r["cannot_move"], -r["to_rename"]))
    return summary, issues, chart, rows[:200]


# One person's drive can hold tens of thousands of findings: the page shows what they
# add up to, and lists one kind at a time, a page at a time.
LIST_PAGE = 50
LISTS = {"findings": "What OneDrive objects to", "review": "Files the rules send to review",
         "dispose": "Files the rules would dispose of (only ever through an approved batch)"}


@router.get("/drives/people/{key}")
def drive(request: Request, key: str,
          show: str | None = Query(None, pattern="^(findings|review|dispose)$"),
          kind: str | None = Query(None, max_length=40), page_no: int = PageNo,
          session: Session = Depends(db, scope="function"),
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
    kind = kind or None  # the pager's links carry an empty kind for "every kind"
    listed = _listed(report, show, kind, page_no) if report else None
    return page(request, "drive.html", person=person_row(person), report=report, scan=scan,
                bytes_text=bytes_text, kinds=_kinds(report) if report else [],
                show=show, kind=kind, listed=listed, caption=LISTS.get(show or "", ""))


def _kinds(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(kind, action, files) of the findings, most first."""
    counts = Counter((f["kind"], f["action"]) for f in report["findings"])
    return [(k, a, n) for (k, a), n in counts.most_common()]


def _listed(report: dict[str, Any], show: str | None, kind: str | None,
            page_no: int) -> tuple[list[dict[str, Any]], Pager] | None:
    if show is None:
        return None
    if show == "findings":
        rows = [f for f in report["findings"] if kind is None or f["kind"] == kind]
    else:
        rows = list((report.get("retention") or {}).get(show) or [])
    pager = Pager.of(page_no, LIST_PAGE, len(rows), show=show, kind=kind)
    return rows[pager.offset:pager.offset + LIST_PAGE], pager
