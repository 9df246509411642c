"""The handset register: handsets, SIM cards, the NetMotion licence pool and its seats,
accessory kits, acceptances of the acceptable-use policy, the remote-action queue and
leaver recovery tasks.

Identifiers are checked twice: the domain validates the Luhn check digit (the database
cannot), and the database enforces uniqueness and length so that no code path, however
careless, can register the same IMEI or ICCID twice.
"""

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
from mobilise.people.models import Person, Site


class HandsetStatus(StrEnum):
    ORDERED = "ordered"
    RECEIVED = "received"
    STAGED = "staged"
    ENROLLED = "enrolled"
    IN_STOCK = "in_stock"
    ISSUED = "issued"
    RETURNED = "returned"
    IN_REPAIR = "in_repair"
    LOST = "lost"
    STOLEN = "stolen"
    RETIRED = "retired"
    DISPOSED = "disposed"

    @property
    def colour(self) -> str:
        return STATUS_COLOURS[self]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Snipe-IT's four kinds, as colours: pending (blue), deployable (green), deployed (purple),
# undeployable (amber / red), archived (grey).
STATUS_COLOURS: dict[HandsetStatus, str] = {
    HandsetStatus.ORDERED: "blue",
    HandsetStatus.RECEIVED: "blue",
    HandsetStatus.STAGED: "blue",
    HandsetStatus.ENROLLED: "teal",
    HandsetStatus.IN_STOCK: "green",
    HandsetStatus.ISSUED: "purple",
    HandsetStatus.RETURNED: "amber",
    HandsetStatus.IN_REPAIR: "amber",
    HandsetStatus.LOST: "red",
    HandsetStatus.STOLEN: "red",
    HandsetStatus.RETIRED: "grey",
    HandsetStatus.DISPOSED: "grey",
}

# Every state in which the handset holds an Intune enrolment, and so counts against the
# MDM capacity: from staging (a Staging_ record exists) until it is retired. A lost or
# stolen handset keeps its enrolment until the wipe is done and it is retired.
MANAGED_STATES = frozenset({
    HandsetStatus.STAGED, HandsetStatus.ENROLLED, HandsetStatus.IN_STOCK, HandsetStatus.ISSUED,
    HandsetStatus.RETURNED, HandsetStatus.IN_REPAIR, HandsetStatus.LOST, HandsetStatus.STOLEN,
})

# States in which a handset should physically be on a shelf at its site (stocktake).
SHELF_STATES = frozenset({
    HandsetStatus.RECEIVED, HandsetStatus.STAGED, HandsetStatus.ENROLLED,
    HandsetStatus.IN_STOCK, HandsetStatus.RETURNED, HandsetStatus.RETIRED,
})


class ActionKind(StrEnum):
    WIPE = "wipe"
    RETIRE = "retire"
    REMOTE_LOCK = "remoteLock"
    SYNC_DEVICE = "syncDevice"
    BAR_SIM = "bar_sim"

    @property
    def target(self) -> str:
        return "carrier" if self is ActionKind.BAR_SIM else "intune"


class SimBarState(StrEnum):
    """A SIM's bar with its carrier: asked for, then confirmed by the carrier; and back."""

    NONE = "none"
    BAR_REQUESTED = "bar_requested"
    BARRED = "barred"
    UNBAR_REQUESTED = "unbar_requested"

    @property
    def colour(self) -> str:
        return {"none": "green", "bar_requested": "amber", "barred": "red",
                "unbar_requested": "amber"}[self.value]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class ActionStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"

    @property
    def colour(self) -> str:
        return {"queued": "blue", "sent": "teal", "done": "green", "failed": "red"}[self.value]


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class AcceptanceMethod(StrEnum):
    SIGNATURE = "signature"
    WEB_FORM = "web-form"
    PAPER = "paper"


class HandsetModel(Audited, Base):
    """The models catalogue: what a manifest's model column must name."""

    __tablename__ = "handset_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    manufacturer: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    dual_sim: Mapped[bool] = mapped_column(Boolean, default=True)
    warranty_months: Mapped[int] = mapped_column(Integer, default=24)


