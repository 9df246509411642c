from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.audit import AuditEntry
from mobilise.core.errors import Conflict, InvalidInput
from mobilise.core.settings import Settings
from mobilise.migration.journal import journal_path, read_journal
from mobilise.migration.models import PersonMigration
from mobilise.migration.rounds import cutover, run_round
from mobilise.migration.waves import WaveSelection, create_wave, wave_people
from mobilise.people.models import Person
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN, load_people
from tests.migration.conftest import make_tree, tree_snapshot


@pytest.fixture
def estate(settings: Settings, session: Session, tmp_path: Path) -> Settings:
    load_people(session, tmp_path, count=3)
    for n in range(3):
        home = Path(settings.home_root) / f"asmith{n}"
        home.mkdir(parents=True)
        make_tree(home, 25, seed=n)
    return settings.model_copy(update={"migration_destination": "local",
                                       "migration_destination_root": tmp_path / "onedrive",
                                       "archive_root": tmp_path / "archive",
                                       "migration_shard_files": 10})


def onedrive(settings: Settings, n: int) -> Path:
    return Path(settings.migration_destination_root) / f"alex{n}.smith@example.police.uk"


def test_wave_rounds_then_cutover_migrates_everyone(estate: Settings, session: Session) -> None:
    homes = {n: Path(estate.home_root) / f"asmith{n}" for n in range(3)}
    before = {n: tree_snapshot(h) for n, h in homes.items()}
    wave = create_wave(session, ADMIN, "W1", WaveSelection(org_units=["CE"]), delta_rounds=1)
    session.commit()
    assert [r.kind for r in wave.rounds] == ["pre_seed", "delta", "cutover"]
    with pytest.raises(Conflict):
        create_wave(session, ADMIN, "W2", WaveSelection(people=["100001"]))
    executor = InProcessExecutor(estate, workers=3)
    report = run_round(session, ADMIN, estate, wave, executor)
    assert report.round.status == "done"
    assert {n: t["copied"] for n, t in report.people.items()} == \
        {"100000": 25, "100001": 25, "100002": 25}
    assert all(m.state == "in_progress" for m in wave_people(session, wave))
    for n in range(3):
        assert tree_snapshot(onedrive(estate, n)) == before[n]

    changed = sorted(p for p in homes[1].rglob("*.dat"))[0]
    changed.write_bytes(b"saved on Monday")
    os.utime(changed, (1_900_000_000, 1_900_000_000))
    delta = run_round(session, ADMIN, estate, wave, executor)
    assert delta.people["100001"]["copied"] == 1
    assert delta.people["100000"]["skipped"] == 25

    with pytest.raises(InvalidInput):
        cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=False)
    outcomes = cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=True)
    assert [o.migrated for o in outcomes] == [True, True, True]
    assert all(m.state == "migrated" for m in wave_people(session, wave))
    assert wave.rounds[-1].status == "done"
    verified = [r for r in read_journal(journal_path(estate.data_dir, "100000",
                                                     "round-03-cutover"))
                if r.outcome == "verified"]
    assert len(verified) == 25
    for n in (0, 2):
        assert tree_snapshot(homes[n]) == before[n]


def test_failed_cutover_leaves_the_person_with_the_reason_and_retry_succeeds(
        estate: Settings, session: Session) -> None:
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000", "100002"]),
                       delta_rounds=0)
    session.commit()
    executor = InProcessExecutor(estate)
    run_round(session, ADMIN, estate, wave, executor)
    home = Path(estate.home_root) / "asmith0"
    review = sorted(str(p.relative_to(home)) for p in home.rglob("*.dat"))[0]

    def plan_inputs(person: Person) -> tuple[dict[str, str] | None, dict[str, str]]:
        root = Path(estate.home_root) / (person.sam_account_name or "")
        names = [str(p.relative_to(root)) for p in root.rglob("*.dat")]
        return {n: "review" if n == review and person.number == "100000" else "migrate"
                for n in names}, {}

    outcomes = {o.person: o for o in cutover(session, ADMIN, estate, wave, executor,
                                             frozen_confirmed=True, plan_inputs=plan_inputs)}
    assert outcomes["100002"].migrated
    assert not outcomes["100000"].migrated
    assert "retention review" in (outcomes["100000"].reason or "")
    member = next(m for m in wave_people(session, wave) if m.person.number == "100000")
    assert member.state == "failed" and "retention review" in (member.reason or "")
    assert (home / review).exists()  # still on the H: drive

    again = cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=True,
                    people=["100000"], plan_inputs=plan_inputs,
                    review_override="records manager agreed on 21 Nov")
    assert again[0].migrated
    assert member.state == "migrated"


