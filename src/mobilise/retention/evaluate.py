"""Evaluating a rule set over the inventory in DuckDB, vectorised.

Inventory contract (Parquet written by ``mobilise.drives``; one row per entry)::

    person str · path str (relative, '/') · name str · extension str (lower case, no dot,
    '' if none) · size int64 · created, modified, accessed timestamp (UTC) ·
    kind 'file'|'folder'|'symlink'|'special' · depth int · content_key str (optional hash)

People table (small; joined only when a rule needs it)::

    person str · org_unit str · status 'active'|'leaver' · left_on date

Only ``kind = 'file'`` rows are evaluated. Selectors compile to SQL text that contains no
user value at all: every glob, extension, size, date, period and id is a bound parameter.

Precedence is a total order, so each rule that selects a file can be turned into one BIGINT
key, the smallest winning::

    bit 61      0 = retains (migrate/archive/review), 1 = deletes     retaining beats deleting
    bits 35-58  for retaining: NEVER - retention end (0 = forever)    longest retention wins
    bit 34      0 = explicit, 1 = implicit                            explicit beats implicit
    bits 10-33  for deleting: deletion date (NEVER if not started)    shortest deletion wins
    bits 0-9    position of the rule in the file                      a stable tie-break

Dates are days since 1970 plus DAY_OFFSET, which fits every date from year 1 to well past
year 9999 in 24 bits, so no clamping is needed (and NULL, for a date that has not happened,
propagates through the arithmetic).

Most rules beat others whatever the file (retaining beats deleting; forever beats any
period; from the same date a longer retention beats a shorter one), so evaluation is a CASE
chain over the rules in precedence order: a rule is tested only on the rows no earlier rule
selected, and ``least`` over these keys runs only between rules whose order depends on the
file (``precedence.chain``). Totals for a dry run are aggregated in the same pass.

Holds are applied after: a held file's action is ``hold`` whatever rule won. A file no rule
selects gets the rule set's ``default`` rule or, without one, ``review`` (fail safe).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb

from mobilise.retention.precedence import chain
from mobilise.retention.rules import (
    Action,
    CountsFrom,
    DateBound,
    Duplicate,
    Folder,
    Period,
    Rule,
    RuleSet,
    Selector,
)

UNCLASSIFIED = "(unclassified)"
HOLD = "hold"
DAY_OFFSET = 720_000  # days from year 1 to 1970, so every field is positive
NEVER = (1 << 24) - 1
NAME_GLOBS_PER_REGEX = 5
DELETES = 1 << 61
RETENTION_SHIFT = 35
IMPLICIT = 1 << 34
DELETION_SHIFT = 10
_EPOCH = date(1970, 1, 1)
INVENTORY_COLUMNS = (
    "person", "path", "name", "extension", "size", "created", "modified", "accessed",
    "kind", "depth",
)
PEOPLE_COLUMNS = ("person", "org_unit", "status", "left_on")


@dataclass(frozen=True)
class Hold:
    """A hold as evaluation sees it: it covers the files of these people, under these
    folders, or selected by this selector (any one suffices)."""

    id: str
    people: tuple[str, ...] = ()
    folders: tuple[Folder, ...] = ()
    selector: Selector | None = None


@dataclass
class Estate:
    """A DuckDB connection with the views ``inventory`` and (optionally) ``people``."""

    con: duckdb.DuckDBPyConnection
    has_people: bool
    has_content_key: bool

    @classmethod
    def open(
        cls,
        inventory: str | Path | Sequence[str | Path] | Any,
        people: str | Path | Any | None = None,
        *,
        threads: int | None = None,
    ) -> Estate:
        """``inventory`` and ``people``: Parquet path(s) (globs allowed) or Arrow tables.
        Parquet is read where it lies: DuckDB scans the files in parallel, nothing is
        copied into Python or into a table first."""
        con = connect(threads)
        _register(con, "inventory", inventory)
        if people is not None:
            _register(con, "people", people)
        return cls.of(con, has_people=people is not None)

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, *, has_people: bool) -> Estate:
        """An estate over a connection that already has the view ``inventory`` (and
        ``people`` if ``has_people``)."""
        columns = {row[0] for row in con.execute("DESCRIBE inventory").fetchall()}
        missing = [c for c in INVENTORY_COLUMNS if c not in columns]
        if missing:
            from mobilise.core.errors import InvalidInput

            raise InvalidInput(f"the inventory lacks column(s): {', '.join(missing)}")
        return cls(con, has_people, "content_key" in columns)


def cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the
    machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for evaluation: UTC, one thread per core (DuckDB may
    detect the host's cores rather than the ones this process is allowed)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # Decisions are keyed by (person, path), never by position: let DuckDB write them
    # in parallel, in any order.
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET threads = {int(threads or cores())}")
    return con


def _register(con: duckdb.DuckDBPyConnection, name: str, source: Any) -> None:
    if isinstance(source, (str, Path)):
        con.read_parquet(str(source)).create_view(name)
    elif isinstance(source, (list, tuple)):
        con.read_parquet([str(s) for s in source]).create_view(name)
    else:
        con.register(name, source)


# --- globs ---------------------------------------------------------------------------

_REGEX_SPECIAL = set("\\.^$|?*+()[]{}")


def _literal(text: str) -> str:
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)


def glob_to_regex(glob: str) -> str:
    """``*`` any characters but '/', ``**`` anything, ``**/`` any folders (or none),
    ``?`` one character but '/'. Valid for both RE2 (DuckDB) and Python ``re``."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(_literal(glob[i]))
            i += 1
    return "".join(out)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def glob_to_likes(glob: str) -> tuple[list[str], bool]:
    """LIKE patterns (escape ``\\``) whose union matches a superset of the glob, and
    whether that union is exact. ``**/`` (any folders or none) becomes two patterns, so
    ``**/My Music/**`` is exactly ``my music/%`` or ``%/my music/%``, which DuckDB runs as
    a prefix test and a substring search; only ``*`` and ``?`` (which must not cross '/')
    leave a superset that the regex then confirms."""
    pieces = glob.split("**/")
    loose = len(pieces) > 4
    if loose:  # too many alternatives: one looser pattern, the regex confirms
        pieces = ["**/".join(pieces).replace("**/", "**")]
    variants = [""]
    for index, piece in enumerate(pieces):
        like = _like_escape(piece)
        like = re.sub(r"\*+", "%", like).replace("?", "_")
        if index == 0:
            variants = [v + like for v in variants]
        else:
            variants = [v + sep + like for v in variants for sep in ("", "%/")]
    exact = not loose and re.search(r"(?<!\*)\*(?!\*)|\?", glob.replace("**/", "")) is None
    return sorted(set(variants)), exact