class Sim(Audited, Base):
    __tablename__ = "sim"
    __table_args__ = (
        CheckConstraint("length(iccid) between 19 and 20", name="iccid_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    iccid: Mapped[str] = mapped_column(String(20), unique=True)
    msisdn: Mapped[str | None] = mapped_column(String(16), unique=True)
    carrier: Mapped[str] = mapped_column(String(60), default="")
    barred: Mapped[bool] = mapped_column(Boolean, default=False)
    barred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bar_state: Mapped[str] = mapped_column(String(16), default=SimBarState.NONE.value,
                                           server_default=SimBarState.NONE.value)
    bar_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bar_reference: Mapped[str | None] = mapped_column(String(60))


class Handset(Audited, Base):
    __tablename__ = "handset"
    __table_args__ = (
        CheckConstraint("length(imei) = 15", name="imei_length"),
        CheckConstraint("imei2 is null or length(imei2) = 15", name="imei2_length"),
        CheckConstraint("imei2 is null or imei2 <> imei", name="imei2_differs"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    imei: Mapped[str] = mapped_column(String(15), unique=True)
    imei2: Mapped[str | None] = mapped_column(String(15), unique=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("handset_model.id"), index=True)
    asset_tag: Mapped[str | None] = mapped_column(String(40), unique=True)
    purchase_order: Mapped[str | None] = mapped_column(String(40), index=True)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    end_of_life: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=HandsetStatus.RECEIVED.value,
                                        index=True)
    compliance: Mapped[str] = mapped_column(String(20), default="unknown")
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What Intune last said about the handset (devices/intune.py keeps these in step).
    intune_id: Mapped[str | None] = mapped_column(String(64), index=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    os_version: Mapped[str | None] = mapped_column(String(40))
    security_patch: Mapped[str | None] = mapped_column(String(20))
    signed_in_upn: Mapped[str | None] = mapped_column(String(200))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    sim_id: Mapped[int | None] = mapped_column(ForeignKey("sim.id"), unique=True)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    police_reference: Mapped[str | None] = mapped_column(String(60))
    repair_reference: Mapped[str | None] = mapped_column(String(60))
    wipe_evidence: Mapped[str | None] = mapped_column(Text)
    weee_reference: Mapped[str | None] = mapped_column(String(60))

    model: Mapped[HandsetModel] = relationship()
    holder: Mapped[Person | None] = relationship()
    site: Mapped[Site | None] = relationship()
    sim: Mapped[Sim | None] = relationship()

    @property
    def state(self) -> HandsetStatus:
        return HandsetStatus(self.status)


class LicencePool(Audited, Base):
    """Seats bought in one purchase (NetMotion Mobility through the reseller)."""

    __tablename__ = "licence_pool"
    __table_args__ = (CheckConstraint("seats_bought >= 0", name="seats_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    product: Mapped[str] = mapped_column(String(100), default="NetMotion Mobility")
    reseller: Mapped[str | None] = mapped_column(String(100))
    purchase_order: Mapped[str | None] = mapped_column(String(40))
    seats_bought: Mapped[int] = mapped_column(Integer)
    expires_on: Mapped[date | None] = mapped_column(Date)


class LicenceSeat(Audited, Base):
    """One seat in use by one handset; released, never deleted, when the handset leaves."""

    __tablename__ = "licence_seat"
    __table_args__ = (
        # A handset holds at most one seat at a time.
        Index("uq_licence_seat_active_handset", "handset_id", unique=True,
              sqlite_where=text("released_at is null"),
              postgresql_where=text("released_at is null")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("licence_pool.id"), index=True)
    handset_id: Mapped[int] = mapped_column(ForeignKey("handset.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    pool: Mapped[LicencePool] = relationship()
    handset: Mapped[Handset] = relationship()


class AccessoryKit(Audited, Base):
    __tablename__ = "accessory_kit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    contents: Mapped[str] = mapped_column(Text, default="")


class KitIssue(Audited, Base):
    __tablename__ = "kit_issue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("accessory_kit.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    handset_id: Mapped[int | None] = mapped_column(ForeignKey("handset.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    kit: Mapped[AccessoryKit] = relationship()


class Acceptance(Audited, Base):
    """The holder's acceptance of the acceptable-use policy at hand-over."""

    __tablename__ = "acceptance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handset_id: Mapped[int] = mapped_column(ForeignKey("handset.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    policy_version: Mapped[str] = mapped_column(String(20))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str] = mapped_column(String(200))


class SignedHow(StrEnum):
    """Where the holder signed the acceptable-use policy."""

    DESK_SCREEN = "desk-screen"
    OWN_DEVICE = "own-device"


class PolicyVersion(Audited, Base):
    """A published version of the acceptable-use policy: its text and the SHA-256 of that
    text, so that a signature names exactly the words that were accepted."""

    __tablename__ = "policy_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(20), unique=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    effective_on: Mapped[date] = mapped_column(Date, index=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(200))


class PolicyAcceptance(Audited, Base):
    """A holder's electronic signature of one policy version for one handset, at one time.
    One per person, handset and version, held by the database (two taps, one record)."""

    __tablename__ = "policy_acceptance"
    __table_args__ = (UniqueConstraint("person_id", "handset_id", "policy_version_id",
                                       name="uq_policy_acceptance_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    handset_id: Mapped[int] = mapped_column(ForeignKey("handset.id"), index=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_version.id"), index=True)
    text_sha256: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    how: Mapped[str] = mapped_column(String(20))
    signed_by: Mapped[str] = mapped_column(String(200), doc="the login that signed")

    policy: Mapped[PolicyVersion] = relationship()
    handset: Mapped[Handset] = relationship()
    person: Mapped[Person] = relationship()


class HandsetAllowance(Audited, Base):
    """A recorded adjustment that lets a person hold more than one handset (for example
    after an occupational health referral)."""

    __tablename__ = "handset_allowance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    handsets: Mapped[int] = mapped_column(Integer, default=2)
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(60))


class DeviceAction(Audited, Base):
    """A remote action waiting for, or done by, Intune or the carrier: a persistent queue
    so that pacing, retries and restarts never lose a wipe."""

    __tablename__ = "device_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handset_id: Mapped[int] = mapped_column(ForeignKey("handset.id"), index=True)
    sim_id: Mapped[int | None] = mapped_column(ForeignKey("sim.id"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=ActionStatus.QUEUED.value,
                                        index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)

    handset: Mapped[Handset] = relationship()


class RecoveryTask(Audited, Base):
    """Get a handset back from a leaver by a due date."""

    __tablename__ = "recovery_task"
    __table_args__ = (
        Index("uq_recovery_task_open_handset", "handset_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handset_id: Mapped[int] = mapped_column(ForeignKey("handset.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=TaskStatus.OPEN.value)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    handset: Mapped[Handset] = relationship()
    person: Mapped[Person] = relationship()


class Stocktake(Audited, Base):
    __tablename__ = "stocktake"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scanned: Mapped[int] = mapped_column(Integer)
    found: Mapped[int] = mapped_column(Integer)
    missing: Mapped[list[Any]] = mapped_column()
    unexpected: Mapped[list[Any]] = mapped_column()
    misplaced: Mapped[list[Any]] = mapped_column()
    unreadable: Mapped[list[Any]] = mapped_column()
