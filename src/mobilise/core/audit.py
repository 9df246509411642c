"""The one audit log: append-only, hash-chained, written in the same transaction as the
change it records.

Every change to an audited entity (a model that mixes in ``Audited``) goes through
``create``, ``change`` or ``delete`` here. A ``before_flush`` hook refuses to flush any
audited row that was added, altered or deleted without them, so nothing can skip the log.
Entries are written in ``after_flush`` (when new rows have their ids) by ``_append``,
which takes the chain head with ``UPDATE audit_head ... RETURNING``: that row lock
serialises concurrent writers on PostgreSQL and takes SQLite's write lock, so several
processes still build one unbroken chain.

Each entry stores ``hash = sha256(prev_hash + canonical_json(entry))``; ``verify`` walks
the chain and names the first entry that was altered, deleted, inserted or reordered.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import DateTime, Integer, String, Text, bindparam, insert, inspect, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.db import Base
from mobilise.core.errors import AuditChainBroken

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(100), index=True)
    entity_id: Mapped[str | None] = mapped_column(String(200), index=True)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash. Its row lock orders the writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class UnauditedChange(RuntimeError):
    """A programming error: an audited row changed outside ``mobilise.core.audit``."""


_PLAIN = (str, int, float, bool, type(None))


def json_safe(value: Any) -> Any:
    # Most cells are plain; answering them first keeps bulk imports (30,000 audited rows)
    # fast. Enums are str subclasses, so the exact-type test must not catch them.
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return value


class Audited:
    """Mix into a model whose every change must be audited.

    Columns named in ``__audit_exclude__`` (password and token hashes) are audited as
    changed or not, never by value.
    """

    __audit_exclude__: ClassVar[frozenset[str]] = frozenset()

    def audit_state(self) -> dict[str, Any]:
        """Every column's value: what the flush hook compares."""
        return {key: json_safe(getattr(self, key)) for key in _column_keys(type(self))}

    def audit_snapshot(self, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the log records: secrets redacted, marked when they changed."""
        state = self.audit_state()
        for key in self.__audit_exclude__:
            changed = previous is not None and previous.get(key) != state.get(key)
            state[key] = "(redacted, changed)" if changed else "(redacted)"
        return state

    @property
    def audit_entity(self) -> str:
        return str(getattr(self, "__tablename__", type(self).__name__))

    @property
    def audit_id(self) -> str | None:
        # Read the key from the instance: in after_flush a new row has its id but not yet
        # its identity key.
        ident = inspect(type(self)).primary_key_from_instance(self)
        if any(part is None for part in ident):
            return None
        return "/".join(str(part) for part in ident)


_COLUMN_KEYS: dict[type, tuple[str, ...]] = {}


def _column_keys(cls: type[Audited]) -> tuple[str, ...]:
    keys = _COLUMN_KEYS.get(cls)
    if keys is None:
        keys = tuple(attr.key for attr in inspect(cls).column_attrs)
        _COLUMN_KEYS[cls] = keys
    return keys


@dataclass
class _Pending:
    actor: Actor
    action: str
    entity: str
    entity_id: str | None
    before: dict[str, Any] | None
    reason: str | None
    obj: Audited | None = None
    deleted: bool = False
    after: dict[str, Any] | None = None
    expected: dict[str, Any] | None = field(default=None, repr=False)


def _pending(session: Session) -> list[_Pending]:
    return session.info.setdefault("audit_pending", [])  # type: ignore[no-any-return]


def _clock(session: Session) -> Clock:
    return session.info.get("clock") or SystemClock()  # type: ignore[no-any-return]


def use_clock(session: Session, clock: Clock) -> None:
    session.info["clock"] = clock


def _without_keys(snapshot: dict[str, Any], obj: Audited) -> dict[str, Any]:
    keys = {c.key for c in inspect(type(obj)).primary_key}
    return {k: v for k, v in snapshot.items() if k not in keys}


def create(
    session: Session, actor: Actor, action: str, obj: Audited, *, reason: str | None = None
) -> Any:
    """Add a new audited row and record its creation."""
    session.add(obj)
    _pending(session).append(
        _Pending(actor, action, obj.audit_entity, None, None, reason, obj=obj,
                 expected=_without_keys(obj.audit_state(), obj))
    )
    return obj


def create_many(
    session: Session, actor: Actor, action: str, model: type[Audited],
    rows: list[dict[str, Any]], *, reason: str | None = None, natural_key: str | None = None,
) -> list[Any]:
    """Insert many new rows of one audited model in batched statements, with one audit
    entry each, in the current transaction; returns their primary keys in order.

    For bulk registration (a 30,000-line manifest), where building one ORM object per row
    costs more than everything else. Rows must give every column but the key; columns
    left out take their scalar default."""
    if not rows:
        return []
    mapper = inspect(model)
    table = mapper.local_table
    key = mapper.primary_key[0]
    defaults = {c.key: (c.default.arg if c.default is not None and c.default.is_scalar
                        else None) for c in table.columns if c is not key}
    full = [{**defaults, **row} for row in rows]
    ids = _insert_many(session, table, key, full, natural_key)
    entity = str(table.name)
    columns = _column_keys(model)
    secret = model.__audit_exclude__
    pending = [
        _Pending(actor, action, entity, str(ident), None, reason,
                 after={k: "(redacted)" if k in secret
                        else json_safe(ident if k == key.key else row.get(k)) for k in columns})
        for ident, row in zip(ids, full, strict=True)
    ]
    _append(session, pending)
    return ids


def _insert_many(session: Session, table: Any, key: Any, rows: list[dict[str, Any]],
                 natural_key: str | None) -> list[Any]:
    """The new rows' keys, in order. With a unique ``natural_key`` the rows go in as a plain
    executemany (a pipeline on PostgreSQL) and the keys are read back by it: several times
    faster on PostgreSQL than a multi-row INSERT ... RETURNING, whose very long statements
    the driver must parse."""
    if natural_key is None:
        stmt = insert(table).returning(key, sort_by_parameter_order=True)
        return list(session.execute(stmt, rows).scalars())
    session.execute(insert(table), rows)
    column = table.c[natural_key]
    wanted = [row[natural_key] for row in rows]
    found: dict[Any, Any] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        found.update((n, k) for k, n in session.execute(
            select(key, column).where(column.in_(chunk))))
    return [found[n] for n in wanted]


@contextmanager
def change(
    session: Session, actor: Actor, action: str, obj: Audited, *, reason: str | None = None
) -> Iterator[Audited]:
    """Change an audited row inside the block; its before and after are recorded."""
    before = obj.audit_state()
    yield obj
    after = obj.audit_state()
    if after == before:
        return
    record = _Pending(actor, action, obj.audit_entity, obj.audit_id, before, reason, obj=obj,
                      expected=_without_keys(after, obj))
    _pending(session).append(record)


def delete(
    session: Session, actor: Actor, action: str, obj: Audited, *, reason: str | None = None
) -> None:
    _pending(session).append(
        _Pending(actor, action, obj.audit_entity, obj.audit_id, obj.audit_snapshot(), reason,
                 obj=obj, deleted=True)
    )
    session.delete(obj)


def event(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | None,
    data: dict[str, Any],
    *,
    reason: str | None = None,
) -> None:
    """Record something that is not a row change (a file deleted on storage, a login)."""
    session.flush()
    _append(session, [_Pending(actor, action, entity, entity_id, None, reason,
                               after=json_safe(data))])


@sa_event.listens_for(Session, "before_flush")
def _refuse_unaudited(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    pending = _pending(session)
    latest: dict[int, _Pending] = {id(p.obj): p for p in pending if p.obj is not None}
    # session.dirty scans the whole identity map each time it is read: read it once, or a
    # flush of n changed rows costs n scans (minutes for a 40,000-handset Intune sync).
    dirty, deleted = session.dirty, session.deleted
    for obj in list(session.new) + list(dirty) + list(deleted):
        if not isinstance(obj, Audited):
            continue
        if obj in dirty and not session.is_modified(obj):
            continue
        record = latest.get(id(obj))
        if record is None:
            raise UnauditedChange(f"{obj.audit_entity} {obj.audit_id} changed without audit")
        if obj in deleted:
            if not record.deleted:
                raise UnauditedChange(f"{obj.audit_entity} {obj.audit_id} deleted without audit")
        elif _without_keys(obj.audit_state(), obj) != record.expected:
            raise UnauditedChange(
                f"{obj.audit_entity} {obj.audit_id} changed after its audited change"
            )


@sa_event.listens_for(Session, "after_flush")
def _write_pending(session: Session, _ctx: UOWTransaction) -> None:
    pending = session.info.pop("audit_pending", [])
    if not pending:
        return
    for p in pending:
        if p.obj is not None and not p.deleted:
            p.entity_id = p.obj.audit_id
            p.after = p.obj.audit_snapshot(previous=p.before)
        if p.obj is not None and p.before is not None:
            p.before = _redact(p.obj, p.before)
    _append(session, pending)


@sa_event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop("audit_pending", None)


def _redact(obj: Audited, state: dict[str, Any]) -> dict[str, Any]:
    return {k: "(redacted)" if k in obj.__audit_exclude__ else v for k, v in state.items()}


def canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _entry_body(
    seq: int, at: datetime, p_actor: str, action: str, entity: str, entity_id: str | None,
    before: Any, after: Any, reason: str | None, request_id: str | None,
) -> dict[str, Any]:
    return {
        "seq": seq, "at": utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "actor": p_actor,
        "action": action, "entity": entity, "entity_id": entity_id,
        "before": before, "after": after, "reason": reason, "request_id": request_id,
    }


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(body)).encode("utf-8")).hexdigest()


def _append(session: Session, records: list[_Pending]) -> None:
    conn = session.connection()
    head = conn.execute(
        update(AuditHead).where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + len(records))
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    seq = head.seq - len(records)
    prev = head.hash
    at = utc(_clock(session).now())
    rows = []
    for p in records:
        seq += 1
        body = _entry_body(seq, at, p.actor.name, p.action, p.entity, p.entity_id,
                           p.before, p.after, p.reason, p.actor.request_id)
        digest = chain_hash(prev, body)
        rows.append({**body, "at": at, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(insert(AuditEntry), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))


@dataclass(frozen=True)
class Verification:
    entries: int
    last_hash: str


def verify(session: Session) -> Verification:
    """Walk the whole chain; raise ``AuditChainBroken`` naming the first bad entry."""
    expected_seq, prev = 1, GENESIS
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=5000)
    for row in session.scalars(stmt):
        if row.seq != expected_seq:
            raise AuditChainBroken(
                f"audit entry {expected_seq} is missing (deleted or renumbered); "
                f"the next entry is {row.seq}"
            )
        if row.prev_hash != prev:
            raise AuditChainBroken(
                f"audit entry {row.seq} does not follow entry {row.seq - 1} "
                "(an entry was inserted, deleted or reordered)"
            )
        body = _entry_body(row.seq, row.at, row.actor, row.action, row.entity, row.entity_id,
                           row.before, row.after, row.reason, row.request_id)
        if chain_hash(prev, body) != row.hash:
            raise AuditChainBroken(f"audit entry {row.seq} was altered (its hash does not match)")
        prev = row.hash
        expected_seq += 1
    head = session.get(AuditHead, 1)
    if head is None or head.seq != expected_seq - 1 or head.hash != prev:
        raise AuditChainBroken(
            f"the chain ends at entry {expected_seq - 1} but its head records entry "
            f"{head.seq if head else '?'}: entries after {expected_seq - 1} were deleted"
        )
    return Verification(entries=expected_seq - 1, last_hash=prev)


def change_many(
    session: Session, actor: Actor, action: str, model: type[Audited],
    changes: dict[Any, dict[str, Any]], *, reasons: Mapping[Any, str | None] | None = None,
    reason: str | None = None,
) -> int:
    """Change many existing rows of one audited model in batched statements, with one audit
    entry each (before and after), in the current transaction. ``changes`` maps a primary
    key to the new column values; ``reasons`` may give each row its own reason.

    For bulk moves (10,000 hand-overs) where one ORM object per row costs more than the
    work. Instances of ``model`` already in the session are expired, so that they read
    the new values rather than flushing stale ones."""
    if not changes:
        return 0
    session.flush()
    mapper = inspect(model)
    table = mapper.local_table
    key = mapper.primary_key[0]
    columns = _column_keys(model)
    column_of = {attr.key: attr.columns[0] for attr in mapper.column_attrs}
    ids = list(changes)
    before: dict[Any, dict[str, Any]] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for row in session.execute(select(*(column_of[k] for k in columns))
                                   .where(key.in_(chunk))):
            state = {k: json_safe(v) for k, v in zip(columns, row, strict=True)}
            before[state[key.key]] = state
    missing = [i for i in ids if i not in before]
    if missing:
        raise LookupError(f"{table.name}: no rows with keys {missing[:10]}")
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for ident, values in changes.items():
        by_shape.setdefault(tuple(sorted(values)), []).append(
            {"_key": ident, **{column_of[k].name: v for k, v in values.items()}})
    for shape, params in by_shape.items():
        stmt = (update(table).where(key == bindparam("_key"))
                .values({column_of[k].name: bindparam(column_of[k].name) for k in shape}))
        session.connection().execute(stmt, params)
    secret = model.__audit_exclude__
    pending = []
    for ident, values in changes.items():
        old = before[ident]
        new = {**old, **{k: json_safe(v) for k, v in values.items()}}
        if new == old:
            continue
        pending.append(_Pending(
            actor, action, str(table.name), str(ident),
            {k: "(redacted)" if k in secret else v for k, v in old.items()},
            (reasons or {}).get(ident, reason),
            after={k: "(redacted)" if k in secret else v for k, v in new.items()}))
    if pending:
        _append(session, pending)
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and inspect(obj).identity is not None \
                and inspect(obj).identity[0] in wanted:
            session.expire(obj)
    return len(pending)
