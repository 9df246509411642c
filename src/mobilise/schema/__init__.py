"""Creating and upgrading the schema with Alembic (what ``mobilise init`` runs).

This package is Alembic's script directory: ``env.py`` and ``versions/`` beside this file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mobilise.core.db import make_engine
from mobilise.core.settings import Settings

MIGRATIONS = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_schema(settings: Settings, revision: str = "head") -> str:
    """Bring the database to ``revision``; safe to run any number of times."""
    command.upgrade(alembic_config(settings.database_url), revision)
    return current_revision(settings) or ""


def current_revision(settings: Settings) -> str | None:
    with make_engine(settings.database_url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