def test_cutover_fails_when_a_copy_is_corrupt(estate: Settings, session: Session) -> None:
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000"]), delta_rounds=0)
    session.commit()
    executor = InProcessExecutor(estate)
    run_round(session, ADMIN, estate, wave, executor)
    target = max(onedrive(estate, 0).rglob("*.dat"), key=lambda p: p.stat().st_size)
    info = target.stat()
    data = bytearray(target.read_bytes())
    data[0] ^= 1
    target.write_bytes(bytes(data))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    outcome = cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=True)[0]
    assert not outcome.migrated
    assert "not verified" in (outcome.reason or "") and target.name in (outcome.reason or "")


def _hook(tmp_path: Path, body: str) -> str:
    script = tmp_path / "freeze-hook.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return f"{script} --share home$"


def _hook_audit(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry)
                                .where(AuditEntry.action == "migration_person.freeze_hook")
                                .order_by(AuditEntry.seq)))


def test_a_freeze_hook_freezes_each_source_before_the_final_round(
        estate: Settings, session: Session, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    hook = _hook(tmp_path, f'echo "$1 $2 $MOBILISE_PERSON $MOBILISE_WAVE $MOBILISE_UPN '
                 f'$MOBILISE_SOURCE" >> {seen}\n')
    settings = estate.model_copy(update={"migration_freeze_hook": hook})
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000", "100001"]),
                       delta_rounds=0)
    session.commit()
    executor = InProcessExecutor(settings)
    run_round(session, ADMIN, settings, wave, executor)
    outcomes = cutover(session, ADMIN, settings, wave, executor, frozen_confirmed=False)
    assert [o.migrated for o in outcomes] == [True, True]
    lines = seen.read_text().splitlines()
    assert lines == [f"--share home$ 10000{n} W1 alex{n}.smith@example.police.uk "
                     f"{Path(estate.home_root) / f'asmith{n}'}" for n in range(2)]
    entries = _hook_audit(session)
    assert [(e.after or {}).get("frozen") for e in entries] == [True, True]
    assert all(m.source_frozen_at is not None for m in wave_people(session, wave))


@pytest.mark.parametrize(("body", "timeout", "expected"), [
    ('[ "$MOBILISE_PERSON" = 100000 ] && { echo "share busy: 3 open files" >&2; exit 3; }\n'
     "exit 0\n", 120.0, "exited with status 3: share busy: 3 open files"),
    ('[ "$MOBILISE_PERSON" = 100000 ] && { sleep 60 & sleep 60; }\nexit 0\n', 1.0,
     "did not finish within 1 s"),
])
def test_a_failed_or_stuck_freeze_hook_leaves_that_person_on_their_h_drive(
        estate: Settings, session: Session, tmp_path: Path, body: str, timeout: float,
        expected: str) -> None:
    settings = estate.model_copy(update={
        "migration_freeze_hook": _hook(tmp_path, body),
        "migration_freeze_hook_timeout_seconds": timeout})
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000", "100001"]),
                       delta_rounds=0)
    session.commit()
    executor = InProcessExecutor(settings)
    run_round(session, ADMIN, settings, wave, executor)
    home = Path(estate.home_root) / "asmith0"
    late = home / "saved-after-the-pre-seed.txt"
    late.write_bytes(b"would have moved in the final round")
    before = tree_snapshot(home)
    earlier = next(m for m in wave_people(session, wave) if m.person.number == "100000")
    with audit.change(session, ADMIN, "migration_person.source_frozen", earlier):
        earlier.source_frozen_at = datetime(2026, 11, 30, tzinfo=UTC)  # an earlier attempt
    session.commit()
    started = time.monotonic()
    outcomes = {o.person: o for o in cutover(session, ADMIN, settings, wave, executor,
                                             frozen_confirmed=True)}
    assert time.monotonic() - started < 30
    assert outcomes["100001"].migrated
    assert not outcomes["100000"].migrated and expected in (outcomes["100000"].reason or "")
    member = next(m for m in wave_people(session, wave) if m.person.number == "100000")
    assert member.state == "failed" and expected in (member.reason or "")
    assert member.source_frozen_at is None
    assert not (onedrive(settings, 0) / late.name).exists()  # no final round for them
    assert tree_snapshot(home) == before
    entries = {(e.after or {}).get("person"): e for e in _hook_audit(session)}
    assert expected in (entries["100000"].reason or "")
    assert (entries["100000"].after or {})["frozen"] is False
    assert (entries["100001"].after or {})["frozen"] is True
    transitions = list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity_id == str(member.id), AuditEntry.reason.contains(expected))))
    assert transitions


def test_a_freeze_hook_that_cannot_start_fails_the_cutover_with_the_reason() -> None:
    from mobilise.migration.freeze import run_freeze_hook

    missing = run_freeze_hook("/nonexistent/freeze --now", {}, 5)
    assert not missing.frozen and "could not start" in (missing.reason or "")
    broken = run_freeze_hook('freeze "unterminated', {}, 5)
    assert not broken.frozen and "not a valid command line" in (broken.reason or "")
    fine = run_freeze_hook("true", {}, 5)
    assert fine.frozen and fine.status == 0