# --- compiling selectors -------------------------------------------------------------


@dataclass
class Sql:
    """SQL text plus its bound parameters, in order."""

    text: str
    params: list[Any] = field(default_factory=list)


def _and(parts: list[Sql]) -> Sql:
    if not parts:
        return Sql("TRUE")
    return Sql(" AND ".join(f"({p.text})" for p in parts), [x for p in parts for x in p.params])


def _or(parts: list[Sql]) -> Sql:
    if not parts:
        return Sql("FALSE")
    return Sql(" OR ".join(f"({p.text})" for p in parts), [x for p in parts for x in p.params])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _people_and_folders(people: tuple[str, ...], folders: tuple[Folder, ...]) -> Sql:
    parts: list[Sql] = []
    if people:
        parts.append(Sql("list_contains(?, person)", [list(people)]))
    for folder in folders:
        if folder.path == "":
            parts.append(Sql("person = ?", [folder.person]))
        else:
            prefix = folder.path.lower() + "/"
            parts.append(Sql("person = ? AND starts_with(lower(path), ?)",
                             [folder.person, prefix]))
    return _or(parts)


def _like(column: str, pattern: str) -> Sql:
    # Without an ESCAPE clause DuckDB turns '%x%', 'x%' and '%x' into substring, prefix and
    # suffix tests; with one it runs the general matcher, so it is added only when needed.
    if "\\" in pattern:
        return Sql(f"{column} LIKE ? ESCAPE '\\'", [pattern])
    return Sql(f"{column} LIKE ?", [pattern])


