"""Property tests: for random rule sets, holds and files, the DuckDB evaluation agrees with
the per-row reference, and each precedence principle holds on its own terms."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobilise.retention import reference
from mobilise.retention.dry_run import dry_run
from mobilise.retention.evaluate import Hold, decisions_for, explain, latest_start
from mobilise.retention.precedence import chain, dominates
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
    Status,
)

from .estate import file_row, open_estate, person_row

AS_OF = date(2026, 11, 22)
PEOPLE = ["p1", "p2", "p3"]
# Letters whose case folding agrees between Python, DuckDB's ILIKE and RE2.
NAMES = ["a.tmp", "A.TMP", "~$b.docx", "c.exe", "x", "ab1.doc", "é.Doc", "É.doc", "50%_x.txt"]
FOLDERS = ["", "x", "X/y", "x/y/z", "Music", "a b"]
NAME_GLOBS = ["*.tmp", "~$*", "a*", "*b?.doc", "*", "é*", "50%_*", "?.doc"]
PATH_GLOBS = ["**/y/**", "x/*", "*", "**/*.exe", "x/**", "music/**", "?/y/*",
              "x/**/**/**/**/z/*"]
EXTENSIONS = ["tmp", "doc", "docx", "exe", ""]

days = st.integers(0, 50 * 365).map(lambda n: datetime(1985, 1, 1) + timedelta(days=n, hours=7))
periods = st.builds(Period, st.integers(0, 30), st.sampled_from(["d", "m", "y"]))
bounds = st.one_of(
    st.builds(DateBound, absolute=st.dates(date(1985, 1, 1), date(2035, 1, 1))),
    st.builds(DateBound, relative=periods),
)


@st.composite
def selectors(draw: Any) -> Selector:
    s: dict[str, Any] = {}
    if draw(st.booleans()):
        s["names"] = tuple(draw(st.lists(st.sampled_from(NAME_GLOBS), min_size=1, max_size=7)))
    if draw(st.booleans()):
        s["paths"] = tuple(draw(st.lists(st.sampled_from(PATH_GLOBS), min_size=1, max_size=3)))
    if draw(st.booleans()):
        s["extensions"] = tuple(draw(st.lists(st.sampled_from(EXTENSIONS), min_size=1)))
    if draw(st.booleans()):
        s["size_min"] = draw(st.integers(0, 1000))
    if draw(st.booleans()):
        s["size_max"] = draw(st.integers(0, 1000))
    for column in ("created", "modified", "accessed", "left"):
        for side in ("before", "after"):
            if draw(st.integers(0, 5)) == 0:
                s[f"{column}_{side}"] = draw(bounds)
    if draw(st.integers(0, 3)) == 0:
        s["org_units"] = tuple(draw(st.lists(st.sampled_from(["North", "South"]), min_size=1)))
    if draw(st.integers(0, 3)) == 0:
        s["status"] = draw(st.sampled_from(list(Status)))
    if draw(st.integers(0, 3)) == 0:
        s["duplicate"] = draw(st.sampled_from(list(Duplicate)))
    if draw(st.integers(0, 4)) == 0:
        s["people"] = tuple(draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2)))
    if draw(st.integers(0, 4)) == 0:
        s["folders"] = (draw(folders),)
    return Selector(**s)


folders = st.builds(Folder, st.sampled_from(PEOPLE), st.sampled_from(["", "x", "x/y", "music"]))


@st.composite
def rules(draw: Any, rule_id: str) -> Rule:
    action = draw(st.sampled_from(list(Action)))
    forever = action.retains and draw(st.integers(0, 3)) == 0
    explicit = draw(st.integers(0, 2)) == 0
    return Rule(
        id=rule_id,
        title=rule_id,
        authority="test",
        action=action,
        period=None if forever else draw(periods),
        counts_from=draw(st.sampled_from(list(CountsFrom))),
        selector=draw(selectors()),
        explicit_people=tuple(draw(st.lists(st.sampled_from(PEOPLE), max_size=2)))
        if explicit else (),
        explicit_folders=(draw(folders),) if explicit and draw(st.booleans()) else (),
        line=0,
    )


@st.composite
def rule_sets(draw: Any) -> RuleSet:
    count = draw(st.integers(0, 8))
    rule_list = tuple(draw(rules(f"r{i}")) for i in range(count))
    default = draw(st.one_of(st.none(), rules("fallback")))
    if default is not None:  # a default selects nothing of its own
        default = Rule(default.id, "", "", default.action, default.period,
                       default.counts_from, Selector())
    return RuleSet("random", 1, "", rule_list, default, "", "")


@st.composite
def files(draw: Any) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for _ in range(draw(st.integers(1, 25))):
        person = draw(st.sampled_from(PEOPLE))
        folder = draw(st.sampled_from(FOLDERS))
        name = draw(st.sampled_from(NAMES))
        path = f"{folder}/{name}" if folder else name
        modified = draw(days)
        accessed = draw(st.one_of(st.none(), days))
        rows[person, path] = file_row(
            person, path, draw(st.sampled_from([0, 10, 100, 500, 1000, 5000])), modified,
            created=draw(days), content_key=draw(st.sampled_from([None, "h1", "h2"])),
        ) | {"accessed": accessed}
    return list(rows.values())


people_tables = st.lists(
    st.tuples(st.sampled_from(["North", "South"]),
              st.one_of(st.none(), st.dates(date(2015, 1, 1), date(2026, 1, 1)))),
    min_size=3, max_size=3,
).map(lambda ps: [person_row(p, unit, left) for p, (unit, left) in zip(PEOPLE, ps, strict=True)])

holds = st.lists(
    st.builds(
        Hold,
        id=st.sampled_from(["foi", "sar", "lit"]),
        people=st.lists(st.sampled_from(PEOPLE), max_size=1).map(tuple),
        folders=st.lists(folders, max_size=1).map(tuple),
        selector=st.one_of(st.none(), selectors()),
    ),
    max_size=2,
)

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def evaluate_both(rule_set: RuleSet, rows: list[dict[str, Any]], people: list[dict[str, Any]],
                  hold_list: list[Hold]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    estate = open_estate(rows, people)
    fast = {(d.person, d.path): d for d in decisions_for(estate, rule_set, AS_OF, hold_list)}
    slow = {
        (d.person, d.path): d
        for d in reference.evaluate_rows(
            rule_set, rows, AS_OF, hold_list, {p["person"]: p for p in people}, True
        )
    }
    return fast, slow


@SETTINGS
@given(rule_sets(), files(), people_tables, holds)
def test_duckdb_agrees_with_the_per_row_reference(
    rule_set: RuleSet, rows: list[dict[str, Any]], people: list[dict[str, Any]],
    hold_list: list[Hold],
) -> None:
    fast, slow = evaluate_both(rule_set, rows, people, hold_list)
    assert fast.keys() == slow.keys()
    for key, d in fast.items():
        r = slow[key]
        assert (d.rule, d.rule_action, d.action, d.eligible_since, d.held_by) == (
            r.rule, r.rule_action, r.action, r.eligible_since, r.held_by
        ), key


@SETTINGS
@given(rule_sets(), files(), people_tables, holds)
def test_each_principle_holds_for_every_file(
    rule_set: RuleSet, rows: list[dict[str, Any]], people: list[dict[str, Any]],
    hold_list: list[Hold],
) -> None:
    estate = open_estate(rows, people)
    decisions = decisions_for(estate, rule_set, AS_OF, hold_list)
    attributes = {p["person"]: p for p in people}
    enriched = {(r["person"], r["path"]): dict(r) for r in rows}
    reference.mark_duplicates(list(enriched.values()), True)
    for d in decisions:
        row = enriched[d.person, d.path] | {
            k: attributes[d.person][k] for k in ("org_unit", "status", "left_on")
        }
        selecting = [r for r in rule_set.rules if reference.rule_selects(r, row, AS_OF, True)]
        covered = [h for h in hold_list if reference._holds(h, row, AS_OF, True)]
        # Holds first: a held file is never disposed.
        assert (d.action == "hold") == bool(covered)
        if not selecting:  # Unclassified: the default, or review (fail safe).
            expected = rule_set.default.action.value if rule_set.default else "review"
            assert d.rule_action == expected
            continue
        winner = rule_set.rule(d.rule)
        retaining = [r for r in selecting if r.action.retains]
        # Retaining beats deleting.
        assert winner.action.retains == bool(retaining)
        if retaining:
            # The longest retention wins (forever, or a period not started, is longest).
            def end(r: Rule) -> int:
                day = reference.period_end(r, row)
                return 10**9 if day is None else day.toordinal()
            assert end(winner) == max(end(r) for r in retaining)
            longest = [r for r in retaining if end(r) == end(winner)]
            # Then explicit beats implicit.
            assert winner.explicit or not any(r.explicit for r in longest)
        else:
            # Explicit beats implicit, then the shortest deletion wins.
            assert winner.explicit or not any(r.explicit for r in selecting)
            peers = [r for r in selecting if r.explicit == winner.explicit]
            def deletion(r: Rule) -> int:
                day = reference.period_end(r, row)
                return 10**9 if day is None else day.toordinal()
            assert deletion(winner) == min(deletion(r) for r in peers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), files(), people_tables, holds)
def test_explain_agrees_with_evaluation_and_lists_every_selecting_rule(
    rule_set: RuleSet, rows: list[dict[str, Any]], people: list[dict[str, Any]],
    hold_list: list[Hold],
) -> None:
    estate = open_estate(rows, people)
    for d in decisions_for(estate, rule_set, AS_OF, hold_list)[:5]:
        shown = explain(estate, rule_set, d.person, d.path, AS_OF, hold_list)
        assert (shown.rule, shown.action, shown.eligible_since) == (
            d.rule, d.action, d.eligible_since)
        assert d.rule not in {rule for rule, _, _ in shown.beaten}
        assert all(why for _, _, why in shown.beaten)


month_ends = st.one_of(days.map(lambda d: d.date()),
                       st.sampled_from([date(2019, 1, 31), date(2020, 2, 29), date(2021, 8, 31),
                                        date(2023, 12, 31)]))
maybe_days = st.one_of(st.none(), month_ends)
any_periods = st.builds(Period, st.sampled_from([0, 1, 2, 11, 12, 13, 28, 30, 31, 59, 365, 366]),
                        st.sampled_from(["d", "m", "y"]))


@st.composite
def ranked_rules(draw: Any, rule_id: str) -> Rule:
    rule = draw(rules(rule_id))
    forever = rule.action.retains and draw(st.integers(0, 3)) == 0
    return Rule(rule.id, rule.title, rule.authority, rule.action,
                None if forever else draw(any_periods), rule.counts_from, Selector(),
                rule.explicit_people, rule.explicit_folders)


@settings(max_examples=1000, deadline=None)
@given(ranked_rules("a"), st.integers(0, 9), ranked_rules("b"), st.integers(0, 9),
       st.fixed_dictionaries({"created": maybe_days, "modified": maybe_days,
                              "accessed": maybe_days, "left_on": maybe_days}))
def test_a_rule_that_dominates_beats_the_other_on_every_file(
    a: Rule, pa: int, b: Rule, pb: int, row: dict[str, Any]
) -> None:
    """The CASE chain trusts ``dominates``: when it says yes, the reference must agree on
    any file, whatever dates it has or lacks."""
    if pa == pb:
        return
    if dominates(a, pa, b, pb):
        assert reference.precedence(a, pa, row) < reference.precedence(b, pb, row)


def test_the_chain_puts_dominated_rules_after_and_keeps_undecided_ones_as_rivals() -> None:
    def rule(rule_id: str, action: Action, period: Period | None,
             counts_from: CountsFrom = CountsFrom.MODIFIED) -> Rule:
        return Rule(rule_id, "", "", action, period, counts_from, Selector())

    rules_ = [rule("bin", Action.DISPOSE, Period(0, "d")),
              rule("stale", Action.REVIEW, Period(6, "y"), CountsFrom.ACCESSED),
              rule("keep", Action.ARCHIVE, None),
              rule("old", Action.REVIEW, Period(2, "y"))]
    links = chain(rules_)
    assert [link.position for link in links] == [2, 1, 3, 0]
    by_position = {link.position: link.rivals for link in links}
    # Forever beats any period, and retaining beats deleting; but a file never accessed
    # keeps "stale" open-ended too, and then the earlier rule wins the tie: only there.
    assert by_position[2] == ((1, "accessed IS NULL"),)
    assert by_position[1] == ((3, None),)  # six years from access, two from modification
    assert by_position[3] == ()  # only a deleting rule comes after
    narrow = Rule("media", "", "", Action.REVIEW, Period(0, "d"), CountsFrom.MODIFIED,
                  Selector(extensions=("mp3",)))
    # A narrow rule goes before the broad ones, which are then its rivals.
    assert [link.position for link in chain([*rules_, narrow])] == [4, 2, 1, 3, 0]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rule_sets(), files(), people_tables, holds)
def test_dry_run_totals_agree_with_the_decisions_file_by_file(
    rule_set: RuleSet, rows: list[dict[str, Any]], people: list[dict[str, Any]],
    hold_list: list[Hold],
) -> None:
    """The dry run totals in the evaluation pass (and tests "due" without computing the
    date); the per-file decisions must add up to the same figures."""
    estate = open_estate(rows, people)
    expected: dict[tuple[str, str], list[int]] = {}
    sizes = {(r["person"], r["path"]): r["size"] for r in rows}
    for d in decisions_for(estate, rule_set, AS_OF, hold_list):
        due = d.eligible_since is not None and d.eligible_since <= AS_OF
        totals = expected.setdefault((d.rule, d.action), [0, 0, 0, 0])
        size = sizes[d.person, d.path]
        totals[0] += 1
        totals[1] += size
        totals[2] += due
        totals[3] += size if due else 0
    result = dry_run(estate, rule_set, AS_OF, hold_list)
    got = {(r["rule"], r["action"]): [r["files"], r["bytes"], r["due_files"], r["due_bytes"]]
           for r in result.tables["by_rule"]}
    assert got == expected


@settings(max_examples=500, deadline=None)
@given(any_periods, st.dates(date(1990, 1, 1), date(2040, 12, 31)))
def test_latest_start_is_the_last_day_a_period_can_start_and_have_ended(
    period: Period, as_of: date
) -> None:
    start = latest_start(period, as_of)
    assert period.after(start) <= as_of < period.after(start + timedelta(days=1))
