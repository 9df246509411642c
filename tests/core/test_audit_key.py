"""The audit chain read in one snapshot while others write (tracker #17, item 18), and
anchored outside the database by a key and a checkpoint (item 19)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.audit import AuditEntry, AuditHead, Checkpoint
from mobilise.core.db import session_factory, session_scope
from mobilise.core.errors import AuditChainBroken, InvalidInput
from mobilise.core.settings import Settings
from tests.cli.test_rollout_cli import SRC
from tests.factories import ADMIN
from tests.web.test_commit import serve

KEY = "an audit key of enough length, kept off the database server"
OTHER_KEY = "the next audit key, after a rotation, also long enough"


def keyed(settings: Settings, key: str = KEY, retired: tuple[str, ...] = ()) -> Settings:
    return settings.model_copy(update={"audit_key": SecretStr(key),
                                       "audit_retired_keys": [SecretStr(k) for k in retired]})


def write(settings: Settings, count: int, action: str = "test.event") -> None:
    with session_scope(settings) as s:
        for n in range(count):
            audit.event(s, ADMIN, action, "thing", str(n), {"n": n})


@pytest.fixture
def anchored(settings: Settings) -> Iterator[tuple[Settings, Checkpoint]]:
    """A keyed chain of 21 entries (20 events and the checkpoint's own), checkpointed,
    then 5 more entries."""
    k = keyed(settings)
    write(k, 20)
    with session_scope(k) as s:
        mark = audit.checkpoint(s, ADMIN)
    write(k, 5)
    yield k, mark


def _verify(settings: Settings, mark: Checkpoint | None = None) -> audit.Verification:
    with session_scope(settings) as s:
        return audit.verify(s, checkpoint=mark)


def _move_head(s: Session, seq: int) -> None:
    last = s.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq)) if seq else None
    s.execute(update(AuditHead).where(AuditHead.id == 1)
              .values(seq=seq, hash=last or audit.GENESIS))


# --- item 18: one snapshot ------------------------------------------------------------


def test_verify_while_a_writer_appends_is_always_intact(settings: Settings) -> None:
    write(settings, 3000)  # a walk long enough for writers to commit during it
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        while not stop.is_set():
            write(settings, 50, "test.concurrent")
            written[0] += 50

    thread = threading.Thread(target=writer)
    thread.start()
    verdicts = []
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline or len(verdicts) < 3:
            verdicts.append(_verify(settings).entries)
    finally:
        stop.set()
        thread.join(60)
    assert written[0] > 0 and len(verdicts) >= 3
    assert verdicts == sorted(verdicts) and verdicts[-1] > 3000


def test_verify_over_the_api_while_a_writer_appends_is_never_500(settings: Settings) -> None:
    import httpx

    from mobilise.core import auth
    from mobilise.web.app import create_app

    write(settings, 2000)
    with session_scope(settings) as s:
        user = auth.add_user(s, ADMIN, "auditor", "a long enough password", ["auditor"])
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "test")
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            write(settings, 50, "test.concurrent")

    thread = threading.Thread(target=writer)
    statuses = []
    for url in serve(create_app(settings)):
        thread.start()
        try:
            with httpx.Client(base_url=url, timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as client:
                for _ in range(8):
                    answer = client.get("/api/v1/audit/verify")
                    statuses.append((answer.status_code, answer.json().get("intact")))
        finally:
            stop.set()
            thread.join(60)
    assert statuses == [(200, True)] * 8


# --- item 19: key and checkpoint ------------------------------------------------------


def test_keyed_chain_verifies_and_counts_its_keyed_entries(
        anchored: tuple[Settings, Checkpoint]) -> None:
    k, mark = anchored
    result = _verify(k, mark)
    assert result.entries == 26 and result.keyed == 26 and mark.seq == 21
    with session_scope(k) as s:
        assert s.scalar(select(AuditEntry.key_id).where(AuditEntry.seq == 1)) == \
            audit.key_id(KEY.encode())


def test_truncating_and_moving_the_head_is_caught_by_the_checkpoint(
        anchored: tuple[Settings, Checkpoint]) -> None:
    k, mark = anchored
    with session_scope(k) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 15))
        _move_head(s, 15)
    _verify(k)  # consistent in itself: only the anchor outside the database shows it
    with pytest.raises(AuditChainBroken, match="ends at entry 15 but the checkpoint"):
        _verify(k, mark)


def test_deleting_everything_is_caught_by_the_checkpoint(
        anchored: tuple[Settings, Checkpoint]) -> None:
    k, mark = anchored
    with session_scope(k) as s:
        s.execute(delete(AuditEntry))
        _move_head(s, 0)
    assert _verify(k).entries == 0
    with pytest.raises(AuditChainBroken, match="ends at entry 0 but the checkpoint"):
        _verify(k, mark)


@pytest.mark.parametrize("strip_key", [False, True])
def test_rewriting_and_recomputing_with_the_public_hash_is_caught_by_the_key(
        anchored: tuple[Settings, Checkpoint], strip_key: bool) -> None:
    k, mark = anchored
    with session_scope(k) as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        prev = rows[2].prev_hash
        for row in rows[2:]:
            after = {"n": "covered up"} if row.seq == 3 else row.after
            body = audit._entry_body(row.seq, row.at, row.actor, row.action, row.entity,
                                     row.entity_id, row.before, after, row.reason,
                                     row.request_id)
            digest = audit.chain_hash(prev, body)
            s.execute(update(AuditEntry).where(AuditEntry.seq == row.seq).values(
                after=after, prev_hash=prev, hash=digest,
                key_id=None if strip_key else row.key_id))
            prev = digest
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    with pytest.raises(AuditChainBroken, match="entry 3"):
        _verify(k)
    with pytest.raises(AuditChainBroken, match="entry 3"):
        _verify(k, mark)


def test_stripping_every_key_is_caught(anchored: tuple[Settings, Checkpoint]) -> None:
    k, _ = anchored
    with session_scope(k) as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        prev = audit.GENESIS
        for row in rows:
            body = audit._entry_body(row.seq, row.at, row.actor, row.action, row.entity,
                                     row.entity_id, row.before, row.after, row.reason,
                                     row.request_id)
            digest = audit.chain_hash(prev, body)
            s.execute(update(AuditEntry).where(AuditEntry.seq == row.seq)
                      .values(prev_hash=prev, hash=digest, key_id=None))
            prev = digest
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    with pytest.raises(AuditChainBroken, match="newest entry .* is not keyed"):
        _verify(k)


def test_an_altered_checkpoint_file_is_refused(anchored: tuple[Settings, Checkpoint]) -> None:
    k, mark = anchored
    keys = audit.AuditKeys(KEY.encode())
    forged = Checkpoint(5, mark.hash, mark.taken_at, mark.key_id, mark.mac)
    with pytest.raises(InvalidInput, match="signature does not verify"):
        Checkpoint.from_json(forged.to_json(), keys)
    assert Checkpoint.from_json(mark.to_json(), keys) == mark
    with pytest.raises(InvalidInput, match="not configured"):
        Checkpoint.from_json(mark.to_json(), audit.AuditKeys(OTHER_KEY.encode()))


def test_unkeyed_entries_before_the_key_and_a_rotation_verify(settings: Settings) -> None:
    write(settings, 4)                      # before any key: plain SHA-256
    write(keyed(settings), 3)               # then keyed
    rotated = keyed(settings, OTHER_KEY, retired=(KEY,))
    write(rotated, 2)
    assert _verify(rotated).keyed == 5
    with pytest.raises(AuditChainBroken, match="entry 5 is keyed with audit key"):
        _verify(keyed(settings, OTHER_KEY))  # the retired key was forgotten
    with pytest.raises(AuditChainBroken, match="entry 5 is keyed"):
        _verify(settings)                    # no key at all


def test_checkpoint_needs_the_key(session: Session) -> None:
    with pytest.raises(InvalidInput, match="MOBILISE_AUDIT_KEY"):
        audit.checkpoint(session, ADMIN)


def test_cli_checkpoint_then_verify(settings: Settings, tmp_path: Path) -> None:
    k = keyed(settings)
    write(k, 3)
    env_key = {"MOBILISE_AUDIT_KEY": KEY}
    out = tmp_path / "checkpoint.json"
    made = run_with(k, env_key, "audit", "checkpoint", "--out", str(out))
    assert made.returncode == 0, made.stderr
    ok = run_with(k, env_key, "audit", "verify", "--checkpoint", str(out))
    assert ok.returncode == 0 and "unchanged up to the checkpoint" in ok.stdout, ok.stderr
    with session_scope(k) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 2))
        _move_head(s, 2)
    broken = run_with(k, env_key, "audit", "verify", "--checkpoint", str(out))
    assert broken.returncode == 6 and "were deleted" in broken.stderr


def run_with(settings: Settings, env: dict[str, str],
             *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(SRC), "MOBILISE_DATABASE_URL":
            settings.database_url, "MOBILISE_CONFIG": "/nonexistent/mobilise.toml",
            "COLUMNS": "200", **env}
    return subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args], env=full,
                          capture_output=True, text=True, timeout=120)


def test_sessions_carry_the_configured_keys(settings: Settings) -> None:
    assert audit.keys_of(session_factory(keyed(settings))()).current == KEY.encode()
    assert audit.keys_of(session_factory(settings)()).current is None
    with pytest.raises(ValueError, match="differ from secret_key"):
        Settings(audit_key=SecretStr(KEY), secret_key=SecretStr(KEY))
