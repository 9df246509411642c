"""``/api/v1/retention``: rule set versions, dry runs and diffs over the scanned drives,
holds, review decisions, disposal batches (propose, approve, execute) and certificates.

Dry runs and proposals evaluate the latest inventory of every scanned drive (DuckDB, in
memory, vectorised): quick enough for a request at the scale of a force's estate summary;
the CLI does the same from Parquet files anywhere."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import NotFound
from mobilise.core.jobs import job_row
from mobilise.migration.review_load import load_rows
from mobilise.retention import disposal, holds, launch, review, routing, rule_sets
from mobilise.retention import dry_run as dry_runs
from mobilise.retention.launch import start_proposal, start_queueing
from mobilise.retention.models import Hold, HoldStatus, RuleSetVersion
from mobilise.retention.scanned import (
    active_rule_set,
    drive_of,
    scanned_diff,
    scanned_dry_run,
    scanned_explain,
)
from mobilise.web.auth import db, requires
from mobilise.web.params import RecordId, column_field

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])
READERS = (Role.RECORDS, Role.AUDITOR)


def _version_row(v: RuleSetVersion) -> dict[str, Any]:
    return {"name": v.name, "version": v.version, "status": v.status,
            "content_hash": v.content_hash, "created_by": v.created_by,
            "created_at": v.created_at, "activated_by": v.activated_by,
            "activated_at": v.activated_at}


@router.get("/rule-sets")
def list_rule_sets(session: Session = Depends(db, scope="function"),
                   _: Actor = Depends(requires(*READERS))) -> list[dict[str, Any]]:
    rows = session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.name,
                                                           RuleSetVersion.version))
    return [_version_row(v) for v in rows]


@router.get("/rule-sets/{name}/{version}")
def show_rule_set(name: str, version: RecordId, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(*READERS))) -> dict[str, Any]:
    row = rule_sets.get_version(session, name, version)
    return {**_version_row(row), "yaml": row.yaml}


@router.get("/rule-sets/{name}/{version}/purview")
def purview_plan(name: str, version: RecordId, reviewer: str | None = Query(None, max_length=254),
                 prefix: str = Query("RRD", min_length=1, max_length=16),
                 form: str = Query("json", pattern="^(json|ps1|csv)$"),
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(*READERS))) -> Any:
    """The Microsoft Purview plan for a rule set version: JSON, or the script (``ps1``) or
    the records team's CSV as downloads."""
    from mobilise.retention import purview

    rule_set = rule_sets.parsed(rule_sets.get_version(session, name, version))
    plan = purview.plan(rule_set, as_of=SystemClock().today(), prefix=prefix, reviewer=reviewer)
    if form == "json":
        return purview.as_json(plan)
    body = purview.powershell(plan) if form == "ps1" else purview.csv_text(plan)
    filename = f"purview-{plan.rule_set}-v{plan.version}.{form}"
    return PlainTextResponse(body, media_type="text/csv" if form == "csv" else "text/plain",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


class DriveDecisionIn(BaseModel):
    outcome: str = Field(..., pattern="^(archive|review|dispose)$")
    reason: str = Field(..., min_length=1, max_length=2000)


def _case_row(case: Any) -> dict[str, Any]:
    return {"id": case.id, "kind": case.kind, "home": case.home, "person_id": case.person_id,
            "found_at": case.found_at, "proposed": case.proposed,
            "proposed_rule": case.proposed_rule, "proposed_why": case.proposed_why,
            "due_on": case.due_on, "outcome": case.outcome, "decided_by": case.decided_by,
            "decided_at": case.decided_at, "reason": case.reason}


@router.get("/drive-cases")
def drive_cases(open_only: bool = Query(False, alias="open"),
                kind: str | None = Query(None, pattern="^(leaver|orphan)$"),
                session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(*READERS))) -> list[dict[str, Any]]:
    """Leavers' and orphan drives: the rule set's proposal and the decision."""
    from mobilise.retention import leavers

    return [_case_row(c) for c in leavers.cases(session, open_only=open_only, kind=kind)]


@router.post("/drive-cases/refresh")
def refresh_drive_cases(request: Request, session: Session = Depends(db, scope="function"),
                        actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, int]:
    from mobilise.retention import leavers

    row = active_rule_set(session)
    result = leavers.refresh_queue(session, actor, request.app.state.settings,
                                   rule_sets.parsed(row) if row else None)
    session.commit()
    return {"added": result.added, "open": result.open}


