"""Integrity under concurrency: N identical state changes sent at once to the served app
(SQLite and PostgreSQL) have exactly one winner; every other request is a 409 and writes
nothing, audit entries included.

Every state-changing API route (POST/PUT/PATCH/DELETE under /api/v1) needs a case here or
a reasoned place in ``EXCLUDED``: ``test_every_state_changing_route_has_a_case`` fails
otherwise."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select, update

from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.devices.models import Acceptance, DeviceAction, Handset, LicenceSeat
from mobilise.retention.models import DisposalBatch, DisposalItem, ItemOutcome, ReviewItem
from mobilise.web.app import create_app
from tests.devices.fleet import MANIFEST_HEADER, manifest_row
from tests.factories import ADMIN, ROSTER_HEADER, person_row
from tests.finance.conftest import SPEND_HEADER
from tests.retention.small_estate import RULE_SET
from tests.web.conftest import all_routes
from tests.web.test_finance_web import ROWS as SPEND_ROWS

from .conftest import DAY, DUE_FILES, REVIEW_FILES, N, Served
from .harness import Answer, Call, audit_count, audit_ids, fire, one_winner

Case = Callable[[Served], None]
CASES: dict[tuple[str, str], Case] = {}


def case(method: str, path: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[(method, path)] = fn
        return fn
    return register


def _handset_id(settings: Settings, imei: str) -> int:
    with session_scope(settings) as s:
        found = s.scalar(select(Handset.id).where(Handset.imei == imei))
        assert found is not None
        return found


# --- retention -----------------------------------------------------------------------------

@case("POST", "/api/v1/retention/disposal-batches/{batch_id}/execute")
def execute_batch(env: Served) -> None:
    batch = env.ids["batch_to_execute"]
    managers = ["rm1", "rm2", "rm3"]
    answers = fire(env.url, [Call(env.tokens[managers[i % 3]], "POST",
                                  f"/api/v1/retention/disposal-batches/{batch}/execute")
                             for i in range(N)])
    won = one_winner(answers)
    assert '"deleted_files":10' in won.body.replace(" ", "")
    assert audit_count(env.settings, "disposal_batch.execute", str(batch)) == 1
    with session_scope(env.settings) as s:
        row = s.get(DisposalBatch, batch)
        assert row is not None and (row.deleted_files, row.skipped_files) == (DUE_FILES, 0)
        deleted = s.scalar(select(func.count()).select_from(DisposalItem).where(
            DisposalItem.batch_id == batch, DisposalItem.outcome == ItemOutcome.DELETED.value))
        assert deleted == DUE_FILES
    assert audit_count(env.settings, "retention.file.dispose") == DUE_FILES
    assert not list((Path(env.settings.home_root) / "asmith2" / "scratch").glob("*.tmp"))
    # The certificate lists every file deleted: from the rows recorded, one per file.
    cert = httpx.get(f"{env.url}/api/v1/retention/disposal-batches/{batch}/certificate.csv",
                     headers={"Authorization": f"Bearer {env.tokens['rm1']}"})
    assert cert.status_code == 200, cert.text
    assert len(list(csv.DictReader(io.StringIO(cert.text)))) == DUE_FILES


@case("POST", "/api/v1/retention/disposal-batches/{batch_id}/approve")
def approve_batch(env: Served) -> None:
    batch = env.ids["batch_to_approve"]
    answers = fire(env.url, [Call(env.tokens["rm2" if i % 2 else "rm3"], "POST",
                                  f"/api/v1/retention/disposal-batches/{batch}/approve")
                             for i in range(N)])
    one_winner(answers)
    assert audit_count(env.settings, "disposal_batch.approve", str(batch)) == 1


# --- devices -------------------------------------------------------------------------------

@case("POST", "/api/v1/handsets/{key}/issue")
def issue_handset(env: Served) -> None:
    imei = env.ids["spares"][0]
    people = env.ids["people"][2:2 + N]
    answers = fire(env.url, [Call(env.tokens["desk"], "POST",
                                  f"/api/v1/handsets/{imei}/issue",
                                  json={"person": number, "method": "signature"})
                             for number in people])
    one_winner(answers)
    handset = _handset_id(env.settings, imei)
    assert audit_count(env.settings, "handset.issue", str(handset)) == 1
    with session_scope(env.settings) as s:
        h = s.get(Handset, handset)
        assert h is not None and h.holder_id is not None
        acceptances = s.scalars(select(Acceptance).where(Acceptance.handset_id == handset))
        assert [a.person_id for a in acceptances] == [h.holder_id]
        seats = s.scalars(select(LicenceSeat).where(LicenceSeat.handset_id == handset,
                                                    LicenceSeat.released_at.is_(None)))
        assert [seat.person_id for seat in seats] == [h.holder_id]


def race(env: Served, calls: list[Call], action: str, changes: int = 1) -> Answer:
    """Fire ``calls`` at once: one winner, the rest 409, and ``changes`` new audit
    entries recording ``action`` (the winner's only)."""
    before = audit_count(env.settings, action)
    won = one_winner(fire(env.url, calls))
    assert audit_count(env.settings, action) - before == changes
    return won


def create_once(env: Served, calls: list[Call], action: str) -> list[Answer]:
    """Identical creations at once where a uniqueness rule allows one: exactly one audit
    entry, and every answer a success (the one created, or the same one found) or 409."""
    before = audit_count(env.settings, action)
    answers = fire(env.url, calls)
    assert all(200 <= a.status < 300 or a.status == 409 for a in answers), \
        [(a.status, a.body[:200]) for a in answers]
    assert any(200 <= a.status < 300 for a in answers)
    assert audit_count(env.settings, action) - before == 1
    return answers


def _records(i: int) -> str:
    return ("rm1", "rm2", "rm3")[i % 3]


@case("POST", "/api/v1/handsets/{key}/transitions/{name}")
def handset_transition(env: Served) -> None:
    imei = env.ids["spares"][1]
    race(env, [Call(env.tokens["desk"], "POST", f"/api/v1/handsets/{imei}/transitions/repair",
                    json={"repair_reference": f"REP-{i}"}) for i in range(N)],
         "handset.repair")


@case("POST", "/api/v1/handsets/transitions/{name}")
def handset_bulk_transition(env: Served) -> None:
    imeis = env.ids["spares"][2:4]
    race(env, [Call(env.tokens["desk"], "POST", "/api/v1/handsets/transitions/lose",
                    json={"imeis": imeis, "police_reference": f"CAD {i}/26"})
               for i in range(N)], "handset.lose", changes=2)


@case("POST", "/api/v1/retention/holds")
def place_hold(env: Served) -> None:
    create_once(env, [Call(env.tokens[_records(i)], "POST", "/api/v1/retention/holds",
                           json={"reference": "H-NEW", "kind": "foi", "reason": "request",
                                 "people": ["100014"]}) for i in range(N)],
                "retention.hold.place")


@case("POST", "/api/v1/retention/holds/{reference}/release")
def release_hold(env: Served) -> None:
    race(env, [Call(env.tokens[_records(i)], "POST", "/api/v1/retention/holds/H-RACE/release",
                    json={"reason": "settled"}) for i in range(N)],
         "retention.hold.release")


@case("POST", "/api/v1/retention/rule-sets")
def add_rule_set(env: Served) -> None:
    text = RULE_SET.format(name="drives", version=2, media="review")
    create_once(env, [Call(env.tokens[_records(i)], "POST", "/api/v1/retention/rule-sets",
                           content=text.encode(), headers={"content-type": "text/plain"})
                      for i in range(N)], "retention.rule_set.add")


@case("POST", "/api/v1/retention/rule-sets/{name}/{version}/activate")
def activate_rule_set(env: Served) -> None:
    race(env, [Call(env.tokens[_records(i)], "POST",
                    "/api/v1/retention/rule-sets/other/1/activate", json={"reason": "agreed"})
               for i in range(N)], "retention.rule_set.activate")


def background_jobs(env: Served, calls: list[Call], kind: str) -> list[Any]:
    """Requests that each start a background job (202): every one accepted, and the jobs
    they started, once all have finished."""
    from mobilise.core.progress import Job
    from mobilise.workers.background import wait_for_jobs

    answers = fire(env.url, calls)
    assert all(a.status == 202 for a in answers), [(a.status, a.body[:200]) for a in answers]
    wait_for_jobs(300)
    with session_scope(env.settings) as s:
        jobs = list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))[-len(calls):]
        s.expunge_all()
    assert len(jobs) == len(calls)
    unfinished = [(j.id, j.status, j.message) for j in jobs if j.status not in ("done", "failed")]
    assert not unfinished, unfinished
    return jobs


