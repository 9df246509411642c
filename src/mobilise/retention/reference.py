"""A straightforward per-row Python evaluation of a rule set: the executable statement of
the precedence principles, written to be read, not to be fast.

The property tests check the DuckDB evaluation against it on random rule sets and files,
and the benchmark times it as the anchor. It shares only the parsed rule set and the glob
translation with ``evaluate``; everything else (matching, dates, ordering) is separate.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from mobilise.retention.evaluate import UNCLASSIFIED, Hold, glob_to_regex
from mobilise.retention.rules import (
    CountsFrom,
    Duplicate,
    Folder,
    Rule,
    RuleSet,
    Selector,
)


@dataclass(frozen=True)
class ReferenceDecision:
    person: str
    path: str
    rule: str
    rule_action: str
    action: str
    eligible_since: date | None
    held_by: str | None


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_to_regex(pattern.lower()), re.DOTALL)


def _day(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


def _in_folders(row: dict[str, Any], folders: Sequence[Folder]) -> bool:
    for folder in folders:
        if row["person"] != folder.person:
            continue
        prefix = folder.path.lower()
        if prefix == "" or row["path"].lower().startswith(prefix + "/"):
            return True
    return False


def _before(value: Any, bound: date) -> bool:
    if value is None:
        return False
    if isinstance(value, datetime):
        return value < datetime.combine(bound, datetime.min.time())
    return bool(value < bound)


def _after(value: Any, bound: date) -> bool:
    if value is None:
        return False
    if isinstance(value, datetime):
        return value >= datetime.combine(bound, datetime.min.time())
    return bool(value >= bound)


def selects(s: Selector, row: dict[str, Any], as_of: date, has_content_key: bool) -> bool:
    if s.paths and not any(_glob(g).fullmatch(row["path"].lower()) for g in s.paths):
        return False
    if s.names and not any(_glob(g).fullmatch(row["name"].lower()) for g in s.names):
        return False
    if s.extensions and row["extension"] not in s.extensions:
        return False
    if s.size_min is not None and not row["size"] >= s.size_min:
        return False
    if s.size_max is not None and not row["size"] <= s.size_max:
        return False
    for column in ("created", "modified", "accessed", "left_on"):
        prefix = "left" if column == "left_on" else column
        before = getattr(s, f"{prefix}_before")
        after = getattr(s, f"{prefix}_after")
        if before is not None and not _before(row.get(column), before.resolve(as_of)):
            return False
        if after is not None and not _after(row.get(column), after.resolve(as_of)):
            return False
    if s.org_units and row.get("org_unit") not in s.org_units:
        return False
    if s.status is not None and row.get("status") != s.status.value:
        return False
    if s.duplicate is Duplicate.CONTENT and not (has_content_key and row["dup_content"]):
        return False
    if s.duplicate is Duplicate.NAME_SIZE and not row["dup_name_size"]:
        return False
    if not (s.people or s.folders):
        return True
    return row["person"] in s.people or _in_folders(row, s.folders)


def rule_selects(rule: Rule, row: dict[str, Any], as_of: date, has_content_key: bool) -> bool:
    if rule.explicit and not (
        row["person"] in rule.explicit_people or _in_folders(row, rule.explicit_folders)
    ):
        return False
    return selects(rule.selector, row, as_of, has_content_key)


def period_end(rule: Rule, row: dict[str, Any]) -> date | None:
    """When the rule's period ends for this file; None if forever or not started."""
    if rule.period is None:
        return None
    base = row.get("left_on") if rule.counts_from is CountsFrom.LEAVER else row.get(
        rule.counts_from.value
    )
    day = _day(base)
    return None if day is None else rule.period.after(day)


def precedence(rule: Rule, position: int, row: dict[str, Any]) -> tuple[Any, ...]:
    """Smaller wins, principle by principle, in the order the reference document states."""
    end = period_end(rule, row)
    if rule.action.retains:
        # Longest retention: forever (or not yet started) first, then the later end.
        retention = (0, 0) if end is None else (1, -end.toordinal())
        return (0, retention, 0 if rule.explicit else 1, 0, position)
    deletion = end.toordinal() if end is not None else 10**9
    return (1, (0, 0), 0 if rule.explicit else 1, deletion, position)


def mark_duplicates(rows: list[dict[str, Any]], has_content_key: bool) -> None:
    """Every copy but the first created (then first by path) in one drive is a duplicate."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        row["dup_content"] = False
        row["dup_name_size"] = False
        groups[("ns", row["person"], row["name"].lower(), row["size"])].append(row)
        if has_content_key and row.get("content_key") is not None:
            groups[("ck", row["person"], row["content_key"])].append(row)
    for key, members in groups.items():
        members.sort(key=lambda r: (r["created"] is None, r["created"] or 0, r["path"]))
        flag = "dup_name_size" if key[0] == "ns" else "dup_content"
        for member in members[1:]:
            member[flag] = True


def decide(
    rule_set: RuleSet,
    row: dict[str, Any],
    as_of: date,
    holds: Sequence[Hold] = (),
    has_content_key: bool = False,
) -> ReferenceDecision:
    candidates = [
        (precedence(rule, i, row), rule)
        for i, rule in enumerate(rule_set.rules)
        if rule_selects(rule, row, as_of, has_content_key)
    ]
    held_by = next((h.id for h in holds if _holds(h, row, as_of, has_content_key)), None)
    if candidates:
        winner = min(candidates, key=lambda c: c[0])[1]
    elif rule_set.default is not None:
        winner = rule_set.default
    else:
        action = "hold" if held_by else "review"
        return ReferenceDecision(
            row["person"], row["path"], UNCLASSIFIED, "review", action, as_of, held_by
        )
    return ReferenceDecision(
        row["person"],
        row["path"],
        winner.id,
        winner.action.value,
        "hold" if held_by else winner.action.value,
        period_end(winner, row),
        held_by,
    )


def _holds(hold: Hold, row: dict[str, Any], as_of: date, has_content_key: bool) -> bool:
    if row["person"] in hold.people or _in_folders(row, hold.folders):
        return True
    return hold.selector is not None and selects(hold.selector, row, as_of, has_content_key)


def evaluate_rows(
    rule_set: RuleSet,
    rows: list[dict[str, Any]],
    as_of: date,
    holds: Sequence[Hold] = (),
    people: dict[str, dict[str, Any]] | None = None,
    has_content_key: bool = False,
) -> list[ReferenceDecision]:
    """Evaluate file rows (inventory columns; people attributes joined from ``people``)."""
    files = [dict(r) for r in rows if r["kind"] == "file"]
    for row in files:
        attributes = (people or {}).get(row["person"], {})
        row["org_unit"] = attributes.get("org_unit")
        row["status"] = attributes.get("status")
        row["left_on"] = attributes.get("left_on")
    mark_duplicates(files, has_content_key)
    return [decide(rule_set, row, as_of, holds, has_content_key) for row in files]
