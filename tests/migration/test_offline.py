"""The offline-sync gate: a laptop that has not synced since the freeze holds its owner's
cutover back (with the reason, and a message telling them what to do) until it syncs, or
an operator overrides the check with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms.models import OutboxMessage
from mobilise.comms.templates import ensure_defaults
from mobilise.core.audit import AuditEntry
from mobilise.core.errors import Conflict, InvalidInput
from mobilise.core.settings import Settings
from mobilise.endpoints.inventory import import_endpoints
from mobilise.migration import offline
from mobilise.migration.rounds import cutover, run_round
from mobilise.migration.waves import WaveSelection, create_wave, wave_people
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN
from tests.migration.test_rounds import estate, onedrive  # noqa: F401  (the fixture)

FREEZE = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def inventory(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("Device name,Primary user,Last sync,Items pending\n" + "\n".join(rows)
                    + "\n", encoding="utf-8")
    return path


def test_a_laptop_that_never_syncs_blocks_cutover_until_overridden(
        estate: Settings, session: Session, tmp_path: Path) -> None:  # noqa: F811
    ensure_defaults(session, ADMIN)
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000", "100001",
                                                                   "100002"]),
                       delta_rounds=0, schedule=[None, FREEZE])
    import_endpoints(session, ADMIN, inventory(tmp_path, "a.csv", [
        "LT-0,alex0.smith@example.police.uk,2026-11-28 09:00,0",   # before the freeze
        "LT-1,alex1.smith@example.police.uk,2026-12-02 08:00,0",   # synced after it
        # 100002 has no laptop in the inventory: nothing to wait for
    ]))
    session.commit()
    states = {(r.member.person.number, r.state) for r in offline.wave_laptops(session, wave)}
    assert states == {("100000", offline.STALE), ("100001", offline.SYNCED),
                      ("100002", offline.NO_LAPTOP)}
    assert offline.notify(session, estate, wave) == (1, 0)
    assert offline.notify(session, estate, wave) == (0, 1)  # once per person per freeze
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.template ==
                                                         "offline_sync"))
    assert message is not None and message.recipient == "alex0.smith@example.police.uk"
    assert "LT-0" in message.body and "2026-12-01 18:00" in message.body
    session.commit()

    executor = InProcessExecutor(estate)
    run_round(session, ADMIN, estate, wave, executor)
    home = Path(estate.home_root) / "asmith0"
    (home / "saved-offline.txt").write_bytes(b"late work")
    outcomes = {o.person: o for o in cutover(session, ADMIN, estate, wave, executor,
                                             frozen_confirmed=True)}
    assert outcomes["100001"].migrated and outcomes["100002"].migrated
    held = outcomes["100000"]
    assert not held.migrated and "laptop LT-0" in (held.reason or "")
    assert "before the freeze" in (held.reason or "")
    member = next(m for m in wave_people(session, wave) if m.person.number == "100000")
    assert member.state == "failed" and member.source_frozen_at is None
    assert not (onedrive(estate, 0) / "saved-offline.txt").exists()

    # the laptop still does not sync: the operator overrides, with a reason
    with pytest.raises(InvalidInput):
        offline.override(session, ADMIN, member, "  ")
    offline.override(session, ADMIN, member, "laptop lost; offline copy written off")
    session.commit()
    with pytest.raises(Conflict, match="already overridden"):
        offline.override(session, ADMIN, member, "again")
    outcomes = {o.person: o for o in cutover(session, ADMIN, estate, wave, executor,
                                             frozen_confirmed=True, people=["100000"])}
    assert outcomes["100000"].migrated
    assert (onedrive(estate, 0) / "saved-offline.txt").exists()
    entry = session.scalar(select(AuditEntry).where(
        AuditEntry.action == "migration_person.offline_override"))
    assert entry is not None and entry.reason == "laptop lost; offline copy written off"


def test_a_laptop_that_syncs_after_the_freeze_lets_the_next_run_through(
        estate: Settings, session: Session, tmp_path: Path) -> None:  # noqa: F811
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000"]),
                       delta_rounds=0, schedule=[None, FREEZE])
    import_endpoints(session, ADMIN, inventory(tmp_path, "a.csv", [
        "LT-0,alex0.smith@example.police.uk,2026-12-02 09:00,4"]))  # after, but pending
    session.commit()
    executor = InProcessExecutor(estate)
    run_round(session, ADMIN, estate, wave, executor)
    [first] = cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=True)
    assert not first.migrated and "4 offline item(s) not yet synced" in (first.reason or "")
    import_endpoints(session, ADMIN, inventory(tmp_path, "b.csv", [
        "LT-0,alex0.smith@example.police.uk,2026-12-02 11:30,0"]))
    session.commit()
    [second] = cutover(session, ADMIN, estate, wave, executor, frozen_confirmed=True)
    assert second.migrated, second.reason