def _globs(column: str, globs: tuple[str, ...]) -> Sql:
    """Globs match case-insensitively: on the lower-cased column (computed once per row)
    with lower-cased patterns. A name has no '/', so its LIKE patterns are exact; a path
    glob with ``*`` or ``?`` is confirmed by the regex, on the few rows the LIKE let pass."""
    # Name globs usually test every row, so the lower-cased name is computed once per row;
    # path globs usually come after cheaper tests, so the path is lowered only where needed.
    lowered = "lname" if column == "name" else "lower(path)"
    if column == "name" and len(globs) > NAME_GLOBS_PER_REGEX:
        # Many name globs: one RE2 alternation reads each name once where each LIKE reads
        # it again (at eleven globs the regex takes half the CPU time; at three, 1.6 times).
        alternation = "|".join(glob_to_regex(g.lower()) for g in globs)
        return Sql("regexp_full_match(lname, ?)", [f"(?s)(?:{alternation})"])
    parts: list[Sql] = []
    for glob in globs:
        likes, exact = glob_to_likes(glob.lower())
        candidates = _or([_like(lowered, like) for like in likes])
        if exact or column == "name":
            parts.append(candidates)
        else:
            regex = Sql(f"regexp_full_match({lowered}, ?)", ["(?s)" + glob_to_regex(glob.lower())])
            parts.append(_and([candidates, regex]))
    return _or(parts)


def compile_selector(selector: Selector, as_of: date, *, has_content_key: bool) -> Sql:
    s = selector
    parts: list[Sql] = []
    if s.extensions:
        parts.append(Sql("list_contains(?, extension)", [list(s.extensions)]))
    if s.size_min is not None:
        parts.append(Sql("size >= ?", [s.size_min]))
    if s.size_max is not None:
        parts.append(Sql("size <= ?", [s.size_max]))
    for column in ("created", "modified", "accessed"):
        before: DateBound | None = getattr(s, f"{column}_before")
        after: DateBound | None = getattr(s, f"{column}_after")
        if before is not None:
            parts.append(Sql(f"{column} < ?", [_midnight(before.resolve(as_of))]))
        if after is not None:
            parts.append(Sql(f"{column} >= ?", [_midnight(after.resolve(as_of))]))
    if s.org_units:
        parts.append(Sql("list_contains(?, org_unit)", [list(s.org_units)]))
    if s.status is not None:
        parts.append(Sql("status = ?", [s.status.value]))
    if s.left_before is not None:
        parts.append(Sql("left_on < ?", [s.left_before.resolve(as_of)]))
    if s.left_after is not None:
        parts.append(Sql("left_on >= ?", [s.left_after.resolve(as_of)]))
    if s.duplicate is Duplicate.CONTENT:
        # Without a hash column nothing is proven identical: select nothing (fail safe).
        parts.append(Sql("dup_content" if has_content_key else "FALSE"))
    elif s.duplicate is Duplicate.NAME_SIZE:
        parts.append(Sql("dup_name_size"))
    if s.people or s.folders:
        parts.append(_people_and_folders(s.people, s.folders))
    # Cheap tests first: a conjunction only evaluates the next test on the rows that passed.
    if s.names:
        parts.append(_globs("name", s.names))
    if s.paths:
        parts.append(_globs("path", s.paths))
    return _and(parts)


def _end_days(rule: Rule) -> Sql:
    """Days since 1970 of the date the rule's period ends; NULL when the date it counts
    from is unknown or has not happened (an event-based period not yet started)."""
    leaver = rule.counts_from is CountsFrom.LEAVER
    base = "left_on" if leaver else f"CAST({rule.counts_from.value} AS DATE)"
    assert rule.period is not None
    if rule.period.unit == "d":
        return Sql(f"({base} - DATE '1970-01-01') + ?", [rule.period.amount])
    return Sql(f"(CAST({base} + to_months(?) AS DATE) - DATE '1970-01-01')", [rule.period.months])


