"""Rollout records: issuing capacity, stock deliveries, plans, waves and appointments."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilise.core.audit import Audited
from mobilise.core.db import Base
from mobilise.devices.models import Handset
from mobilise.people.models import OrgUnit, Person, Site


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    ATTENDED = "attended"
    # Came to the desk but left without a handset (none in stock, device fault, refused
    # the acceptable-use policy...): recorded with the reason; the next re-plan rebooks.
    NOT_ISSUED = "not_issued"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"

    @property
    def colour(self) -> str:
        return {"booked": "blue", "confirmed": "purple", "attended": "green",
                "not_issued": "amber", "no_show": "red", "rescheduled": "grey",
                "cancelled": "grey"}[self.value]

    @property
    def label(self) -> str:
        return "attended, not issued" if self is AppointmentStatus.NOT_ISSUED \
            else self.value.replace("_", " ")


LIVE = (AppointmentStatus.BOOKED.value, AppointmentStatus.CONFIRMED.value)


class SiteCapacity(Audited, Base):
    """How many hand-over appointments an issuing site can run in a working day."""

    __tablename__ = "rollout_site_capacity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), unique=True)
    slots_per_day: Mapped[int] = mapped_column(Integer)

    site: Mapped[Site] = relationship()


class IssueSlot(Base):
    """The capacity row of one site on one day. Bookings take a place with a conditional
    ``UPDATE ... WHERE booked < capacity``, and the check constraint refuses any write that
    would overbook, so no interleaving of bookers can pass the capacity.

    Not audited itself: it is a counter derived from the audited appointments."""

    __tablename__ = "rollout_issue_slot"
    __table_args__ = (
        UniqueConstraint("site_id", "day"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class StockDelivery(Audited, Base):
    __tablename__ = "rollout_stock_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    expected_on: Mapped[date] = mapped_column(Date, index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(60), default="", doc="'' is the standard model")
    received_on: Mapped[date | None] = mapped_column(Date)


class RolloutPlan(Audited, Base):
    """One run of the planner, kept so that the burndown can show what was planned."""

    __tablename__ = "rollout_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    start: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    staging_per_day: Mapped[int] = mapped_column(Integer)
    priority: Mapped[list[Any]]
    people: Mapped[int] = mapped_column(Integer)
    met: Mapped[bool] = mapped_column(Boolean)
    last_day: Mapped[date | None] = mapped_column(Date)
    people_late: Mapped[int] = mapped_column(Integer)
    days_late: Mapped[int | None] = mapped_column(Integer)
    advice: Mapped[dict[str, Any]]
    planned_by_day: Mapped[dict[str, Any]]
    planned_by_unit: Mapped[dict[str, Any]]  # org unit code -> {day: people}
    staging: Mapped[list[Any]]
    unplaceable: Mapped[list[Any]]


class Wave(Audited, Base):
    """A rollout wave: the people of one org unit, between the first and last planned day."""

    __tablename__ = "rollout_wave"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), unique=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    people: Mapped[int] = mapped_column(Integer)

    org_unit: Mapped[OrgUnit] = relationship()


class Appointment(Audited, Base):
    __tablename__ = "rollout_appointment"
    # One live (booked or confirmed) appointment per person, held by the database so that
    # two desks booking the same person at once cannot both succeed.
    __table_args__ = (
        Index("uq_rollout_appointment_live_person", "person_id", unique=True,
              sqlite_where=text("status IN ('booked', 'confirmed')"),
              postgresql_where=text("status IN ('booked', 'confirmed')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(12), default=AppointmentStatus.BOOKED.value,
                                        index=True)
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("rollout_wave.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("rollout_appointment.id"))
    note: Mapped[str | None] = mapped_column(Text)
    # The handset handed over at this appointment (set when it is attended: an appointment
    # is attended only through a hand-over recorded in the handset register).
    handset_id: Mapped[int | None] = mapped_column(ForeignKey("handset.id"), index=True)
    # Optimistic locking: a desk and a re-plan moving the same appointment at once must
    # not both succeed (each would give its place back: one place counted twice).
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    __audit_exclude__ = frozenset({"version"})

    person: Mapped[Person] = relationship()
    site: Mapped[Site] = relationship()
    handset: Mapped[Handset | None] = relationship()
