"""The board report's figures from the live registers: handsets issued from the handset
register, rollout progress from the hand-overs in that register, people migrated from the migration
waves, MDM capacity as a risk. Where a
register holds nothing yet, the reading says so rather than reporting zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.settings import Settings
from mobilise.devices.capacity import capacity
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.drives.models import DriveScan, ScanStatus
from mobilise.finance.sources import DeliveryProgress, FinanceSources, Reading, Risk
from mobilise.migration.after import storage_released
from mobilise.migration.burndown import migrated_by_day
from mobilise.migration.models import (
    MigrationRound,
    MigrationState,
    PersonMigration,
    RoundKind,
    RoundStatus,
)
from mobilise.people.models import Person, PersonStatus
from mobilise.rollout.reports import handed_over_by_day


class ProgrammeRegisters(FinanceSources):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _registered(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(Handset)) or 0

    def handsets_issued(self, session: Session) -> Reading[int]:
        if not self._registered(session):
            return super().handsets_issued(session)
        issued = session.scalar(select(func.count()).select_from(Handset).where(
            Handset.status == HandsetStatus.ISSUED.value)) or 0
        return Reading(issued, "handset register")

    def people_migrated(self, session: Session) -> Reading[int]:
        if not session.scalar(select(func.count()).select_from(PersonMigration)):
            return super().people_migrated(session)
        migrated = session.scalar(select(func.count(func.distinct(PersonMigration.person_id)))
                                  .where(PersonMigration.state == MigrationState.MIGRATED.value))
        return Reading(migrated or 0, "migration waves")

    def terabytes_moved(self, session: Session) -> Reading[Decimal]:
        # Each finished round's summary totals the bytes its copies wrote (the journals'
        # per-file records summed by the round); failed rounds copied bytes too.
        summaries: list[dict[str, Any] | None] = list(session.scalars(
            select(MigrationRound.summary).where(
            MigrationRound.status.in_([RoundStatus.DONE.value, RoundStatus.FAILED.value]))))
        if not summaries:
            return super().terabytes_moved(session)
        moved = sum(int((s or {}).get("bytes_copied", 0)) for s in summaries)
        # Binary terabytes, as the drives register reports sizes.
        return Reading((Decimal(moved) / Decimal(1024**4)).quantize(Decimal("0.001")),
                       "migration round totals")

    def storage_released(self, session: Session) -> Reading[dict[str, Any]]:
        # The programme's benefit: Isilon space freed by released H: drives, per wave.
        if not session.scalar(select(func.count()).select_from(PersonMigration)):
            return super().storage_released(session)
        return Reading(storage_released(session).as_json(),
                       "released H: drives' disposal batches")

    def migration_progress(self, session: Session) -> Reading[DeliveryProgress]:
        in_waves = session.scalar(select(func.count(func.distinct(PersonMigration.person_id))))
        if not in_waves:
            return super().migration_progress(session)
        # The target is everyone with a home drive to move: the people scanned, or the
        # people placed in waves where more of them than were scanned.
        scanned = session.scalar(
            select(func.count(func.distinct(DriveScan.person_id)))
            .join(Person, Person.id == DriveScan.person_id)
            .where(DriveScan.status == ScanStatus.COMPLETE.value,
                   Person.status == PersonStatus.ACTIVE.value)) or 0
        last_cutover = session.scalar(select(func.max(MigrationRound.scheduled_for)).where(
            MigrationRound.kind == RoundKind.CUTOVER.value))
        running, cumulative = 0, []
        for day, count in migrated_by_day(session):
            running += count
            cumulative.append((day, running))
        return Reading(DeliveryProgress("people migrated", max(in_waves, scanned),
                                        last_cutover.date() if last_cutover else None,
                                        cumulative),
                       "migration waves and audit log")

    def rollout_progress(self, session: Session) -> Reading[DeliveryProgress]:
        # The rollout's own count of hand-overs (the handset register), as its pages show.
        days = dict(handed_over_by_day(session))
        if not days:
            return super().rollout_progress(session)
        target = session.scalar(select(func.count()).select_from(Person).where(
            Person.status == PersonStatus.ACTIVE.value, Person.eligible.is_(True))) or 0
        running, cumulative = 0, []
        for day in sorted(days):
            running += days[day]
            cumulative.append((day, running))
        return Reading(DeliveryProgress("handsets issued", target,
                                        self.settings.rollout_deadline, cumulative),
                       "handset register hand-overs")

    def risks(self, session: Session) -> Reading[list[Risk]]:
        if not self._registered(session):
            return super().risks(session)
        mdm = capacity(session, self.settings)
        found = []
        if mdm.level != "ok":
            found.append(Risk("MDM capacity", "high" if mdm.level == "full" else "medium",
                              mdm.message, "handset register"))
        return Reading(found, "handset register")