def _field(days: Sql) -> Sql:
    return Sql(f"({days.text} + {DAY_OFFSET})", days.params)


def compile_key(rule: Rule, position: int) -> Sql:
    """The precedence key of ``rule`` for the current row (see the module docstring)."""
    implicit = 0 if rule.explicit else 1
    low = f"{implicit * IMPLICIT + position}"
    if rule.action.retains:
        if rule.period is None:
            return Sql(low)
        end = _field(_end_days(rule))
        return Sql(
            f"coalesce(({NEVER} - {end.text}), 0) * {1 << RETENTION_SHIFT} + {low}", end.params
        )
    end = _field(_end_days(rule))
    return Sql(
        f"{DELETES} + coalesce({end.text}, {NEVER}) * {1 << DELETION_SHIFT} + {low}", end.params
    )


def compile_match(rule: Rule, as_of: date, *, has_content_key: bool) -> Sql:
    parts = [compile_selector(rule.selector, as_of, has_content_key=has_content_key)]
    if rule.explicit:
        parts.append(_people_and_folders(rule.explicit_people, rule.explicit_folders))
    return _and(parts)


def compile_hold(hold: Hold, as_of: date, *, has_content_key: bool) -> Sql:
    parts = [_people_and_folders(hold.people, hold.folders)]
    if hold.selector is not None:
        parts.append(compile_selector(hold.selector, as_of, has_content_key=has_content_key))
    return _or(parts)


def _uses(rules: Iterable[Rule], holds: Iterable[Hold], what: str) -> bool:
    selectors = [r.selector for r in rules] + [h.selector for h in holds if h.selector]
    if what == "people":
        return any(r.needs_people for r in rules) or any(s.needs_people for s in selectors)
    return any(s.duplicate is Duplicate(what) for s in selectors)


def _duplicates_join(name: str, key: str, where: str) -> str:
    alias = "dc" if name == "dup_content" else "dn"
    return (
        f" LEFT JOIN (SELECT person, path FROM (SELECT i.person, i.path, row_number() OVER "
        f"(PARTITION BY i.person, {key} ORDER BY i.created NULLS LAST, i.path) AS copy "
        f"FROM inventory i WHERE i.kind = 'file' AND {where}) WHERE copy > 1) AS {alias} "
        f"ON {alias}.person = i.person AND {alias}.path = i.path"
    )


def _source(estate: Estate, rules: Sequence[Rule], holds: Sequence[Hold], where: Sql) -> Sql:
    """The evaluated rows with the derived columns the selectors need."""
    people = estate.has_people
    # lname is computed only when a name glob uses it (DuckDB drops unused columns of a
    # subquery). DuckDB would otherwise inline lower(name) into every name test that reads
    # lname and lower each name once per rule; a volatile function in the expression (which
    # never changes its value) makes it keep lname a column, computed once per row.
    columns = ["i.person", "i.path", "i.name", "i.extension", "i.size", "i.created",
               "i.modified", "i.accessed",
               "CASE WHEN random() < 2 THEN lower(i.name) END AS lname"]
    if people:
        columns += ["p.org_unit", "CAST(p.status AS VARCHAR) AS status",
                    "CAST(p.left_on AS DATE) AS left_on"]
    else:
        columns += ["CAST(NULL AS VARCHAR) AS org_unit", "CAST(NULL AS VARCHAR) AS status",
                    "CAST(NULL AS DATE) AS left_on"]
    # A duplicate is any copy but the first created (then the first by path) in one drive.
    # The window runs over a narrow projection and joins back: sorting whole rows is slow.
    joins = ""
    if estate.has_content_key and _uses(rules, holds, "content"):
        joins += _duplicates_join("dup_content", "content_key", "i.content_key IS NOT NULL")
        columns.append("dc.person IS NOT NULL AS dup_content")
    if _uses(rules, holds, "name-size"):
        joins += _duplicates_join("dup_name_size", "lower(name), size", "TRUE")
        columns.append("dn.person IS NOT NULL AS dup_name_size")
    join = " LEFT JOIN people p ON p.person = i.person" if people else ""
    return Sql(
        f"SELECT {', '.join(columns)} FROM inventory i{join}{joins} "
        f"WHERE i.kind = 'file' AND ({where.text})",
        where.params,
    )


