"""``mobilise retention`` as an operator types it, on a migrated SQLite database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli.retention import app
from mobilise.core.db import session_scope
from mobilise.core.errors import ImportRejected, InvalidInput
from mobilise.core.settings import Settings
from mobilise.retention.dry_run import latest_recorded
from tests.factories import register_people

from .estate import INVENTORY_SCHEMA, PEOPLE_SCHEMA, file_row, person_row
from .test_rules import EXAMPLE

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Path]:
    monkeypatch.setenv("MOBILISE_DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("MOBILISE_CONFIG", str(tmp_path / "none.toml"))
    context.settings.cache_clear()
    with session_scope(sqlite_settings) as s:
        register_people(s, "p1", "p2")  # holds name people of the register
    rows = [
        file_row("p1", "Documents/report.docx", 1000, datetime(2024, 1, 1)),
        file_row("p1", "Documents/~$report.docx", 162, datetime(2024, 1, 1)),
        file_row("p1", "Music/song.mp3", 4000, datetime(2024, 1, 1)),
        file_row("p2", "setup.exe", 10**6, datetime(2021, 6, 1)),
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=INVENTORY_SCHEMA), tmp_path / "inv.parquet")
    pq.write_table(pa.Table.from_pylist([person_row("p1"), person_row("p2", "South")],
                                        schema=PEOPLE_SCHEMA), tmp_path / "people.parquet")
    yield tmp_path
    context.settings.cache_clear()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_validate_reports_problems_with_lines(workdir: Path) -> None:
    assert "personal-files v1" in invoke("validate", str(EXAMPLE))
    bad = workdir / "bad.yaml"
    bad.write_text("rule_set: x\nversion: 1\nrules:\n  - id: a\n    action: shred\n")
    with pytest.raises(ImportRejected) as caught:
        runner.invoke(app, ["validate", str(bad)], catch_exceptions=False)
    assert f"{bad}:5:13: action 'shred'" in caught.value.message


def test_validate_refuses_disposing_police_information_before_the_mopi_floor(
    workdir: Path,
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "    action: archive\n    period: 6y\n    from: accessed",
        "    action: dispose\n    period: 3y\n    from: accessed")
    early = workdir / "early.yaml"
    early.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    period: 3y") + 1
    with pytest.raises(ImportRejected) as caught:
        runner.invoke(app, ["validate", str(early)], catch_exceptions=False)
    assert (f"{early}:{line}:13: rule 'stale-files' disposes police-information after 3y, "
            "sooner than its floor of 6y") in caught.value.message


def test_activate_dry_run_diff_explain_holds_and_review(workdir: Path) -> None:
    estate = ["--inventory", str(workdir / "inv.parquet"), "--people",
              str(workdir / "people.parquet"), "--as-of", "2026-11-22"]
    assert "personal-files v1 is active" in invoke("activate", str(EXAMPLE), "--reason", "go")
    out = json.loads(invoke("dry-run", *estate, "--rules", "personal-files", "-f", "json"))
    assert {r["action"]: r["files"] for r in out} == {"migrate": 1, "dispose": 2, "review": 1}
    out = json.loads(invoke("dry-run", *estate, "--rules", str(EXAMPLE), "--by", "org_unit",
                            "-f", "json"))
    assert {(r["org_unit"], r["action"]) for r in out} >= {("South", "dispose")}
    with context.session() as s:  # the overview shows the latest run, by action
        latest = latest_recorded(s)
    assert latest is not None and latest["files"] == 4
    assert {r["action"]: r["files"] for r in latest["by_action"]} == {
        "migrate": 1, "dispose": 2, "review": 1}

    v2 = workdir / "v2.yaml"
    v2.write_text(EXAMPLE.read_text().replace("version: 1", "version: 2")
                  .replace("action: dispose\n    period: 1y", "action: archive\n    period: 1y"))
    out = invoke("diff", *estate, "personal-files@1", str(v2))
    assert "v2 archives 1 more files, 1.0 MB, mostly through rule executables" in out
    assert "v2 disposes 1 fewer files, 1.0 MB" in out

    out = json.loads(invoke("explain", *estate, "--rules", "personal-files", "--person", "p1",
                            "--path", "Documents/~$report.docx", "-f", "json"))
    assert (out["rule"], out["action"]) == ("tmp-files", "dispose")

    invoke("holds", "place", "SAR-1", "--kind", "sar", "--reason", "subject access",
           "--person", "p2")
    assert "SAR-1" in invoke("holds", "list")
    out = json.loads(invoke("dry-run", *estate, "--rules", "personal-files", "-f", "json"))
    assert {r["action"]: r["files"] for r in out}["hold"] == 1
    invoke("holds", "release", "SAR-1", "--reason", "answered")
    assert "SAR-1" not in invoke("holds", "list")

    invoke("review", "queue", *estate)  # the rule set in force by default
    out = json.loads(invoke("review", "list", "--by", "rule", "-f", "json"))
    assert out == [{"rule": "personal-media", "files": 1, "bytes": 4000, "escalated": 0}]
    items = json.loads(invoke("review", "items", "--person", "p1", "-f", "json"))
    assert [(i["path"], i["status"]) for i in items] == [("Music/song.mp3", "pending")]
    assert json.loads(invoke("review", "items", "--person", "p2", "-f", "json")) == []
    with pytest.raises(InvalidInput):
        runner.invoke(app, ["review", "decide", "dispose", "--justification", "x"],
                      catch_exceptions=False)
    invoke("review", "decide", "keep-archive", "--rule", "personal-media",
           "--justification", "evidence")
    assert json.loads(invoke("review", "list", "-f", "json")) == []
    decided = json.loads(invoke("review", "items", "--status", "decided", "--decision",
                                "keep-archive", "-f", "json"))
    assert [(i["id"], i["justification"]) for i in decided] == [(items[0]["id"], "evidence")]
    assert date.today()  # the CLI defaults --as-of to the system clock's today


def _estate_on_disk(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two files of person 100000 on the real local backend, in an inventory; the CLI
    options. The drive is found from the people register: the person's home directory is
    their account's folder (asmith0) under the home root, not a folder named by number."""
    import os

    from mobilise.core.db import session_scope
    from tests.factories import load_people

    with session_scope(context.settings()) as s:
        load_people(s, workdir, count=1)
    home = workdir / "home"
    rows = []
    for person, path in [("100000", "Documents/~$a.docx"), ("100000", "Documents/b.docx")]:
        target = home / "asmith0" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"content of " + path.encode())
        os.utime(target, (datetime(2024, 1, 1).timestamp(),) * 2)
        stamp = datetime.fromtimestamp(target.stat().st_mtime)
        rows.append(file_row(person, path, target.stat().st_size, stamp))
    pq.write_table(pa.Table.from_pylist(rows, schema=INVENTORY_SCHEMA), workdir / "inv.parquet")
    monkeypatch.setenv("MOBILISE_HOME_ROOT", str(home))  # the real local backend
    context.settings.cache_clear()
    return ["--inventory", str(workdir / "inv.parquet"), "--as-of", "2026-11-22"]


