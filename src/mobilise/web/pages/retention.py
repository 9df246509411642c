"""Retention pages: rule sets, dry runs with charts, the difference between versions,
holds, the review queue (and each person's own review page), disposal batches and their
certificates. Forms post with the session's CSRF token and redirect back (303)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput, NotFound
from mobilise.core.jobs import started_job
from mobilise.drives.estate import latest_scans
from mobilise.migration import waves
from mobilise.people.models import Person
from mobilise.retention import disposal, holds, review, routing, rule_sets
from mobilise.retention.dry_run import DryRun, bytes_text, recorded, recorded_diff
from mobilise.retention.launch import (
    PROPOSAL_KIND,
    QUEUE_KIND,
    running_diffs,
    running_dry_runs,
    start_diff,
    start_dry_run,
    start_proposal,
    start_queueing,
)
from mobilise.retention.models import (
    BatchStatus,
    Hold,
    HoldStatus,
    ItemOutcome,
    ReviewStatus,
    RuleSetStatus,
    RuleSetVersion,
)
from mobilise.retention.scanned import (
    active_rule_set,
    drive_of,
    scanned_explain,
)
from mobilise.web.auth import db, requires
from mobilise.web.charts import bar_chart, bytes_chart
from mobilise.web.pages.render import form_data, form_fields, page
from mobilise.web.params import PageNo, Pager, RecordId

router = APIRouter(include_in_schema=False)
READERS = (Role.RECORDS, Role.AUDITOR)
SHOWN_ITEMS = 500  # a batch page lists this many files; its certificate lists them all


# Each status's display colour (its enum's own), for the pages' GOV.UK tags.
COLOURS: dict[str, dict[str, str]] = {
    "rule_set": {s.value: s.colour for s in RuleSetStatus},
    "hold": {s.value: s.colour for s in HoldStatus},
    "review": {s.value: s.colour for s in ReviewStatus},
    "batch": {s.value: s.colour for s in BatchStatus},
    "outcome": {s.value: s.colour for s in ItemOutcome},
}


def _page(request: Request, template: str, status_code: int = 200,
          **context: Any) -> HTMLResponse:
    """A retention page, with the status colours its tags are drawn in."""
    return page(request, template, status_code, colours=COLOURS, **context)


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


def version_choices(session: Session) -> list[tuple[str, str]]:
    """(NAME@VERSION, words) for the rule-set picker: the one in force first, then the
    newest of each name first."""
    active = active_rule_set(session)
    rows = sorted(_versions(session), key=lambda v: (v is not active, v.name, -v.version))
    return [(f"{v.name}@{v.version}",
             f"{v.name} v{v.version}" + (" (in force)" if v is active else ""))
            for v in rows]


def scope_choices(session: Session) -> dict[str, Any]:
    """The people with a scanned drive and the waves, for the person and wave pickers."""
    people = [(p.number, p.display_name) for p, scan in latest_scans(session)
              if scan.inventory]
    return {"scanned_people": people,
            "wave_names": [w.name for w in waves.list_waves(session)]}


def _scope(session: Session, form: dict[str, str]) -> dict[str, Any]:
    """The rule, person and wave a queueing or a proposal is limited to (a wave: its
    people)."""
    chosen = form.get("wave") or None
    people = None
    if chosen:
        wave = waves.get_wave(session, chosen)
        people = [m.person.number for m in waves.wave_people(session, wave)]
    return {"rule": form.get("rule") or None, "person": form.get("person") or None,
            "people": people, "whose": f"wave {chosen}" if chosen else None}


FORM = Depends(form_fields)


def _back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


# --------------------------------------------------------------------------- rule sets


@router.get("/retention")
def rule_set_list(request: Request, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    return _page(request, "retention.html", versions=_versions(session),
                active=active_rule_set(session))


@router.get("/retention/rule-sets/{name}/{version}")
def rule_set_page(request: Request, name: str, version: RecordId,
                  session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    row = rule_sets.get_version(session, name, version)
    return _page(request, "retention_rule_set.html", row=row,
                rules=rule_sets.parsed(row).all_rules)


@router.get("/retention/rule-sets/{name}/{version}/purview")
def purview_page(request: Request, name: str, version: RecordId,
                 reviewer: str | None = Query(None, max_length=254),
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    """The rules' future in OneDrive: the Purview labels and policies this version maps to."""
    from mobilise.retention import purview

    row = rule_sets.get_version(session, name, version)
    plan = purview.plan(rule_sets.parsed(row), as_of=SystemClock().today(),
                        reviewer=reviewer or None)
    return _page(request, "retention_purview.html", row=row, plan=plan,
                rows=purview.rows(plan), reviewer=reviewer or "")


