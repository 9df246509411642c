"""The H: drive after cutover: grace (with sweeps), read-only, archived, released."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms.models import OutboxMessage
from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.audit import AuditEntry
from mobilise.core.clock import FixedClock
from mobilise.core.errors import Conflict, InvalidInput, PermissionDenied
from mobilise.core.settings import Settings
from mobilise.drives.models import DriveScan
from mobilise.emulator.server import EmulatorProcess
from mobilise.graph import GraphClient
from mobilise.graph import groups as graph_groups
from mobilise.migration import after
from mobilise.migration.models import DriveAfterCutover, MigrationWave
from mobilise.migration.rounds import cutover, run_round
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.retention import disposal, rule_sets
from mobilise.retention.scanned import drive_of
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN, load_people
from tests.migration.conftest import make_tree
from tests.storage.onedrive_fixture import emulator_settings, onedrive_emulator

__all__ = ["onedrive_emulator"]

RM1 = Actor("rm1", frozenset({Role.RECORDS}))
RM2 = Actor("rm2", frozenset({Role.RECORDS}))
OFFICER = Actor("p1", frozenset({Role.VIEWER}))
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
default:
  id: rest
  action: migrate
"""


def _hook(tmp_path: Path, name: str, body: str) -> str:
    script = tmp_path / f"{name}.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def estate(settings: Settings, session: Session, tmp_path: Path) -> Settings:
    load_people(session, tmp_path, count=2)
    for n in range(2):
        home = Path(settings.home_root) / f"asmith{n}"
        home.mkdir(parents=True)
        make_tree(home, 8, seed=n)
    log = tmp_path / "hooks.log"
    return settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "onedrive",
        "archive_root": tmp_path / "archive", "after_grace_days": 10,
        "after_read_only_days": 20, "after_archive_days": 30,
        "after_read_only_hook": _hook(tmp_path, "ro", f'echo "ro $MOBILISE_PERSON" >> {log}\n'),
        "after_unmap_hook": _hook(tmp_path, "unmap",
                                  f'echo "unmap $MOBILISE_PERSON" >> {log}\n')})


def _migrated_wave(session: Session, settings: Settings) -> MigrationWave:
    wave = create_wave(session, ADMIN, "W1", WaveSelection(org_units=["CE"]), delta_rounds=0)
    session.commit()
    executor = InProcessExecutor(settings, workers=2)
    run_round(session, ADMIN, settings, wave, executor)
    outcomes = cutover(session, ADMIN, settings, wave, executor, frozen_confirmed=True)
    assert all(o.migrated for o in outcomes)
    return wave


def _states(session: Session, wave: MigrationWave) -> dict[str, str]:
    return {r.migration.person.number: r.state for r in after.wave_rows(session, wave)}


def test_each_step_is_a_transition_with_its_due_date_and_hooks(
        estate: Settings, session: Session, tmp_path: Path) -> None:
    wave = _migrated_wave(session, estate)
    clock = FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    results = after.advance(session, ADMIN, estate, wave, clock=clock)
    assert [(r.step, r.done) for r in results] == [("grace", True), ("grace", True)]
    rows = after.wave_rows(session, wave)
    assert {r.state for r in rows} == {"grace"}
    assert rows[0].due_at is not None
    assert rows[0].due_at.replace(tzinfo=UTC) == clock.now() + timedelta(days=10)

    # Nothing is due yet: an unnamed advance does nothing; a named one is refused.
    assert after.advance(session, ADMIN, estate, wave, clock=clock) == []
    early = after.advance(session, ADMIN, estate, wave, people=["100000"], clock=clock)
    assert not early[0].done and "not due until 2026-12-11" in (early[0].reason or "")
    assert not (tmp_path / "hooks.log").exists()  # the hook is not run before its day

    clock.advance(timedelta(days=10))
    assert all(r.done for r in after.advance(session, ADMIN, estate, wave, clock=clock))
    assert set(_states(session, wave).values()) == {"read_only"}
    clock.advance(timedelta(days=20))
    assert all(r.step == "archive" and r.done
               for r in after.advance(session, ADMIN, estate, wave, clock=clock))
    assert set(_states(session, wave).values()) == {"archived"}
    assert (tmp_path / "hooks.log").read_text().split("\n")[:4] == [
        "ro 100000", "ro 100001", "unmap 100000", "unmap 100001"]
    actions = list(session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity == "migration_drive_after").order_by(AuditEntry.seq)))
    for action in ("migration_drive_after.grace", "migration_drive_after.read_only_hook",
                   "migration_drive_after.read_only", "migration_drive_after.archive_hook",
                   "migration_drive_after.archive"):
        assert action in actions


