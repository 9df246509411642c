from datetime import date
from pathlib import Path

import pytest

import mobilise.retention
from mobilise.core.errors import ImportRejected
from mobilise.retention.rules import (
    Action,
    CountsFrom,
    Period,
    add_months,
    load_rule_set_file,
    parse_rule_set,
)

EXAMPLE = Path(mobilise.retention.__file__).parent / "examples" / "personal-files.yaml"

GOOD = """\
rule_set: test
version: 2
rules:
  - id: tmp
    title: Temporary files
    authority: "not a record"
    action: dispose
    period: 30d
    from: modified
    select:
      name: ["*.tmp"]
      size_max: 10MB
      modified_before: 6y
  - id: castle
    title: Operation Castle
    authority: "NPCC 4.2"
    action: archive
    period: forever
    explicit:
      folders: [{person: p1, path: /Projects/Castle/}]
default:
  id: rest
  action: migrate
"""


def test_a_valid_rule_set_parses_with_its_hash_and_version() -> None:
    rule_set = parse_rule_set(GOOD, "good.yaml")
    assert (rule_set.name, rule_set.version) == ("test", 2)
    tmp, castle = rule_set.rules
    assert tmp.action is Action.DISPOSE and tmp.period == Period(30, "d")
    assert tmp.counts_from is CountsFrom.MODIFIED and not tmp.explicit
    assert tmp.selector.size_max == 10 * 10**6
    assert tmp.selector.modified_before is not None
    assert tmp.selector.modified_before.resolve(date(2026, 2, 28)) == date(2020, 2, 28)
    assert castle.period is None and castle.explicit
    assert castle.explicit_folders[0].path == "Projects/Castle"
    assert rule_set.default is not None and rule_set.default.id == "rest"
    assert len(rule_set.content_hash) == 64
    assert parse_rule_set(GOOD + "\n").content_hash != rule_set.content_hash


def test_every_problem_is_reported_with_its_line_and_column() -> None:
    text = (
        "rule_set: x\nversion: two\nrules:\n"
        "  - id: Bad Id\n    action: delete\n    period: 6 years\n"
        "    select: {size_min: 2GB, size_max: 1GB, modified_before: soon, colour: red}\n"
        "  - {id: b, title: t, authority: a, action: dispose, period: forever}\n"
        "  - {id: b, title: t, authority: a, action: review}\n"
    )
    with pytest.raises(ImportRejected) as caught:
        parse_rule_set(text, "bad.yaml")
    shown = [str(p) for p in caught.value.problems]
    assert "bad.yaml:2:10: version must be a whole number" in shown
    assert "bad.yaml:4:5: a rule needs 'title'" in shown
    assert any(s.startswith("bad.yaml:4:9: id 'Bad Id'") for s in shown)
    assert any(s.startswith("bad.yaml:5:13: action 'delete'") for s in shown)
    assert any(s.startswith("bad.yaml:6:13: period '6 years'") for s in shown)
    assert any(s.startswith("bad.yaml:7:13: size_min is larger") for s in shown)
    assert any(s.startswith("bad.yaml:7:61: modified_before 'soon'") for s in shown)
    assert any(s.startswith("bad.yaml:7:67: unknown key 'colour'") for s in shown)
    assert any(s.startswith("bad.yaml:8:") and "cannot keep forever" in s for s in shown)
    assert any(s.startswith("bad.yaml:9:5: rule id 'b' is used twice") for s in shown)


def test_broken_yaml_is_reported_where_it_breaks() -> None:
    with pytest.raises(ImportRejected) as caught:
        parse_rule_set("rule_set: x\nrules:\n  - id: a\n   action: [\n", "broken.yaml")
    assert str(caught.value.problems[0]).startswith("broken.yaml:4:")


def test_the_default_rule_cannot_select() -> None:
    text = GOOD.replace("  action: migrate\n", "  action: migrate\n  select: {name: x}\n")
    with pytest.raises(ImportRejected, match="the default rule applies"):
        parse_rule_set(text)


def test_the_example_rule_set_is_valid() -> None:
    rule_set = load_rule_set_file(EXAMPLE)
    assert rule_set.default is not None and rule_set.default.action is Action.MIGRATE
    ids = [r.id for r in rule_set.rules]
    assert {"tmp-files", "executables", "identical-duplicates", "stale-files"} <= set(ids)


def test_month_arithmetic_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2020, 1, 31), 1) == date(2020, 2, 29)
    assert add_months(date(2020, 2, 29), 12) == date(2021, 2, 28)
    assert Period(6, "y").before(date(2026, 3, 31)) == date(2020, 3, 31)


def test_a_forbidden_character_is_located_not_a_crash() -> None:
    import pytest as _pytest

    from mobilise.core.errors import ImportRejected
    from mobilise.retention.rules import parse_rule_set

    with _pytest.raises(ImportRejected) as err:
        parse_rule_set("rule_set: x\nversion: 1\nrules: [\x07]\n", "r.yaml")
    assert str(err.value.problems[0]).startswith("r.yaml:3:9: not valid YAML")


FLOORED = """\
rule_set: police
version: 1
floors:
  - class: police-information
    minimum: 6y
    authority: "MoPI: 6-year minimum"
rules:
  - id: old-intelligence
    title: Old intelligence reports
    authority: "local decision"
    class: police-information
    action: dispose
    period: 3y
    select: {name: ["*intelligence*"]}
"""


def test_a_rule_disposing_police_information_before_its_floor_is_refused() -> None:
    with pytest.raises(ImportRejected) as caught:
        parse_rule_set(FLOORED, "police.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "police.yaml:13:13: rule 'old-intelligence' disposes police-information after 3y, "
        "sooner than its floor of 6y (MoPI: 6-year minimum)"]


@pytest.mark.parametrize("period", ["6y", "72m", "7y"])
def test_a_rule_disposing_at_or_after_the_floor_passes(period: str) -> None:
    rule_set = parse_rule_set(FLOORED.replace("period: 3y", f"period: {period}"))
    (floor,) = rule_set.floors
    assert (floor.records_class, str(floor.minimum)) == ("police-information", "6y")
    assert rule_set.floor_for(rule_set.rules[0]) == floor


def test_days_are_measured_against_a_floor_in_months_on_every_calendar() -> None:
    # 2190 days is six years only when no leap day falls inside: short somewhere.
    with pytest.raises(ImportRejected, match="sooner than its floor"):
        parse_rule_set(FLOORED.replace("period: 3y", "period: 2190d"))
    parse_rule_set(FLOORED.replace("period: 3y", "period: 2193d"))


def test_a_class_without_a_floor_and_a_malformed_floor_are_refused() -> None:
    text = FLOORED.replace("class: police-information\n    action",
                           "class: police-informaton\n    action")
    with pytest.raises(ImportRejected, match="'police-informaton' has no floor"):
        parse_rule_set(text)
    with pytest.raises(ImportRejected, match="a floor needs 'authority'"):
        parse_rule_set(FLOORED.replace('    authority: "MoPI: 6-year minimum"\n', ""))
    with pytest.raises(ImportRejected, match="minimum 'six years'"):
        parse_rule_set(FLOORED.replace("minimum: 6y", "minimum: six years"))


def test_the_example_declares_the_mopi_floor_and_keeps_to_it() -> None:
    rule_set = load_rule_set_file(EXAMPLE)
    assert [(f.records_class, str(f.minimum)) for f in rule_set.floors] == [
        ("police-information", "6y")]
    classed = {r.id for r in rule_set.rules if r.records_class == "police-information"}
    assert {"operational-information", "stale-files", "leavers"} <= classed
