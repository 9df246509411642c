"""Which rule can beat which, decided from the rules alone, for a CASE chain in SQL.

Evaluation picks each file's winner with one ``CASE WHEN match_1 THEN ... WHEN match_2
...`` over the rules in a static precedence order: DuckDB tests a rule only on the rows no
earlier rule selected, and computes no precedence key for most rows. A static order is
only right where one rule beats another for *every* file; where it depends on the file
(two retaining rules counting from different dates, say), the later rule is a *rival* and
the winner is taken from the packed keys of the rule and its rivals (``least``), as the
module docstring of ``evaluate`` describes. Most rivals can win only on files lacking a
date (a period counted from a missing date never ends), so they are tested only there.
``beats`` says "always" only when it is certain, so the chain is never wrong, at worst
slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mobilise.retention.rules import CountsFrom, Period, Rule

_DAYS_PER_MONTH = (28, 31)  # a calendar month adds at least 28 and at most 31 days


def _days_range(period: Period) -> tuple[int, int]:
    if period.unit == "d":
        return period.amount, period.amount
    return period.months * _DAYS_PER_MONTH[0], period.months * _DAYS_PER_MONTH[1]


def _never_shorter(a: Period, b: Period) -> bool:
    """From the same date, ``a`` always ends on or after ``b``."""
    if (a.unit == "d") == (b.unit == "d"):
        return (a.amount if a.unit == "d" else a.months) >= (
            b.amount if b.unit == "d" else b.months)
    return _days_range(a)[0] >= _days_range(b)[1]


def _always_longer(a: Period, b: Period) -> bool:
    """From the same date, ``a`` always ends strictly after ``b``."""
    if (a.unit == "d") == (b.unit == "d"):
        return (a.amount if a.unit == "d" else a.months) > (
            b.amount if b.unit == "d" else b.months)
    return _days_range(a)[0] > _days_range(b)[1]


def _tie_break(a: Rule, pa: int, b: Rule, pb: int) -> bool:
    """Explicit before implicit, then the earlier rule: the key's low bits."""
    return (not a.explicit, pa) < (not b.explicit, pb)


def _lacks(rule: Rule) -> str:
    """SQL: the row lacks the date the rule's period counts from."""
    return "left_on IS NULL" if rule.counts_from is CountsFrom.LEAVER else (
        f"{rule.counts_from.value} IS NULL")


def beats(a: Rule, pa: int, b: Rule, pb: int) -> bool | str:
    """Whether rule ``a`` (at position ``pa``) beats ``b`` on the files both select:
    True always; a SQL condition on the row under which ``b`` may still win; False when
    that depends on the file in ways not worked out here (``b`` is a full rival).

    A period counted from a date the file lacks never ends: a retention is then as long
    as forever and a deletion never comes. So two periods compare only when they count
    from the same date, and when that date is missing the tie-break decides."""
    if a.action.retains != b.action.retains:
        return a.action.retains
    ties_to_a = _tie_break(a, pa, b, pb)
    if a.action.retains:
        # The longest retention wins, then the tie-break; forever is the longest.
        if a.period is None:
            if ties_to_a:
                return True
            return False if b.period is None else _lacks(b)
        if b.period is None or a.counts_from != b.counts_from:
            return False
        if _never_shorter(a.period, b.period) and ties_to_a:
            return True
        return _lacks(b) if _always_longer(a.period, b.period) else False
    # Deleting: explicit beats implicit first, then the shortest deletion, then position.
    if a.explicit != b.explicit:
        return a.explicit
    assert a.period is not None and b.period is not None
    if a.counts_from != b.counts_from:
        return False
    if _never_shorter(b.period, a.period) and pa < pb:
        return True
    return _lacks(b) if _always_longer(b.period, a.period) else False


def dominates(a: Rule, pa: int, b: Rule, pb: int) -> bool:
    """Whether rule ``a`` beats ``b`` on every file both select."""
    return beats(a, pa, b, pb) is True


def _broad(rule: Rule) -> bool:
    """A rule that selects on dates or leaver status alone may select most of the estate;
    one that names extensions, names, paths, people, folders, units, sizes or duplicates
    usually selects a small part of it."""
    s = rule.selector
    narrowing = (s.paths, s.names, s.extensions, s.org_units, s.people, s.folders,
                 rule.explicit, s.duplicate is not None, s.size_min is not None,
                 s.size_max is not None)
    return not any(narrowing)


def _static_rank(rule: Rule, position: int) -> tuple[int, int, int, float, int]:
    """The chain's order. Any order is correct (rivals see to that); this one is meant to
    be quick. Retaining rules come first: no deleting rule is then ever a rival. Narrow
    rules come before broad ones, so a broad rule's rivals are tested only on the few rows
    a narrow rule selected, not on most rows. Then the usual precedence (longer retention,
    explicit, sooner deletion), which turns most pairs into "always beats"."""
    if rule.action.retains:
        days = float("inf") if rule.period is None else sum(_days_range(rule.period)) / 2
        return (0, int(_broad(rule)), 0 if rule.explicit else 1, -days, position)
    assert rule.period is not None
    return (1, int(_broad(rule)), 0 if rule.explicit else 1, sum(_days_range(rule.period)) / 2,
            position)


@dataclass(frozen=True)
class Link:
    """One WHEN of the chain: the rule at ``position`` and the later rules that may still
    beat it on some files it selects, each with the SQL condition under which it may
    (None: whenever it selects the file)."""

    position: int
    rivals: tuple[tuple[int, str | None], ...]


def chain(rules: Sequence[Rule]) -> list[Link]:
    """The rules in chain order, each with its rivals (later in the chain, not dominated).

    A file reaches a rule's WHEN only if no earlier rule selected it, so its winner is the
    best of that rule and of the rivals that select it."""
    order = sorted(range(len(rules)), key=lambda p: _static_rank(rules[p], p))
    links = []
    for index, position in enumerate(order):
        rule = rules[position]
        rivals = []
        for later in order[index + 1:]:
            verdict = beats(rule, position, rules[later], later)
            if verdict is not True:
                rivals.append((later, verdict or None))
        links.append(Link(position, tuple(rivals)))
    return links
