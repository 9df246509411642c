from datetime import date, datetime

import pytest

from mobilise.core.errors import NotFound
from mobilise.retention.dry_run import bytes_text, count_text, diff, dry_run
from mobilise.retention.evaluate import (
    Hold,
    compile_evaluation,
    decisions_for,
    explain,
    glob_to_likes,
    glob_to_regex,
)
from mobilise.retention.rules import Folder, load_rule_set_file, parse_rule_set

from .estate import file_row, open_estate, person_row
from .test_rules import EXAMPLE

AS_OF = date(2026, 11, 22)


def example_estate():  # type: ignore[no-untyped-def]
    rows = [
        file_row("p1", "Documents/report.docx", 1000, datetime(2024, 1, 1)),
        file_row("p1", "Documents/~$report.docx", 162, datetime(2024, 1, 1)),
        file_row("p1", "Downloads/setup.exe", 10**6, datetime(2025, 6, 1)),
        file_row("p1", "Downloads/old-setup.exe", 10**6, datetime(2019, 6, 1)),
        file_row("p1", "Cases/MG11 witness.docx", 1000, datetime(2023, 1, 1)),
        file_row("p1", "A/copy.txt", 100, datetime(2021, 1, 1), content_key="h1"),
        file_row("p1", "B/copy.txt", 100, datetime(2022, 1, 1), content_key="h1"),
        file_row("p1", "B", 0, datetime(2022, 1, 1), kind="folder"),
        file_row("p2", "Documents/x.docx", 100, datetime(2022, 1, 1)),
        file_row("p2", "Documents/x.tmp", 100, datetime(2022, 1, 1)),
    ]
    people = [person_row("p1", "North"), person_row("p2", "South", date(2024, 3, 31))]
    return open_estate(rows, people)


def by_path(decisions):  # type: ignore[no-untyped-def]
    return {(d.person, d.path): d for d in decisions}


def test_the_example_rule_set_decides_as_documented() -> None:
    rule_set = load_rule_set_file(EXAMPLE)
    got = by_path(decisions_for(example_estate(), rule_set, AS_OF))
    assert len(got) == 9  # the folder is not evaluated
    assert got["p1", "Documents/report.docx"].rule == "everything-else"
    assert got["p1", "Documents/~$report.docx"].action == "dispose"
    assert got["p1", "Documents/~$report.docx"].eligible_since == date(2024, 1, 1)
    assert got["p1", "Downloads/setup.exe"].eligible_since == date(2026, 6, 1)
    # Stale and an executable: retaining (review) beats deleting.
    assert got["p1", "Downloads/old-setup.exe"].rule == "stale-files"
    assert got["p1", "Cases/MG11 witness.docx"].action == "review"
    assert got["p1", "A/copy.txt"].action == "migrate"  # the oldest copy is kept
    assert got["p1", "B/copy.txt"].rule == "identical-duplicates"
    # A leaver's files are archived six years from leaving, even the temporary ones.
    assert got["p2", "Documents/x.tmp"].action == "archive"
    assert got["p2", "Documents/x.tmp"].eligible_since == date(2030, 3, 31)


def test_a_hold_turns_every_file_it_covers_into_hold() -> None:
    rule_set = load_rule_set_file(EXAMPLE)
    holds = [Hold("foi-17", folders=(Folder("p1", "downloads"),))]
    got = by_path(decisions_for(example_estate(), rule_set, AS_OF, holds))
    assert got["p1", "Downloads/setup.exe"].action == "hold"
    assert got["p1", "Downloads/setup.exe"].held_by == "foi-17"
    assert got["p1", "Downloads/setup.exe"].rule == "executables"
    assert got["p1", "Documents/~$report.docx"].action == "dispose"


def test_without_a_default_unselected_files_go_to_review() -> None:
    rule_set = parse_rule_set(
        "rule_set: t\nversion: 1\nrules:\n"
        "  - {id: exe, title: t, authority: a, action: dispose, select: {extension: exe}}\n"
    )
    got = by_path(decisions_for(example_estate(), rule_set, AS_OF))
    assert got["p1", "Documents/report.docx"].rule == "(unclassified)"
    assert got["p1", "Documents/report.docx"].action == "review"
    assert got["p1", "Documents/report.docx"].eligible_since == AS_OF
    assert got["p1", "Downloads/setup.exe"].action == "dispose"


