"""Migration reports, for the CLI, the API and the pages alike: per person (what moved,
what was skipped, renamed old → new, not moved and why, failed and the error), per wave,
and the SPMT-style ``SummaryReport.csv`` and ``FailureSummary.csv``."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.settings import Settings
from mobilise.migration.journal import Record, journal_path, read_journal
from mobilise.migration.models import MigrationWave, PersonMigration
from mobilise.migration.review_load import load_of
from mobilise.migration.rounds import destination_spec, source_spec
from mobilise.migration.waves import wave_people
from mobilise.people.models import Person

MOVED = frozenset({"copied", "skipped", "verified"})
PERSON_COLUMNS = ("path", "destination", "outcome", "reason", "size", "round")
WAVE_COLUMNS = ("number", "name", "state", "reason", "copied", "skipped", "failed",
                "source_changed", "waiting", "not_moved", "destination_newer",
                "bytes_copied", "throttle_events", "last_round")
SUMMARY_COLUMNS = ("Source", "Destination", "Status", "Total scanned items",
                   "Items to be migrated", "Migrated items", "Migrated bytes",
                   "Skipped items", "Failed items", "Waiting items", "Not moved items",
                   "Renamed items", "Message")
FAILURE_COLUMNS = ("Source", "Destination", "Item name", "Extension", "Item size (bytes)",
                   "Status", "Result category", "Message")


@dataclass
class PersonReport:
    number: str
    files: dict[str, tuple[Record, str]] = field(default_factory=dict)  # path → (last, round)

    def rows(self) -> list[dict[str, Any]]:
        return [{"path": r.path, "destination": r.dest, "outcome": r.outcome,
                 "reason": r.reason, "size": r.size, "round": round_}
                for r, round_ in (self.files[p] for p in sorted(self.files))]

    def count(self, *outcomes: str) -> int:
        return sum(1 for r, _ in self.files.values() if r.outcome in outcomes)

    @property
    def renamed(self) -> list[tuple[str, str]]:
        return sorted((r.path, r.dest) for r, _ in self.files.values()
                      if r.dest and r.dest != r.path and r.outcome in MOVED)

    @property
    def not_moved(self) -> list[Record]:
        return [r for r, _ in self.files.values() if r.outcome not in MOVED]

    def summary(self) -> dict[str, int]:
        return {"moved": self.count(*MOVED), "skipped": self.count("skipped"),
                "renamed": len(self.renamed),
                "not_moved": self.count("not_moved", "waiting", "destination_newer",
                                        "source_changed"),
                "failed": self.count("failed"),
                "moved_bytes": sum(r.size or 0 for r, _ in self.files.values()
                                   if r.outcome in MOVED)}


def person_report(settings: Settings, number: str) -> PersonReport:
    """Each file's latest outcome over the person's rounds (journals in round order)."""
    report = PersonReport(number)
    folder = journal_path(settings.data_dir, number, "x").parent
    if not folder.exists():
        return report
    for path in sorted(folder.glob("*.jsonl")):
        round_name = path.stem
        for record in read_journal(path):
            report.files[record.path] = (record, round_name)
    return report


def wave_rows(session: Session, wave: MigrationWave) -> list[dict[str, Any]]:
    rows = []
    for member in wave_people(session, wave):
        counts = member.counts or {}
        rows.append({
            "number": member.person.number, "name": member.person.display_name,
            "state": member.state, "reason": member.reason,
            **{k: counts.get(k, 0) for k in WAVE_COLUMNS[4:-1]},
            "last_round": member.last_round,
        })
    return rows


def person_migrations(session: Session, person: Person) -> list[dict[str, Any]]:
    """The person's place in each wave: its state and, when failed, why."""
    found = session.scalars(select(PersonMigration).where(PersonMigration.person_id == person.id)
                            .order_by(PersonMigration.id)).all()
    return [{"wave_id": m.wave_id, "wave": m.wave.name, "state": m.state, "reason": m.reason,
             "last_round": m.last_round} for m in found]


def wave_summary(session: Session, wave: MigrationWave) -> dict[str, Any]:
    states: dict[str, int] = {}
    for member in wave_people(session, wave):
        states[member.state] = states.get(member.state, 0) + 1
    return {"id": wave.id, "name": wave.name, "description": wave.description,
            "people": sum(states.values()), "states": states, "selection": wave.selection,
            "rounds": [round_row(r) for r in wave.rounds],
            "review": load_of(session, wave.id)}


def round_row(round_: Any) -> dict[str, Any]:
    summary = round_.summary or {}
    seconds = (round_.finished_at - round_.started_at).total_seconds() \
        if round_.finished_at and round_.started_at else 0
    return {"number": round_.number, "kind": round_.kind, "status": round_.status,
            "scheduled_for": round_.scheduled_for, "started_at": round_.started_at,
            "finished_at": round_.finished_at, "reason": round_.reason,
            "copied": summary.get("copied", 0),
            "bytes_copied": summary.get("bytes_copied", 0),
            "throttle_events": summary.get("throttle_events", 0),
            "mb_per_s": round(summary.get("bytes_copied", 0) / seconds / 1e6, 2)
            if seconds else None}


def _location(spec: dict[str, Any], person: Person) -> str:
    return str(spec.get("root") or f"{spec['kind']}:{person.upn}")


def summary_report(session: Session, settings: Settings,
                   wave: MigrationWave) -> list[dict[str, Any]]:
    """One row per person, in the shape of SPMT's SummaryReport.csv."""
    rows = []
    for member in wave_people(session, wave):
        person = member.person
        report = person_report(settings, person.number)
        s = report.summary()
        rows.append({
            "Source": _location(source_spec(settings, person), person),
            "Destination": _location(_destination(settings, person), person),
            "Status": member.state, "Total scanned items": len(report.files),
            "Items to be migrated": s["moved"] + s["failed"] + report.count("source_changed"),
            "Migrated items": s["moved"], "Migrated bytes": s["moved_bytes"],
            "Skipped items": s["skipped"], "Failed items": s["failed"],
            "Waiting items": report.count("waiting"),
            "Not moved items": report.count("not_moved", "destination_newer"),
            "Renamed items": s["renamed"], "Message": member.reason or "",
        })
    return rows


def _destination(settings: Settings, person: Person) -> dict[str, Any]:
    if settings.migration_destination == "local":
        return {"kind": "local",
                "root": str(Path(settings.migration_destination_root) / person.upn)}
    return destination_spec(settings, person)


def failure_summary(session: Session, settings: Settings,
                    wave: MigrationWave) -> list[dict[str, Any]]:
    """One row per file that did not move, in the shape of SPMT's FailureSummary.csv."""
    rows = []
    for member in wave_people(session, wave):
        person = member.person
        source = _location(source_spec(settings, person), person)
        destination = _location(_destination(settings, person), person)
        for record in sorted(person_report(settings, person.number).not_moved,
                             key=lambda r: r.path):
            rows.append({
                "Source": f"{source}/{record.path}",
                "Destination": f"{destination}/{record.dest or record.path}",
                "Item name": posixpath.basename(record.path),
                "Extension": posixpath.splitext(record.path)[1].lstrip("."),
                "Item size (bytes)": record.size or 0, "Status": record.outcome,
                "Result category": _category(record.outcome),
                "Message": record.reason or "",
            })
    return rows


def _category(outcome: str) -> str:
    return {"failed": "Failed", "source_changed": "Changed during migration",
            "waiting": "Awaiting review", "destination_newer": "Newer at destination",
            "not_moved": "Not migrated"}.get(outcome, outcome)
