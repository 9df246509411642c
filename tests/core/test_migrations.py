"""The schema is Alembic's: upgrading builds exactly the models, on both databases, and
every revision can be undone and redone."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from mobilise.core.db import make_engine
from mobilise.core.settings import Settings
from mobilise.models import metadata
from mobilise.schema import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade_schema,
)


def _declared(obj: Any, name: str | None, kind: str, reflected: bool, _: Any) -> bool:
    # The trigram indexes of people_0001 exist only on PostgreSQL (with pg_trgm), and the
    # full-text table of people_0002 (with its shadow tables) only on SQLite: a model
    # cannot declare either for one dialect, so they are checked by the tests below.
    if kind == "index" and name is not None and name.endswith("_trgm"):
        return False
    return not (kind == "table" and name is not None and name.startswith("person_search"))


def test_models_match_migrations(settings: Settings) -> None:
    with make_engine(settings.database_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _declared})
        diff = compare_metadata(context, metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"


def test_downgrade_and_upgrade_again(settings: Settings) -> None:
    assert current_revision(settings) == head_revision(settings)
    make_engine(settings.database_url).dispose()
    command.downgrade(alembic_config(settings.database_url), "base")
    assert current_revision(settings) is None
    assert upgrade_schema(settings) == head_revision(settings)
    assert upgrade_schema(settings) == head_revision(settings)  # twice is harmless


def test_people_are_searched_through_trigram_indexes_on_postgresql(settings: Settings) -> None:
    with make_engine(settings.database_url).connect() as conn:
        if conn.dialect.name != "postgresql":
            return
        found = set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'person'")).scalars())
        conn.execute(text("SET enable_seqscan = off"))  # an empty table: ask for the index
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT id FROM person WHERE (first_name || ' ' || last_name) "
            "ILIKE '%smith%'")).scalars())
    assert {"ix_person_name_trgm", "ix_person_upn_trgm", "ix_person_number_trgm"} <= found
    assert "ix_person_name_trgm" in plan, plan