@case("POST", "/api/v1/retention/review/queue")
def queue_reviews(env: Served) -> None:
    before = audit_count(env.settings, "retention.review.queue")
    jobs = background_jobs(env, [Call(env.tokens[_records(i)], "POST",
                                      "/api/v1/retention/review/queue",
                                      json={"version": "drives@1", "person": "100003"})
                                 for i in range(N)], "review-queue")
    queued = sorted(int((j.stats or {}).get("queued", 0)) for j in jobs)
    # Each file queued once: one job queued them all, every other found none left.
    assert queued == [0] * (N - 1) + [REVIEW_FILES]
    assert audit_count(env.settings, "retention.review.queue") - before == REVIEW_FILES


@case("POST", "/api/v1/retention/review/decide")
def decide(env: Served) -> None:
    item = env.ids["review_item"]
    race(env, [Call(env.tokens[_records(i)], "POST", "/api/v1/retention/review/decide",
                    json={"items": [item], "decision": "dispose", "justification": f"j{i}"})
               for i in range(N)], "review_item.decide")


@case("POST", "/api/v1/retention/review/decide-rule")
def decide_rule(env: Served) -> None:
    race(env, [Call(env.tokens[_records(i)], "POST", "/api/v1/retention/review/decide-rule",
                    json={"rule": "media", "decision": "keep-migrate", "justification": "ok",
                          "version": "drives@1", "person": "100001"}) for i in range(N)],
         "review_item.decide", changes=REVIEW_FILES)


