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
    # After cutover, during grace: a delta over migrated people's drives for anything that
    # arrived late (a laptop's offline copy synced after the freeze).
    SWEEP = "sweep"


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


class DriveState(StrEnum):
    """A migrated person's H: drive after cutover, until its space is released."""

    MIGRATED = "migrated"
    GRACE = "grace"
    READ_ONLY = "read_only"
    ARCHIVED = "archived"
    RELEASED = "released"

    @property
    def colour(self) -> str:
        return {"migrated": "blue", "grace": "blue", "read_only": "amber",
                "archived": "grey", "released": "green"}[self.value]


class DriveAfterCutover(Audited, Base):
    """One migrated person's H: drive on its way out: its lifecycle state, when the next
    step is due, the last hook failure, the sign-off and the disposal batch that freed it."""

    __tablename__ = "migration_drive_after"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    migration_id: Mapped[int] = mapped_column(ForeignKey("migration_person.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=DriveState.MIGRATED.value, index=True)
    entered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the last attempt at the next step failed (its hook), and how many attempts.
    hook_error: Mapped[str | None] = mapped_column(Text)
    hook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    late_files: Mapped[int] = mapped_column(Integer, default=0)
    signed_off_by: Mapped[str | None] = mapped_column(String(200))
    signed_off_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sign_off_note: Mapped[str | None] = mapped_column(Text)
    disposal_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("retention_disposal_batch.id"))
    released_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    kfm_added_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    migration: Mapped[PersonMigration] = relationship()