def test_dispose_and_certificate_from_the_cli(workdir: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    estate = _estate_on_disk(workdir, monkeypatch)
    home = workdir / "home"
    tokens = _records_managers("rm1", "rm2")

    invoke("activate", str(EXAMPLE))
    invoke("dispose", "propose", *estate, "--rules", "personal-files", "--token", tokens["rm1"])
    # another records manager approves and executes
    invoke("dispose", "approve", "1", "--token", tokens["rm2"])
    invoke("dispose", "execute", "1", "--token", tokens["rm2"])
    listed = json.loads(invoke("dispose", "list", "-f", "json"))
    assert [(b["status"], b["deleted"], b["skipped"]) for b in listed] == [("executed", 1, 0)]
    invoke("certificate", "1", "--out", str(workdir / "certs"))
    text = (workdir / "certs" / "disposal-certificate-1.csv").read_text()
    assert "Documents/~$a.docx" in text and "b.docx" not in text
    assert not (home / "asmith0" / "Documents/~$a.docx").exists()
    assert (home / "asmith0" / "Documents/b.docx").exists()
    html = (workdir / "certs" / "disposal-certificate-1.html").read_text()
    assert "Certificate of disposal: batch 1" in html and "rm2" in html


def _records_managers(*names: str) -> dict[str, str]:
    """Mobilise users with the records role, and an API token each."""
    from mobilise.core import auth
    from mobilise.core.db import session_scope
    from tests.factories import ADMIN

    tokens = {}
    with session_scope(context.settings()) as s:
        for name in names:
            user = auth.add_user(s, ADMIN, name, "correct horse battery", ["records"])
            s.flush()
            tokens[name] = auth.issue_token(s, ADMIN, user, "cli")
    return tokens


def test_changing_user_does_not_satisfy_four_eyes(workdir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from mobilise.core.errors import NotAuthenticated, TransitionRefused
    from mobilise.retention.models import DisposalBatch

    estate = _estate_on_disk(workdir, monkeypatch)
    tokens = _records_managers("rm1", "rm2")
    invoke("activate", str(EXAMPLE))
    monkeypatch.setenv("USER", "rm1")
    monkeypatch.setenv("LOGNAME", "rm1")
    with pytest.raises(NotAuthenticated, match="API token of a Mobilise user"):
        runner.invoke(app, ["dispose", "propose", *estate, "--rules", "personal-files"],
                      catch_exceptions=False)
    invoke("dispose", "propose", *estate, "--rules", "personal-files", "--token", tokens["rm1"])
    # The same operator, calling themselves someone else at the terminal: not enough.
    monkeypatch.setenv("USER", "rm2")
    monkeypatch.setenv("LOGNAME", "rm2")
    with pytest.raises(NotAuthenticated):
        runner.invoke(app, ["dispose", "approve", "1"], catch_exceptions=False)
    monkeypatch.setenv("MOBILISE_TOKEN", tokens["rm1"])
    with pytest.raises(TransitionRefused, match="proposer cannot approve"):
        runner.invoke(app, ["dispose", "approve", "1"], catch_exceptions=False)
    with pytest.raises(NotAuthenticated):
        runner.invoke(app, ["dispose", "approve", "1", "--token", "mob_forged"],
                      catch_exceptions=False)
    # Another Mobilise user, proven by their token (here through MOBILISE_TOKEN).
    monkeypatch.setenv("MOBILISE_TOKEN", tokens["rm2"])
    invoke("dispose", "approve", "1")
    from mobilise.core.db import session_scope

    with session_scope(context.settings()) as s:
        batch = s.get(DisposalBatch, 1)
        assert batch is not None
        assert (batch.proposed_by, batch.approved_by, batch.status) == ("rm1", "rm2", "approved")


def test_a_rule_set_nested_3000_deep_is_a_clean_error(workdir: Path) -> None:
    deep = workdir / "deep.yaml"
    deep.write_text("rule_set: deep\nversion: 1\nrules: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ImportRejected) as caught:
        runner.invoke(app, ["validate", str(deep)], catch_exceptions=False)
    assert f"{deep}:1:1: nested deeper than 64 levels" in caught.value.message
    with pytest.raises(InvalidInput, match="hold selector: nested deeper than 64 levels"):
        runner.invoke(app, ["holds", "place", "DEEP", "--kind", "foi", "--reason", "r",
                            "--select", "{any: " + "[" * 3000 + "]" * 3000 + "}"],
                      catch_exceptions=False)


def test_purview_plan_from_a_file_and_from_the_active_rule_set(workdir: Path) -> None:
    out = workdir / "plan"
    shown = invoke("purview", "--rules", str(EXAMPLE), "--out", str(out),
                   "--reviewer", "records@force.police.uk")
    assert "what Purview cannot carry" in shown and "duplicate content" in shown
    script = (out / "purview-personal-files-v1.ps1").read_text()
    assert "New-ComplianceTag -Name 'RRD personal-files leavers'" in script
    assert "-ReviewerEmail 'records@force.police.uk'" in script
    assert (out / "purview-personal-files-v1.csv").read_text().startswith("label,rule,")
    with pytest.raises(InvalidInput, match="no rule set is active"):
        runner.invoke(app, ["purview", "--out", str(out)], catch_exceptions=False)
    with pytest.raises(InvalidInput, match="e-mail address"):
        runner.invoke(app, ["purview", "--rules", str(EXAMPLE), "--reviewer", "x'; rm",
                            "--out", str(out)], catch_exceptions=False)
    invoke("activate", str(EXAMPLE), "--reason", "agreed by the records board")
    again = workdir / "again"
    invoke("purview", "--out", str(again))
    active = (again / "purview-personal-files-v1.ps1").read_text()
    assert "-ReviewerEmail" not in active and "KeepAndDelete" not in active
    assert active.count("New-ComplianceTag ") == script.count("New-ComplianceTag ")


def test_leavers_and_orphan_drives_from_the_cli(workdir: Path, sqlite_settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from mobilise.core import auth
    from tests.factories import ADMIN

    home = workdir / "home"
    (home / "orphan-cli").mkdir(parents=True)
    monkeypatch.setenv("MOBILISE_HOME_ROOT", str(home))
    context.settings.cache_clear()
    with session_scope(sqlite_settings) as s:
        user = auth.add_user(s, ADMIN, "rm-cli", "correct horse battery", ["records"])
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "test")
    assert "1 new drives in the queue" in runner.invoke(
        app, ["drives", "refresh"], catch_exceptions=False).output
    rows = json.loads(invoke("drives", "list", "--open", "-f", "json"))
    assert [(r["kind"], r["proposed"]) for r in rows] == [("orphan", "review")]
    invoke("drives", "decide", str(rows[0]["case"]), "dispose", "--reason",
           "left 2011; checked, nothing of value", "--token", token)
    assert json.loads(invoke("drives", "list", "--open", "-f", "json")) == []
    decided = json.loads(invoke("drives", "list", "-f", "json"))
    assert (decided[0]["outcome"], decided[0]["decided_by"]) == ("dispose", "rm-cli")