@case("POST", "/api/v1/retention/review/sweep")
def sweep_reviews(env: Served) -> None:
    """Sweeps at once: each overdue item is escalated by exactly one of them (the rest
    find it escalated under the lock) and every sweep succeeds."""
    with session_scope(env.settings) as s:
        lapsed = list(s.scalars(select(ReviewItem.id).where(
            ReviewItem.person == "100002", ReviewItem.status == "pending")))
        s.execute(update(ReviewItem).where(ReviewItem.id.in_(lapsed))
                  .values(due_on=date.today() - timedelta(days=1)))
    assert lapsed
    before = audit_count(env.settings, "review_item.escalate")
    answers = fire(env.url, [Call(env.tokens[_records(i)], "POST",
                                  "/api/v1/retention/review/sweep") for i in range(N)])
    assert all(a.status == 200 for a in answers), [(a.status, a.body[:200]) for a in answers]
    assert sum(json.loads(a.body)["escalated"] for a in answers) == len(lapsed)
    assert audit_count(env.settings, "review_item.escalate") - before == len(lapsed)


@case("POST", "/api/v1/retention/disposal-batches")
def propose_batch(env: Served) -> None:
    before = audit_count(env.settings, "retention.disposal.propose")
    jobs = background_jobs(env, [Call(env.tokens[_records(i)], "POST",
                                      "/api/v1/retention/disposal-batches",
                                      json={"version": "drives@1", "person": "100003"})
                                 for i in range(N)], "disposal-proposal")
    # One job proposed the batch; every other found nothing left to propose (409).
    assert sum(1 for j in jobs if (j.stats or {}).get("batch")) == 1
    assert sum(1 for j in jobs if j.status == "failed") == N - 1
    assert audit_count(env.settings, "retention.disposal.propose") - before == 1
    with session_scope(env.settings) as s:
        items = s.scalar(select(func.count()).select_from(DisposalItem).where(
            DisposalItem.person == "100003"))
        assert items == DUE_FILES  # no file in two batches


@case("POST", "/api/v1/sims/{key}/bar-confirm")
def confirm_bar(env: Served) -> None:
    sim = env.ids["sim_bar_requested"]
    race(env, [Call(env.tokens["desk"], "POST", f"/api/v1/sims/{sim}/bar-confirm",
                    json={"reference": f"EE-{i}"}) for i in range(N)], "sim.confirm_bar")


@case("POST", "/api/v1/sims/{key}/unbar")
def request_unbar(env: Served) -> None:
    sim = env.ids["sim_barred"]
    race(env, [Call(env.tokens["desk"], "POST", f"/api/v1/sims/{sim}/unbar",
                    json={"reason": "found"}) for i in range(N)], "sim.request_unbar")


@case("POST", "/api/v1/sims/{key}/unbar-confirm")
def confirm_unbar(env: Served) -> None:
    sim = env.ids["sim_unbar_requested"]
    race(env, [Call(env.tokens["desk"], "POST", f"/api/v1/sims/{sim}/unbar-confirm",
                    json={}) for i in range(N)], "sim.confirm_unbar")


@case("POST", "/api/v1/rollout/appointments")
def book_last_place(env: Served) -> None:
    # N people, one place left: one booking, N - 1 told the day is full.
    race(env, [Call(env.tokens["planner"], "POST", "/api/v1/rollout/appointments",
                    json={"person": number, "site": "CE-01", "day": DAY.isoformat()})
               for number in env.ids["people"][2:2 + N]], "appointment.book")


@case("POST", "/api/v1/rollout/appointments/{action}")
def confirm_appointment(env: Served) -> None:
    appointment = env.ids["appointment_to_confirm"]
    race(env, [Call(env.tokens["planner"], "POST", "/api/v1/rollout/appointments/confirm",
                    json={"ids": [appointment]}) for _ in range(N)], "appointment.confirm")


@case("POST", "/api/v1/rollout/appointments/{appointment_id}/reschedule")
def reschedule(env: Served) -> None:
    appointment = env.ids["appointment_to_move"]
    day = (DAY + timedelta(days=2)).isoformat()
    race(env, [Call(env.tokens["planner"], "POST",
                    f"/api/v1/rollout/appointments/{appointment}/reschedule",
                    json={"site": "CE-01", "day": day, "reason": "clash"}) for _ in range(N)],
         "appointment.reschedule")


@case("POST", "/api/v1/comms/outbox/requeue")
def requeue(env: Served) -> None:
    # The outbox is not an audited table: the one winner is read from the answers.
    message = env.ids["failed_message"]
    won = one_winner(fire(env.url, [Call(env.tokens["planner"], "POST",
                                         "/api/v1/comms/outbox/requeue",
                                         json={"status": "failed", "ids": [message]})
                                    for _ in range(N)]))
    assert '"requeued":1' in won.body


@case("POST", "/api/v1/comms/templates/{name}")
def add_template_version(env: Served) -> None:
    # Every request adds a version, in turn or refused: never two with one number.
    before = audit_count(env.settings, "template.add_version")
    answers = fire(env.url, [Call(env.tokens["planner"], "POST", "/api/v1/comms/templates/race",
                                  json={"subject": "s", "body": f"b{i}"}) for i in range(N)])
    made = [a for a in answers if a.status == 201]
    assert made and all(a.status in (201, 409) for a in answers)
    versions = {a.body.split('"version":')[1].split(",")[0] for a in made}
    assert len(versions) == len(made)
    assert audit_count(env.settings, "template.add_version") - before == len(made)