def test_a_failing_hook_leaves_the_step_undone_with_its_error_and_is_retried(
        estate: Settings, session: Session, tmp_path: Path) -> None:
    wave = _migrated_wave(session, estate)
    flag = tmp_path / "acl-service-up"
    failing = estate.model_copy(update={"after_read_only_hook": _hook(
        tmp_path, "ro-fails", f'[ -e {flag} ] || {{ echo "ACL service down"; exit 3; }}\n')})
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    after.advance(session, ADMIN, failing, wave, clock=clock)
    clock.advance(timedelta(days=11))
    results = after.advance(session, ADMIN, failing, wave, clock=clock)
    assert [r.done for r in results] == [False, False]
    assert "exited with status 3: ACL service down" in (results[0].reason or "")
    row = after.wave_rows(session, wave)[0]
    assert row.state == "grace" and row.hook_attempts == 1
    assert "ACL service down" in (row.hook_error or "")
    hook_runs = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "migration_drive_after.read_only_hook")).all()
    assert [(e.after or {})["status"] for e in hook_runs] == [3, 3]

    flag.touch()  # the service is back: the next advance retries and records the step
    assert all(r.done for r in after.advance(session, ADMIN, failing, wave, clock=clock))
    row = after.wave_rows(session, wave)[0]
    assert (row.state, row.hook_error, row.hook_attempts) == ("read_only", None, 0)

    no_hook = estate.model_copy(update={"after_unmap_hook": None})
    clock.advance(timedelta(days=21))
    refused = after.advance(session, ADMIN, no_hook, wave, people=["100000"], clock=clock)
    assert not refused[0].done and "after_unmap_hook" in (refused[0].reason or "")
    assert _states(session, wave)["100000"] == "read_only"


def test_a_sweep_round_picks_up_a_late_file_and_tells_the_person(
        estate: Settings, session: Session) -> None:
    wave = _migrated_wave(session, estate)
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    after.advance(session, ADMIN, estate, wave, clock=clock)
    late = Path(estate.home_root) / "asmith1" / "Documents" / "statement-v2.docx"
    late.parent.mkdir(parents=True, exist_ok=True)
    late.write_bytes(b"synced from the laptop's offline copy on Tuesday")
    os.utime(late, (1_900_000_000, 1_900_000_000))
    executor = InProcessExecutor(estate)
    report = after.sweep(session, ADMIN, estate, wave, executor, clock=clock)
    assert report.round.kind == "sweep" and report.round.status == "done"
    assert report.late == {"100001": ["Documents/statement-v2.docx"]}
    onedrive = Path(estate.migration_destination_root) / "alex1.smith@example.police.uk"
    assert (onedrive / "Documents" / "statement-v2.docx").read_bytes() == late.read_bytes()
    message = session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "late_files")).one()
    assert message.recipient.startswith("alex1")
    assert "Documents/statement-v2.docx" in message.body
    assert after.wave_rows(session, wave)[1].late_files == 1
    # A second sweep finds nothing new and tells nobody again.
    again = after.sweep(session, ADMIN, estate, wave, executor, clock=clock)
    assert again.late == {}
    assert len(session.scalars(select(OutboxMessage)).all()) == 1


def test_a_sweep_needs_people_in_grace(estate: Settings, session: Session) -> None:
    wave = _migrated_wave(session, estate)
    with pytest.raises(InvalidInput, match="nobody .* is in grace"):
        after.sweep(session, ADMIN, estate, wave, InProcessExecutor(estate))


