"""Dry runs over the whole estate and the difference between two rule set versions.

Nothing here changes anything: a dry run evaluates the inventory and totals it in one pass
into a small DuckDB temporary table; the operational database never holds a row per file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.audit import AuditEntry
from mobilise.core.words import size_text
from mobilise.retention.evaluate import Estate, Hold, evaluate, evaluate_totals
from mobilise.retention.rules import RuleSet

GROUPINGS = ("action", "rule", "org_unit", "person")


@dataclass
class DryRun:
    rule_set: str
    version: int
    content_hash: str
    as_of: date
    files: int
    bytes: int
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_set": self.rule_set, "version": self.version,
            "content_hash": self.content_hash, "as_of": self.as_of.isoformat(),
            "files": self.files, "bytes": self.bytes, **self.tables,
        }


def _group(estate: Estate, table: str, column: str) -> list[dict[str, Any]]:
    """Files and bytes per (column, action); ``due_*`` counts what is eligible by the
    evaluation date. Reads the totals table (a row per person and rule at most)."""
    keys = "action" if column == "action" else f"{column}, action"
    rows = estate.con.execute(
        f"SELECT {keys}, CAST(sum(files) AS BIGINT) AS files, "
        "CAST(coalesce(sum(bytes), 0) AS BIGINT) AS bytes, "
        "CAST(coalesce(sum(files) FILTER (WHERE due), 0) AS BIGINT) AS due_files, "
        "CAST(coalesce(sum(bytes) FILTER (WHERE due), 0) AS BIGINT) AS due_bytes "
        f"FROM {table} GROUP BY {keys} ORDER BY bytes DESC, {keys}"
    )
    names = [d[0] for d in rows.description]
    return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]


def dry_run(
    estate: Estate,
    rule_set: RuleSet,
    as_of: date,
    holds: Sequence[Hold] = (),
    *,
    groupings: Sequence[str] = GROUPINGS,
    table: str = "decision_totals",
) -> DryRun:
    """What the rule set would do to every file: files and bytes per action, rule, org
    unit and person. The inventory is read once: evaluation and totals are one pass, and
    the groupings are sums over its totals (left in ``table`` for further queries)."""
    for column in groupings:
        if column not in GROUPINGS:
            raise ValueError(column)
    evaluate_totals(estate, rule_set, as_of, holds, table=table)
    total = estate.con.execute(
        f"SELECT CAST(coalesce(sum(files), 0) AS BIGINT), "
        f"CAST(coalesce(sum(bytes), 0) AS BIGINT) FROM {table}").fetchone()
    assert total is not None
    result = DryRun(rule_set.name, rule_set.version, rule_set.content_hash, as_of,
                    int(total[0]), int(total[1]))
    for column in groupings:
        result.tables[f"by_{column}"] = _group(estate, table, column)
    return result


RECORD_ACTION = "retention.dry_run"
# What a recorded dry run keeps: a few rows each (per person would be a row per person,
# tens of thousands at full size; the CLI and the API still total per person on request).
RECORDED_GROUPINGS = ("action", "rule", "org_unit")
# How many recorded dry runs of a rule set are looked through for one of its versions.
RECORDED_LOOKBACK = 200


# What a recorded dry run evaluated: every scanned drive (the pages' estate), or
# inventory files named on the command line.
SCANNED, INVENTORY = "scanned drives", "inventory files"


def record(session: Session, actor: Actor, result: DryRun, *, estate: str = INVENTORY) -> None:
    """Keep the outcome per action, rule and org unit in the audit log, so the overview
    and the dry-run page show the latest dry run without evaluating the estate again
    (seconds at 2,000 people, minutes at full size)."""
    audit.event(session, actor, RECORD_ACTION, "retention_rule_set", result.rule_set,
                {"rule_set": result.rule_set, "version": result.version,
                 "content_hash": result.content_hash, "estate": estate,
                 "as_of": result.as_of.isoformat(), "files": result.files,
                 "bytes": result.bytes,
                 **{f"by_{c}": result.tables.get(f"by_{c}", []) for c in RECORDED_GROUPINGS}})


def latest_recorded(session: Session) -> dict[str, Any] | None:
    """The latest recorded dry run with when it ran, or None if none has been run."""
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == RECORD_ACTION)
                           .order_by(AuditEntry.seq.desc()).limit(1))
    if entry is None or entry.after is None:
        return None
    return {**entry.after, "ran_at": entry.at}


@dataclass
class Recorded:
    """A dry run as recorded: its result (the kept groupings) and when and by whom."""

    result: DryRun
    ran_at: datetime
    actor: str


def recorded(session: Session, name: str, version: int, content_hash: str) -> Recorded | None:
    """The latest recorded dry run over the scanned drives of rule set ``name`` version
    ``version`` with that content (a rule file of the same name and version run from the
    command line, over other inventories, is not it), or None."""
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == RECORD_ACTION,
                                 AuditEntry.entity_id == name)
        .order_by(AuditEntry.seq.desc()).limit(RECORDED_LOOKBACK))
    for entry in entries:
        data = entry.after or {}
        if (data.get("version"), data.get("content_hash"), data.get("estate")) != \
                (version, content_hash, SCANNED):
            continue
        result = DryRun(name, version, str(data.get("content_hash", "")),
                        date.fromisoformat(data["as_of"]), int(data["files"]),
                        int(data["bytes"]))
        result.tables = {f"by_{c}": list(data.get(f"by_{c}", [])) for c in RECORDED_GROUPINGS}
        return Recorded(result, entry.at, entry.actor)
    return None


@dataclass
class ActionChange:
    action: str
    files: int  # net change, new minus old
    bytes: int
    gained_files: int  # files that move into this action
    gained_bytes: int
    main_rule: str | None  # the rule through which most gained files arrive
    main_rule_files: int

    def sentence(self, version: int) -> str:
        verb = {"dispose": "disposes", "review": "reviews", "migrate": "migrates",
                "archive": "archives", "hold": "holds"}.get(self.action, self.action)
        more = "more" if self.files >= 0 else "fewer"
        text = f"v{version} {verb} {count_text(abs(self.files))} {more} files, " \
               f"{bytes_text(abs(self.bytes))}"
        if self.main_rule is not None and self.gained_files:
            text += f", mostly through rule {self.main_rule}"
        return text


@dataclass
class Diff:
    old: tuple[str, int]
    new: tuple[str, int]
    changed_files: int
    changes: list[ActionChange]
    transitions: list[dict[str, Any]]  # (old action, new action) -> files, bytes

    def sentences(self) -> list[str]:
        return [c.sentence(self.new[1]) for c in self.changes if c.files or c.gained_files]

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": {"rule_set": self.old[0], "version": self.old[1]},
            "new": {"rule_set": self.new[0], "version": self.new[1]},
            "changed_files": self.changed_files,
            "summary": self.sentences(),
            "changes": [c.__dict__ for c in self.changes],
            "transitions": self.transitions,
        }


def diff(
    estate: Estate, old: RuleSet, new: RuleSet, as_of: date, holds: Sequence[Hold] = ()
) -> Diff:
    """What changes between two versions, file by file, summed per action."""
    evaluate(estate, old, as_of, holds, table="decisions_old")
    evaluate(estate, new, as_of, holds, table="decisions_new")
    con = estate.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE decision_changes AS SELECT n.person, n.path, n.size, "
        "o.action AS old_action, o.rule AS old_rule, n.action AS new_action, n.rule AS new_rule "
        "FROM decisions_new n JOIN decisions_old o ON o.person = n.person AND o.path = n.path "
        "WHERE o.action <> n.action OR o.rule <> n.rule"
    )
    cursor = con.execute(
        "SELECT old_action, new_action, count(*) AS files, sum(size) AS bytes "
        "FROM decision_changes WHERE old_action <> new_action GROUP BY ALL ORDER BY files DESC"
    )
    names = [d[0] for d in cursor.description]
    transitions = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    changed = con.execute("SELECT count(*) FROM decision_changes").fetchone()
    return Diff((old.name, old.version), (new.name, new.version),
                int(changed[0]) if changed else 0, _action_changes(estate), transitions)


def _action_changes(estate: Estate) -> list[ActionChange]:
    rows = estate.con.execute(
        "WITH gained AS (SELECT new_action AS action, count(*) AS files, sum(size) AS bytes "
        "  FROM decision_changes WHERE old_action <> new_action GROUP BY ALL), "
        "lost AS (SELECT old_action AS action, count(*) AS files, sum(size) AS bytes "
        "  FROM decision_changes WHERE old_action <> new_action GROUP BY ALL), "
        "via AS (SELECT new_action AS action, new_rule, count(*) AS files, "
        "  row_number() OVER (PARTITION BY new_action ORDER BY count(*) DESC, new_rule) AS n "
        "  FROM decision_changes WHERE old_action <> new_action GROUP BY new_action, new_rule) "
        "SELECT coalesce(g.action, l.action) AS action, "
        "coalesce(g.files, 0) - coalesce(l.files, 0), coalesce(g.bytes, 0) - coalesce(l.bytes, 0), "
        "coalesce(g.files, 0), coalesce(g.bytes, 0), v.new_rule, coalesce(v.files, 0) "
        "FROM gained g FULL JOIN lost l ON g.action = l.action "
        "LEFT JOIN via v ON v.action = coalesce(g.action, l.action) AND v.n = 1 "
        "ORDER BY abs(coalesce(g.files, 0) - coalesce(l.files, 0)) DESC, 1"
    ).fetchall()
    return [ActionChange(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5], int(r[6]))
            for r in rows]


def count_text(n: int) -> str:
    for limit, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= limit:
            return f"{n / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return str(n)


def bytes_text(n: int) -> str:
    return size_text(n)


DIFF_ACTION = "retention.diff"
# A version as a recorded comparison names it: name, number and content hash.
VersionKey = tuple[str, int, str]


def record_diff(session: Session, actor: Actor, result: Diff, old: VersionKey,
                new: VersionKey) -> None:
    """Keep a comparison of the scanned drives under two versions in the audit log (a
    few rows: per action and per change of action), so the comparison page shows it
    without evaluating the estate twice again."""
    audit.event(session, actor, DIFF_ACTION, "retention_rule_set", new[0],
                {**result.as_dict(), "old_hash": old[2], "new_hash": new[2],
                 "estate": SCANNED})


@dataclass
class RecordedDiff:
    result: Diff
    ran_at: datetime
    actor: str


def recorded_diff(session: Session, old: VersionKey, new: VersionKey) -> RecordedDiff | None:
    """The latest recorded comparison of ``old`` with ``new`` (by content), or None."""
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == DIFF_ACTION,
                                 AuditEntry.entity_id == new[0])
        .order_by(AuditEntry.seq.desc()).limit(RECORDED_LOOKBACK))
    for entry in entries:
        data = entry.after or {}
        if ((data["old"]["rule_set"], data["old"]["version"], data.get("old_hash")) != old
                or (data["new"]["rule_set"], data["new"]["version"], data.get("new_hash"))
                != new):
            continue
        result = Diff(old[:2], new[:2], int(data["changed_files"]),
                      [ActionChange(**c) for c in data["changes"]], list(data["transitions"]))
        return RecordedDiff(result, entry.at, entry.actor)
    return None