@case("POST", "/api/v1/waves")
def create_wave(env: Served) -> None:
    # Differently named waves over the same people: a person is in one unfinished wave.
    people = env.ids["people"][4:8]
    race(env, [Call(env.tokens["migration"], "POST", "/api/v1/waves",
                    json={"name": f"W-{i}", "people": people}) for i in range(N)],
         "migration_wave.create")


def at_most_once(env: Served, calls: list[Call], action: str,
                 refusals: tuple[int, ...] = (409,)) -> list[str]:
    """Requests that each do whatever is left to do: every answer a success or a refusal
    (409), at least one success, and no object recorded twice under ``action``. Returns
    the ids of the objects recorded."""
    before = set(audit_ids(env.settings, action))
    answers = fire(env.url, calls)
    assert all(200 <= a.status < 300 or a.status in refusals for a in answers), \
        [(a.status, a.body[:200]) for a in answers]
    assert any(200 <= a.status < 300 for a in answers)
    new = [i for i in audit_ids(env.settings, action) if i not in before]
    assert len(new) == len(set(new)), f"recorded twice: {sorted(new)}"
    return new


@case("POST", "/api/v1/handsets/recovery-tasks")
def open_recovery_tasks(env: Served) -> None:
    # One leaver holds one handset: one task, however many desks ask at once.
    opened = at_most_once(env, [Call(env.tokens["desk"], "POST",
                                     "/api/v1/handsets/recovery-tasks") for _ in range(N)],
                          "recovery_task.open")
    assert len(opened) == 1


@case("POST", "/api/v1/sims/bars/send")
def send_bars(env: Served) -> None:
    requested = at_most_once(env, [Call(env.tokens["desk"], "POST", "/api/v1/sims/bars/send")
                                   for _ in range(N)], "sim.request_bar")
    assert requested  # the SIMs of the lost and stolen handsets, each requested once


@case("POST", "/api/v1/waves/{key}/rounds")
def start_round(env: Served) -> None:
    from mobilise.core.progress import Job
    from mobilise.workers.background import wait_for_jobs

    started = audit_count(env.settings, "migration_round.start")  # wave A's, in the estate
    one_winner(fire(env.url, [Call(env.tokens["migration"], "POST", "/api/v1/waves/R/rounds",
                                   json={"workers": 1}) for _ in range(N)]))
    wait_for_jobs(300)
    with session_scope(env.settings) as s:
        jobs = [j for j in s.scalars(select(Job)) if (j.stats or {}).get("round") == 1]
        assert len(jobs) == 1 and jobs[0].status == "done", [(j.status, j.message)
                                                              for j in jobs]
    assert audit_count(env.settings, "migration_round.start") == started + 1


@case("POST", "/api/v1/waves/{key}/lifecycle/{person}/advance")
def advance_drive(env: Served) -> None:
    race(env, [Call(env.tokens["migration"], "POST",
                    "/api/v1/waves/A/lifecycle/100004/advance") for _ in range(N)],
         "migration_drive_after.grace")


@case("POST", "/api/v1/waves/{key}/lifecycle/sweep")
def sweep_drives(env: Served) -> None:
    # Wave A's 100007 is in grace: every start while a sweep of the wave runs is refused
    # (the wave's row is locked, its running job read), so sweeps never overlap; each job
    # started makes one sweep round. (A start after a short sweep has ended may rightly
    # sweep again: see started_one_at_a_time.)
    planned = audit_count(env.settings, "migration_round.plan")
    answers = fire(env.url, [Call(env.tokens["migration"], "POST",
                                  "/api/v1/waves/A/lifecycle/sweep") for _ in range(N)])
    assert all("being started or run already" in a.body for a in answers if a.status == 409)
    rows = started_one_at_a_time(env, answers)
    assert audit_count(env.settings, "migration_round.plan") == planned + len(rows)


def started_one_at_a_time(env: Served, answers: list[Answer]) -> list[dict[str, Any]]:
    """Starts of background work of which one may run at a time: every answer a 202 (a
    job) or a 409, at least one job, each done, and none started while another ran."""
    from mobilise.core.progress import Job
    from mobilise.workers.background import wait_for_jobs

    assert all(a.status in (202, 409) for a in answers), [(a.status, a.body[:300])
                                                          for a in answers]
    started = [json.loads(a.body)["id"] for a in answers if a.status == 202]
    wait_for_jobs(300)
    with session_scope(env.settings) as s:
        jobs = [s.get(Job, i) for i in started]
        rows = [{"started_at": j.started_at, "ended_at": j.updated_at, "status": j.status,
                 "message": j.message, "stats": j.stats or {}} for j in jobs if j is not None]
    assert started and len(rows) == len(started)
    assert all(r["status"] == "done" for r in rows), rows
    spans = sorted((r["started_at"], r["ended_at"]) for r in rows)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans
    return rows


@case("POST", "/api/v1/waves/{key}/lifecycle/{person}/sign-off")
def sign_off_drive(env: Served) -> None:
    race(env, [Call(env.tokens[_records(i)], "POST", "/api/v1/waves/A/lifecycle/100005/sign-off",
                    json={"note": "nothing of record left"}) for i in range(N)],
         "migration_drive_after.sign_off")