def _archived(session: Session, settings: Settings) -> tuple[MigrationWave, FixedClock]:
    wave = _migrated_wave(session, settings)
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    for days in (0, 10, 20):
        clock.advance(timedelta(days=days))
        after.advance(session, ADMIN, settings, wave, clock=clock)
    assert set(_states(session, wave).values()) == {"archived"}
    clock.advance(timedelta(days=30))
    return wave, clock


def test_release_needs_sign_off_and_an_executed_disposal_batch(
        estate: Settings, session: Session) -> None:
    wave, clock = _archived(session, estate)
    home = Path(estate.home_root) / "asmith0"
    size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    session.add(DriveScan(person_id=after.wave_rows(session, wave)[0].migration.person_id,
                          status="complete", root=str(home), scanned_at=clock.now(),
                          bytes=size * 4))
    session.commit()
    refused = after.advance(session, ADMIN, estate, wave, people=["100000"], clock=clock)
    assert not refused[0].done and "not signed the release off" in (refused[0].reason or "")

    with pytest.raises(PermissionDenied):
        after.sign_off(session, OFFICER, wave, "100000", "checked")
    after.sign_off(session, RM1, wave, "100000", "nothing of record left", clock=clock)
    with pytest.raises(Conflict):
        after.sign_off(session, RM1, wave, "100000", "again")
    unbatched = after.advance(session, ADMIN, estate, wave, people=["100000"], clock=clock)
    assert "no disposal batch" in (unbatched[0].reason or "")

    rule_sets.add_rule_set(session, RM1, RULES, clock=clock)
    rule_sets.activate(session, RM1, "drives", 1, clock=clock)
    session.commit()
    batch = after.propose_release(session, RM1, estate, wave, clock=clock)
    assert {i.person for i in batch.items} == {"100000"}  # 100001 is not signed off
    unapproved = after.advance(session, ADMIN, estate, wave, people=["100000"], clock=clock)
    assert "is proposed" in (unapproved[0].reason or "")
    assert home.exists() and any(home.rglob("*.dat"))  # nothing deleted yet

    disposal.approve_batch(session, RM2, batch.id, clock=clock)
    disposal.execute_batch(session, RM1, batch.id, drive_of(session, estate), clock=clock)
    session.commit()
    assert not any(p.is_file() for p in home.rglob("*"))
    assert len(disposal.certificate_rows(session, batch.id)) == len(batch.items)

    done = after.advance(session, ADMIN, estate, wave, clock=clock)
    assert [(r.person, r.step, r.done) for r in done] == [("100000", "release", True)]
    row = after.wave_rows(session, wave)[0]
    assert (row.state, row.released_bytes) == ("released", size)

    figures = after.storage_released(session)
    assert figures.released_bytes == size and figures.estate_bytes == size * 4
    assert figures.as_json()["waves"] == [{"wave": "W1", "people": 2, "released": 1,
                                           "released_bytes": size,
                                           "released_tb": round(size / after.TB, 3)}]
    assert figures.share == 0.25


def test_storage_released_is_nothing_before_any_release(session: Session) -> None:
    figures = after.storage_released(session)
    assert (figures.waves, figures.released_bytes, figures.estate_bytes) == ([], 0, 0)
    assert figures.share is None


def test_the_data_owner_may_sign_off_their_own_drive(estate: Settings, session: Session) -> None:
    wave, clock = _archived(session, estate)
    owner = Actor("alex0.smith@example.police.uk", frozenset({Role.VIEWER}))
    row = after.sign_off(session, owner, wave, "100000", "I have what I need", clock=clock)
    assert row.signed_off_by == owner.name
    assert session.get(DriveAfterCutover, row.id) is not None


