"""The one audit log: append-only, hash-chained, written in the same transaction as the
change it records.

Every change to an audited entity (a model that mixes in ``Audited``) goes through
``create``, ``change`` or ``delete`` here. A ``before_flush`` hook refuses to flush any
audited row that was added, altered or deleted without them, so nothing can skip the log.
Entries are written in ``after_flush`` (when new rows have their ids) by ``_append``,
which takes the chain head with ``UPDATE audit_head ... RETURNING``: that row lock
serialises concurrent writers on PostgreSQL and takes SQLite's write lock, so several
processes still build one unbroken chain.

Each entry stores ``hash = HMAC-SHA256(audit key, prev_hash + canonical_json(entry))``
and the id of that key (``MOBILISE_AUDIT_KEY``, kept outside the database), or, written
with no key configured, a plain ``sha256(...)`` and no key id. ``verify`` walks the chain in
one snapshot and names the first entry that was altered, deleted, inserted or reordered;
without the key nobody can give a rewritten entry a matching hash. ``checkpoint`` signs the
newest (sequence, hash) for an operator to keep elsewhere: verifying against it proves no
entry up to it was deleted or rewritten since (docs/security.md, "The audit log").
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.db import Base
from mobilise.core.errors import AuditChainBroken, InvalidInput

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
    # Which audit key (``key_id``) made ``hash`` an HMAC; empty for an entry written with
    # no key configured (a plain SHA-256, which anyone can recompute).
    key_id: Mapped[str | None] = mapped_column(String(16))


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
    """The unkeyed link: anyone with the database can recompute it (entries written
    before an audit key was configured)."""
    return hashlib.sha256((prev_hash + canonical(body)).encode("utf-8")).hexdigest()


def keyed_hash(key: bytes, prev_hash: str, body: dict[str, Any]) -> str:
    """The keyed link: an HMAC-SHA256 that only a holder of the audit key can compute, so
    an entry rewritten in the database cannot be given a matching hash."""
    return hmac.new(key, (prev_hash + canonical(body)).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name for a key (it says which key, never the key)."""
    return hmac.new(key, b"mobilise audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class AuditKeys:
    """The audit key new entries are keyed with, and retired keys still needed to verify
    older entries (after a rotation). Kept outside the database: ``MOBILISE_AUDIT_KEY``
    and ``MOBILISE_AUDIT_RETIRED_KEYS``."""

    current: bytes | None = None
    retired: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str | None:
        return key_id(self.current) if self.current else None

    def find(self, ident: str) -> bytes | None:
        for key in (self.current, *self.retired):
            if key and key_id(key) == ident:
                return key
        return None


def keys_of(session: Session) -> AuditKeys:
    """The keys the session was made with (``core.db.session_factory`` puts them in)."""
    keys = session.info.get("audit_keys")
    if isinstance(keys, AuditKeys):
        return keys
    if isinstance(keys, tuple):
        current, retired = keys
        return AuditKeys(current, retired)
    return AuditKeys()


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
    key = keys_of(session).current
    ident = key_id(key) if key else None
    rows = []
    for p in records:
        seq += 1
        body = _entry_body(seq, at, p.actor.name, p.action, p.entity, p.entity_id,
                           p.before, p.after, p.reason, p.actor.request_id)
        digest = keyed_hash(key, prev, body) if key else chain_hash(prev, body)
        rows.append({**body, "at": at, "prev_hash": prev, "hash": digest, "key_id": ident})
        prev = digest
    conn.execute(insert(AuditEntry), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))


@dataclass(frozen=True)
class Verification:
    entries: int
    last_hash: str
    keyed: int = 0
    checkpoint: Checkpoint | None = None


@dataclass(frozen=True)
class Checkpoint:
    """A signed (sequence, hash) of the chain, kept by an operator outside the database:
    verifying against it proves nothing was deleted or rewritten up to ``seq``."""

    seq: int
    hash: str
    taken_at: str
    key_id: str
    mac: str = ""

    FORMAT: ClassVar[str] = "mobilise-audit-checkpoint/1"

    def _signed_part(self) -> str:
        return canonical({"format": self.FORMAT, "seq": self.seq, "hash": self.hash,
                          "taken_at": self.taken_at, "key_id": self.key_id})

    def signed(self, key: bytes) -> Checkpoint:
        mac = hmac.new(key, self._signed_part().encode("utf-8"), hashlib.sha256).hexdigest()
        return Checkpoint(self.seq, self.hash, self.taken_at, self.key_id, mac)

    def to_json(self) -> str:
        return json.dumps({"format": self.FORMAT, "seq": self.seq, "hash": self.hash,
                           "taken_at": self.taken_at, "key_id": self.key_id,
                           "mac": self.mac}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, keys: AuditKeys) -> Checkpoint:
        """The checkpoint in ``text``, once its signature verifies with one of ``keys``."""
        try:
            data = json.loads(text)
            found = cls(int(data["seq"]), str(data["hash"]), str(data["taken_at"]),
                        str(data["key_id"]), str(data["mac"]))
            assert data.get("format") == cls.FORMAT
        except (ValueError, KeyError, TypeError, AssertionError) as err:
            raise InvalidInput(f"not a Mobilise audit checkpoint: {err}") from err
        key = keys.find(found.key_id)
        if key is None:
            raise InvalidInput(f"the checkpoint is signed with audit key {found.key_id}, "
                               "which is not configured (MOBILISE_AUDIT_KEY or "
                               "MOBILISE_AUDIT_RETIRED_KEYS)")
        if not hmac.compare_digest(found.signed(key).mac, found.mac):
            raise InvalidInput("the checkpoint's signature does not verify: the file was "
                               "altered since it was written")
        return found