@case("POST", "/api/v1/waves/{key}/lifecycle/release")
def release_drives(env: Served) -> None:
    won = race(env, [Call(env.tokens[_records(i)], "POST", "/api/v1/waves/A/lifecycle/release",
                          json={"people": ["100006"]}) for i in range(N)],
               "retention.disposal.propose")
    assert audit_count(env.settings, "migration_drive_after.batch") == 1
    assert '"files":13' in won.body.replace(" ", "")


@case("POST", "/api/v1/rollout/notify")
def notify(env: Served) -> None:
    from mobilise.comms.models import OutboxMessage

    with session_scope(env.settings) as s:
        before = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    answers = fire(env.url, [Call(env.tokens["planner"], "POST", "/api/v1/rollout/notify",
                                  json={"kind": "invitation", "days_ahead": 60,
                                        "as_of": (DAY - timedelta(days=7)).isoformat()})
                             for _ in range(N)])
    assert all(a.status in (200, 409) for a in answers), [(a.status, a.body) for a in answers]
    queued = sum(int(a.body.split('"queued":')[1].rstrip("}")) for a in answers
                 if a.status == 200)
    with session_scope(env.settings) as s:
        after = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    assert after - before == queued > 0  # each notice queued once, by whoever came first


@case("POST", "/api/v1/waves/{key}/notify")
def notify_wave(env: Served) -> None:
    # Each person of wave R gets one readiness report, whoever asks and however often
    # (the rounds case may have queued them first: then nobody queues any). The run is a
    # background job: one of a wave's stage at a time, every start while it runs a 409.
    from mobilise.comms.models import OutboxMessage
    from mobilise.core.audit import AuditEntry

    def reports() -> int:
        with session_scope(env.settings) as s:
            return s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.template == "readiness_report",
                OutboxMessage.idempotency_key.startswith("migration:readiness:"))) or 0

    def audited() -> int:  # messages the audit log records as queued
        with session_scope(env.settings) as s:
            return sum((e.after or {}).get("queued", 0) for e in s.scalars(
                select(AuditEntry).where(AuditEntry.action == "migration_wave.notify")))

    before, queued_before = reports(), audited()
    answers = fire(env.url, [Call(env.tokens["migration"], "POST", "/api/v1/waves/R/notify",
                                  json={"stage": "readiness"}) for _ in range(N)])
    assert all("being queued already" in a.body for a in answers if a.status == 409)
    rows = started_one_at_a_time(env, answers)
    assert reports() == 3  # the three people of wave R, once each
    assert sum(r["stats"]["queued"] for r in rows) == reports() - before
    assert audited() - queued_before == reports() - before


@case("POST", "/api/v1/rollout/plan")
def apply_plan(env: Served) -> None:
    from mobilise.rollout.models import LIVE, Appointment, IssueSlot

    start = (DAY + timedelta(days=28)).isoformat()
    answers = fire(env.url, [Call(env.tokens["planner"], "POST", "/api/v1/rollout/plan",
                                  json={"start": start, "staged_on_hand": 100,
                                        "deadline": (DAY + timedelta(days=120)).isoformat()})
                             for _ in range(N)])
    assert all(a.status in (200, 409) for a in answers), [(a.status, a.body[:300])
                                                          for a in answers]
    assert any(a.status == 200 for a in answers)
    with session_scope(env.settings) as s:
        live = s.execute(select(Appointment.person_id, func.count()).where(
            Appointment.status.in_(LIVE)).group_by(Appointment.person_id)).all()
        assert all(n == 1 for _, n in live), live
        assert not s.scalars(select(IssueSlot).where(IssueSlot.booked > IssueSlot.capacity)
                             ).all()


def _upload(env: Served, who: str, path: str, name: str, text: str, action: str,
            rows: int) -> None:
    """N identical uploads of new rows: the rows are added once (a uniqueness rule keeps
    them one). An upload that lost the race is a 409; one that ran after the winner had
    committed gets what any later upload gets: 200 with nothing added, or (a manifest,
    whose rows must be new) the importer's 422 naming every row already registered."""
    added = at_most_once(env, [Call(env.tokens[who], "POST", path,
                                    files={"file": (name, text.encode(), "text/csv")})
                               for _ in range(N)], action, refusals=(409, 422))
    assert len(added) == rows


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@case("POST", "/api/v1/people/import")
def import_people(env: Served) -> None:
    rows = [*env.ids["roster"], *[person_row(i) for i in range(16, 19)]]
    _upload(env, "planner", "/api/v1/people/import", "roster.csv", _csv(ROSTER_HEADER, rows),
            "person.add", 3)


@case("POST", "/api/v1/handsets/manifests")
def import_manifest(env: Served) -> None:
    rows = [manifest_row(n, po="PO-RACE") for n in range(700, 703)]
    _upload(env, "planner", "/api/v1/handsets/manifests", "m.csv",
            _csv(MANIFEST_HEADER, rows), "handset.register", 3)


@case("POST", "/api/v1/finance/spend/import")
def import_spend(env: Served) -> None:
    _upload(env, "planner", "/api/v1/finance/spend/import", "spend.csv",
            _csv(SPEND_HEADER, SPEND_ROWS[:1]), "spend.order.add", 1)


