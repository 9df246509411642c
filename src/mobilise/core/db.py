"""Database access: one engine per URL, sessions passed into domain functions.

SQLite is the embedded default (WAL, foreign keys enforced, a busy timeout so that several
processes can write); PostgreSQL is the production database. The schema is owned by
Alembic (``core/migrations``): ``upgrade_schema`` is what ``mobilise init`` runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, MetaData, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

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
    # Every model must be mapped before the first flush, or a foreign key to a model
    # that nobody imported yet cannot be resolved.
    import mobilise.core.schema  # noqa: F401

    return sessionmaker(make_engine(settings.database_url), expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    with unit_of_work(session_factory(settings)) as session:
        yield session


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session from ``sessions``: committed on success, rolled back on any error."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
