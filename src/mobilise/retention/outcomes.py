"""What the rule set in force decides for one person's files, for their readiness report:
files and bytes per action and per rule, and the files that go to review or to disposal.

The same evaluation as the dry run and the migration (DuckDB over the person's latest
inventory, holds in force applied), restricted to one drive; nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from mobilise.people.models import Person
from mobilise.retention import rule_sets
from mobilise.retention.evaluate import Sql, evaluate
from mobilise.retention.holds import holds_in_force
from mobilise.retention.scanned import active_rule_set, scanned_estate

LISTED = 1000  # files listed per action; the totals count them all
FILE_COLUMNS = ["path", "size", "rule", "action", "eligible_since", "held_by"]


@dataclass
class RetentionOutcome:
    rule_set: str | None
    version: int | None
    as_of: date
    note: str | None = None
    by_action: list[dict[str, Any]] = field(default_factory=list)
    by_rule: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    dispose: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rule_set": self.rule_set, "version": self.version,
                "as_of": self.as_of.isoformat(), "note": self.note,
                "by_action": self.by_action, "by_rule": self.by_rule,
                "review": self.review, "dispose": self.dispose}

    def count(self, action: str) -> int:
        return sum(int(r["files"]) for r in self.by_action if r["action"] == action)


def person_outcomes(session: Session, person: Person, as_of: date, *,
                    listed: int = LISTED) -> RetentionOutcome:
    """The active rule set's decisions on ``person``'s latest scanned drive."""
    row = active_rule_set(session)
    if row is None:
        return RetentionOutcome(None, None, as_of, note=(
            "no retention rule set is active: every file migrates"))
    outcome = RetentionOutcome(row.name, row.version, as_of)
    scanned = scanned_estate(session, [person.id])
    if scanned is None:
        outcome.note = "the drive has not been scanned yet"
        return outcome
    con = scanned.estate.con
    evaluate(scanned.estate, rule_sets.parsed(row), as_of, holds_in_force(session),
             table="person_decisions", where=Sql("i.person = ?", [person.number]))
    outcome.by_action = _rows(con.execute(
        "SELECT action, count(*) AS files, coalesce(sum(size), 0) AS bytes "
        "FROM person_decisions GROUP BY action ORDER BY files DESC, action"))
    outcome.by_rule = _rows(con.execute(
        "SELECT rule, action, count(*) AS files, coalesce(sum(size), 0) AS bytes "
        "FROM person_decisions GROUP BY rule, action ORDER BY files DESC, rule, action"))
    for action in ("review", "dispose"):
        setattr(outcome, action, _rows(con.execute(
            f"SELECT {', '.join(FILE_COLUMNS)} FROM person_decisions WHERE action = ? "
            "ORDER BY path LIMIT ?", [action, listed])))
    return outcome


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