@contextmanager
def _snapshot(session: Session) -> Iterator[Connection]:
    """A connection of its own reading one snapshot of the database, so that a writer
    appending entries meanwhile cannot make the chain and its head disagree: REPEATABLE
    READ on PostgreSQL; on SQLite (WAL) an explicit read transaction, which the driver
    would not open for reads alone."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        yield session.connection()  # one private database: nobody else writes to it
        return
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def verify(session: Session, *, keys: AuditKeys | None = None,
           checkpoint: Checkpoint | None = None) -> Verification:
    """Walk the whole chain in one snapshot; raise ``AuditChainBroken`` naming the first bad
    entry. Keyed entries are checked with the audit keys (``keys``, by default the
    session's); with a key configured, an entry without one may not follow a keyed entry
    nor end the chain. With a ``checkpoint``, the chain must still hold its entry,
    unchanged."""
    keys = keys if keys is not None else keys_of(session)
    with _snapshot(session) as conn:
        walked = _walk(conn, keys, checkpoint)
        head = conn.execute(select(AuditHead.seq, AuditHead.hash)
                            .where(AuditHead.id == 1)).first()
    last, prev, keyed, last_keyed = walked
    if head is None or head.seq != last or head.hash != prev:
        raise AuditChainBroken(
            f"the chain ends at entry {last} but its head records entry "
            f"{head.seq if head else '?'}: entries after {last} were deleted"
        )
    if keys.current and last and not last_keyed:
        raise AuditChainBroken(
            f"an audit key is configured but the newest entry ({last}) is not keyed: "
            "entries were rewritten without the key, or written by a process without "
            "MOBILISE_AUDIT_KEY")
    if checkpoint is not None and last < checkpoint.seq:
        raise AuditChainBroken(
            f"the chain ends at entry {last} but the checkpoint taken {checkpoint.taken_at} "
            f"records entry {checkpoint.seq}: entries after {last} were deleted")
    return Verification(entries=last, last_hash=prev, keyed=keyed, checkpoint=checkpoint)


def _walk(conn: Connection, keys: AuditKeys,
          checkpoint: Checkpoint | None) -> tuple[int, str, int, bool]:
    """(last seq, last hash, keyed entries, whether the last is keyed)."""
    expected_seq, prev, keyed, seen_keyed, last_keyed = 1, GENESIS, 0, False, False
    stmt = (select(AuditEntry.__table__).order_by(AuditEntry.seq)
            .execution_options(yield_per=5000))
    for row in conn.execute(stmt):
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
        if row.hash != _expected_hash(row, prev, body, keys, seen_keyed):
            raise AuditChainBroken(f"audit entry {row.seq} was altered (its hash does not match)")
        if checkpoint is not None and row.seq == checkpoint.seq and row.hash != checkpoint.hash:
            raise AuditChainBroken(
                f"audit entry {row.seq} differs from the checkpoint taken "
                f"{checkpoint.taken_at}: the chain was rewritten since")
        last_keyed = row.key_id is not None
        seen_keyed = seen_keyed or last_keyed
        keyed += last_keyed
        prev = row.hash
        expected_seq += 1
    return expected_seq - 1, prev, keyed, last_keyed


def _expected_hash(row: Any, prev: str, body: dict[str, Any], keys: AuditKeys,
                   seen_keyed: bool) -> str:
    if row.key_id is None:
        if seen_keyed and keys.current:
            raise AuditChainBroken(
                f"audit entry {row.seq} is not keyed but follows keyed entries: it was "
                "rewritten without the audit key")
        return chain_hash(prev, body)
    key = keys.find(row.key_id)
    if key is None:
        raise AuditChainBroken(
            f"audit entry {row.seq} is keyed with audit key {row.key_id}, which is not "
            "configured (MOBILISE_AUDIT_KEY, or MOBILISE_AUDIT_RETIRED_KEYS after a "
            "rotation)")
    return keyed_hash(key, prev, body)


def checkpoint(session: Session, actor: Actor) -> Checkpoint:
    """Record a checkpoint in the log (a keyed entry, so the chain ends keyed), verify the
    chain, and return the signed (sequence, hash) of its newest entry for the operator to
    keep outside the database. Needs the audit key; commits the session."""
    keys = keys_of(session)
    if not keys.current:
        raise InvalidInput("a checkpoint is signed with the audit key: set MOBILISE_AUDIT_KEY")
    event(session, actor, "audit.checkpoint", "audit_log", None,
          {"key_id": keys.current_id})
    session.commit()
    result = verify(session, keys=keys)
    taken = utc(_clock(session).now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Checkpoint(result.entries, result.last_hash, taken,
                      keys.current_id or "").signed(keys.current)


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
