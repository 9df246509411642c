"""The retention work that reads every scanned drive, started in the background: queueing
files for review and proposing a disposal batch (5.7 s and 5.8 s over the 2,000-person
demo), dry runs and comparisons of two versions (seconds at 2,000 people, minutes for a
force). The API and the pages answer at once with the job, whose progress the jobs page
and the page that started it show as it runs; dry runs and comparisons record their
outcome for the pages, the API and the overview."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from mobilise.core.actor import Actor
from mobilise.core.jobs import running_jobs
from mobilise.core.progress import Job, JobProgress
from mobilise.core.settings import Settings
from mobilise.core.words import size_text
from mobilise.retention import rule_sets
from mobilise.retention.models import RuleSetVersion
from mobilise.retention.scanned import (
    propose_scanned,
    record_scanned_diff,
    record_scanned_dry_run,
)
from mobilise.workers.background import WorkFailed, start_job

QUEUE_KIND = "review-queue"
PROPOSAL_KIND = "disposal-proposal"


def _scope(rule: str | None, person: str | None, people: Sequence[str] | None,
           whose: str | None) -> str:
    """What the work covers, in words, for the job's description."""
    parts = [f"rule {rule}" if rule else "", f"person {person}" if person else "",
             (whose or f"{len(people)} people") if people is not None else ""]
    return "".join(f", {p}" for p in parts if p)


def start_queueing(sessions: sessionmaker[Session], actor: Actor, settings: Settings,
                   version: RuleSetVersion, as_of: date, *, rule: str | None = None,
                   person: str | None = None, people: Sequence[str] | None = None,
                   whose: str | None = None) -> Job:
    """Queue for review, in the background, each scanned file ``version`` sends to review
    and is due, each person's with their deadline; the job's stats say how many were
    queued (``queued``)."""
    from mobilise.migration.review_load import queue_for_review

    name, number = version.name, version.version
    chosen = list(people) if people is not None else None

    def work(s: Session, progress: JobProgress) -> str:
        queued = queue_for_review(s, actor, settings, rule_sets.get_version(s, name, number),
                                  as_of, rule=rule, person=person, people=chosen)
        progress.note(queued=queued)
        return f"queued {queued} review item(s)"

    return start_job(sessions, QUEUE_KIND,
                     f"review queue: {name} v{number}{_scope(rule, person, chosen, whose)}",
                     work, stats={"rule_set": name, "version": number})


def start_proposal(sessions: sessionmaker[Session], actor: Actor, settings: Settings,
                   version: RuleSetVersion, as_of: date, *, rule: str | None = None,
                   person: str | None = None, people: Sequence[str] | None = None,
                   whose: str | None = None) -> Job:
    """Propose, in the background, a batch of every scanned file due for disposal; the
    job's stats name the batch (``batch``) and its number of ``files``."""
    name, number = version.name, version.version
    chosen = list(people) if people is not None else None

    def work(s: Session, progress: JobProgress) -> str:
        batch = propose_scanned(s, actor, settings, rule_sets.get_version(s, name, number),
                                as_of, rule=rule, person=person, people=chosen)
        progress.note(batch=batch.id, files=len(batch.items))
        return f"disposal batch {batch.id} proposed: {len(batch.items)} file(s)"

    return start_job(sessions, PROPOSAL_KIND,
                     f"disposal proposal: {name} v{number}"
                     f"{_scope(rule, person, chosen, whose)}",
                     work, stats={"rule_set": name, "version": number})


# --------------------------------------------------------------------------- dry runs

DRY_RUN_JOB = "retention-dry-run"
DIFF_JOB = "retention-diff"


def running_dry_runs(session: Session, version: RuleSetVersion) -> list[Job]:
    """Dry runs of ``version`` running now (not stalled: their process is alive)."""
    return running_jobs(session, DRY_RUN_JOB, rule_set=version.name, version=version.version)


def start_dry_run(sessions: sessionmaker[Session], session: Session, actor: Actor,
                  version: RuleSetVersion, as_of: date) -> Job:
    """Start a recorded dry run of ``version`` in the background, or return the one
    already running for it (a second would only record the same outcome again)."""
    running = running_dry_runs(session, version)
    if running:
        return running[0]
    name, number = version.name, version.version

    def work(s: Session, progress: JobProgress) -> str:
        done = record_scanned_dry_run(s, actor, rule_sets.get_version(s, name, number),
                                      as_of, progress)
        if done is None:
            raise WorkFailed("no drive has been scanned yet: scan drives with "
                             "mobilise drives scan")
        return f"dry run of {name} v{number}: {done.files:,} files, {size_text(done.bytes)}"

    return start_job(sessions, DRY_RUN_JOB, f"dry run: {name} v{number}", work,
                     stats={"rule_set": name, "version": number})


def _ref(version: RuleSetVersion) -> str:
    return f"{version.name}@{version.version}"


def running_diffs(session: Session, old: RuleSetVersion, new: RuleSetVersion) -> list[Job]:
    """Comparisons of ``old`` with ``new`` running now (not stalled)."""
    return running_jobs(session, DIFF_JOB, old=_ref(old), new=_ref(new))


def start_diff(sessions: sessionmaker[Session], session: Session, actor: Actor,
               old: RuleSetVersion, new: RuleSetVersion, as_of: date) -> Job:
    """Start a recorded comparison of two versions in the background, or return the one
    already running for them."""
    running = running_diffs(session, old, new)
    if running:
        return running[0]
    # Plain values: the rows belong to the request's session, gone when the work runs.
    (on, ov), (nn, nv) = (old.name, old.version), (new.name, new.version)
    old_ref, new_ref = _ref(old), _ref(new)

    def work(s: Session, progress: JobProgress) -> str:
        done = record_scanned_diff(s, actor, rule_sets.get_version(s, on, ov),
                                   rule_sets.get_version(s, nn, nv), as_of, progress)
        if done is None:
            raise WorkFailed("no drive has been scanned yet: scan drives with "
                             "mobilise drives scan")
        return f"{old_ref} against {new_ref}: {done.changed_files:,} file(s) change"

    return start_job(sessions, DIFF_JOB, f"compare {old_ref} with {new_ref}", work,
                     stats={"old": old_ref, "new": new_ref})
