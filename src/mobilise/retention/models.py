"""Retention records: rule set versions, holds, review items, disposal batches and items.

The operational database holds the decisions people make (holds, review decisions,
disposals); the evaluation of every file stays in DuckDB over the Parquet inventory.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from mobilise.core.audit import Audited
from mobilise.core.db import Base
from mobilise.core.errors import Conflict


class RuleSetStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"

    @property
    def colour(self) -> str:
        return {"draft": "blue", "active": "green", "retired": "grey"}[self.value]


class HoldKind(StrEnum):
    LITIGATION = "litigation"
    FOI = "foi"  # freedom of information request
    SAR = "sar"  # subject access request
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"


class HoldStatus(StrEnum):
    PLACED = "placed"
    RELEASED = "released"

    @property
    def colour(self) -> str:
        return {"placed": "red", "released": "grey"}[self.value]


class ReviewStatus(StrEnum):
    PENDING = "pending"
    ESCALATED = "escalated"  # its deadline lapsed: the line manager or records team decides
    DECIDED = "decided"

    @property
    def colour(self) -> str:
        return {"pending": "amber", "escalated": "red", "decided": "green"}[self.value]


# Awaiting a decision: pending with the person, or escalated past its deadline.
OPEN_REVIEW = (ReviewStatus.PENDING.value, ReviewStatus.ESCALATED.value)
RECORDS_POOL = "records"  # escalated_to when the person has no line manager to decide


class ReviewDecision(StrEnum):
    KEEP_MIGRATE = "keep-migrate"
    KEEP_ARCHIVE = "keep-archive"
    DISPOSE = "dispose"


class BatchStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    EXECUTED = "executed"
    CANCELLED = "cancelled"

    @property
    def colour(self) -> str:
        return {"proposed": "blue", "approved": "amber", "executed": "green",
                "cancelled": "grey"}[self.value]


class ItemOutcome(StrEnum):
    PENDING = "pending"
    DELETED = "deleted"
    SKIPPED = "skipped"  # something changed since the proposal: someone should look

    @property
    def colour(self) -> str:
        return {"pending": "grey", "deleted": "green", "skipped": "amber"}[self.value]


class RuleSetVersion(Audited, Base):
    """One version of a rule set, exactly as written. Immutable once activated."""

    __tablename__ = "retention_rule_set"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    yaml: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default=RuleSetStatus.DRAFT.value)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str | None] = mapped_column(String(200))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@event.listens_for(RuleSetVersion, "before_update")
def _refuse_changing_an_activated_rule_set(
    _mapper: Mapper[Any], _conn: Any, target: RuleSetVersion
) -> None:
    state = inspect(target)
    for column in ("yaml", "content_hash", "name", "version"):
        history = state.attrs[column].history
        if history.has_changes() and history.deleted and _was_fixed(state):
            raise Conflict(
                f"rule set {target.name} v{target.version} is {target.status}: its text "
                "cannot change; write a new version"
            )


def _was_fixed(state: Any) -> bool:
    previous = state.attrs["status"].history.deleted or [state.attrs["status"].value]
    return bool(previous[0] != RuleSetStatus.DRAFT.value)


class Hold(Audited, Base):
    """A legal or statutory hold: nothing it covers is disposed while it is placed."""

    __tablename__ = "retention_hold"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    people: Mapped[list[Any]] = mapped_column(JSON, default=list)
    folders: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{person, path}]
    selector_yaml: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=HoldStatus.PLACED.value, index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(200))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(Text)


class ReviewItem(Audited, Base):
    """One file a rule sent to disposition review, and the decision taken on it."""

    # No unique index over path: a path may be longer than PostgreSQL can index; queueing
    # skips files already queued instead.
    __tablename__ = "retention_review_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("retention_rule_set.id"), index=True)
    person: Mapped[str] = mapped_column(String(100), index=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    eligible_since: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=ReviewStatus.PENDING.value,
                                        index=True)
    decision: Mapped[str | None] = mapped_column(String(20))
    justification: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Routing: who must decide now (a person number; None once escalated to the records
    # pool), by when, and where it went when the deadline lapsed.
    assigned_to: Mapped[str | None] = mapped_column(String(100), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_to: Mapped[str | None] = mapped_column(String(100))

    rule_set: Mapped[RuleSetVersion] = relationship()


class DisposalBatch(Audited, Base):
    __tablename__ = "retention_disposal_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("retention_rule_set.id"))
    status: Mapped[str] = mapped_column(String(10), default=BatchStatus.PROPOSED.value,
                                        index=True)
    method: Mapped[str] = mapped_column(String(200))
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    executed_by: Mapped[str | None] = mapped_column(String(200))
    executed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_files: Mapped[int] = mapped_column(Integer, default=0)
    deleted_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped_files: Mapped[int] = mapped_column(Integer, default=0)

    rule_set: Mapped[RuleSetVersion] = relationship()
    items: Mapped[list[DisposalItem]] = relationship(
        back_populates="batch", order_by="DisposalItem.id"
    )


class DisposalItem(Base):
    """One file in a batch, with the facts recorded at proposal that execution re-checks.
    Its deletion (or skip) is recorded in the audit log as an event."""

    __tablename__ = "retention_disposal_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("retention_disposal_batch.id"), index=True)
    person: Mapped[str] = mapped_column(String(100), index=True)
    path: Mapped[str] = mapped_column(Text)  # as evaluated and shown: \xNN for odd bytes
    # The name's bytes when the path is not valid UTF-8: storage is addressed by them.
    raw_path: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    # None only for a file skipped at proposal (it could not be addressed or read).
    modified: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    authority: Mapped[str] = mapped_column(Text)
    eligible_since: Mapped[date | None] = mapped_column(Date)
    review_item_id: Mapped[int | None] = mapped_column(ForeignKey("retention_review_item.id"))
    outcome: Mapped[str] = mapped_column(String(10), default=ItemOutcome.PENDING.value)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    batch: Mapped[DisposalBatch] = relationship(back_populates="items")
    review_item: Mapped[ReviewItem | None] = relationship()


class DriveCaseKind(StrEnum):
    LEAVER = "leaver"  # the drive of a person the roster says has left
    ORPHAN = "orphan"  # a drive under the home root that no person owns


class DriveOutcome(StrEnum):
    ARCHIVE = "archive"  # kept, in the archive, for the period; never into a disabled account
    REVIEW = "review"  # a records manager (or the line manager) looks at it
    DISPOSE = "dispose"  # through an approved disposal batch once the period has run


class DriveCase(Audited, Base):
    """A leaver's or orphan drive in the queue: what the rule set proposes and, once a
    records manager has decided, the decision and why. Every orphan ends with one."""

    __tablename__ = "retention_drive_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    home: Mapped[str] = mapped_column(String(1000), unique=True)
    kind: Mapped[str] = mapped_column(String(10), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    proposed: Mapped[str] = mapped_column(String(10))
    proposed_rule: Mapped[str | None] = mapped_column(String(64))
    proposed_why: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)  # when the period has run
    outcome: Mapped[str | None] = mapped_column(String(10), index=True)  # None: open
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
