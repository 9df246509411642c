"""Readiness reports: what feeds ``mobilise drives assess`` and ``report``, and the pages.

``assess_folder`` needs no database: it scans any folder into a temporary inventory,
assesses it and proposes names, for pilots and scripts. ``person_report`` does the same
from a person's latest stored inventory, and ``add_retention`` what the retention rule set
in force decides for its files. ``estate_summary`` adds up per-person readiness.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mobilise.core.clock import Clock
from mobilise.drives.assess import (
    Action,
    Assessment,
    DriveInventory,
    FindingKind,
    PersonReadiness,
    assess,
)
from mobilise.drives.remediate import MappingRow, plan_remediation, write_mapping
from mobilise.drives.scan import inventory_metadata, scan_drive
from mobilise.people.models import Person
from mobilise.retention.outcomes import FILE_COLUMNS, RetentionOutcome, person_outcomes

FINDING_COLUMNS = ["path", "kind", "action", "proposed_name", "reason"]
SUMMARY_COLUMNS = ["person_key", "upn", "files", "folders", "bytes", "fits_quota", "to_rename",
                   "cannot_move", "warnings"]


@dataclass
class ReadinessReport:
    """One drive's readiness: totals, and one finding per entry and problem."""

    person_key: str
    upn: str
    root: str
    target_folder: str
    readiness: PersonReadiness
    mapping: list[MappingRow]
    findings: list[dict[str, Any]] = field(default_factory=list)
    retention: RetentionOutcome | None = None  # what the rule set in force decides

    def as_dict(self) -> dict[str, Any]:
        r = self.readiness
        return {
            "person_key": self.person_key,
            "upn": self.upn,
            "root": self.root,
            "target_folder": self.target_folder,
            "summary": {
                "files": r.files, "folders": r.folders, "bytes": r.bytes,
                "quota_bytes": r.quota_bytes, "fits_quota": r.fits_quota, "ready": r.ready,
                "to_rename": r.to_rename, "cannot_move": r.cannot_move,
                "warnings": r.warnings, "issues": dict(sorted(r.issues.items())),
            },
            "findings": self.findings,
            **({"retention": self.retention.as_dict()} if self.retention else {}),
        }


def _report(assessment: Assessment, mapping: list[MappingRow], root: str) -> ReadinessReport:
    readiness = assessment.people[0]
    findings = []
    for row in mapping:
        for kind in row.findings:
            reason = FindingKind(kind).explanation
            if FindingKind(kind).action is not row.action and row.action is Action.WARNING:
                reason = "keeps its name; " + reason  # the first of colliding names
            findings.append({
                "path": row.path_text,
                "kind": kind,
                "action": row.action.value,
                "proposed_name": row.proposed_name,
                "reason": reason,
            })
    return ReadinessReport(readiness.person_key, readiness.upn, root,
                           assessment.target_folder, readiness, mapping, findings)


def assess_folder(path: Path, upn: str, *, clock: Clock, quota_bytes: int,
                  target_folder: str = "") -> ReadinessReport:
    """Scan ``path`` to a temporary inventory, assess it and propose names."""
    with tempfile.TemporaryDirectory(prefix="mobilise-assess-") as data:
        result = scan_drive("pilot", upn, path, Path(data), clock)
        assessment = assess([DriveInventory("pilot", upn, result.inventory)],
                            quota_bytes=quota_bytes, target_folder=target_folder)
        mapping = plan_remediation(assessment, {"pilot": result.inventory})
    return _report(assessment, mapping, str(path))


def person_report(person_key: str, upn: str, inventory: Path, *, quota_bytes: int,
                  target_folder: str = "", data_dir: Path | None = None) -> ReadinessReport:
    """A person's report from a stored inventory; with ``data_dir``, the mapping table is
    written next to the inventory as well."""
    assessment = assess([DriveInventory(person_key, upn, inventory)], quota_bytes=quota_bytes,
                        target_folder=target_folder)
    mapping = plan_remediation(assessment, {person_key: inventory})
    meta = inventory_metadata(inventory)
    if data_dir is not None:
        write_mapping(mapping, data_dir, person_key, meta.get("mobilise.scan_id", inventory.stem))
    return _report(assessment, mapping, meta.get("mobilise.root", ""))


def add_retention(report: ReadinessReport, session: Session, person: Person, as_of: date
                  ) -> ReadinessReport:
    """Add what the rule set in force decides for the person's files: files and bytes per
    action and per rule, and the files that go to review or to disposal."""
    report.retention = person_outcomes(session, person, as_of)
    return report


RETENTION_ACTION_COLUMNS = ["action", "files", "bytes"]
RETENTION_RULE_COLUMNS = ["rule", "action", "files", "bytes"]
RETENTION_FILE_COLUMNS = FILE_COLUMNS


def retention_files(report: ReadinessReport) -> list[dict[str, Any]]:
    """The files retention sends to review or to disposal, in one list."""
    if report.retention is None:
        return []
    return report.retention.review + report.retention.dispose


def estate_summary(people: Sequence[PersonReadiness],
                   org_units: dict[str, str] | None = None) -> dict[str, Any]:
    """Totals over many people: people, files, TB, issues by kind and by org unit."""
    units = org_units or {}
    by_kind: Counter[str] = Counter()
    by_unit: dict[str, Counter[str]] = {}
    for p in people:
        by_kind.update(p.issues)
        unit = by_unit.setdefault(units.get(p.person_key, "(none)"), Counter())
        unit.update({"people": 1, "files": p.files, "bytes": p.bytes,
                     "to_rename": p.to_rename, "cannot_move": p.cannot_move,
                     "ready": int(p.ready), "over_quota": int(not p.fits_quota)})
    total_bytes = sum(p.bytes for p in people)
    return {
        "people": len(people),
        "ready": sum(1 for p in people if p.ready),
        "over_quota": sum(1 for p in people if not p.fits_quota),
        "files": sum(p.files for p in people),
        "bytes": total_bytes,
        "terabytes": round(total_bytes / 1024**4, 3),
        "issues_by_kind": dict(sorted(by_kind.items())),
        "by_org_unit": {u: dict(c) for u, c in sorted(by_unit.items())},
    }


def summary_rows(people: Iterable[PersonReadiness]) -> list[dict[str, Any]]:
    return [
        {"person_key": p.person_key, "upn": p.upn, "files": p.files, "folders": p.folders,
         "bytes": p.bytes, "fits_quota": p.fits_quota, "to_rename": p.to_rename,
         "cannot_move": p.cannot_move, "warnings": p.warnings}
        for p in people
    ]