@case("POST", "/api/v1/finance/purchases/import")
def import_purchases(env: Served) -> None:
    _upload(env, "planner", "/api/v1/finance/purchases/import", "p.csv",
            _csv(["reference", "purchased_on", "handsets", "unit_cost"],
                 [["PB-RACE", "2024-04-01", "100", "250"]]), "handset_purchase.add", 1)


ENDPOINT_HEADER = ["Device name", "Primary user", "Last sync", "Items pending"]


@case("POST", "/api/v1/endpoints/import")
def import_endpoints(env: Served) -> None:
    rows = [[f"LT-RACE-{n}", f"alex{n}.smith@example.police.uk", "never", "0"]
            for n in range(4, 7)]
    _upload(env, "migration", "/api/v1/endpoints/import", "e.csv",
            _csv(ENDPOINT_HEADER, rows), "endpoint.add", 3)


@case("POST", "/api/v1/waves/{key}/laptops/notify")
def notify_laptops(env: Served) -> None:
    from mobilise.comms.models import OutboxMessage
    from mobilise.endpoints.inventory import import_endpoints as add_laptops

    inventory = env.settings.data_dir / "laptops-notify.csv"
    inventory.write_text(_csv(ENDPOINT_HEADER, [
        ["LT-NOTIFY", "alex2.smith@example.police.uk", "never", "0"]]))
    with session_scope(env.settings) as s:
        add_laptops(s, ADMIN, inventory)
    answers = fire(env.url, [Call(env.tokens["migration"], "POST",
                                  "/api/v1/waves/R/laptops/notify") for _ in range(N)])
    assert all(a.status in (200, 409) for a in answers), [(a.status, a.body) for a in answers]
    queued = sum(json.loads(a.body)["queued"] for a in answers if a.status == 200)
    with session_scope(env.settings) as s:
        sent = s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.template == "offline_sync"))
    assert sent == queued == 1  # queued once, by whoever came first


@case("POST", "/api/v1/waves/{key}/people/{person}/offline-override")
def override_offline_sync(env: Served) -> None:
    race(env, [Call(env.tokens["migration"], "POST",
                    "/api/v1/waves/R/people/100003/offline-override",
                    json={"reason": f"laptop {i} written off"}) for i in range(N)],
         "migration_person.offline_override")


def _orphan_case(env: Served, name: str) -> int:
    """An orphan drive under the home root, in the queue; its case id."""
    from mobilise.retention.leavers import refresh_queue
    from mobilise.retention.models import DriveCase

    (env.settings.home_root / name).mkdir(parents=True, exist_ok=True)
    with session_scope(env.settings) as s:
        refresh_queue(s, ADMIN, env.settings, None)
        found = s.scalar(select(DriveCase.id).where(DriveCase.home.endswith(name)))
        assert found is not None
        return found


@case("POST", "/api/v1/retention/drive-cases/refresh")
def refresh_drive_cases(env: Served) -> None:
    from mobilise.retention.models import DriveCase

    (env.settings.home_root / "orphan-refresh").mkdir(parents=True, exist_ok=True)
    opened = at_most_once(env, [Call(env.tokens["rm1"], "POST",
                                     "/api/v1/retention/drive-cases/refresh")
                                for _ in range(N)], "drive_case.open")
    assert opened
    with session_scope(env.settings) as s:
        homes = list(s.scalars(select(DriveCase.home)))
    assert len(homes) == len(set(homes))
    assert sum(h.endswith("orphan-refresh") for h in homes) == 1


@case("POST", "/api/v1/retention/drive-cases/{case_id}/decide")
def decide_drive_case(env: Served) -> None:
    case_id = _orphan_case(env, "orphan-decide")
    race(env, [Call(env.tokens["rm1"], "POST",
                    f"/api/v1/retention/drive-cases/{case_id}/decide",
                    json={"outcome": "dispose" if i % 2 else "archive",
                          "reason": f"decision {i}"}) for i in range(N)],
         "drive_case.decide")


# --- the register of cases -----------------------------------------------------------------

# Routes where "one winner" is meaningless, each with the reason.
# Each reason says why one winner means nothing there; every other state-changing route
# has a case above.
# --- accounts and the audit log ---------------------------------------------------------

@case("POST", "/api/v1/users/{username}/disable")
def disable_user(env: Served) -> None:
    disabled = at_most_once(env, [Call(env.tokens["admin"], "POST",
                                       "/api/v1/users/planner/disable", json={"reason": "x"})
                                  for _ in range(N)], "user.disable")
    assert len(disabled) == 1


@case("POST", "/api/v1/users/{username}/enable")
def enable_user(env: Served) -> None:
    enabled = at_most_once(env, [Call(env.tokens["admin"], "POST",
                                      "/api/v1/users/planner/enable", json={"reason": "x"})
                                 for _ in range(N)], "user.enable")
    assert len(enabled) <= 1  # one, or none if the disable case did not run first


@case("PUT", "/api/v1/users/{username}/roles")
def set_roles(env: Served) -> None:
    changed = at_most_once(env, [Call(env.tokens["admin"], "PUT", "/api/v1/users/rm3/roles",
                                      json={"roles": ["records", "auditor"]})
                                 for _ in range(N)], "user.roles")
    assert len(changed) == 1


