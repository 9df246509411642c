"""The schema is Alembic's: upgrading builds exactly the models, on both databases, and
every revision can be undone and redone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mobilise.core.db import make_engine
from mobilise.core.schema import metadata
from mobilise.core.schema_upgrade import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade_schema,
)
from mobilise.core.settings import Settings


def test_models_match_migrations(settings: Settings) -> None:
    with make_engine(settings.database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"


def test_downgrade_and_upgrade_again(settings: Settings) -> None:
    assert current_revision(settings) == head_revision(settings)
    make_engine(settings.database_url).dispose()
    command.downgrade(alembic_config(settings.database_url), "base")
    assert current_revision(settings) is None
    assert upgrade_schema(settings) == head_revision(settings)
    assert upgrade_schema(settings) == head_revision(settings)  # twice is harmless
