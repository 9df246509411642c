"""Figures the finance reports need from other workstreams, read through one small
interface so finance never imports their code and never invents a number.

Each method answers a ``Reading``: a value with where it came from, or *not yet
available* with the reason. ``FinanceSources`` knows only what finance holds itself
(handset purchase batches) and says that rollout, migration and device figures are not
connected; ``finance.connected.ProgrammeRegisters`` answers them from the live registers
(through ``programme.figures`` for the headline figures), and the web app and the CLI
install it with ``use_sources`` at start-up (see docs/finance.md, "Connecting the
workstreams").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock
from mobilise.finance.models import HandsetPurchase

if TYPE_CHECKING:
    from mobilise.programme.figures import Figure

T = TypeVar("T")


@dataclass(frozen=True)
class Reading(Generic[T]):
    value: T | None
    source: str
    note: str = ""

    @property
    def available(self) -> bool:
        return self.value is not None

    @classmethod
    def missing(cls, source: str, note: str) -> Reading[T]:
        return cls(None, source, note)


@dataclass(frozen=True)
class PurchaseBatch:
    reference: str
    purchased_on: date
    handsets: int
    unit_cost_pence: int


@dataclass(frozen=True)
class DeliveryProgress:
    """Cumulative delivery of a workstream: handsets issued, or people migrated."""

    unit: str
    target: int
    deadline: date | None
    cumulative: list[tuple[date, int]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.cumulative[-1][1] if self.cumulative else 0


@dataclass(frozen=True)
class Risk:
    title: str
    severity: str  # high, medium, low
    detail: str
    source: str


class ProgrammeSources(Protocol):
    def handsets_issued(self, session: Session) -> Reading[int]: ...

    def people_migrated(self, session: Session) -> Reading[int]: ...

    def terabytes_moved(self, session: Session) -> Reading[Decimal]: ...

    def handset_purchases(self, session: Session) -> Reading[list[PurchaseBatch]]: ...

    def rollout_progress(self, session: Session) -> Reading[DeliveryProgress]: ...

    def migration_progress(self, session: Session) -> Reading[DeliveryProgress]: ...

    def risks(self, session: Session) -> Reading[list[Risk]]: ...

    def headline(self, session: Session, clock: Clock) -> Reading[list[Figure[Any]]]: ...
    def storage_released(self, session: Session) -> Reading[dict[str, Any]]: ...


NOT_CONNECTED = "not yet available: the {what} has not been connected to finance"


class FinanceSources:
    """What finance can answer alone; everything else is reported as not yet available."""

    def handsets_issued(self, session: Session) -> Reading[int]:
        return Reading.missing("devices", NOT_CONNECTED.format(what="devices register"))

    def people_migrated(self, session: Session) -> Reading[int]:
        return Reading.missing("migration", NOT_CONNECTED.format(what="migration journal"))

    def terabytes_moved(self, session: Session) -> Reading[Decimal]:
        return Reading.missing("migration", NOT_CONNECTED.format(what="migration journal"))

    def rollout_progress(self, session: Session) -> Reading[DeliveryProgress]:
        return Reading.missing("rollout", NOT_CONNECTED.format(what="rollout plan"))

    def migration_progress(self, session: Session) -> Reading[DeliveryProgress]:
        return Reading.missing("migration", NOT_CONNECTED.format(what="migration journal"))

    def storage_released(self, session: Session) -> Reading[dict[str, Any]]:
        return Reading.missing("migration", NOT_CONNECTED.format(
            what="drives' after-cutover lifecycle"))

    def risks(self, session: Session) -> Reading[list[Risk]]:
        return Reading.missing("workstreams", "not yet available: no workstream's risk "
                                              "register has been connected to finance")

    def headline(self, session: Session, clock: Clock) -> Reading[list[Figure[Any]]]:
        return Reading.missing("programme", NOT_CONNECTED.format(what="programme's registers"))

    def handset_purchases(self, session: Session) -> Reading[list[PurchaseBatch]]:
        batches = [PurchaseBatch(p.reference, p.purchased_on, p.handsets, p.unit_cost_pence)
                   for p in session.scalars(select(HandsetPurchase)
                                            .order_by(HandsetPurchase.purchased_on))]
        if not batches:
            return Reading.missing("finance", "not yet available: no handset purchase "
                                   "batches imported (mobilise finance import-purchases)")
        return Reading(batches, "finance handset purchase batches")


_current: list[ProgrammeSources] = [FinanceSources()]


def current_sources() -> ProgrammeSources:
    return _current[0]


def use_sources(sources: ProgrammeSources) -> ProgrammeSources:
    """Install the sources the CLI and web use; returns the previous ones (for tests)."""
    previous = _current[0]
    _current[0] = sources
    return previous
