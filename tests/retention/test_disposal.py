"""Holds, review and disposal on the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.audit import AuditEntry
from mobilise.core.clock import FixedClock
from mobilise.core.errors import Conflict, InvalidInput, PermissionDenied, TransitionRefused
from mobilise.drives.roots import DriveRootRefused
from mobilise.retention import disposal, holds, review, rule_sets
from mobilise.retention.evaluate import Estate
from mobilise.retention.models import ItemOutcome, RuleSetVersion
from tests.factories import register_people

from .drive import FolderDrive
from .estate import file_row, open_estate, person_row

RM1 = Actor("rm1", frozenset({Role.RECORDS}))
RM2 = Actor("rm2", frozenset({Role.RECORDS}))
OFFICER = Actor("p1", frozenset({Role.VIEWER}))
CLOCK = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
AS_OF = date(2026, 11, 22)

RULES = """\
rule_set: drives
version: 1
rules:
  - id: tmp-files
    title: Temporary files
    authority: "Not a record"
    action: dispose
    period: 0d
    select: {extension: tmp}
  - id: photos
    title: Personal photos
    authority: "Acceptable Use Policy"
    action: review
    select: {extension: jpg}
default:
  id: rest
  action: migrate
"""

FILES = {
    "p1": ["Temp/a.tmp", "Temp/b.tmp", "Temp/c.tmp", "Docs/report.docx", "Pics/cat.jpg",
           "Pics/dog.jpg"],
    "p2": ["x.tmp", "holiday.jpg"],
}


@pytest.fixture
def drives(tmp_path: Path) -> dict[str, FolderDrive]:
    out = {}
    for person, paths in FILES.items():
        root = tmp_path / "home" / person
        for i, path in enumerate(paths):
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f"{person}:{path}".encode() * (i + 1))
            stamp = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
            os.utime(target, (stamp, stamp))
        out[person] = FolderDrive(root)
    return out


def inventory(drives: dict[str, FolderDrive]) -> Estate:
    rows = []
    for person, drive in drives.items():
        for path in FILES[person]:
            entry = drive.stat(path)
            rows.append(file_row(person, path, entry.size, entry.modified.replace(tzinfo=None)))
    return open_estate(rows, [person_row("p1"), person_row("p2")])


def active_rules(session: Session) -> RuleSetVersion:
    rule_sets.add_rule_set(session, RM1, RULES, clock=CLOCK)
    version = rule_sets.activate(session, RM1, "drives", 1, clock=CLOCK)
    session.commit()
    return version


def test_an_active_rule_set_cannot_change(session: Session) -> None:
    version = active_rules(session)
    assert (version.status, version.activated_by) == ("active", "rm1")
    with pytest.raises(Conflict):
        rule_sets.add_rule_set(session, RM1, RULES + "\n# edited\n")
    with audit.change(session, RM1, "edit", version):
        version.yaml = RULES.replace("period: 0d", "period: 1d")
    with pytest.raises(Conflict, match="cannot change"):
        session.flush()
    session.rollback()
    with pytest.raises(PermissionDenied):
        rule_sets.add_rule_set(session, OFFICER, RULES.replace("version: 1", "version: 2"))
    rule_sets.add_rule_set(session, RM1, RULES.replace("version: 1", "version: 2"))
    rule_sets.activate(session, RM2, "drives", 2, clock=CLOCK)
    assert rule_sets.get_version(session, "drives").version == 2
    assert rule_sets.get_version(session, "drives", 1).status == "retired"


def test_a_hold_after_approval_and_a_modified_file_stop_their_disposal(
    session: Session, drives: dict[str, FolderDrive],
) -> None:
    version = active_rules(session)
    drive = drives.__getitem__
    batch = disposal.propose_batch(session, RM1, version, inventory(drives), drive, AS_OF,
                                   person="p1", clock=CLOCK)
    assert sorted(i.path for i in batch.items) == ["Temp/a.tmp", "Temp/b.tmp", "Temp/c.tmp"]
    session.commit()
    with pytest.raises(TransitionRefused, match="proposer cannot approve"):
        disposal.approve_batch(session, RM1, batch.id, clock=CLOCK)
    session.rollback()
    disposal.approve_batch(session, RM2, batch.id, clock=CLOCK)
    session.commit()

    # Between approval and execution: an FOI request arrives, and someone edits c.tmp.
    holds.place_hold(session, RM2, "FOI-2026-117", "foi", "FOI request about Temp/b",
                     selector="{name: b.tmp}", clock=CLOCK)
    session.commit()
    c = drives["p1"].root / "Temp/c.tmp"
    c.write_bytes(c.read_bytes()[::-1])  # same size, other content, new modified time

    disposal.execute_batch(session, RM1, batch.id, drive, clock=CLOCK)
    session.commit()

    assert drives["p1"].removed == ["Temp/a.tmp"]
    assert not (drives["p1"].root / "Temp/a.tmp").exists()
    assert (drives["p1"].root / "Temp/b.tmp").exists() and c.exists()
    outcome = {i.path: (i.outcome, i.skip_reason) for i in batch.items}
    assert outcome["Temp/b.tmp"] == ("skipped", "under hold FOI-2026-117")
    assert outcome["Temp/c.tmp"][1] is not None
    assert outcome["Temp/c.tmp"][1].startswith("modified since proposal")
    assert (batch.status, batch.deleted_files, batch.skipped_files) == ("executed", 1, 2)


def test_a_changed_content_with_the_same_size_and_time_is_not_deleted(
    session: Session, drives: dict[str, FolderDrive],
) -> None:
    version = active_rules(session)
    batch = disposal.propose_batch(session, RM1, version, inventory(drives), drives.__getitem__,
                                   AS_OF, person="p2", clock=CLOCK)
    disposal.approve_batch(session, RM2, batch.id, clock=CLOCK)
    target = drives["p2"].root / "x.tmp"
    before = target.stat()
    target.write_bytes(target.read_bytes().upper())
    os.utime(target, (before.st_atime, before.st_mtime))
    disposal.execute_batch(session, RM2, batch.id, drives.__getitem__, clock=CLOCK)
    assert batch.items[0].skip_reason == "content changed (SHA-256 differs)"
    assert target.exists()


def test_review_decisions_feed_disposal_and_the_certificate_agrees_with_the_audit_log(
    session: Session, drives: dict[str, FolderDrive],
) -> None:
    register_people(session, "p1", "p2")
    version = active_rules(session)
    estate = inventory(drives)
    assert review.queue_reviews(session, RM1, version, estate, AS_OF) == 3
    assert review.queue_reviews(session, RM1, version, estate, AS_OF) == 0
    by_person = {r["person"]: r["files"] for r in review.review_queue(session)}
    assert by_person == {"p1": 2, "p2": 1}
    items = review.review_queue(session, by="rule")
    assert items == [{"rule": "photos", "files": 3, "bytes": items[0]["bytes"], "escalated": 0}]
    from mobilise.retention.models import ReviewItem
    mine = list(session.scalars(select(ReviewItem).where(ReviewItem.person == "p1")
                                .order_by(ReviewItem.path)))
    # The person decides on their own files (self-service), with a justification.
    review.decide(session, OFFICER, [mine[0].id], "dispose", "my cat, not police business",
                  clock=CLOCK)
    session.commit()
    with pytest.raises(TransitionRefused):
        review.decide(session, Actor("p2", frozenset({Role.VIEWER})), [mine[1].id], "dispose",
                      "not mine")
    session.rollback()
    with pytest.raises(TransitionRefused, match="needs a reason"):
        review.decide(session, OFFICER, [mine[1].id], "keep-migrate", " ")
    session.rollback()
    # Bulk by rule: everything else of the rule is kept.
    kept = review.decide_rule(session, RM1, version, "photos", "keep-archive",
                              "scene photographs, keep", clock=CLOCK)
    assert len(kept) == 2
    session.commit()

    batch = disposal.propose_batch(session, RM1, version, estate, drives.__getitem__, AS_OF,
                                   clock=CLOCK)
    planned = sorted((i.person, i.path) for i in batch.items)
    assert planned == [("p1", "Pics/cat.jpg"), ("p1", "Temp/a.tmp"), ("p1", "Temp/b.tmp"),
                       ("p1", "Temp/c.tmp"), ("p2", "x.tmp")]
    disposal.approve_batch(session, RM2, batch.id, clock=CLOCK)
    holds.place_hold(session, RM1, "SAR-9", "sar", "subject access request of p2",
                     people=["p2"], clock=CLOCK)
    disposal.execute_batch(session, RM2, batch.id, drives.__getitem__, clock=CLOCK)
    session.commit()

    rows = disposal.certificate_rows(session, batch.id)
    deleted = sorted((r["owner"], r["path"]) for r in rows)
    assert deleted == planned[:4]
    on_disk = {(p, f) for p, d in drives.items() for f in FILES[p] if (d.root / f).exists()}
    assert not set(deleted) & on_disk and ("p2", "x.tmp") in on_disk
    cat = next(r for r in rows if r["path"] == "Pics/cat.jpg")
    assert (cat["reviewed_by"], cat["justification"]) == ("p1", "my cat, not police business")
    assert cat["approved_by"] == "rm2" and cat["executed_by"] == "rm2"
    assert cat["rule_set_hash"] == version.content_hash and cat["authority"]

    audited = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "retention.file.dispose")).all()
    logged = sorted((e.after["person"], e.after["path"]) for e in audited)
    assert logged == deleted
    assert {e.after["sha256"] for e in audited} == {r["sha256"] for r in rows}
    skipped = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "retention.file.skip")).all()
    assert [(e.after["path"], e.reason) for e in skipped] == [("x.tmp", "under hold SAR-9")]
    audit.verify(session)

    lines = list(csv.DictReader(io.StringIO(disposal.certificate_csv(session, batch.id))))
    assert sorted((r["owner"], r["path"]) for r in lines) == deleted
    html = disposal.certificate_html(session, batch.id, "Example Police")
    assert "Pics/cat.jpg" in html and "x.tmp" not in html.split("<tbody>")[1]
    assert all(i.outcome != ItemOutcome.PENDING.value for i in batch.items)


def test_holds_need_a_records_manager_and_a_reason(session: Session) -> None:
    register_people(session, "p1")
    with pytest.raises(PermissionDenied):
        holds.place_hold(session, OFFICER, "LIT-1", "litigation", "claim", people=["p1"])
    hold = holds.place_hold(session, RM1, "LIT-1", "litigation", "claim", people=["p1"],
                            clock=CLOCK)
    assert [h.id for h in holds.holds_in_force(session)] == ["LIT-1"]
    holds.release_hold(session, RM2, "LIT-1", "claim settled", clock=CLOCK)
    assert hold.released_by == "rm2" and holds.holds_in_force(session) == []
    with pytest.raises(Conflict):
        holds.release_hold(session, RM2, "LIT-1", "again")
    entries: list[Any] = session.scalars(select(AuditEntry).where(
        AuditEntry.entity == "retention_hold")).all()
    assert [e.action for e in entries] == ["retention.hold.place", "retention.hold.release"]


def test_an_unapproved_batch_cannot_run_and_a_cancelled_one_frees_its_files(
    session: Session, drives: dict[str, FolderDrive],
) -> None:
    version = active_rules(session)
    estate = inventory(drives)
    batch = disposal.propose_batch(session, RM1, version, estate, drives.__getitem__, AS_OF,
                                   person="p2", clock=CLOCK)
    session.commit()
    with pytest.raises(TransitionRefused, match="only from approved"):
        disposal.execute_batch(session, RM2, batch.id, drives.__getitem__, clock=CLOCK)
    assert (drives["p2"].root / "x.tmp").exists()
    disposal.cancel_batch(session, RM2, batch.id, "wrong scope")
    again = disposal.propose_batch(session, RM1, version, estate, drives.__getitem__, AS_OF,
                                   person="p2", clock=CLOCK)
    assert [i.path for i in again.items] == ["x.tmp"] and again.id != batch.id


HELD = {"p1": ["Temp/One/a.tmp", "Temp/Two/b.tmp", "Temp/Three/c.tmp", "Temp/Four/d.tmp",
               "Temp/free.tmp"],
        "p2": ["x.tmp"]}


def test_every_accepted_hold_form_protects_its_files_at_execution(
    session: Session, tmp_path: Path,
) -> None:
    """Holds naming a person by UPN (any case), a Windows path, a path in another case
    or with stray separators protect exactly the files they name (tracker #17)."""
    register_people(session, "p1", "p2")
    drives: dict[str, FolderDrive] = {}
    rows = []
    for person, paths in HELD.items():
        root = tmp_path / "home" / person
        for path in paths:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(path.encode())
            stamp = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
            os.utime(root / path, (stamp, stamp))
        drives[person] = FolderDrive(root)
        rows += [file_row(person, p, len(p), datetime(2024, 1, 1)) for p in paths]
    version = active_rules(session)
    batch = disposal.propose_batch(session, RM1, version, open_estate(rows, [
        person_row("p1"), person_row("p2")]), drives.__getitem__, AS_OF, clock=CLOCK)
    disposal.approve_batch(session, RM2, batch.id, clock=CLOCK)
    session.commit()

    place = holds.place_hold
    place(session, RM1, "H-UPN", "litigation", "claim", clock=CLOCK,
          folders=[{"person": "P1@Example.Police.UK", "path": "Temp/One"}])
    place(session, RM1, "H-WINDOWS", "foi", "request", clock=CLOCK,
          folders=[{"person": "p1", "path": "\\Temp\\Two\\"}])
    place(session, RM1, "H-CASE", "sar", "request", clock=CLOCK,
          folders=[{"person": "p1", "path": "temp//THREE/"}])
    place(session, RM1, "H-PERSON", "inquiry", "inquiry", clock=CLOCK,
          people=["p2@EXAMPLE.police.uk"])
    session.commit()
    stored = {h.id: (h.people, [(f.person, f.path) for f in h.folders])
              for h in holds.holds_in_force(session)}
    assert stored == {"H-UPN": ((), [("p1", "Temp/One")]),
                      "H-WINDOWS": ((), [("p1", "Temp/Two")]),
                      "H-CASE": ((), [("p1", "temp/THREE")]),
                      "H-PERSON": (("p2",), [])}

    disposal.execute_batch(session, RM1, batch.id, drives.__getitem__, clock=CLOCK)
    session.commit()
    outcome = {(i.person, i.path): (i.outcome, i.skip_reason) for i in batch.items}
    assert outcome == {
        ("p1", "Temp/One/a.tmp"): ("skipped", "under hold H-UPN"),
        ("p1", "Temp/Two/b.tmp"): ("skipped", "under hold H-WINDOWS"),
        ("p1", "Temp/Three/c.tmp"): ("skipped", "under hold H-CASE"),
        ("p1", "Temp/Four/d.tmp"): ("deleted", None),
        ("p1", "Temp/free.tmp"): ("deleted", None),
        ("p2", "x.tmp"): ("skipped", "under hold H-PERSON"),
    }
    assert sorted(drives["p1"].removed) == ["Temp/Four/d.tmp", "Temp/free.tmp"]


@pytest.mark.parametrize(("people", "folders", "problem"), [
    (["nobody"], [], "no such person in the register: 'nobody'"),
    (["p1", "ghost@example.police.uk"], [], "'ghost@example.police.uk'"),
    ([], [{"person": "nobody", "path": "Docs"}], "no such person"),
    ([], [{"person": "p1", "path": "../../etc"}], "leaves the person's drive"),
    ([], [{"person": "p1", "path": "Docs\\..\\..\\etc"}], "leaves the person's drive"),
    ([], [{"person": "p1", "path": "H:\\Docs"}], "without a drive letter"),
    ([], [{"person": "p1", "path": "Do\x00cs"}], "no control characters"),
])
def test_holds_that_protect_nothing_are_refused(
    session: Session, people: list[str], folders: list[dict[str, str]], problem: str,
) -> None:
    register_people(session, "p1")
    with pytest.raises(InvalidInput, match=re.escape(problem)):
        holds.place_hold(session, RM1, "BAD-1", "litigation", "claim", people=people,
                         folders=folders, clock=CLOCK)
    session.rollback()
    assert holds.holds_in_force(session) == []


def test_a_drive_that_cannot_be_used_skips_its_files_with_the_reason(
    session: Session, drives: dict[str, FolderDrive],
) -> None:
    version = active_rules(session)
    batch = disposal.propose_batch(session, RM1, version, inventory(drives), drives.__getitem__,
                                   AS_OF, clock=CLOCK)
    disposal.approve_batch(session, RM2, batch.id, clock=CLOCK)
    session.commit()

    def drive(person: str) -> FolderDrive:
        if person == "p2":  # e.g. a home directory of \\server\home$\.. in the register
            raise DriveRootRefused("drive root '/home/..' is not a folder inside the home "
                                   "root '/home'; refused")
        return drives[person]

    disposal.execute_batch(session, RM1, batch.id, drive, clock=CLOCK)
    outcome = {(i.person, i.path): (i.outcome, i.skip_reason) for i in batch.items}
    assert outcome[("p2", "x.tmp")] == ("skipped", "the drive cannot be used: drive root "
                                        "'/home/..' is not a folder inside the home root "
                                        "'/home'; refused")
    assert (drives["p2"].root / "x.tmp").exists()
    assert sorted(drives["p1"].removed) == ["Temp/a.tmp", "Temp/b.tmp", "Temp/c.tmp"]


def test_a_proposal_for_some_people_takes_only_their_reviewed_files(
    session: Session, drives: dict[str, FolderDrive],
) -> None:
    """A wave's proposal (``people``) reads their drives only, and of the files reviewed
    "dispose" only theirs: p1's decided photo stays out of p2's batch."""
    register_people(session, "p1", "p2")
    version = active_rules(session)
    review.queue_reviews(session, RM1, version, inventory(drives), AS_OF)
    from mobilise.retention.models import ReviewItem
    cat = session.scalars(select(ReviewItem).where(ReviewItem.path == "Pics/cat.jpg")).one()
    review.decide(session, OFFICER, [cat.id], "dispose", "my cat", clock=CLOCK)
    session.commit()
    p2 = drives["p2"]
    only_p2 = open_estate([file_row("p2", path, p2.stat(path).size,
                                    p2.stat(path).modified.replace(tzinfo=None))
                           for path in FILES["p2"]], [person_row("p2")])
    batch = disposal.propose_batch(session, RM1, version, only_p2, drives.__getitem__, AS_OF,
                                   clock=CLOCK, people=["p2"])
    assert sorted((i.person, i.path) for i in batch.items) == [("p2", "x.tmp")]