def test_a_person_whose_task_fails_is_failed_with_the_reason_and_retried_first(
        estate: Settings, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from mobilise.core.transitions import run_transition
    from mobilise.migration.launch import round_to_start
    from mobilise.migration.transitions import ROUND_LIFECYCLE
    from mobilise.workers import registry

    real = registry._TASKS["migration.sync_shard"]

    def broken_for_one(settings: Settings, payload: dict) -> dict:  # type: ignore[type-arg]
        if payload["person"] == "100001":
            raise OSError("the share went away")
        return real(settings, payload)

    monkeypatch.setitem(registry._TASKS, "migration.sync_shard", broken_for_one)
    wave = create_wave(session, ADMIN, "W1", WaveSelection(org_units=["CE"]), delta_rounds=1)
    session.commit()
    report = run_round(session, ADMIN, estate, wave, InProcessExecutor(estate, workers=2))
    assert report.round.status == "failed" and "the share went away" in report.round.reason
    states = {m.person.number: (m.state, m.reason) for m in wave_people(session, wave)}
    assert states["100000"] == ("in_progress", None)
    assert states["100001"][0] == "failed"
    assert "round 1 failed" in states["100001"][1] and "the share went away" in states["100001"][1]
    # The next round is not started over the failed one: it is retried first.
    with pytest.raises(Conflict, match="round 1 failed"):
        round_to_start(wave, 2)
    assert round_to_start(wave).number == 1
    monkeypatch.setitem(registry._TASKS, "migration.sync_shard", real)
    run_transition(session, ADMIN, ROUND_LIFECYCLE, "replan", [wave.rounds[0]], reason="retry")
    session.commit()
    again = run_round(session, ADMIN, estate, wave, InProcessExecutor(estate, workers=2),
                      number=1)
    assert again.round.status == "done" and again.round.reason is None
    assert all(m.state == "in_progress" and m.reason is None for m in wave_people(session, wave))


def _audited(session: Session, action: str) -> list[str]:
    return list(session.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == action)))


def test_two_cutovers_of_the_same_people_at_once_cut_each_over_once(
        estate: Settings, session: Session) -> None:
    import threading

    from mobilise.core.db import session_scope
    from mobilise.migration.models import MigrationWave

    wave = create_wave(session, ADMIN, "W1", WaveSelection(org_units=["CE"]), delta_rounds=0)
    session.commit()
    run_round(session, ADMIN, estate, wave, InProcessExecutor(estate, workers=2))
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def operator() -> None:
        with session_scope(estate) as s:
            mine = s.scalars(select(MigrationWave).where(MigrationWave.name == "W1")).one()
            barrier.wait()
            try:
                outcomes.append(cutover(s, ADMIN, estate, mine,
                                        InProcessExecutor(estate, workers=2),
                                        frozen_confirmed=True))
            except (Conflict, InvalidInput) as refused:
                outcomes.append(refused)

    threads = [threading.Thread(target=operator) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    session.expire_all()
    assert all(m.state == "migrated" for m in wave_people(session, wave)), outcomes
    # Each person frozen, and cut over, by one run only.
    for action in ("migration_person.source_frozen", "migration_person.migrate"):
        done = _audited(session, action)
        assert sorted(done) == sorted(set(done)) and len(done) == 3, (action, done)
    claims = session.scalars(select(PersonMigration.cutover_claim)).all()
    assert claims == [None, None, None]  # released at the end


def test_a_cutover_holding_the_people_refuses_another_until_its_lease_lapses(
        estate: Settings, session: Session) -> None:
    from datetime import timedelta

    from mobilise.migration.rounds import claim_for_cutover, release_cutover_claim

    wave = create_wave(session, ADMIN, "W1", WaveSelection(org_units=["CE"]), delta_rounds=0)
    session.commit()
    executor = InProcessExecutor(estate, workers=2)
    run_round(session, ADMIN, estate, wave, executor)
    now = datetime.now(UTC)
    members = list(wave_people(session, wave))
    claim_for_cutover(session, members, "a-running-cutover", now, now + timedelta(hours=12))
    with pytest.raises(Conflict, match="another cutover of these 3 people is running"):
        cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=True)
    assert _audited(session, "migration_person.source_frozen") == []
    release_cutover_claim(session, "a-running-cutover")
    # A run that died: its lease lapsed, so the people are free again.
    claim_for_cutover(session, members, "a-dead-cutover", now - timedelta(hours=13),
                      now - timedelta(hours=1))
    outcomes = cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=True)
    assert [o.migrated for o in outcomes] == [True, True, True]