@case("PUT", "/api/v1/users/{username}/password")
def set_password(env: Served) -> None:
    # Each password is a change of its own: any may win, none is lost. Every success has
    # its audit entry, every loser was refused (409) and wrote none.
    before = audit_count(env.settings, "user.password")
    answers = fire(env.url, [Call(env.tokens["admin"], "PUT", "/api/v1/users/migration/password",
                                  json={"password": f"a new password number {i}"})
                             for i in range(N)])
    assert all(a.status in (200, 409) for a in answers), [(a.status, a.body) for a in answers]
    won = sum(1 for a in answers if a.status == 200)
    assert won >= 1 and audit_count(env.settings, "user.password") - before == won


@case("POST", "/api/v1/users/{username}/tokens/{token_id}/revoke")
def revoke_token(env: Served) -> None:
    from mobilise.core import auth

    with session_scope(env.settings) as s:
        user = auth.get_user(s, "rm3")
        auth.issue_token(s, _admin(), user, "spare")
        s.flush()
        token_id = max(t.id for t in user.tokens)
    revoked = at_most_once(env, [Call(env.tokens["admin"], "POST",
                                      f"/api/v1/users/rm3/tokens/{token_id}/revoke")
                                 for _ in range(N)], "token.revoke")
    assert revoked == [str(token_id)]


@case("PUT", "/api/v1/users/{username}/person")
def link_person(env: Served) -> None:
    person = env.ids["people"][-1]
    linked = at_most_once(env, [Call(env.tokens["admin"], "PUT", "/api/v1/users/migration/person",
                                     json={"person": person}) for _ in range(N)], "user.link")
    assert len(linked) == 1


@case("DELETE", "/api/v1/users/{username}/person")
def unlink_person(env: Served) -> None:
    from mobilise.core import auth
    from mobilise.people import logins

    with session_scope(env.settings) as s:
        logins.link_login(s, _admin(), auth.get_user(s, "desk"),
                          logins.find_person(s, env.ids["people"][-2]))
    unlinked = at_most_once(env, [Call(env.tokens["admin"], "DELETE",
                                       "/api/v1/users/desk/person") for _ in range(N)],
                            "user.unlink")
    assert len(unlinked) == 1


def _admin() -> Any:
    from mobilise.core.actor import Actor, Role

    return Actor("admin", frozenset({Role.ADMIN}))


@case("POST", "/api/v1/audit/checkpoint")
def checkpoint(env: Served) -> None:
    # Each checkpoint records the chain as it was at its moment: all succeed, each writes
    # its own entry, and the chain they leave verifies.
    before = audit_count(env.settings, "audit.checkpoint")
    answers = fire(env.url, [Call(env.tokens["admin"], "POST", "/api/v1/audit/checkpoint")
                             for _ in range(N)])
    assert all(a.status == 200 for a in answers), [(a.status, a.body[:200]) for a in answers]
    assert audit_count(env.settings, "audit.checkpoint") - before == N
    verdict = httpx.get(f"{env.url}/api/v1/audit/verify",
                        headers={"Authorization": f"Bearer {env.tokens['admin']}"})
    assert verdict.status_code == 200 and verdict.json()["intact"] is True, verdict.text


# --- self-service (each person acting for themselves, N times at once) -------------------

def _me(env: Served, number: str) -> str:
    return str(env.tokens[f"me{number}"])


@case("POST", "/api/v1/me/appointment")
def book_mine(env: Served) -> None:
    race(env, [Call(_me(env, "200001"), "POST", "/api/v1/me/appointment",
                    json={"site": "CE-01", "day": env.ids["me_days"][1]}) for _ in range(N)],
         "appointment.book")


@case("POST", "/api/v1/me/appointment/move")
def move_mine(env: Served) -> None:
    race(env, [Call(_me(env, "200002"), "POST", "/api/v1/me/appointment/move",
                    json={"site": "CE-01", "day": env.ids["me_days"][2]}) for _ in range(N)],
         "appointment.reschedule")


@case("POST", "/api/v1/me/appointment/cancel")
def cancel_mine(env: Served) -> None:
    race(env, [Call(_me(env, "200003"), "POST", "/api/v1/me/appointment/cancel",
                    json={"reason": "on leave"}) for _ in range(N)], "appointment.cancel")


@case("POST", "/api/v1/me/handsets/{imei}/report")
def report_mine(env: Served) -> None:
    imei = env.ids["imei_200004"]
    race(env, [Call(_me(env, "200004"), "POST", f"/api/v1/me/handsets/{imei}/report",
                    json={"kind": "lost", "reference": f"LP {i}"}) for i in range(N)],
         "handset.lose")
    # The wipe is queued once, with the one loss.
    with session_scope(env.settings) as s:
        wipes = s.scalars(select(DeviceAction).where(
            DeviceAction.handset_id == _handset_id(env.settings, imei),
            DeviceAction.kind == "wipe")).all()
        assert len(wipes) == 1


@case("POST", "/api/v1/me/adjustments")
def request_adjustment(env: Served) -> None:
    race(env, [Call(_me(env, "200001"), "POST", "/api/v1/me/adjustments",
                    json={"requested": f"request {i}"}) for i in range(N)],
         "adjustments.request")


