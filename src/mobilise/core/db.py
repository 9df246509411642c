"""Database access: one engine per URL, sessions passed into domain functions.

SQLite is the embedded default (WAL, foreign keys enforced, a busy timeout so that several
processes can write); PostgreSQL is the production database. The schema is owned by
Alembic (``mobilise/schema``): ``upgrade_schema`` is what ``mobilise init`` runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, MetaData, create_engine, event, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from mobilise.core.errors import Conflict
from mobilise.core.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@cache
def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A connection kept for every web thread (Settings.web_threads, 40 by default), and a
    # few more for background jobs: a connection opened per request costs tens of
    # milliseconds (more on its first trigram search), so they are kept, not churned.
    return create_engine(url, pool_pre_ping=True, pool_size=40, max_overflow=10)


def session_factory(settings: Settings) -> sessionmaker[Session]:
    # Every session knows the audit keys, so the log's entries are keyed wherever they
    # are written (web, CLI, workers); core.audit.keys_of reads them.
    keys = (settings.audit_key.get_secret_value().encode() if settings.audit_key else None,
            tuple(k.get_secret_value().encode() for k in settings.audit_retired_keys))
    return sessionmaker(make_engine(settings.database_url), expire_on_commit=False,
                        info={"audit_keys": keys})


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    with unit_of_work(session_factory(settings)) as session:
        yield session


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session from ``sessions``: committed on success, rolled back on any error.

    A constraint the database refuses (a duplicate key, at a flush or at the commit)
    becomes a ``Conflict`` (409 / exit 5) naming the constraint, the refused value and the
    stored row already holding it, instead of an internal error."""
    session = sessions()
    try:
        yield session
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise integrity_conflict(session, err) from err
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_SQLITE_CONSTRAINT = re.compile(r"(UNIQUE|NOT NULL|CHECK|FOREIGN KEY) constraint failed:?\s*(.*)")


def integrity_conflict(session: Session, err: IntegrityError) -> Conflict:
    """What the database refused, in words: the constraint, the values refused and, for a
    duplicate, the stored rows already holding them. ``session`` must be rolled back."""
    table, columns, what = _constraint_of(err)
    rows: list[dict[str, Any]] = []
    if table and columns and what.upper().startswith(("UNIQUE", "DUPLICATE")):
        rows = _holders(session, table, columns, _refused_values(err, columns))
    named = "; ".join(f"{r['column']} {r['value']!r} is held by {r['table']} {r['id']}"
                      for r in rows[:10])
    message = f"the change was not saved: {what}"
    if named:
        message += f" ({named})"
    return Conflict(message, details=rows[:50])


def _constraint_of(err: IntegrityError) -> tuple[str | None, list[str], str]:
    """(table, columns, description) from the driver's error."""
    diag = getattr(err.orig, "diag", None)
    if diag is not None:  # PostgreSQL (psycopg)
        detail = getattr(diag, "message_detail", None) or ""
        key = re.search(r"Key \(([^)]*)\)", detail)
        columns = re.findall(r"\w+", key.group(1)) if key else []
        primary = getattr(diag, "message_primary", None) or "constraint violated"
        what = f"{primary}: {detail}" if detail else primary
        return getattr(diag, "table_name", None), columns, what
    text = str(err.orig)
    found = _SQLITE_CONSTRAINT.search(text)
    if found is None:
        return None, [], text
    cols = [c.strip() for c in found.group(2).split(",") if "." in c]
    table = cols[0].split(".", 1)[0] if cols else None
    what = f"{found.group(1)} constraint on {found.group(2) or 'a table'}"
    return table, [c.split(".", 1)[1] for c in cols], what


def _refused_values(err: IntegrityError, columns: list[str]) -> set[Any]:
    """The values the failed statement gave the first of ``columns``: named parameters
    (PostgreSQL) by name, positional ones (SQLite) by their place in the statement."""
    batches = err.params if isinstance(err.params, list) else [err.params]
    names = _parameter_names(str(err.statement or ""))
    values: set[Any] = set()
    for params in batches:
        if isinstance(params, dict):
            if columns[0] in params:
                values.add(params[columns[0]])
        elif isinstance(params, tuple | list) and columns[0] in names \
                and len(names) == len(params):
            values.add(params[names.index(columns[0])])
    return {v for v in values if isinstance(v, str | int)}


def _parameter_names(statement: str) -> list[str]:
    insert = re.match(r"\s*INSERT INTO \S+ \(([^)]*)\) VALUES", statement, re.I)
    if insert:
        return [c.strip().strip('"') for c in insert.group(1).split(",")]
    return [name.rsplit(".", 1)[-1].strip('"')
            for name in re.findall(r'([\w."]+)\s*=\s*\?', statement)]


def _holders(session: Session, table: str, columns: list[str],
             values: set[Any]) -> list[dict[str, Any]]:
    """The stored rows of ``table`` already holding ``values`` in ``columns[0]``."""
    mapped = Base.metadata.tables.get(table)
    if mapped is None or not values or columns[0] not in mapped.c:
        return []
    column = mapped.c[columns[0]]
    keys = list(mapped.primary_key.columns)
    stmt = select(*keys, column).where(column.in_(sorted(values, key=str)[:100]))
    try:
        found = session.execute(stmt).all()
    except SQLAlchemyError:
        return []  # the explanation must not hide the conflict itself
    return [{"table": table, "id": "/".join(str(v) for v in row[:-1]),
             "column": f"{table}.{columns[0]}", "value": str(row[-1])} for row in found]


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def hold_write_lock(session: Session) -> None:
    """On SQLite, hold the database's write lock from now until the transaction ends.

    pysqlite's legacy transaction handling runs reads outside any transaction and opens
    one (deferred) only at the first INSERT/UPDATE/DELETE, so whatever was read before
    that is unprotected. Once a transaction is open it has written, and in WAL mode a
    writer holds the one write lock until commit; otherwise ``BEGIN IMMEDIATE`` takes it
    now (waiting up to the busy timeout). Everything read afterwards is what the other
    writers committed, and nobody can change it before this transaction ends.

    Only the transactions that ask take it: making every transaction IMMEDIATE (the
    ``begin``-event recipe for all sessions) would serialise every read-only request and
    every long background read behind one lock. PostgreSQL needs nothing here: its row
    locks (``lock_rows``) serialise exactly the rows in question.
    """
    if is_postgres(session):
        return
    raw = session.connection().connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def serialise_on(session: Session, table: Any, where: Any) -> None:
    """Make concurrent transactions that call this with the same rows run one after the
    other from here on: PostgreSQL locks the rows (``SELECT ... FOR UPDATE``); SQLite has
    one writer, whose lock is taken. Call it before counting what a rule limits (seats,
    slots, leases) so that the count and the write that depends on it are one step."""
    if is_postgres(session):
        session.execute(select(table.c[next(iter(table.primary_key.columns)).key])
                        .where(where).with_for_update())
    else:
        hold_write_lock(session)


def is_unique_violation(err: BaseException) -> bool:
    """Whether a database error is a uniqueness rule refusing a row: what the loser of
    two concurrent creations of the same thing meets (a ``Conflict``, not a crash)."""
    orig = getattr(err, "orig", None)
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    return "UNIQUE constraint failed" in str(orig)  # SQLite