def compile_winner(rule_set: RuleSet, as_of: date, *, has_content_key: bool) -> Sql:
    """The position of the winning rule for the current row: a CASE chain over the rules in
    precedence order (``precedence.chain``), with ``least`` over the packed keys only where
    a later rule may still win; the default's position is ``len(rules)``; NULL when nothing
    selects the file and there is no default (unclassified)."""
    rules = rule_set.rules
    matches = [compile_match(r, as_of, has_content_key=has_content_key) for r in rules]
    whens: list[Sql] = []
    for link in chain(rules):
        match = matches[link.position]
        if not link.rivals:
            whens.append(Sql(f"WHEN {match.text} THEN {link.position}", match.params))
            continue
        keys = [compile_key(rules[link.position], link.position)]
        for rival, only_if in link.rivals:
            key = compile_key(rules[rival], rival)
            # The cheap column test first: the rival's selector runs only where it may win.
            when = f"({only_if}) AND ({matches[rival].text})" if only_if else matches[rival].text
            keys.append(Sql(f"CASE WHEN {when} THEN {key.text} END",
                            matches[rival].params + key.params))
        best = f"CAST(least({', '.join(k.text for k in keys)}) & 1023 AS INTEGER)"
        whens.append(Sql(f"WHEN {match.text} THEN {best}",
                         match.params + [p for k in keys for p in k.params]))
    default = str(len(rules)) if rule_set.default is not None else "NULL"
    if not whens:
        return Sql(f"CAST({default} AS INTEGER)")
    return Sql(f"CASE {' '.join(w.text for w in whens)} ELSE {default} END",
               [p for w in whens for p in w.params])


def _eligible(rule: Rule) -> Sql:
    """The date the rule's period ends for the current row (NULL: forever, or counted from
    a date the file or person lacks), as the packed key decodes it."""
    if rule.period is None:
        return Sql("CAST(NULL AS DATE)")
    leaver = rule.counts_from is CountsFrom.LEAVER
    base = "left_on" if leaver else f"CAST({rule.counts_from.value} AS DATE)"
    if rule.period.unit == "d":
        return Sql(f"{base} + CAST(? AS INTEGER)", [rule.period.amount])
    return Sql(f"CAST({base} + to_months(?) AS DATE)", [rule.period.months])


def compile_eligible(rule_set: RuleSet, as_of: date) -> Sql:
    """Eligible since, from the winner's position ``w``: the evaluation date when
    unclassified (review now)."""
    whens = [(position, _eligible(rule)) for position, rule in enumerate(rule_set.all_rules)]
    if not whens:
        return Sql("CAST(? AS DATE)", [as_of])
    return Sql(
        "CASE w " + " ".join(f"WHEN {position} THEN {e.text}" for position, e in whens)
        + " ELSE CAST(? AS DATE) END",
        [p for _, e in whens for p in e.params] + [as_of],
    )


def latest_start(period: Period, as_of: date) -> date:
    """The latest date a period can count from and have ended by ``as_of``: adding days
    or (clamped) months never goes backwards, so the starts that have ended are exactly
    those on or before it. A due test is then one comparison, with no date arithmetic."""
    start = period.before(as_of)
    while period.after(start) > as_of:
        start -= timedelta(days=1)
    while period.after(start + timedelta(days=1)) <= as_of:
        start += timedelta(days=1)
    return start


def _due(rule: Rule, as_of: date) -> Sql:
    """Whether the rule's period has ended by ``as_of`` for the current row
    (``eligible_since <= as_of``)."""
    if rule.period is None:
        return Sql("false")
    start = latest_start(rule.period, as_of)
    if rule.counts_from is CountsFrom.LEAVER:
        return Sql("left_on <= ?", [start])
    return Sql(f"{rule.counts_from.value} < ?", [_midnight(start + timedelta(days=1))])


