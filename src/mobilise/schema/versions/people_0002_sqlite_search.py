"""people found by any part of a name, UPN or number through a trigram index on SQLite

Revision ID: people_0002
Revises: people_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "people_0002"
down_revision = "people_0001"
branch_labels = None
depends_on = None

# SQLite has no trigram index, but its full-text engine has a trigram tokenizer (3.34+):
# a shadow table of each person's searchable text, kept by triggers, finds a surname's
# matches among 45,000 people without reading every row (people.register._search). Where
# FTS5 or the tokenizer is missing, search reads every row, as before.
STATEMENTS = [
    "CREATE VIRTUAL TABLE person_search USING fts5(name, upn, number, tokenize='trigram')",
    "INSERT INTO person_search (rowid, name, upn, number) "
    "SELECT id, first_name || ' ' || last_name, upn, number FROM person",
    "CREATE TRIGGER person_search_insert AFTER INSERT ON person BEGIN "
    "INSERT INTO person_search (rowid, name, upn, number) "
    "VALUES (new.id, new.first_name || ' ' || new.last_name, new.upn, new.number); END",
    "CREATE TRIGGER person_search_update AFTER UPDATE OF first_name, last_name, upn, number "
    "ON person BEGIN UPDATE person_search SET name = new.first_name || ' ' || new.last_name, "
    "upn = new.upn, number = new.number WHERE rowid = old.id; END",
    "CREATE TRIGGER person_search_delete AFTER DELETE ON person BEGIN "
    "DELETE FROM person_search WHERE rowid = old.id; END",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    try:
        with bind.begin_nested():
            for statement in STATEMENTS:
                bind.execute(sa.text(statement))
    except sa.exc.OperationalError:
        return  # no FTS5 or no trigram tokenizer in this SQLite


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("person_search_insert", "person_search_update", "person_search_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS person_search")
