"""The people register: org units, sites and people (officers and staff)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilise.core.audit import Audited
from mobilise.core.db import Base


class UnitKind(StrEnum):
    BCU = "bcu"
    OCU = "ocu"
    DEPARTMENT = "department"


class PersonKind(StrEnum):
    OFFICER = "officer"
    STAFF = "staff"


class PersonStatus(StrEnum):
    ACTIVE = "active"
    LEAVER = "leaver"

    @property
    def colour(self) -> str:
        return {"active": "green", "leaver": "grey"}[self.value]


class OrgUnit(Audited, Base):
    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))


class Site(Audited, Base):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    accessible: Mapped[bool] = mapped_column(Boolean, default=True)
    issuing: Mapped[bool] = mapped_column(Boolean, default=False)

    org_unit: Mapped[OrgUnit | None] = relationship()


class Person(Audited, Base):
    __tablename__ = "person"
    # The register lists people in name order, a page at a time: an index in that order
    # answers the first page without sorting 45,000 rows.
    __table_args__ = (Index("ix_person_name_order", "last_name", "first_name", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), index=True)
    upn: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str] = mapped_column(String(200))
    rank: Mapped[str | None] = mapped_column(String(60))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=PersonStatus.ACTIVE.value, index=True)
    left_on: Mapped[date | None] = mapped_column(Date)
    eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    eligibility_reason: Mapped[str | None] = mapped_column(String(200))
    adjustments: Mapped[str | None] = mapped_column(Text)
    sam_account_name: Mapped[str | None] = mapped_column(String(60), index=True)
    home_directory: Mapped[str | None] = mapped_column(String(500))
    # The person number of their line manager (from the roster): who decides what they
    # leave undecided past a deadline, retention review for one.
    line_manager: Mapped[str | None] = mapped_column(String(30))

    org_unit: Mapped[OrgUnit] = relationship()
    site: Mapped[Site | None] = relationship()

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class AdjustmentRequest(Audited, Base):
    """A person's request to change their recorded reasonable adjustments, made in
    self-service and settled by the service desk (who alone change the register)."""

    __tablename__ = "adjustment_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    recorded: Mapped[str | None] = mapped_column(Text, doc="what was recorded when asked")
    requested: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_by: Mapped[str | None] = mapped_column(String(200))

    person: Mapped[Person] = relationship()
