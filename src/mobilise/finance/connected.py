"""The board report's figures from the live registers: handsets issued from the handset
register, rollout progress from the hand-overs in that register, people migrated from the migration
waves, MDM capacity as a risk. Where a
register holds nothing yet, the reading says so rather than reporting zero."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock, SystemClock
from mobilise.core.settings import Settings
from mobilise.devices.capacity import capacity
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.drives.models import DriveScan, ScanStatus
from mobilise.finance.sources import (
    DeliveryProgress,
    FinanceSources,
    PurchaseBatch,
    Reading,
    Risk,
)
from mobilise.migration.after import storage_released
from mobilise.migration.burndown import migrated_by_day
from mobilise.migration.models import (
    MigrationRound,
    PersonMigration,
    RoundKind,
    RoundStatus,
)
from mobilise.people.models import Person, PersonStatus
from mobilise.programme import figures
from mobilise.programme.figures import Figure
from mobilise.rollout.reports import handed_over_by_day, latest_plan

# Handsets no longer in service are not refreshed (disposal and replacement, not refresh).
GONE = (HandsetStatus.LOST, HandsetStatus.STOLEN, HandsetStatus.RETIRED, HandsetStatus.DISPOSED)


def _price(batch: PurchaseBatch | None, batches: list[PurchaseBatch], day: date) -> int | None:
    """The named batch's price, else the latest batch bought on or before ``day``, else the
    first; None when no batch has been imported."""
    if batch is not None:
        return batch.unit_cost_pence
    earlier = [b for b in batches if b.purchased_on <= day]
    chosen = earlier[-1] if earlier else (batches[0] if batches else None)
    return chosen.unit_cost_pence if chosen else None


class ProgrammeRegisters(FinanceSources):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _registered(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(Handset)) or 0

    def handsets_issued(self, session: Session) -> Reading[int]:
        if not self._registered(session):
            return super().handsets_issued(session)
        issued = figures.handsets_issued(session, SystemClock())
        return Reading(issued.value, issued.source)

    def people_migrated(self, session: Session) -> Reading[int]:
        if not session.scalar(select(func.count()).select_from(PersonMigration)):
            return super().people_migrated(session)
        migrated = figures.people_migrated(session, SystemClock())
        return Reading(migrated.value, migrated.source)

    def terabytes_moved(self, session: Session) -> Reading[Decimal]:
        if not session.scalar(select(func.count()).select_from(MigrationRound).where(
                MigrationRound.status.in_([RoundStatus.DONE.value, RoundStatus.FAILED.value]))):
            return super().terabytes_moved(session)
        moved = figures.data_moved(session, SystemClock())
        # Binary terabytes, as the drives register reports sizes.
        return Reading(figures.terabytes(moved.value or 0), moved.source)

    def headline(self, session: Session, clock: Clock) -> Reading[list[Figure[Any]]]:
        return Reading(figures.headline(session, self.settings, clock), "programme registers")

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
        # The rollout's own count of hand-overs (the handset register), as its pages show,
        # against everyone eligible and the deadline of the rollout's latest plan.
        days = dict(handed_over_by_day(session))
        if not days:
            return super().rollout_progress(session)
        target = figures.people_eligible(session, SystemClock()).value or 0
        plan = latest_plan(session)
        running, cumulative = 0, []
        for day in sorted(days):
            running += days[day]
            cumulative.append((day, running))
        return Reading(DeliveryProgress("handsets issued", target,
                                        plan.deadline if plan else self.settings.rollout_deadline,
                                        cumulative),
                       "handset register hand-overs")

    def handset_purchases(self, session: Session) -> Reading[list[PurchaseBatch]]:
        """Purchase dates from the handset register, each handset at its batch's price (the
        batch its purchase order names); imported batches only for the handsets of theirs
        the register does not hold, and the reading says how many came from where."""
        imported = super().handset_purchases(session)
        batches = imported.value or []
        groups = session.execute(
            select(Handset.purchase_date, Handset.purchase_order, func.count())
            .where(Handset.purchase_date.is_not(None),
                   Handset.status.not_in([s.value for s in GONE]))
            .group_by(Handset.purchase_date, Handset.purchase_order)
            .order_by(Handset.purchase_date, Handset.purchase_order)).all()
        if not groups:
            return imported
        by_order = {b.reference: b for b in batches}
        held: dict[str, int] = dict(session.execute(  # type: ignore[arg-type]
            select(Handset.purchase_order, func.count())
            .where(Handset.purchase_order.in_(list(by_order)))
            .group_by(Handset.purchase_order)).all())
        out, unpriced = [], 0
        for day, order, count in groups:
            if day is None:  # excluded by the query; narrows the type
                continue
            price = _price(by_order.get(order or ""), batches, day)
            if price is None:
                unpriced += count
                price = 0
            out.append(PurchaseBatch(f"{order or 'no purchase order'} (register)", day, count,
                                     price))
        registered = sum(b.handsets for b in out)
        rest = [replace(b, reference=f"{b.reference} (batch, not in the register)",
                        handsets=b.handsets - held.get(b.reference, 0))
                for b in batches if b.handsets > held.get(b.reference, 0)]
        source = f"handset register purchase dates for {registered:,} handsets"
        if rest:
            source += (f"; imported purchase batches for {sum(b.handsets for b in rest):,} "
                       "handsets not in the register")
        if unpriced:
            source += f"; no price known for {unpriced:,} handsets (costed at nothing)"
        return Reading(sorted(out + rest, key=lambda b: b.purchased_on), source)

    def risks(self, session: Session) -> Reading[list[Risk]]:
        if not self._registered(session):
            return super().risks(session)
        mdm = capacity(session, self.settings)
        found = []
        if mdm.level != "ok":
            found.append(Risk("MDM capacity", "high" if mdm.level == "full" else "medium",
                              mdm.message, "handset register"))
        return Reading(found, "handset register")