def compile_due(rule_set: RuleSet, as_of: date) -> Sql:
    """Due by ``as_of`` from the winner's position ``w``; an unclassified file is due
    (review now); a date the file lacks makes nothing due."""
    whens = [(position, _due(rule, as_of)) for position, rule in enumerate(rule_set.all_rules)]
    if not whens:
        return Sql("true")
    return Sql(
        "coalesce(CASE w " + " ".join(f"WHEN {position} THEN {d.text}" for position, d in whens)
        + " ELSE true END, false)",
        [p for _, d in whens for p in d.params],
    )


def compile_won(
    estate: Estate,
    rule_set: RuleSet,
    as_of: date,
    holds: Sequence[Hold] = (),
    where: Sql | None = None,
) -> Sql:
    """Per file: the source columns, the winner's position ``w`` and ``held_by`` (the
    first hold covering it), in one pass over the inventory."""
    ck = estate.has_content_key
    winner = compile_winner(rule_set, as_of, has_content_key=ck)
    hold_cases = [(compile_hold(h, as_of, has_content_key=ck), h.id) for h in holds]
    held_by = Sql(
        "CASE " + " ".join(f"WHEN {h.text} THEN ?" for h, _ in hold_cases) + " END",
        [p for h, hid in hold_cases for p in [*h.params, hid]],
    ) if hold_cases else Sql("CAST(NULL AS VARCHAR)")
    source = _source(estate, rule_set.all_rules, holds, where or Sql("TRUE"))
    return Sql(
        "SELECT person, path, size, org_unit, created, modified, accessed, left_on, "
        f"{winner.text} AS w, {held_by.text} AS held_by FROM ({source.text}) AS src",
        winner.params + held_by.params + source.params,
    )


def _decode(rule_set: RuleSet) -> tuple[str, list[Any]]:
    """rule, rule_action and action from ``w`` and ``held_by``."""
    all_rules = rule_set.all_rules
    ids = [r.id for r in all_rules]
    actions = [r.action.value for r in all_rules]
    return (
        "CASE WHEN w IS NULL THEN ? ELSE list_extract(?, w + 1) END AS rule, "
        "CASE WHEN w IS NULL THEN 'review' ELSE list_extract(?, w + 1) END AS rule_action, "
        "CASE WHEN held_by IS NOT NULL THEN 'hold' WHEN w IS NULL THEN 'review' "
        "ELSE list_extract(?, w + 1) END AS action",
        [UNCLASSIFIED, ids, actions, actions],
    )


def compile_evaluation(
    estate: Estate,
    rule_set: RuleSet,
    as_of: date,
    holds: Sequence[Hold] = (),
    where: Sql | None = None,
    *,
    with_paths: bool = True,
) -> Sql:
    """One SELECT giving, per file: person, [path,] size, org_unit, rule, rule_action,
    action (``hold`` when held), eligible_since, held_by."""
    won = compile_won(estate, rule_set, as_of, holds, where)
    decode, decode_params = _decode(rule_set)
    eligible = compile_eligible(rule_set, as_of)
    path = "path, " if with_paths else ""
    return Sql(
        f"SELECT person, {path}size, org_unit, {decode}, {eligible.text} AS eligible_since, "
        f"held_by FROM ({won.text}) AS won",
        decode_params + eligible.params + won.params,
    )


@dataclass(frozen=True)
class Decision:
    person: str
    path: str
    size: int
    org_unit: str | None
    rule: str
    rule_action: str
    action: str
    eligible_since: date | None
    held_by: str | None


def _table_name(table: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
        raise ValueError("table name")
    return table


def evaluate(
    estate: Estate,
    rule_set: RuleSet,
    as_of: date,
    holds: Sequence[Hold] = (),
    *,
    table: str = "decisions",
    with_paths: bool = True,
    where: Sql | None = None,
) -> int:
    """Evaluate the estate (or the rows ``where`` selects) into the temporary table
    ``table``, one row per file, in one pass; return its rows."""
    table = _table_name(table)
    query = compile_evaluation(estate, rule_set, as_of, holds, where, with_paths=with_paths)
    estate.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {query.text}", query.params)
    count = estate.con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count[0]) if count else 0