def test_people_whose_cutover_is_complete_join_the_kfm_group_once(
        estate: Settings, session: Session, onedrive_emulator: EmulatorProcess) -> None:
    wave = _migrated_wave(session, estate)
    with onedrive_emulator.admin() as admin:
        group = admin.post("/groups", json={"displayName": "KFM pilot"}).json()["id"]
        for n in range(2):
            admin.post("/users", json={"userPrincipalName": f"alex{n}.smith@example.police.uk"})
    graph_settings = emulator_settings(onedrive_emulator, kfm_group_id=group,
                                       graph_max_retries=0)
    with pytest.raises(InvalidInput, match="kfm_group_id"):
        after.kfm_group(estate)
    with GraphClient(graph_settings) as client:
        # One of them was put in the group by hand already: Graph's 400 is "already".
        graph_groups.add_member(client, group, graph_groups.user_id(
            client, "alex1.smith@example.police.uk"))
        results = after.add_to_kfm_group(session, ADMIN, graph_settings, wave, client)
        assert [(r.person, r.outcome) for r in results] == [
            ("100000", "added"), ("100001", "already a member")]
        assert sorted(m["userPrincipalName"] for m in graph_groups.members(client, group)) == [
            "alex0.smith@example.police.uk", "alex1.smith@example.police.uk"]
        assert after.add_to_kfm_group(session, ADMIN, graph_settings, wave, client) == []
    assert all(r.kfm_added_at is not None for r in after.wave_rows(session, wave))
    csv_text = after.kfm_membership_csv(session, ADMIN, graph_settings, wave)
    assert csv_text.splitlines()[1].startswith(f"{group},alex0.smith@example.police.uk,100000")


def test_a_sweep_while_another_runs_is_refused(estate: Settings, session: Session) -> None:
    wave = _migrated_wave(session, estate)
    after.advance(session, ADMIN, estate, wave)
    executor = InProcessExecutor(estate)
    first = after.sweep(session, ADMIN, estate, wave, executor)
    with audit.change(session, ADMIN, "test.still_running", first.round):
        first.round.status = "running"  # as if it were still copying
    session.commit()
    with pytest.raises(Conflict, match="is running"):
        after.sweep(session, ADMIN, estate, wave, executor)


def test_a_failed_sweep_is_not_offered_as_a_round_to_retry(estate: Settings,
                                                           session: Session) -> None:
    from mobilise.migration.launch import round_to_start

    wave = _migrated_wave(session, estate)
    after.advance(session, ADMIN, estate, wave)
    swept = after.sweep(session, ADMIN, estate, wave, InProcessExecutor(estate))
    with audit.change(session, ADMIN, "test.failed", swept.round):
        swept.round.status = "failed"  # a task of it failed; the next sweep covers it
    session.commit()
    with pytest.raises(InvalidInput, match="no planned round left"):
        round_to_start(wave)


def test_a_sweep_given_its_plan_inputs_still_scans_the_drives_in_grace_first(
        estate: Settings, session: Session) -> None:
    """The sweep job, the CLI and the API hand the sweep their own retention decisions.
    Under a rule set a file the last scan does not know waits for a decision, so the
    sweep scans the drives in grace first whoever built the decisions: before, only a
    sweep without plan inputs did, and through the job a late file waited for ever."""
    from mobilise.drives.estate import scan_people
    from mobilise.migration.decisions import plan_inputs_from_estate

    estate = estate.model_copy(update={"home_template": f"{estate.home_root}/{{sam}}"})
    wave = _migrated_wave(session, estate)
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    rule_sets.add_rule_set(session, RM1, RULES, clock=clock)
    rule_sets.activate(session, RM1, "drives", 1, clock=clock)
    scanned = scan_people(session, estate, [m.person for m in wave.people], clock)
    session.commit()
    assert len(scanned.scans) == 2
    after.advance(session, ADMIN, estate, wave, clock=clock)
    folder = Path(estate.home_root) / "asmith1" / "Documents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "statement-v2.docx").write_bytes(b"synced late from the laptop")
    (folder / "scratch.tmp").write_bytes(b"the rules dispose of this")
    for name in ("statement-v2.docx", "scratch.tmp"):
        os.utime(folder / name, (1_900_000_000, 1_900_000_000))
    decisions = plan_inputs_from_estate(estate, session, clock)
    report = after.sweep(session, ADMIN, estate, wave, InProcessExecutor(estate),
                         plan_inputs=decisions, clock=clock)
    assert report.late == {"100001": ["Documents/statement-v2.docx"]}
    onedrive = Path(estate.migration_destination_root) / "alex1.smith@example.police.uk"
    assert (onedrive / "Documents" / "statement-v2.docx").exists()
    assert not (onedrive / "Documents" / "scratch.tmp").exists()