@router.post("/drive-cases/{case_id}/decide")
def decide_drive_case(case_id: RecordId, body: DriveDecisionIn,
                      session: Session = Depends(db, scope="function"),
                      actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    from mobilise.retention import leavers

    case = leavers.decide(session, actor, case_id, body.outcome, body.reason)
    session.commit()
    return _case_row(case)


@router.post("/rule-sets", status_code=201)
def add_rule_set(yaml: str = Body(..., media_type="text/plain", max_length=1_000_000),
                 session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    return _version_row(rule_sets.add_rule_set(session, actor, yaml, file="request body"))


class Reason(BaseModel):
    reason: str = Field(..., min_length=1, max_length=2000)


@router.post("/rule-sets/{name}/{version}/activate")
def activate_rule_set(name: str, version: RecordId, body: Reason,
                      session: Session = Depends(db, scope="function"),
                      actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    return _version_row(rule_sets.activate(session, actor, name, version, reason=body.reason))


def _hold_row(h: Hold) -> dict[str, Any]:
    return {"reference": h.reference, "kind": h.kind, "status": h.status,
            "people": h.people, "folders": h.folders, "selector": h.selector_yaml,
            "reason": h.reason, "placed_by": h.placed_by, "placed_at": h.placed_at,
            "released_by": h.released_by, "released_at": h.released_at,
            "release_reason": h.release_reason}


@router.get("/holds")
def list_holds(all: bool = False, session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(*READERS))) -> list[dict[str, Any]]:
    query = select(Hold).order_by(Hold.id)
    if not all:
        query = query.where(Hold.status == HoldStatus.PLACED.value)
    return [_hold_row(h) for h in session.scalars(query)]


class NewHold(BaseModel):
    reference: str = column_field(Hold.reference, min_length=1)
    kind: str = Field(..., pattern="^(litigation|foi|sar|inquiry|complaint)$")
    reason: str = Field(..., min_length=1, max_length=2000)
    people: list[str] = Field(default_factory=list, max_length=10_000)
    folders: list[dict[str, str]] = Field(default_factory=list, max_length=10_000)
    selector: str | None = Field(None, max_length=20_000)


@router.post("/holds", status_code=201)
def place_hold(body: NewHold, session: Session = Depends(db, scope="function"),
               actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    return _hold_row(holds.place_hold(
        session, actor, body.reference, body.kind, body.reason, people=body.people,
        folders=body.folders, selector=body.selector))


@router.post("/holds/{reference}/release")
def release_hold(reference: str, body: Reason, session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    return _hold_row(holds.release_hold(session, actor, reference, body.reason))


@router.get("/review")
def review_queue(by: str = Query("person", pattern="^(person|rule)$"),
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(*READERS))) -> list[dict[str, Any]]:
    return review.review_queue(session, by=by)


class Decision(BaseModel):
    items: list[int] = Field(..., min_length=1, max_length=100_000)
    decision: str = Field(..., pattern="^(keep-migrate|keep-archive|dispose)$")
    justification: str = Field(..., min_length=1, max_length=2000)


@router.post("/review/decide")
def decide(body: Decision, session: Session = Depends(db, scope="function"),
           actor: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """Any signed-in person may decide their own items; a records manager any item."""
    done = review.decide(session, actor, body.items, body.decision, body.justification)
    return {"decided": len(done)}


class QueueRequest(BaseModel):
    version: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,100}(@[0-9]{1,9})?$")
    rule: str | None = Field(None, min_length=1, max_length=64)
    person: str | None = Field(None, min_length=1, max_length=100)


@router.post("/review/queue", status_code=202)
def queue_reviews(body: QueueRequest, request: Request, response: Response,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    """Start queueing a review item for each scanned file the rule set (default: the active
    one) sends to review and is due, as a background job (seconds to minutes over a
    force's estate); files already queued are not queued again. Poll
    ``/api/v1/jobs/{id}``: its stats say how many were queued."""
    row = _version(session, body.version)  # an unknown version is a 404 now, not a failed job
    job = start_queueing(request.app.state.sessions, actor, request.app.state.settings,
                         row, SystemClock().now().date(), rule=body.rule, person=body.person)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_row(job)


Status = Query("open", pattern="^(open|pending|escalated|decided)$")
DecisionFilter = Query(None, pattern="^(keep-migrate|keep-archive|dispose)$")
Limit = Query(100, ge=1, le=review.MAX_PAGE)
Offset = Query(0, ge=0, le=10**9)


@router.get("/review/items")
def review_items(status: str = Status, person: str | None = Query(None, max_length=100),
                 rule: str | None = Query(None, max_length=64),
                 decision: str | None = DecisionFilter, limit: int = Limit,
                 offset: int = Offset, session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(*READERS))) -> dict[str, Any]:
    """Review items, filtered and a page at a time (``total`` counts every match)."""
    return review.list_items(session, status=status, person=person, rule=rule,
                             decision=decision, limit=limit, offset=offset).as_dict()


@router.get("/review/me")
def my_review_items(status: str = Status, limit: int = Limit, offset: int = Offset,
                    session: Session = Depends(db, scope="function"),
                    actor: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """The signed-in person's own review items and those escalated to them as line
    manager (through their account's person link), each with its deadline."""
    number = review.person_of(session, actor)
    if number is None:
        return {"person": None, "total": 0, "limit": limit, "offset": offset, "items": [],
                "note": "this account is not linked to a person"}
    return {"person": number, **review.list_items(
        session, status=status, reviewer=number, limit=limit, offset=offset).as_dict()}


@router.post("/review/sweep")
def sweep_reviews(request: Request, session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    """Remind people whose review deadline is near (once a round) and escalate items past
    it to the person's line manager, or the records team's pool if they have none."""
    return routing.sweep(session, actor, request.app.state.settings).as_dict()


@router.get("/review/load")
def review_load(session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(*READERS))) -> list[dict[str, Any]]:
    """Review load per migration wave: people and files awaiting review, overdue and
    escalated."""
    return load_rows(session)


class RuleDecision(BaseModel):
    rule: str = Field(..., min_length=1, max_length=64)
    decision: str = Field(..., pattern="^(keep-migrate|keep-archive|dispose)$")
    justification: str = Field(..., min_length=1, max_length=2000)
    version: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,100}(@[0-9]{1,9})?$")
    person: str | None = Field(None, min_length=1, max_length=100)


@router.post("/review/decide-rule")
def decide_rule(body: RuleDecision, session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    """Bulk: the same decision on every pending item of one rule (optionally one person)."""
    done = review.decide_rule(session, actor, _version(session, body.version), body.rule,
                              body.decision, body.justification, person=body.person)
    return {"decided": len(done)}


@router.get("/disposal-batches")
def list_batches(status: str | None = None, session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(*READERS))) -> list[dict[str, Any]]:
    return [{"id": b.id, "status": b.status, "files": len(b.items),
             "proposed_by": b.proposed_by, "approved_by": b.approved_by,
             "executed_by": b.executed_by, "deleted_files": b.deleted_files,
             "deleted_bytes": b.deleted_bytes, "skipped_files": b.skipped_files}
            for b in disposal.batches(session, status)]


@router.post("/disposal-batches/{batch_id}/approve")
def approve_batch(batch_id: RecordId, session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    batch = disposal.approve_batch(session, actor, batch_id)
    return {"id": batch.id, "status": batch.status, "approved_by": batch.approved_by}


@router.get("/disposal-batches/{batch_id}/certificate.csv", response_class=PlainTextResponse)
def certificate_csv(batch_id: RecordId, session: Session = Depends(db, scope="function"),
                    _: Actor = Depends(requires(*READERS))) -> PlainTextResponse:
    return PlainTextResponse(disposal.certificate_csv(session, batch_id), media_type="text/csv")


@router.get("/disposal-batches/{batch_id}/certificate.html", response_class=HTMLResponse)
def certificate_html(batch_id: RecordId, session: Session = Depends(db, scope="function"),
                     _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    return HTMLResponse(disposal.certificate_html(session, batch_id))


VERSION_REF = r"^[A-Za-z0-9_.-]{1,100}(@[0-9]{1,9})?$"
VersionRef = Query(None, pattern=VERSION_REF,
                   description="NAME@VERSION or NAME (its active version)")


def _version(session: Session, ref: str | None) -> RuleSetVersion:
    if not ref:
        row = active_rule_set(session)
        if row is None:
            raise NotFound("no rule set is active: name a version (NAME@VERSION)")
        return row
    name, _, number = ref.partition("@")
    return rule_sets.get_version(session, name, int(number) if number else None)


@router.get("/dry-run")
def dry_run(version: str | None = VersionRef, recorded: bool = Query(False),
            session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(*READERS))) -> dict[str, Any]:
    """Files and bytes per action, rule, org unit and person over every scanned drive
    (no drive scanned yet: nothing, counted as zero), evaluated now (seconds to minutes);
    ``recorded=true``: the latest recorded dry run of the version at once (per action,
    rule and org unit, with when it ran; 404 if none), as ``POST dry-runs`` records it."""
    if not version and active_rule_set(session) is None:
        return {"rule_set": None, "files": 0, "bytes": 0,
                "note": "no rule set is active: name a version (NAME@VERSION)"}
    row = _version(session, version)
    if recorded:
        kept = dry_runs.recorded(session, row.name, row.version, row.content_hash)
        if kept is None:
            raise NotFound(f"no dry run of {row.name} v{row.version} has been recorded: "
                           "POST /api/v1/retention/dry-runs runs one")
        return {**kept.result.as_dict(), "ran_at": kept.ran_at, "ran_by": kept.actor}
    result = scanned_dry_run(session, row, SystemClock().now().date())
    if result is None:
        return {"rule_set": row.name, "version": row.version, "files": 0, "bytes": 0,
                "note": "no drive has been scanned yet"}
    return result.as_dict()


class DryRunRequest(BaseModel):
    version: str | None = Field(None, pattern=VERSION_REF)


@router.post("/dry-runs", status_code=202)
def start_dry_run(body: DryRunRequest, request: Request, response: Response,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(*READERS))) -> dict[str, Any]:
    """Dry-run the version (default: the active one) over every scanned drive in the
    background and record it; one already running for the version is answered instead.
    Poll ``/api/v1/jobs/{id}``; then ``GET dry-run?recorded=true`` has the outcome."""
    row = _version(session, body.version)
    job = launch.start_dry_run(request.app.state.sessions, session, actor, row,
                               SystemClock().now().date())
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_row(job)


def _previous(session: Session, row: RuleSetVersion) -> RuleSetVersion | None:
    return session.scalars(select(RuleSetVersion).where(
        RuleSetVersion.name == row.name, RuleSetVersion.version < row.version)
        .order_by(RuleSetVersion.version.desc())).first()


@router.get("/diff")
def diff(old: str | None = Query(None, pattern=VERSION_REF),
         new: str | None = Query(None, pattern=VERSION_REF),
         session: Session = Depends(db, scope="function"),
         _: Actor = Depends(requires(*READERS))) -> dict[str, Any]:
    """What changes from ``old`` to ``new`` (by default: from the version before the
    active one to the active one)."""
    if not new and active_rule_set(session) is None:
        return {"summary": [], "note": "no rule set is active: name old and new versions"}
    new_row = _version(session, new)
    old_row = _version(session, old) if old else _previous(session, new_row)
    if old_row is None:
        return {"summary": [], "note": f"{new_row.name} v{new_row.version} has no earlier "
                                       "version to compare with"}
    result = scanned_diff(session, old_row, new_row, SystemClock().now().date())
    if result is None:
        return {"summary": [], "note": "no drive has been scanned yet"}
    return result.as_dict()


@router.get("/explain")
def explain(person: str | None = Query(None, min_length=1, max_length=100,
                                       description="the person's number"),
            path: str | None = Query(None, min_length=1, max_length=4000,
                                     description="the file's path in their drive, "
                                                 "'/'-separated"),
            version: str | None = VersionRef, as_of: date | None = None,
            session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(*READERS))) -> dict[str, Any]:
    """The rule that decides one file of a scanned drive (the person's latest scan), and
    each rule it beat and why."""
    if not person or not path:
        return {"note": "name the person (person=NUMBER) and the file (path=...)"}
    row = _version(session, version)
    shown = scanned_explain(session, row, person, path, as_of or SystemClock().now().date())
    return {"rule_set": row.name, "version": row.version, **shown.as_dict()}


class Proposal(BaseModel):
    version: str | None = Field(None, pattern=VERSION_REF)
    rule: str | None = Field(None, min_length=1, max_length=64)
    person: str | None = Field(None, min_length=1, max_length=100)


def _batch_row(b: Any) -> dict[str, Any]:
    return {"id": b.id, "status": b.status, "files": len(b.items),
            "proposed_by": b.proposed_by, "approved_by": b.approved_by,
            "executed_by": b.executed_by, "deleted_files": b.deleted_files,
            "deleted_bytes": b.deleted_bytes, "skipped_files": b.skipped_files}


@router.post("/disposal-batches", status_code=202)
def propose_batch(body: Proposal, request: Request, response: Response,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    """Start proposing a batch of every file due for disposal across the scanned drives,
    as a background job (it evaluates every drive's inventory). Poll
    ``/api/v1/jobs/{id}``: its stats name the batch (``batch``) and its ``files``."""
    row = _version(session, body.version)  # an unknown version is a 404 now, not a failed job
    job = start_proposal(request.app.state.sessions, actor, request.app.state.settings, row,
                         SystemClock().now().date(), rule=body.rule, person=body.person)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_row(job)


@router.post("/disposal-batches/{batch_id}/execute")
def execute_batch(batch_id: RecordId, request: Request,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    """Delete the approved batch's files, each re-checked first; the rest are skipped."""
    batch = disposal.execute_batch(session, actor, batch_id,
                                   drive_of(session, request.app.state.settings))
    return _batch_row(batch)