def evaluate_totals(
    estate: Estate,
    rule_set: RuleSet,
    as_of: date,
    holds: Sequence[Hold] = (),
    *,
    table: str = "decision_totals",
    where: Sql | None = None,
) -> int:
    """Evaluate and total in the same pass, into ``table``: files and bytes, and those
    eligible by ``as_of`` (``due``), per person, org unit, rule and action. A dry run needs
    no row per file, so none is written: the table has a row per person and rule at most.
    Returns the number of files evaluated."""
    table = _table_name(table)
    won = compile_won(estate, rule_set, as_of, holds, where)
    due = compile_due(rule_set, as_of)
    decode, decode_params = _decode(rule_set)
    # The org unit follows from the person: joined to the groups, not grouped by per file.
    grouped = (
        f"SELECT person, w, held_by IS NOT NULL AS held, {due.text} AS due, "
        f"count(*) AS files, sum(size) AS bytes FROM ({won.text}) AS won GROUP BY ALL"
    )
    unit, people = ("p.org_unit", " LEFT JOIN people p ON p.person = g.person") \
        if estate.has_people else ("CAST(NULL AS VARCHAR)", "")
    estate.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT g.person, {unit} AS org_unit, "
        f"{decode.replace('held_by IS NOT NULL', 'held')}, due, files, bytes "
        f"FROM ({grouped}) AS g{people}",
        decode_params + due.params + won.params,
    )
    count = estate.con.execute(f"SELECT coalesce(sum(files), 0) FROM {table}").fetchone()
    return int(count[0]) if count else 0


def decisions_for(
    estate: Estate,
    rule_set: RuleSet,
    as_of: date,
    holds: Sequence[Hold] = (),
    *,
    person: str | None = None,
) -> list[Decision]:
    """Decisions as Python values (for one person's drive, or all: mind the size)."""
    where = Sql("i.person = ?", [person]) if person is not None else None
    query = compile_evaluation(estate, rule_set, as_of, holds, where)
    rows = estate.con.execute(query.text + " ORDER BY person, path", query.params).fetchall()
    return [Decision(*row) for row in rows]


# --- explaining one decision ---------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """How one rule stands for one file, decoded from its precedence key."""

    rule: Rule
    retains: bool
    retention_end: date | None  # retaining rules; None = forever or not started
    deletion_date: date | None  # deleting rules; None = not started
    explicit: bool
    position: int
    key: int  # the packed precedence key: the smallest wins

    @classmethod
    def decode(cls, rule: Rule, key: int) -> Standing:
        deletes = key >= DELETES
        inverse = (key >> RETENTION_SHIFT) & NEVER
        deletion = (key >> DELETION_SHIFT) & NEVER
        end = None if deletes or inverse == 0 else _from_field(NEVER - inverse)
        when = _from_field(deletion) if deletes and deletion != NEVER else None
        return cls(rule, not deletes, end, when, not key & IMPLICIT, key & 1023, key)

    @property
    def eligible_since(self) -> date | None:
        return self.retention_end if self.retains else self.deletion_date


def _from_field(value: int) -> date:
    return date.fromordinal(_EPOCH.toordinal() + value - DAY_OFFSET)


def _show(day: date | None, never: str) -> str:
    return never if day is None else day.isoformat()


def why_beaten(winner: Standing, loser: Standing) -> str:
    """The first principle, in order, that puts ``winner`` before ``loser``."""
    if winner.retains and not loser.retains:
        return "retaining beats deleting"
    if winner.retains and winner.retention_end != loser.retention_end:
        return (
            f"the longest retention wins: until {_show(winner.retention_end, 'forever')} "
            f"against {_show(loser.retention_end, 'forever')}"
        )
    if winner.explicit and not loser.explicit:
        return "explicit beats implicit: the rule is scoped to this person or folder"
    if not winner.retains and winner.deletion_date != loser.deletion_date:
        return (
            f"the shortest deletion wins: eligible {_show(winner.deletion_date, 'never')} "
            f"against {_show(loser.deletion_date, 'never')}"
        )
    return f"equal by every principle; the earlier rule in the set wins (line {winner.rule.line})"


