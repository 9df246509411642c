from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.audit import AuditEntry, UnauditedChange
from mobilise.core.db import Base, session_factory, session_scope
from mobilise.core.errors import AuditChainBroken
from mobilise.core.settings import Settings
from mobilise.people.models import Person
from tests.factories import ADMIN, load_people


def _chain(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=5)
    person = session.scalars(select(Person)).first()
    assert person is not None
    with audit.change(session, ADMIN, "person.update", person, reason="test"):
        person.rank = "Sergeant"
    session.commit()
    assert audit.verify(session).entries >= 10


def test_intact_chain_verifies(session: Session, tmp_path: Path) -> None:
    _chain(session, tmp_path)
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))


def test_altered_entry_is_named(session: Session, tmp_path: Path) -> None:
    _chain(session, tmp_path)
    session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(reason="covered up"))
    session.commit()
    with pytest.raises(AuditChainBroken, match="entry 4 was altered"):
        audit.verify(session)


def test_altered_before_snapshot_is_named(session: Session, tmp_path: Path) -> None:
    _chain(session, tmp_path)
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert last is not None
    session.execute(update(AuditEntry).where(AuditEntry.seq == last.seq)
                    .values(after={**(last.after or {}), "rank": "Chief Constable"}))
    session.commit()
    with pytest.raises(AuditChainBroken, match=f"entry {last.seq} was altered"):
        audit.verify(session)


def test_deleted_entry_is_named(session: Session, tmp_path: Path) -> None:
    _chain(session, tmp_path)
    session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    session.commit()
    with pytest.raises(AuditChainBroken, match="entry 3 is missing"):
        audit.verify(session)


def test_deleted_last_entry_is_noticed(session: Session, tmp_path: Path) -> None:
    _chain(session, tmp_path)
    last = session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()))
    session.execute(text(f"DELETE FROM audit_log WHERE seq = {last}"))
    session.commit()
    with pytest.raises(AuditChainBroken, match=f"entries after {last - 1} were deleted"):
        audit.verify(session)


def test_swapped_entries_are_named(session: Session, tmp_path: Path) -> None:
    _chain(session, tmp_path)
    a = session.get(AuditEntry, 5)
    b = session.get(AuditEntry, 6)
    assert a and b
    fields = ["at", "actor", "action", "entity", "entity_id", "before", "after", "reason",
              "prev_hash", "hash"]
    va = {f: getattr(a, f) for f in fields}
    vb = {f: getattr(b, f) for f in fields}
    session.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(**vb))
    session.execute(update(AuditEntry).where(AuditEntry.seq == 6).values(**va))
    session.commit()
    with pytest.raises(AuditChainBroken, match="entry 5"):
        audit.verify(session)


def test_unaudited_change_cannot_be_flushed(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    person = session.scalars(select(Person)).first()
    assert person is not None
    person.rank = "Commissioner"
    with pytest.raises(UnauditedChange):
        session.flush()


def test_change_after_the_audited_block_is_refused(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    person = session.scalars(select(Person)).first()
    assert person is not None
    with audit.change(session, ADMIN, "person.update", person):
        person.rank = "Sergeant"
    person.rank = "Inspector"  # sneaked in after the audited change
    with pytest.raises(UnauditedChange):
        session.flush()


def test_every_audited_model_refuses_an_unaudited_insert(session: Session) -> None:
    audited = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, audit.Audited)]
    assert {"Person", "User", "OrgUnit", "Site", "ApiToken"} <= {c.__name__ for c in audited}
    for model in audited:
        session.add(model())
        with pytest.raises(UnauditedChange):
            session.flush()
        session.rollback()


def test_unaudited_delete_is_refused(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=1)
    person = session.scalars(select(Person)).one()
    session.delete(person)
    with pytest.raises(UnauditedChange):
        session.flush()


def test_rolled_back_change_leaves_no_entry(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=1)
    before = audit.verify(session).entries
    person = session.scalars(select(Person)).one()
    with audit.change(session, ADMIN, "person.update", person):
        person.rank = "Sergeant"
    session.flush()
    session.rollback()
    assert audit.verify(session).entries == before


def _writer(url: str, worker: int, changes: int) -> None:
    settings = Settings(database_url=url)
    for i in range(changes):
        with session_scope(settings) as s:
            audit.event(s, ADMIN, "test.write", "worker", str(worker), {"i": i})


def test_concurrent_writers_make_one_chain(settings: Settings) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(settings.database_url, w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with session_factory(settings)() as s:
        assert audit.verify(s).entries == 160
        per_worker = s.execute(text(
            "SELECT entity_id, COUNT(*) FROM audit_log GROUP BY entity_id")).all()
        assert sorted(n for _, n in per_worker) == [40, 40, 40, 40]


def test_secret_changes_are_audited_without_their_values(session: Session) -> None:
    from mobilise.core import auth

    user = auth.add_user(session, ADMIN, "sam", "first password!!", ["viewer"])
    session.commit()
    old_hash = user.password_hash
    auth.set_password(session, ADMIN, user, "second password!!")
    session.commit()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.password")).one()
    assert entry.before["password_hash"] == "(redacted)"
    assert entry.after["password_hash"] == "(redacted, changed)"
    dump = " ".join(str(e.before) + str(e.after) for e in session.scalars(select(AuditEntry)))
    assert old_hash not in dump and user.password_hash not in dump
    assert audit.verify(session).entries == 2


def test_change_many_writes_one_entry_per_changed_row(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=5)
    people = list(session.scalars(select(Person).order_by(Person.id)))
    first, second, third = people[:3]
    changed = audit.change_many(session, ADMIN, "person.bulk", Person, {
        first.id: {"rank": "Sergeant"}, second.id: {"rank": "Inspector", "site_id": None},
        third.id: {"rank": third.rank}},  # unchanged: no entry
        reasons={first.id: "promoted"}, reason="bulk")
    session.commit()
    assert changed == 2
    assert (first.rank, second.rank) == ("Sergeant", "Inspector")  # expired, read afresh
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "person.bulk")
                              .order_by(AuditEntry.seq)).all()
    assert [(e.entity_id, e.reason) for e in entries] == [(str(first.id), "promoted"),
                                                          (str(second.id), "bulk")]
    assert entries[0].before is not None and entries[0].after is not None
    assert entries[0].after["rank"] == "Sergeant" and entries[0].before["rank"] != "Sergeant"
    audit.verify(session)
    with pytest.raises(LookupError):
        audit.change_many(session, ADMIN, "person.bulk", Person, {999_999: {"rank": "x"}})
