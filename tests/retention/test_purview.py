"""The Purview plan: labels and policies from a rule set, a script PowerShell would parse,
and every part of a rule Purview cannot carry reported.

Debian ships no PowerShell, so the script is parsed with tree-sitter's PowerShell grammar:
no syntax error anywhere, and every command a Security & Compliance cmdlet called with
parameters its reference documents and values it accepts.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

from mobilise.retention import purview
from mobilise.retention.rules import load_rule_set_file, parse_rule_set

EXAMPLE = Path(__file__).parents[2] / "src/mobilise/retention/examples/personal-files.yaml"
TODAY = date(2026, 12, 7)

# Microsoft's cmdlet reference: the parameters each cmdlet takes (those the plan may use)
PARAMETERS = {
    "New-ComplianceTag": {"Name", "RetentionAction", "RetentionDuration", "RetentionType",
                          "Comment", "EventType", "ReviewerEmail", "Notes", "IsRecordLabel"},
    "Get-ComplianceTag": {"Identity", "ErrorAction"},
    "New-ComplianceRetentionEventType": {"Name", "Comment"},
    "Get-ComplianceRetentionEventType": {"Identity", "ErrorAction"},
    "New-RetentionCompliancePolicy": {"Name", "OneDriveLocation", "Comment", "Enabled"},
    "Get-RetentionCompliancePolicy": {"Identity", "ErrorAction"},
    "New-RetentionComplianceRule": {"Name", "Policy", "ApplyComplianceTag",
                                    "PublishComplianceTag", "ContentMatchQuery"},
}
VALUES = {
    "RetentionAction": {"Delete", "Keep", "KeepAndDelete"},
    "RetentionType": {"CreationAgeInDays", "ModificationAgeInDays", "TaggedAgeInDays",
                      "EventAgeInDays"},
}


def commands(script: str) -> list[tuple[str, dict[str, str]]]:
    """Every command in ``script`` as (name, {parameter: argument text}); fails on any
    syntax error the grammar finds."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(script.encode())
    assert not tree.root_node.has_error, _first_error(tree.root_node)
    found: list[tuple[str, dict[str, str]]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "command":
            found.append(_command(node))
        stack.extend(reversed(node.children))
    return found


def _command(node: tree_sitter.Node) -> tuple[str, dict[str, str]]:
    name = node.child_by_field_name("command_name")
    assert name is not None and name.text is not None
    elements = node.child_by_field_name("command_elements")
    args: dict[str, str] = {}
    parameter = None
    for child in elements.named_children if elements else []:
        text = (child.text or b"").decode()
        if child.type == "command_argument_sep":
            continue
        if child.type == "command_parameter":
            parameter = text.lstrip("-")
            assert parameter not in args, f"{parameter} given twice"
            args[parameter] = ""
        else:
            assert parameter is not None, f"positional argument {text!r}"
            args[parameter] = text
    return name.text.decode(), args


def _first_error(node: tree_sitter.Node) -> str:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            return f"syntax error at {n.start_point}: {(n.text or b'').decode()[:80]!r}"
        stack.extend(n.children)
    return "syntax error"


def unquote(text: str) -> str:
    assert text.startswith("'") and text.endswith("'"), text
    return text[1:-1].replace("''", "'")


@pytest.fixture(scope="module")
def example_plan() -> purview.PurviewPlan:
    return purview.plan(load_rule_set_file(EXAMPLE), as_of=TODAY,
                        reviewer="records@force.police.uk")


def test_the_example_script_parses_and_calls_documented_cmdlets(example_plan):
    found = commands(purview.powershell(example_plan))
    assert {name for name, _ in found} <= set(PARAMETERS)
    for name, args in found:
        assert set(args) <= PARAMETERS[name], (name, set(args) - PARAMETERS[name])
        for parameter, allowed in VALUES.items():
            if parameter in args:
                assert args[parameter] in allowed, (name, parameter, args[parameter])
        if "RetentionDuration" in args:
            value = args["RetentionDuration"]
            assert value == "Unlimited" or int(value) >= 1
    tags = [args for name, args in found if name == "New-ComplianceTag"]
    assert len(tags) == len(example_plan.labels)
    assert all(len(unquote(t["Name"])) <= purview.LABEL_NAME_MAX for t in tags)


def test_each_rule_maps_to_its_label(example_plan):
    by_rule = {label.rule.id: label for label in example_plan.labels}
    # dispose 30 days after modification, selected by extension: auto-applied
    tmp = by_rule["tmp-extensions"]
    assert (tmp.retention_action, tmp.duration, tmp.retention_type) == (
        "Delete", "30", "ModificationAgeInDays")
    assert tmp.query is not None and "FileExtension:bak" in tmp.query
    # six years from leaving: event-based, with the leaver event type the script creates
    leavers = by_rule["leavers"]
    assert (leavers.retention_action, leavers.duration, leavers.retention_type) == (
        "Keep", "2190", "EventAgeInDays")
    assert leavers.event_type == example_plan.event_type
    # review: a disposition review by the reviewer given
    media = by_rule["personal-media"]
    assert media.retention_action == "KeepAndDelete"
    assert media.reviewer == "records@force.police.uk"
    # the default (migrate, forever) needs no label
    assert [r.id for r in example_plan.unlabelled] == ["everything-else"]


def test_what_purview_cannot_carry_is_reported_not_approximated(example_plan):
    gaps = {(g.rule, g.what) for g in example_plan.gaps}
    assert ("identical-duplicates", "selects by duplicate content") in gaps
    assert ("stale-files", "counts from the last access") in gaps
    assert ("leavers", "selects by the person's unit or status (needs an adaptive scope)") \
        in gaps
    by_rule = {label.rule.id: label for label in example_plan.labels}
    # a rule with any condition KQL cannot say is never auto-applied on the rest
    for rule_id in ("identical-duplicates", "stale-files", "personal-photos", "tmp-files"):
        assert by_rule[rule_id].query is None, rule_id
    published = {label.rule.id for label in example_plan.published}
    assert {"identical-duplicates", "tmp-files"} <= published


def test_without_a_reviewer_review_rules_keep_and_say_so():
    plan = purview.plan(load_rule_set_file(EXAMPLE), as_of=TODAY)
    media = next(lb for lb in plan.labels if lb.rule.id == "personal-media")
    assert (media.retention_action, media.reviewer) == ("Keep", None)
    assert any(g.rule == "personal-media" and "no disposition reviewer" in g.instead
               for g in plan.gaps)


HOSTILE = """\
rule_set: hostile
version: 1
rules:
  - id: quotes
    title: "Bob's files'; Remove-Item -Recurse C:\\\\ #"
    authority: "it\u2019s policy\\n#> Stop-Computer"
    action: dispose
    period: 2y
    from: created
    select:
      name: ["Bob's notes.txt"]
      extension: [txt]
"""


def test_free_text_stays_inside_its_string():
    plan = purview.plan(parse_rule_set(HOSTILE), as_of=TODAY)
    script = purview.powershell(plan)
    found = commands(script)
    names = [name for name, _ in found]
    assert "Remove-Item" not in names and "Stop-Computer" not in names
    tag = next(args for name, args in found if name == "New-ComplianceTag")
    assert "Remove-Item -Recurse" in unquote(tag["Comment"])
    assert tag["RetentionType"] == "CreationAgeInDays" and tag["RetentionDuration"] == "730"
    rule = next(args for name, args in found if name == "New-RetentionComplianceRule")
    assert unquote(rule["ContentMatchQuery"]) == \
        "FileExtension:txt AND FileName:\"Bob's notes.txt\""


def test_the_csv_neutralises_formulas_and_lists_every_rule(example_plan):
    rule_set = parse_rule_set(HOSTILE.replace('"Bob\'s files', '"=HYPERLINK(1)'))
    text = purview.csv_text(purview.plan(rule_set, as_of=TODAY))
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["title"].startswith("'=")
    every = list(csv.DictReader(io.StringIO(purview.csv_text(example_plan))))
    assert len(every) == len(load_rule_set_file(EXAMPLE).all_rules)


def test_long_names_stay_unique_within_purview_limit():
    a = purview.label_name("RRD", "x" * 70, "rule-a")
    b = purview.label_name("RRD", "x" * 70, "rule-b")
    assert a != b and len(a) <= 64 and len(b) <= 64


@pytest.mark.parametrize(("period", "days"), [("0d", "1"), ("45d", "45"), ("18m", "548"),
                                              ("6y", "2190"), (None, "Unlimited")])
def test_durations_in_days(period, days):
    from mobilise.retention.rules import Period
    value = None if period is None else Period(int(period[:-1]), period[-1])
    assert purview.duration_days(value) == days