@dataclass(frozen=True)
class Explanation:
    person: str
    path: str
    rule: str
    action: str
    eligible_since: date | None
    reason: str
    held_by: tuple[str, ...]
    beaten: tuple[tuple[str, str, str], ...]  # (rule id, its action, why it lost)

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person, "path": self.path, "rule": self.rule, "action": self.action,
            "eligible_since": self.eligible_since.isoformat() if self.eligible_since else None,
            "reason": self.reason, "held_by": list(self.held_by),
            "beaten": [{"rule": r, "action": a, "why": w} for r, a, w in self.beaten],
        }


def explain(
    estate: Estate,
    rule_set: RuleSet,
    person: str,
    path: str,
    as_of: date,
    holds: Sequence[Hold] = (),
) -> Explanation:
    """The winning rule for one file, and each rule it beat and why. Runs the same compiled
    SQL as ``evaluate`` (over the person's drive, since duplicates need the whole drive)."""
    from mobilise.core.errors import NotFound

    ck = estate.has_content_key
    columns: list[Sql] = []
    for position, rule in enumerate(rule_set.rules):
        match = compile_match(rule, as_of, has_content_key=ck)
        key = compile_key(rule, position)
        columns.append(Sql(f"CASE WHEN {match.text} THEN {key.text} END",
                           match.params + key.params))
    if rule_set.default is not None:
        columns.append(compile_key(rule_set.default, len(rule_set.rules)))
    columns += [compile_hold(h, as_of, has_content_key=ck) for h in holds]
    source = _source(estate, rule_set.all_rules, holds, Sql("i.person = ?", [person]))
    select = ", ".join(c.text for c in columns) or "NULL"
    query = Sql(f"SELECT {select} FROM ({source.text}) AS src WHERE path = ?",
                [p for c in columns for p in c.params] + source.params + [path])
    row = estate.con.execute(query.text, query.params).fetchone()
    if row is None:
        raise NotFound(f"no file {path!r} in the inventory of {person!r}")
    n_rules = len(rule_set.rules)
    standings = [Standing.decode(r, int(k)) for r, k in zip(rule_set.rules, row, strict=False)
                 if k is not None]
    held = tuple(h.id for h, flag in zip(holds, row[len(row) - len(holds):], strict=True)
                 if flag)
    return _explanation(rule_set, person, path, as_of, standings, held,
                        row[n_rules] if rule_set.default is not None else None)


def _explanation(
    rule_set: RuleSet,
    person: str,
    path: str,
    as_of: date,
    standings: list[Standing],
    held: tuple[str, ...],
    default_key: int | None,
) -> Explanation:
    if standings:
        ordered = sorted(standings, key=lambda s: s.key)
        winner = ordered[0]
        beaten = tuple((s.rule.id, s.rule.action.value, why_beaten(winner, s)) for s in ordered[1:])
        rule, action, since = winner.rule.id, winner.rule.action.value, winner.eligible_since
        reason = f"rule {rule!r} (line {winner.rule.line}) selects the file"
    elif rule_set.default is not None and default_key is not None:
        standing = Standing.decode(rule_set.default, int(default_key))
        rule, action, since = rule_set.default.id, rule_set.default.action.value, (
            standing.eligible_since)
        beaten = ()
        reason = "no rule selects the file, so the rule set's default applies"
    else:
        rule, action, since, beaten = UNCLASSIFIED, Action.REVIEW.value, as_of, ()
        reason = "no rule selects the file: it is kept and sent to review (fail safe)"
    if held:
        reason = f"under hold {', '.join(held)}: nothing held is disposed; otherwise {reason}"
        action = HOLD
    return Explanation(person, path, rule, action, since, reason, held, beaten)