@case("POST", "/api/v1/adjustment-requests/{request_id}/settle")
def settle_adjustment(env: Served) -> None:
    rid = env.ids["adjustment_request"]
    race(env, [Call(env.tokens["desk"], "POST", f"/api/v1/adjustment-requests/{rid}/settle",
                    json={"adjustments": f"version {i}"}) for i in range(N)],
         "adjustments.settle")


@case("POST", "/api/v1/me/policy/accept")
def accept_mine(env: Served) -> None:
    race(env, [Call(_me(env, "200005"), "POST", "/api/v1/me/policy/accept",
                    json={"imei": env.ids["imei_200005"]}) for _ in range(N)], "policy.accept")


@case("POST", "/api/v1/policy/acceptances")
def accept_at_the_desk(env: Served) -> None:
    race(env, [Call(env.tokens["desk"], "POST", "/api/v1/policy/acceptances",
                    json={"person": "100000", "imei": env.ids["imei_100000"]})
               for _ in range(N)], "policy.accept")


@case("POST", "/api/v1/policy/versions")
def publish_policy(env: Served) -> None:
    race(env, [Call(env.tokens["planner"], "POST", "/api/v1/policy/versions",
                    json={"version": "2.0", "text": f"words {i}"}) for i in range(N)],
         "policy.publish")


@case("POST", "/api/v1/me/drive/decide")
def decide_mine(env: Served) -> None:
    with session_scope(env.settings) as s:
        mine = list(s.scalars(select(ReviewItem.id).where(
            ReviewItem.person == "200001", ReviewItem.status == "pending")))
    assert mine
    race(env, [Call(_me(env, "200001"), "POST", "/api/v1/me/drive/decide",
                    json={"ids": mine, "decision": "keep-migrate", "justification": f"j {i}"})
               for i in range(N)], "review_item.decide", changes=len(mine))


EXCLUDED: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/retention/dry-runs"):
        "starts a background dry run that records what a rule set would do, changing "
        "nothing: two requests at once rightly answer with a job each (or the running "
        "one), and two records of the same outcome are both true",
    ("POST", "/api/v1/waves/{key}/lifecycle/kfm"):
        "adds people to an Entra ID group through Graph: every request rightly tries those "
        "not yet recorded; Graph answers a second addition 400 (taken as already a member) "
        "and the row records the membership once, under its lock: tests/migration/"
        "test_after.py::test_people_whose_cutover_is_complete_join_the_kfm_group_once",
    ("POST", "/api/v1/audit/verify"):
        "verifies the chain against a checkpoint the caller sends: it reads and writes "
        "nothing (tests/core/test_audit_key.py verifies while others write)",
    ("POST", "/api/v1/handsets/stocktakes"):
        "records a count of a site as it was found: two counts sent at once are two "
        "stocktakes, both true (no state moves and no rule allows only one)",
    ("POST", "/api/v1/rollout/stock"):
        "records an expected delivery: two identical deliveries may both be expected, and "
        "no rule makes them one (an idempotent create with its own payload)",
    ("POST", "/api/v1/handsets/actions/send"):
        "starts a background job (202) that sends the queued Intune actions: every request "
        "rightly answers 202; what must happen once (each action sent to Intune once, "
        "its row locked before the request) is tested against the Graph emulator in "
        "tests/devices/test_intune.py::test_two_senders_at_once_send_each_action_once",
    ("POST", "/api/v1/handsets/intune-sync"):
        "reconciles the whole register with Intune: every request rightly does the whole "
        "reconciliation; what must not happen twice (a change of a handset recorded, an "
        "action recorded done) is decided under the row's lock (devices.intune, "
        "devices.actions). Not raced here: it needs the Graph emulator",
}


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_concurrent_requests_have_one_winner(served: Served, route: tuple[str, str]) -> None:
    CASES[route](served)


def test_every_state_changing_route_has_a_case(sqlite_settings: Settings) -> None:
    changing = {(method, r.path) for r in all_routes(create_app(sqlite_settings))
                for method in (r.methods or set()) if r.path.startswith("/api/v1")
                and method in {"POST", "PUT", "PATCH", "DELETE"}}
    missing = sorted(changing - set(CASES) - set(EXCLUDED))
    assert not missing, f"state-changing routes without a concurrency case: {missing}"
    assert not (set(CASES) | set(EXCLUDED)) - changing, "cases for routes that do not exist"


def test_two_identical_wave_forms_make_one_wave(served: Served) -> None:
    """The waves page's create form (not an /api/v1 route, so not a case above): the same
    form sent N times at once makes one wave; every other answer is the form again with
    the refusal (409)."""
    form = urlencode({"name": "Form-race", "people": " ".join(served.ids["people"][14:16]),
                      "delta_rounds": "1"}).encode()
    before = audit_count(served.settings, "migration_wave.create")
    answers = fire(served.url, [Call(served.tokens["migration"], "POST", "/waves",
                                     content=form, headers={
                                         "content-type": "application/x-www-form-urlencoded"})
                                for _ in range(N)])
    assert sorted(a.status for a in answers) == [303] + [409] * (N - 1), \
        [(a.status, a.body[:200]) for a in answers]
    assert all("The wave was not created" in a.body for a in answers if a.status == 409)
    assert audit_count(served.settings, "migration_wave.create") - before == 1
