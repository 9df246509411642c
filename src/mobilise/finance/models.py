"""Decisions, their approved envelopes, spend lines, and handset purchase batches.

Money columns are integer pence (``BigInteger``); financial years are stored as the year
they start in (2022 for 2022/23) so that they sort and compare as integers.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilise.core.audit import Audited
from mobilise.core.db import Base


class BudgetType(StrEnum):
    CAPITAL = "capital"
    REVENUE = "revenue"


class Purpose(StrEnum):
    """What an envelope pays for: the first delivery, or replacing handsets at end of life."""

    DELIVERY = "delivery"
    REFRESH = "refresh"


class Programme(StrEnum):
    ROLLOUT = "rollout"
    MIGRATION = "migration"


class SpendKind(StrEnum):
    """A purchase order commits money; an invoice is money actually spent."""

    ORDER = "order"
    INVOICE = "invoice"

    @property
    def colour(self) -> str:
        return {"order": "blue", "invoice": "green"}[self.value]


class Decision(Audited, Base):
    __tablename__ = "finance_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    decided_on: Mapped[date | None] = mapped_column(Date)
    approver: Mapped[str] = mapped_column(String(200))
    programme: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)

    envelopes: Mapped[list[Envelope]] = relationship(
        back_populates="decision", order_by="(Envelope.year, Envelope.budget, Envelope.purpose)")


class Envelope(Audited, Base):
    """Money a decision approved for one financial year, budget type and purpose; an
    open-ended envelope is that amount every year from ``year`` with no end year (PCD 1322's
    "£3m per year from 2023/24"), projected over whatever years a report asks for."""

    __tablename__ = "finance_envelope"
    __table_args__ = (UniqueConstraint("decision_id", "year", "budget", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("finance_decision.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    budget: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(10), default=Purpose.DELIVERY.value)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    open_ended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    decision: Mapped[Decision] = relationship(back_populates="envelopes")


class SpendLine(Audited, Base):
    """One purchase order (commitment) or invoice (actual), allocated to an envelope."""

    __tablename__ = "finance_spend"
    __table_args__ = (UniqueConstraint("kind", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), index=True)
    reference: Mapped[str] = mapped_column(String(60))
    dated: Mapped[date] = mapped_column(Date)
    supplier: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    decision_id: Mapped[int] = mapped_column(ForeignKey("finance_decision.id"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    budget: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(10), default=Purpose.DELIVERY.value)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    order_reference: Mapped[str | None] = mapped_column(String(60), index=True)
    approval: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(300))

    decision: Mapped[Decision] = relationship()


class HandsetPurchase(Audited, Base):
    """A batch of handsets bought on one day: each handset's price for the refresh
    forecast, and the purchase date of those of its handsets the register does not hold
    (the register's own purchase dates come first)."""

    __tablename__ = "finance_handset_purchase"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    purchased_on: Mapped[date] = mapped_column(Date)
    handsets: Mapped[int] = mapped_column(Integer)
    unit_cost_pence: Mapped[int] = mapped_column(BigInteger)
    model: Mapped[str | None] = mapped_column(String(100))


class ThresholdRule(StrEnum):
    PROCUREMENT = "procurement"
    DELEGATION = "delegation"


class Threshold(Audited, Base):
    """An approval threshold from the day it takes effect until the next one for the same
    rule: the PCR 2015 threshold is revised every two years, and a decision is held to
    the one in force on its date."""

    __tablename__ = "finance_threshold"
    __table_args__ = (UniqueConstraint("rule", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(20))
    effective_from: Mapped[date] = mapped_column(Date)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(300))


class FundingKind(StrEnum):
    """Where a decision's money comes from, in the papers' words."""

    UNDERSPEND = "underspend"
    REALLOCATION = "reallocation"
    CAPITAL_PROGRAMME = "capital_programme"
    OTHER = "other"


class FundingSource(Audited, Base):
    """One source a decision names for its money; the amount when the paper states one
    (PCD 1322 names three sources and no amounts: "funded in part from ...")."""

    __tablename__ = "finance_funding"
    __table_args__ = (UniqueConstraint("decision_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("finance_decision.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(Integer)
    amount_pence: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(300))