@router.get("/retention/drives")
def drive_cases_page(request: Request, session: Session = Depends(db, scope="function"),
                     _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    """Leavers' and orphan drives: the queue, the rule set's proposals, the decisions."""
    from mobilise.retention import leavers

    found = leavers.cases(session)
    return _page(request, "retention_drives.html", cases=found,
                open=[c for c in found if c.outcome is None],
                may_decide=request.state.actor.has_any(frozenset({Role.RECORDS})),
                notice=request.query_params.get("notice"))


@router.post("/retention/drives/refresh")
def refresh_drive_cases(request: Request, session: Session = Depends(db, scope="function"),
                        actor: Actor = Depends(requires(Role.RECORDS))) -> Response:
    from mobilise.retention import leavers

    row = active_rule_set(session)
    result = leavers.refresh_queue(session, actor, request.app.state.settings,
                                   rule_sets.parsed(row) if row else None)
    session.commit()
    return _back(f"/retention/drives?notice={result.added} new drives in the queue; "
                 f"{result.open} awaiting a decision.")


@router.post("/retention/drives/{case_id}/decide")
def decide_drive_case(case_id: RecordId, session: Session = Depends(db, scope="function"),
                      actor: Actor = Depends(requires(Role.RECORDS)),
                      form: dict[str, str] = FORM) -> Response:
    from mobilise.retention import leavers

    case = leavers.decide(session, actor, case_id, form.get("outcome", ""),
                          form.get("reason", ""))
    session.commit()
    return _back(f"/retention/drives?notice=Recorded: {case.home} will be {case.outcome}d "
                 "(" + (case.reason or "") + ").")


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
            bytes_chart(f"Size per {column.replace('_', ' ')}", [(k, v[1]) for k, v in ordered]))
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
    return _page(request, "retention_dry_run.html", row=row, result=result, recorded=kept,
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
    return _page(request, "retention_diff.html", result=kept.result if kept else None,
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
    return _page(request, "retention_explain.html", row=row, shown=shown, error=error,
                person=person, file_path=path, versions=_versions(session),
                status_code=404 if error else 200)


# --------------------------------------------------------------------------- holds


@router.get("/retention/holds")
def holds_page(request: Request, session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    rows = list(session.scalars(select(Hold).order_by(Hold.status.desc(), Hold.id.desc())))
    return _page(request, "retention_holds.html", holds=rows, placed=HoldStatus.PLACED.value)


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
                 totals: bool = False, mine: bool = False) -> HTMLResponse:
    # Your own page lists your files and those escalated to you as line manager.
    number = person.number if person else person_filter or None
    listed = review.list_items(
        session, status=status, person=None if mine else number,
        reviewer=number if mine else None, rule=rule or None, limit=REVIEW_PAGE,
        offset=(page_no - 1) * REVIEW_PAGE)
    job = started_job(session, _job_id(request), QUEUE_KIND) if totals else None
    settings = request.app.state.settings
    return _page(request, "retention_review.html", mine=mine,
                review_days=settings.retention_review_days,
                reminder_days=settings.retention_review_reminder_days,
                by_person=review.review_queue(session) if totals else [],
                by_rule=review.review_queue(session, by="rule") if totals else [],
                items=listed.items, total=listed.total, person=person, back=back,
                bytes_text=bytes_text, status=status, rule=rule, person_filter=person_filter,
                pager=Pager.of(page_no, REVIEW_PAGE, listed.total, status=status,
                               person=person_filter, rule=rule),
                queue_form=totals, active=active_rule_set(session) if totals else None,
                versions=version_choices(session) if totals else [],
                job=job, decided=_decided(request),
                **(scope_choices(session) if totals else {}))


def _job_id(request: Request) -> int | None:
    text = request.query_params.get("job", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 18 else None


DECISION_WORDS = {"keep-migrate": "keep and move to OneDrive", "keep-archive":
                  "keep and archive", "dispose": "dispose"}


def _decided(request: Request) -> str | None:
    """The confirmation after decisions (``?decided=N&decision=...``), in words."""
    count, decision = request.query_params.get("decided", ""), \
        request.query_params.get("decision", "")
    if not (count.isascii() and count.isdigit() and len(count) < 10) or \
            decision not in DECISION_WORDS:
        return None
    n = int(count)
    return f"{n:,} file{'' if n == 1 else 's'} decided: {DECISION_WORDS[decision]}."


StatusFilter = Query("open", pattern="^(open|pending|escalated|decided)$")


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
    """Start queueing as a background job; the review page shows it live, then the count."""
    row = _version(session, form.get("version") or None)
    if row is None:
        raise InvalidInput("no rule set is active")
    job = start_queueing(request.app.state.sessions, actor, request.app.state.settings, row,
                         _today(), **_scope(session, form))
    return _back(f"/retention/review?job={job.id}#job-h")


@router.post("/retention/review/sweep")
def sweep(request: Request, session: Session = Depends(db, scope="function"),
          actor: Actor = Depends(requires(Role.RECORDS)),
          _form: dict[str, str] = FORM) -> Response:
    """Remind people near their review deadline and escalate items past it."""
    routing.sweep(session, actor, request.app.state.settings)
    return _back("/retention/review")


@router.get("/retention/review/me")
def my_review(request: Request, status: str = StatusFilter, page_no: int = PageNo,
              session: Session = Depends(db, scope="function"),
              actor: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    """The signed-in person's own files awaiting review (their account's person link)."""
    number = review.person_of(session, actor)
    person = session.scalar(select(Person).where(Person.number == number)) if number else None
    if person is None:
        return _page(request, "retention_review.html", by_person=[], by_rule=[], items=[],
                    total=0, person=None, unlinked=True, back="/retention/review/me",
                    bytes_text=bytes_text, status=status, rule="", person_filter="",
                    pager=Pager.of(1, REVIEW_PAGE, 0), queue_form=False, active=None,
                    versions=[], job=None, decided=None)
    return _review_page(request, session, person=person, back="/retention/review/me",
                        status=status, rule="", page_no=page_no, mine=True)


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
    decision = str(form.get("decision") or "")
    done = review.decide(session, actor, ids, decision, str(form.get("justification") or ""))
    return _back(_confirmed(_safe_back({"back": str(form.get("back") or "")}), len(done),
                            decision))


def _confirmed(back: str, count: int, decision: str) -> str:
    """``back`` with the confirmation of ``count`` decisions (kept apart from its query)."""
    path, _, query = back.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query) if k not in {"decided", "decision", "job"}]
    return f"{path}?{urlencode([*kept, ('decided', count), ('decision', decision)])}"


@router.post("/retention/review/decide-rule")
def decide_rule(request: Request, session: Session = Depends(db, scope="function"),
                      actor: Actor = Depends(requires(Role.RECORDS)),
                      form: dict[str, str] = FORM) -> Response:
    row = _version(session, form.get("version") or None)
    if row is None:
        raise InvalidInput("no rule set is active")
    done = review.decide_rule(session, actor, row, form.get("rule", ""),
                              form.get("decision", ""), form.get("justification", ""),
                              person=form.get("person") or None)
    return _back(_confirmed(_safe_back(form), len(done), form.get("decision", "")))


# --------------------------------------------------------------------------- disposal


@router.get("/retention/disposal")
def disposal_page(request: Request, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    return _page(request, "retention_disposal.html", batches=disposal.batches(session),
                active=active_rule_set(session), bytes_text=bytes_text,
                versions=version_choices(session),
                job=started_job(session, _job_id(request), PROPOSAL_KIND),
                **scope_choices(session))


@router.post("/retention/disposal/propose")
def propose(request: Request, session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS)),
                  form: dict[str, str] = FORM) -> Response:
    """Start proposing as a background job; the disposal page shows it live, then the
    batch."""
    row = _version(session, form.get("version") or None)
    if row is None:
        raise InvalidInput("no rule set is active")
    job = start_proposal(request.app.state.sessions, actor, request.app.state.settings, row,
                         _today(), **_scope(session, form))
    return _back(f"/retention/disposal?job={job.id}#job-h")


@router.get("/retention/disposal/{batch_id}")
def batch_page(request: Request, batch_id: RecordId,
               session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    batch = disposal.get_batch(session, batch_id)
    return _page(request, "retention_batch.html", batch=batch, items=batch.items[:SHOWN_ITEMS],
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
