"""Dry runs started from a web request: the request gets the job at once and the dry run
of every scanned drive runs in the background (seconds at 2,000 people, minutes for a
force), recording its outcome for the dry-run page, the API and the overview."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from mobilise.core.actor import Actor
from mobilise.core.jobs import job_row, recent_jobs
from mobilise.core.progress import Job, JobProgress
from mobilise.core.words import size_text
from mobilise.retention import rule_sets
from mobilise.retention.models import RuleSetVersion
from mobilise.retention.scanned import record_scanned_dry_run
from mobilise.workers.background import WorkFailed, start_job

DRY_RUN_JOB = "retention-dry-run"


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
