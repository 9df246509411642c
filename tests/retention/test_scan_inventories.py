"""Retention over Mobilise's own scans (tracker #18): ``dry-run``, ``diff``, ``explain``
and ``dispose propose`` read the inventories a real ``scan_drive`` of a generated drive
writes (no ``person`` column: the person is the scan's), and a disposal reaches each
person's drive through their home directory in the people register."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli import retention as cli
from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import FixedClock
from mobilise.core.settings import Settings
from mobilise.demo.drives import DemoPerson, generate_drive
from mobilise.drives.scan import scan_drive
from mobilise.people.models import Person
from mobilise.retention.models import DisposalBatch
from tests.factories import ADMIN, load_people

from .test_rules import EXAMPLE

TODAY = datetime(2026, 11, 1, tzinfo=UTC)
AS_OF = "2026-11-22"
OLD = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
# Person 100000's home directory as the roster records it: its folder, not their number.
HOME_DIRECTORY = "\\\\isilon\\home$\\alex.smith0"
EXTRA = [b"Documents/~$lock.docx", b"Documents/~$R\xe9sum\xe9.docx", b"scratch/old.tmp"]


@pytest.fixture
def scanned(settings: Settings, session: Session, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, int]]]:
    """Two people's generated drives, scanned by the real scanner into the data folder;
    the glob that names their inventories, and each person's scanned file count."""
    load_people(session, tmp_path, count=2)
    first = session.scalars(select(Person).where(Person.number == "100000")).one()
    with audit.change(session, ADMIN, "person.update", first):
        first.home_directory = HOME_DIRECTORY
    session.commit()
    files: dict[str, int] = {}
    for number, folder in (("100000", "alex.smith0"), ("100001", "asmith1")):
        generate_drive(DemoPerson(number, folder, "Alex", "Smith", "CE"), settings.home_root,
                       7, today=TODAY, files=(20, 40))
        home = os.fsencode(settings.home_root / folder)
        for rel in EXTRA:
            os.makedirs(os.path.join(home, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(home, rel), "wb") as fh:
                fh.write(b"left behind by " + rel)
            os.utime(os.path.join(home, rel), (OLD, OLD))
        result = scan_drive(number, f"{folder}@example.police.uk", settings.home_root / folder,
                            settings.data_dir, FixedClock(TODAY))
        files[number] = result.files
    for name, value in (("MOBILISE_DATABASE_URL", settings.database_url),
                        ("MOBILISE_DATA_DIR", str(settings.data_dir)),
                        ("MOBILISE_HOME_ROOT", str(settings.home_root)),
                        ("MOBILISE_CONFIG", str(tmp_path / "none.toml"))):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "actor", lambda: Actor("rm1", frozenset({Role.RECORDS})))
    context.settings.cache_clear()
    yield str(settings.data_dir / "inventory" / "*" / "*.parquet"), files
    context.settings.cache_clear()


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli.app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_dry_run_and_diff_over_scan_inventories(scanned: tuple[str, dict[str, int]],
                                                tmp_path: Path) -> None:
    pattern, files = scanned
    by_person = json.loads(invoke("dry-run", "-i", pattern, "--rules", str(EXAMPLE),
                                  "--by", "person", "--as-of", AS_OF, "-f", "json"))
    counted: dict[str, int] = {}
    for row in by_person:
        counted[row["person"]] = counted.get(row["person"], 0) + row["files"]
    assert counted == files
    # Person attributes come from the people register: the org unit is known.
    by_unit = json.loads(invoke("dry-run", "-i", pattern, "--rules", str(EXAMPLE),
                                "--by", "org_unit", "--as-of", AS_OF, "-f", "json"))
    assert {r["org_unit"] for r in by_unit} == {"CE"}
    stricter = tmp_path / "v2.yaml"
    stricter.write_text(EXAMPLE.read_text().replace("version: 1", "version: 2", 1)
                        .replace("action: dispose\n    period: 0d\n    from: modified\n"
                                 "    select:\n      name: [\"~$*\"",
                                 "action: review\n    period: 0d\n    from: modified\n"
                                 "    select:\n      name: [\"~$*\"", 1))
    changed = json.loads(invoke("diff", "-i", pattern, str(EXAMPLE), str(stricter),
                                "--as-of", AS_OF, "-f", "json"))
    moved = {(t["old_action"], t["new_action"]): t["files"] for t in changed}
    assert moved[("dispose", "review")] >= 4  # two lock files in each of the two drives


def test_explain_over_scan_inventories(scanned: tuple[str, dict[str, int]]) -> None:
    pattern, _ = scanned
    shown = json.loads(invoke("explain", "-i", pattern, "--rules", str(EXAMPLE),
                              "--person", "100000", "--path", "Documents/~$lock.docx",
                              "--as-of", AS_OF, "-f", "json"))
    assert (shown["person"], shown["rule"], shown["action"]) == \
        ("100000", "tmp-files", "dispose")


def test_dispose_propose_reads_scans_and_the_registered_home_directory(
        scanned: tuple[str, dict[str, int]], session: Session, settings: Settings) -> None:
    from mobilise.core import auth

    pattern, _ = scanned
    # Disposal from the CLI names a Mobilise user and proves it (docs/security.md).
    user = auth.add_user(session, ADMIN, "rm1", "correct horse battery", ["records"])
    session.flush()
    token = auth.issue_token(session, ADMIN, user, "cli")
    session.commit()
    invoke("activate", str(EXAMPLE), "--reason", "agreed")
    invoke("dispose", "propose", "-i", pattern, "--rules", "personal-files", "--as-of", AS_OF,
           "--token", token)
    session.expire_all()
    batch = session.scalars(select(DisposalBatch)).one()
    items = {(i.person, i.path): i for i in batch.items}
    lock = items[("100000", "Documents/~$lock.docx")]
    # Read from alex.smith0 (the registered home directory), not home_root/100000.
    assert lock.outcome == "pending" and lock.sha256 and lock.size == len(
        b"left behind by Documents/~$lock.docx")
    assert not (settings.home_root / "100000").exists()
    # A name that is not UTF-8 is addressed by its raw bytes from the scan.
    raw = items[("100000", "Documents/~$R\\xe9sum\\xe9.docx")]
    assert raw.raw_path == b"Documents/~$R\xe9sum\xe9.docx" and raw.sha256
    assert {p for p, _ in items} == {"100000", "100001"}


def test_scans_and_person_column_inventories_mix_and_the_latest_scan_wins(
        scanned: tuple[str, dict[str, int]], settings: Settings, session: Session) -> None:
    from mobilise.retention.scanned import open_inventory

    pattern, files = scanned
    # A second scan of the same drive: only the latest is read, never both.
    scan_drive("100001", "asmith1@example.police.uk", settings.home_root / "asmith1",
               settings.data_dir, FixedClock(datetime(2026, 11, 2, tzinfo=UTC)))
    opened = open_inventory(session, pattern)
    count = opened.estate.con.execute(
        "SELECT person, count(*) FROM inventory WHERE kind = 'file' GROUP BY person").fetchall()
    assert dict(count) == files
    assert opened.scans["100001"].name.startswith("20261102")