def test_explain_names_the_winner_and_why_each_rule_lost() -> None:
    rule_set = parse_rule_set(
        "rule_set: t\nversion: 1\nrules:\n"
        "  - {id: exe, title: t, authority: a, action: dispose, period: 1y,"
        " select: {extension: exe}}\n"
        "  - {id: exe-fast, title: t, authority: a, action: dispose, period: 30d,"
        " select: {extension: exe}}\n"
        "  - {id: mine, title: t, authority: a, action: dispose, period: 2y,"
        " select: {extension: exe}, explicit: {people: [p1]}}\n"
        "  - {id: keep, title: t, authority: a, action: review, period: 6y,"
        " select: {name: 'old-*'}}\n"
        "  - {id: keep-short, title: t, authority: a, action: archive, period: 1y,"
        " select: {path: 'Downloads/**'}}\n"
    )
    estate = example_estate()
    shown = explain(estate, rule_set, "p1", "Downloads/old-setup.exe", AS_OF)
    assert (shown.rule, shown.action, shown.eligible_since) == ("keep", "review", date(2025, 6, 1))
    why = {rule: reason for rule, _, reason in shown.beaten}
    assert why["keep-short"].startswith("the longest retention wins: until 2025-06-01")
    assert why["exe"] == why["mine"] == why["exe-fast"] == "retaining beats deleting"
    shown = explain(estate, rule_set, "p1", "Downloads/setup.exe", AS_OF)
    assert shown.rule == "keep-short"
    only_deleting = parse_rule_set(rule_set.text.split("  - {id: keep,")[0])
    shown = explain(estate, only_deleting, "p1", "Downloads/setup.exe", AS_OF)
    why = {rule: reason for rule, _, reason in shown.beaten}
    assert shown.rule == "mine" and shown.eligible_since == date(2027, 6, 1)
    assert why["exe-fast"].startswith("explicit beats implicit")
    shown = explain(estate, only_deleting, "p2", "Documents/x.tmp", AS_OF)
    assert shown.rule == "(unclassified)" and shown.action == "review"
    with pytest.raises(NotFound):
        explain(estate, rule_set, "p1", "no/such/file", AS_OF)


def test_user_values_never_appear_in_the_sql_text() -> None:
    evil = "x'; DROP TABLE inventory; --"
    rule_set = parse_rule_set(
        "rule_set: t\nversion: 1\nrules:\n"
        f"  - id: a\n    title: t\n    authority: a\n    action: dispose\n"
        f"    select: {{name: \"{evil}\", path: \"{evil}/**\", org_unit: \"{evil}\"}}\n"
    )
    estate = example_estate()
    query = compile_evaluation(estate, rule_set, AS_OF, [Hold(evil, people=(evil,))])
    assert "DROP" not in query.text and evil in query.params
    assert len(decisions_for(estate, rule_set, AS_OF)) == 9


def test_globs() -> None:
    assert glob_to_regex("**/My Music/*.mp3") == "(?:.*/)?My Music/[^/]*\\.mp3"
    assert glob_to_likes("50%_off?.txt") == (["50\\%\\_off_.txt"], False)
    assert glob_to_likes("**/my music/**") == (["%/my music/%", "my music/%"], True)
    assert glob_to_likes("a/**/b/*.x") == (["a/%/b/%.x", "a/b/%.x"], False)
    assert glob_to_likes("a/**/**/**/**/b") == (["a/%b"], False)  # loose: regex confirms
    rule_set = parse_rule_set(
        "rule_set: t\nversion: 1\nrules:\n"
        "  - {id: a, title: t, authority: a, action: dispose, select: {path: '*/*.TXT'}}\n"
    )
    got = by_path(decisions_for(example_estate(), rule_set, AS_OF))
    assert got["p1", "A/copy.txt"].rule == "a"
    assert got["p1", "Documents/report.docx"].rule == "(unclassified)"


def test_dry_run_counts_files_and_bytes_per_action_rule_org_unit_and_person() -> None:
    rule_set = load_rule_set_file(EXAMPLE)
    result = dry_run(example_estate(), rule_set, AS_OF)
    assert result.files == 9
    by_action = {r["action"]: r for r in result.tables["by_action"]}
    assert by_action["dispose"]["files"] == 3
    assert by_action["dispose"]["bytes"] == 162 + 10**6 + 100
    assert by_action["dispose"]["due_files"] == 3
    by_unit = {(r["org_unit"], r["action"]): r["files"] for r in result.tables["by_org_unit"]}
    assert by_unit["South", "archive"] == 2
    assert sum(r["files"] for r in result.tables["by_person"]) == 9
    assert sum(r["bytes"] for r in result.tables["by_rule"]) == result.bytes


def test_diff_between_versions_says_what_changes_and_through_which_rule() -> None:
    old = load_rule_set_file(EXAMPLE)
    new = parse_rule_set(
        old.text.replace("version: 1", "version: 2").replace(
            "action: archive\n    period: 6y\n    from: accessed",
            "action: dispose\n    period: 6y\n    from: accessed",
        )
    )
    result = diff(example_estate(), old, new, AS_OF)
    # The stale executable now deletes; of two deletions the shorter (executables) wins.
    assert result.sentences() == [
        "v2 archives 1 fewer files, 1.0 MB",
        "v2 disposes 1 more files, 1.0 MB, mostly through rule executables",
    ]
    assert result.transitions == [
        {"old_action": "archive", "new_action": "dispose", "files": 1, "bytes": 10**6}
    ]


def test_number_texts() -> None:
    assert (count_text(1_234_567), bytes_text(340 * 10**9)) == ("1.2M", "340 GB")
