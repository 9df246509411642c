"""Retention pages: rule sets, dry runs with charts, the difference between versions,
holds, the review queue (and each person's own review page), disposal batches and their
certificates. Forms post with the session's CSRF token and redirect back (303)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput, NotFound
from mobilise.people.models import Person
from mobilise.retention import disposal, holds, review, rule_sets
from mobilise.retention.dry_run import DryRun, bytes_text, recorded, recorded_diff
from mobilise.retention.launch import running_diffs, running_dry_runs, start_diff, start_dry_run
from mobilise.retention.models import Hold, HoldStatus, RuleSetVersion
from mobilise.retention.scanned import (
    active_rule_set,
    drive_of,
    propose_scanned,
    queue_scanned,
    scanned_explain,
)
from mobilise.web.auth import db, requires
from mobilise.web.charts import bar_chart
from mobilise.web.pages.render import form_data, form_fields, page
from mobilise.web.params import RecordId

router = APIRouter(include_in_schema=False)
READERS = (Role.RECORDS, Role.AUDITOR)
SHOWN_ITEMS = 500  # a batch page lists this many files; its certificate lists them all


def _today() -> date:
    return SystemClock().now().date()


def _version(session: Session, ref: str | None) -> RuleSetVersion | None:
    """``name@version`` or ``name`` (its active version); nothing: the active rule set."""
    if not ref:
        return active_rule_set(session)
    name, _, number = ref.partition("@")
    if number and not number.isdigit():
        raise InvalidInput(f"{ref!r}: a version is NAME@NUMBER")
    return rule_sets.get_version(session, name, int(number) if number else None)


def _versions(session: Session) -> list[RuleSetVersion]:
    return list(session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.name,
                                                                 RuleSetVersion.version)))


FORM = Depends(form_fields)


def _back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


# --------------------------------------------------------------------------- rule sets


@router.get("/retention")
def rule_set_list(request: Request, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    return page(request, "retention.html", versions=_versions(session),
                active=active_rule_set(session))


@router.get("/retention/rule-sets/{name}/{version}")
def rule_set_page(request: Request, name: str, version: RecordId,
                  session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    row = rule_sets.get_version(session, name, version)
    return page(request, "retention_rule_set.html", row=row,
                rules=rule_sets.parsed(row).all_rules)


@router.post("/retention/rule-sets/{name}/{version}/activate")
def activate(request: Request, name: str, version: RecordId,
                   session: Session = Depends(db, scope="function"),
                   actor: Actor = Depends(requires(Role.RECORDS)),
                   form: dict[str, str] = FORM) -> Response:
    rule_sets.activate(session, actor, name, version, reason=form.get("reason") or None)
    return _back("/retention")


# --------------------------------------------------------------------------- dry run, diff


def dry_run_charts(result: DryRun) -> dict[str, Any]:
    """Files and bytes per action, per rule and per org unit, as bar charts."""
    charts: dict[str, Any] = {}
    for column in ("action", "rule", "org_unit"):
        totals: dict[str, list[int]] = {}
        for row in result.tables.get(f"by_{column}", []):
            label = str(row[column] if row[column] is not None else "(none)")
            if column != "action":
                label = f"{label} ({row['action']})"
            totals.setdefault(label, [0, 0])
            totals[label][0] += int(row["files"])
            totals[label][1] += int(row["bytes"])
        ordered = sorted(totals.items(), key=lambda kv: -kv[1][1])[:30]
        charts[column] = (
            bar_chart(f"Files per {column.replace('_', ' ')}", [(k, v[0]) for k, v in ordered]),
            bar_chart(f"Megabytes per {column.replace('_', ' ')}",
                      [(k, round(v[1] / 1e6, 2)) for k, v in ordered]))
    return charts


@router.get("/retention/dry-run")
def dry_run_page(request: Request, version: str | None = None,
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    """The latest recorded dry run of the version (evaluating the estate takes seconds to
    minutes: it runs in the background from this page's button, or ``mobilise retention
    dry-run``), and the dry run under way, if any."""
    row = _version(session, version)
    kept = recorded(session, row.name, row.version, row.content_hash) if row else None
    result = kept.result if kept else None
    return page(request, "retention_dry_run.html", row=row, result=result, recorded=kept,
                running=running_dry_runs(session, row) if row is not None else [],
                charts=dry_run_charts(result) if result else {}, bytes_text=bytes_text,
                versions=_versions(session))


@router.post("/retention/dry-run")
def start_dry_run_from_page(request: Request,
                            session: Session = Depends(db, scope="function"),
                            actor: Actor = Depends(requires(*READERS)),
                            form: dict[str, str] = FORM) -> Response:
    """Start a dry run of the chosen version in the background and go back to its page,
    which shows the job's progress and, once done, the result. One already running for
    the version is followed rather than started again."""
    row = _version(session, form.get("version"))
    if row is None:
        raise InvalidInput("no rule set is active: choose a version")
    start_dry_run(request.app.state.sessions, session, actor, row, _today())
    ref = f"{row.name}@{row.version}"
    return _back(f"/retention/dry-run?version={ref}")


@router.get("/retention/diff")
def diff_page(request: Request, old: str | None = None, new: str | None = None,
              session: Session = Depends(db, scope="function"),
              _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    """The latest recorded comparison of two versions (evaluating the estate twice takes
    seconds to minutes: it runs in the background from this page's button), and the one
    under way, if any."""
    kept, running = None, []
    if old and new:
        old_row, new_row = _version(session, old), _version(session, new)
        assert old_row is not None and new_row is not None
        kept = recorded_diff(session, _key(old_row), _key(new_row))
        running = running_diffs(session, old_row, new_row)
    return page(request, "retention_diff.html", result=kept.result if kept else None,
                recorded=kept, running=running, old=old or "", new=new or "",
                versions=_versions(session), bytes_text=bytes_text)


def _key(row: RuleSetVersion) -> tuple[str, int, str]:
    return row.name, row.version, row.content_hash


@router.post("/retention/diff")
def start_diff_from_page(request: Request, session: Session = Depends(db, scope="function"),
                         actor: Actor = Depends(requires(*READERS)),
                         form: dict[str, str] = FORM) -> Response:
    """Start comparing the two chosen versions in the background and go back to the
    comparison, which shows the job's progress and, once done, the result."""
    old, new = form.get("old"), form.get("new")
    if not old or not new:
        raise InvalidInput("choose two versions to compare")
    old_row, new_row = _version(session, old), _version(session, new)
    assert old_row is not None and new_row is not None
    start_diff(request.app.state.sessions, session, actor, old_row, new_row, _today())
    return _back(f"/retention/diff?old={quote(old)}&new={quote(new)}")


@router.get("/retention/explain")
def explain_page(request: Request, person: str = Query("", max_length=100),
                 path: str = Query("", max_length=4000),
                 version: str = Query("", max_length=120),
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    """Why one file of a scanned drive gets its action: the winning rule, and each rule
    it beat and why."""
    row = _version(session, version or None)
    shown, error = None, None
    if person and path and row is not None:
        try:
            shown = scanned_explain(session, row, person, path, _today())
        except NotFound as err:
            error = err.message
    return page(request, "retention_explain.html", row=row, shown=shown, error=error,
                person=person, file_path=path, versions=_versions(session),
                status_code=404 if error else 200)


# --------------------------------------------------------------------------- holds


@router.get("/retention/holds")
def holds_page(request: Request, session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    rows = list(session.scalars(select(Hold).order_by(Hold.status.desc(), Hold.id.desc())))
    return page(request, "retention_holds.html", holds=rows, placed=HoldStatus.PLACED.value)


@router.post("/retention/holds")
def place_hold(request: Request, session: Session = Depends(db, scope="function"),
                     actor: Actor = Depends(requires(Role.RECORDS)),
                     form: dict[str, str] = FORM) -> Response:
    people = [p.strip() for p in form.get("people", "").replace(",", " ").split() if p.strip()]
    folders = []
    for line in form.get("folders", "").splitlines():
        person, _, path = line.partition(":")
        if line.strip():
            folders.append({"person": person.strip(), "path": path.strip()})
    holds.place_hold(session, actor, form.get("reference", ""), form.get("kind", ""),
                     form.get("reason", ""), people=people, folders=folders,
                     selector=form.get("selector") or None)
    return _back("/retention/holds")


@router.post("/retention/holds/{reference}/release")
def release_hold(request: Request, reference: str,
                       session: Session = Depends(db, scope="function"),
                       actor: Actor = Depends(requires(Role.RECORDS)),
                       form: dict[str, str] = FORM) -> Response:
    holds.release_hold(session, actor, reference, form.get("reason", ""))
    return _back("/retention/holds")


# --------------------------------------------------------------------------- review


REVIEW_PAGE = 100  # files listed per page of the review queue


def _review_page(request: Request, session: Session, *, person: Person | None, back: str,
                 status: str, rule: str, page_no: int, person_filter: str = "",
                 totals: bool = False) -> HTMLResponse:
    listed = review.list_items(
        session, status=status, person=person.number if person else person_filter or None,
        rule=rule or None, limit=REVIEW_PAGE, offset=(page_no - 1) * REVIEW_PAGE)
    return page(request, "retention_review.html",
                by_person=review.review_queue(session) if totals else [],
                by_rule=review.review_queue(session, by="rule") if totals else [],
                items=listed.items, total=listed.total, person=person, back=back,
                bytes_text=bytes_text, status=status, rule=rule, person_filter=person_filter,
                page_no=page_no, pages=max(1, -(-listed.total // REVIEW_PAGE)),
                queue_form=totals, active=active_rule_set(session) if totals else None)


StatusFilter = Query("pending", pattern="^(pending|decided)$")
PageNo = Query(1, alias="page", ge=1, le=1_000_000)


@router.get("/retention/review")
def review_page(request: Request, status: str = StatusFilter,
                person: str = Query("", max_length=100), rule: str = Query("", max_length=64),
                page_no: int = PageNo, session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    """The queue per person and per rule, bulk decisions by rule, queueing, and the files
    themselves, filtered and a page at a time."""
    return _review_page(request, session, person=None, back="/retention/review",
                        status=status, rule=rule, page_no=page_no, person_filter=person,
                        totals=True)


@router.post("/retention/review/queue")
def queue(request: Request, session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.RECORDS)),
                form: dict[str, str] = FORM) -> Response:
    row = _version(session, form.get("version") or None)
    if row is None:
        raise InvalidInput("no rule set is active")
    queue_scanned(session, actor, row, _today(), rule=form.get("rule") or None,
                  person=form.get("person") or None)
    return _back("/retention/review")


@router.get("/retention/review/me")
def my_review(request: Request, status: str = StatusFilter, page_no: int = PageNo,
              session: Session = Depends(db, scope="function"),
              actor: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    """The signed-in person's own files awaiting review (their account's person link)."""
    number = review.person_of(session, actor)
    person = session.scalar(select(Person).where(Person.number == number)) if number else None
    if person is None:
        return page(request, "retention_review.html", by_person=[], by_rule=[], items=[],
                    total=0, person=None, unlinked=True, back="/retention/review/me",
                    bytes_text=bytes_text, status=status, rule="", person_filter="",
                    page_no=1, pages=1, queue_form=False, active=None)
    return _review_page(request, session, person=person, back="/retention/review/me",
                        status=status, rule="", page_no=page_no)


@router.get("/retention/review/people/{key}")
def person_review(request: Request, key: str, status: str = StatusFilter,
                  page_no: int = PageNo, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(Role.RECORDS))) -> HTMLResponse:
    person = session.scalar(select(Person).where((Person.number == key) | (Person.upn == key)))
    if person is None:
        raise NotFound(f"no person {key}")
    return _review_page(request, session, person=person,
                        back=f"/retention/review/people/{person.number}", status=status,
                        rule="", page_no=page_no)


def _safe_back(form: dict[str, str]) -> str:
    back = form.get("back", "")
    return back if back.startswith("/retention/") else "/retention/review"


@router.post("/retention/review/decide")
def decide(request: Request, session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.VIEWER)),
                 form: FormData = Depends(form_data)) -> Response:
    """The person decides their own items; a records manager any (checked by the domain)."""
    ids = [int(str(v)) for v in form.getlist("item") if str(v).isdigit() and len(str(v)) < 19]
    if not ids:
        raise InvalidInput("choose at least one file")
    review.decide(session, actor, ids, str(form.get("decision") or ""),
                  str(form.get("justification") or ""))
    return _back(_safe_back({"back": str(form.get("back") or "")}))


@router.post("/retention/review/decide-rule")
def decide_rule(request: Request, session: Session = Depends(db, scope="function"),
                      actor: Actor = Depends(requires(Role.RECORDS)),
                      form: dict[str, str] = FORM) -> Response:
    row = _version(session, form.get("version") or None)
    if row is None:
        raise InvalidInput("no rule set is active")
    review.decide_rule(session, actor, row, form.get("rule", ""), form.get("decision", ""),
                       form.get("justification", ""), person=form.get("person") or None)
    return _back(_safe_back(form))


# --------------------------------------------------------------------------- disposal


@router.get("/retention/disposal")
def disposal_page(request: Request, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    return page(request, "retention_disposal.html", batches=disposal.batches(session),
                active=active_rule_set(session), bytes_text=bytes_text)


@router.post("/retention/disposal/propose")
def propose(request: Request, session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS)),
                  form: dict[str, str] = FORM) -> Response:
    row = _version(session, form.get("version") or None)
    if row is None:
        raise InvalidInput("no rule set is active")
    batch = propose_scanned(session, actor, request.app.state.settings, row, _today(),
                            rule=form.get("rule") or None, person=form.get("person") or None)
    return _back(f"/retention/disposal/{batch.id}")


@router.get("/retention/disposal/{batch_id}")
def batch_page(request: Request, batch_id: RecordId,
               session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    batch = disposal.get_batch(session, batch_id)
    return page(request, "retention_batch.html", batch=batch, items=batch.items[:SHOWN_ITEMS],
                bytes_text=bytes_text)


@router.post("/retention/disposal/{batch_id}/approve")
def approve(request: Request, batch_id: RecordId,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS)),
                  form: dict[str, str] = FORM) -> Response:
    disposal.approve_batch(session, actor, batch_id, reason=form.get("reason") or None)
    return _back(f"/retention/disposal/{batch_id}")


@router.post("/retention/disposal/{batch_id}/execute")
def execute(request: Request, batch_id: RecordId,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS)),
                  form: dict[str, str] = FORM) -> Response:
    disposal.execute_batch(session, actor, batch_id,
                           drive_of(session, request.app.state.settings))
    return _back(f"/retention/disposal/{batch_id}")


@router.get("/retention/disposal/{batch_id}/certificate")
def certificate(batch_id: RecordId, session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    return HTMLResponse(disposal.certificate_html(session, batch_id))
