"""Waves, their rounds, and each person's migration state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilise.core.audit import Audited
from mobilise.core.db import Base
from mobilise.people.models import Person


class RoundKind(StrEnum):
    PRE_SEED = "pre_seed"
    DELTA = "delta"
    CUTOVER = "cutover"


class RoundStatus(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def colour(self) -> str:
        return {"planned": "grey", "running": "blue", "done": "green",
                "failed": "red"}[self.value]


class MigrationState(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    MIGRATED = "migrated"
    FAILED = "failed"

    @property
    def colour(self) -> str:
        return {"not_started": "grey", "in_progress": "blue", "migrated": "green",
                "failed": "red"}[self.value]


class MigrationWave(Audited, Base):
    __tablename__ = "migration_wave"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # How the people were chosen (org units, sites, a list, drive size bounds).
    selection: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    rounds: Mapped[list[MigrationRound]] = relationship(
        back_populates="wave", order_by="MigrationRound.number")
    people: Mapped[list[PersonMigration]] = relationship(back_populates="wave",
                                                         order_by="PersonMigration.id")


class MigrationRound(Audited, Base):
    __tablename__ = "migration_round"
    __table_args__ = (UniqueConstraint("wave_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("migration_wave.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=RoundStatus.PLANNED.value)
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Totals: outcome counts, bytes, seconds, throttle events, executor.
    summary: Mapped[dict[str, Any] | None]
    # Why it failed (or why a failed round was planned again), for the pages.
    reason: Mapped[str | None] = mapped_column(Text)

    wave: Mapped[MigrationWave] = relationship(back_populates="rounds")

    @property
    def journal_name(self) -> str:
        return f"round-{self.number:02d}-{self.kind}"


class PersonMigration(Audited, Base):
    __tablename__ = "migration_person"
    __table_args__ = (UniqueConstraint("wave_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("migration_wave.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=MigrationState.NOT_STARTED.value,
                                       index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    drive_bytes: Mapped[int | None] = mapped_column(BigInteger)
    source_frozen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_override: Mapped[str | None] = mapped_column(Text)
    last_round: Mapped[int | None] = mapped_column(Integer)
    # The cutover run that holds this person, and until when (a lease: a run that died
    # frees them when it lapses). Taken by a conditional update, so of two cutovers of
    # the same person one wins; not audited, as it records no change of the migration.
    cutover_claim: Mapped[str | None] = mapped_column(String(40))
    cutover_claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Cut over although their laptop has not synced its offline copy since the freeze:
    # why, and who said so (endpoints.offline). None: the offline-sync gate applies.
    offline_override: Mapped[str | None] = mapped_column(Text)
    offline_override_by: Mapped[str | None] = mapped_column(String(100))
    # The latest round's outcome counts for this person (copied, skipped, failed, ...).
    counts: Mapped[dict[str, Any] | None]

    wave: Mapped[MigrationWave] = relationship(back_populates="people")
    person: Mapped[Person] = relationship()
