"""Dry runs and comparisons of two versions started from a web request: the request gets
the job at once and the evaluation of every scanned drive runs in the background (seconds
at 2,000 people, minutes for a force), recording its outcome for the pages, the API and
the overview."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from mobilise.core.actor import Actor
from mobilise.core.jobs import job_row, recent_jobs
from mobilise.core.progress import Job, JobProgress
from mobilise.core.words import size_text
from mobilise.retention import rule_sets
from mobilise.retention.models import RuleSetVersion
from mobilise.retention.scanned import record_scanned_diff, record_scanned_dry_run
from mobilise.workers.background import WorkFailed, start_job

DRY_RUN_JOB = "retention-dry-run"
DIFF_JOB = "retention-diff"


def running_dry_runs(session: Session, version: RuleSetVersion) -> list[Job]:
    """Dry runs of ``version`` running now (not stalled: their process is alive)."""
    return [j for j in recent_jobs(session, kind=DRY_RUN_JOB, active=True)
            if job_row(j)["status"] == "running"
            and (j.stats or {}).get("rule_set") == version.name
            and (j.stats or {}).get("version") == version.version]


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
    return [j for j in recent_jobs(session, kind=DIFF_JOB, active=True)
            if job_row(j)["status"] == "running"
            and (j.stats or {}).get("old") == _ref(old)
            and (j.stats or {}).get("new") == _ref(new)]


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
