"""The MDM capacity guard: managed devices (everything staged or enrolled in Intune)
against the configured capacity, with a warning from the configured ratio.

The 2022 decision sized Intune for 40,000 managed devices, and 10,000 + 29,737 leaves
263 spare: staging one device too many must be refused, not discovered later.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.db import hold_write_lock, is_postgres
from mobilise.core.errors import CapacityExceeded
from mobilise.core.settings import Settings
from mobilise.devices.models import MANAGED_STATES, Handset


@dataclass(frozen=True)
class Capacity:
    managed: int
    capacity: int
    warning_from: int

    @property
    def spare(self) -> int:
        return max(0, self.capacity - self.managed)

    @property
    def level(self) -> str:
        if self.managed >= self.capacity:
            return "full"
        if self.managed >= self.warning_from:
            return "warning"
        return "ok"

    @property
    def message(self) -> str:
        used = f"{self.managed:,} of {self.capacity:,} managed devices"
        if self.level == "full":
            return f"MDM capacity reached: {used}; no more handsets can be staged"
        if self.level == "warning":
            return f"MDM capacity warning: {used} ({self.spare:,} spare)"
        return f"{used} ({self.spare:,} spare)"


# Any fixed number, unique among Mobilise's advisory locks: "MDM" in ASCII.
STAGING_LOCK = 0x4D444D


def hold_staging_lock(session: Session) -> None:
    """Serialise staging runs until the transaction ends, so that two runs cannot both
    take the last spare enrolments. PostgreSQL: a transaction advisory lock. SQLite has
    one writer: taking its write lock (``core.db.hold_write_lock``) makes the other wait."""
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(STAGING_LOCK)))
    else:
        hold_write_lock(session)


def managed_count(session: Session) -> int:
    states = [s.value for s in MANAGED_STATES]
    return session.scalar(
        select(func.count()).select_from(Handset).where(Handset.status.in_(states))) or 0


def capacity(session: Session, settings: Settings) -> Capacity:
    limit = settings.mdm_capacity
    warning_from = int(limit * settings.mdm_warning_ratio)
    return Capacity(managed_count(session), limit, warning_from)


def check_room(session: Session, settings: Settings, adding: int) -> Capacity:
    """Refuse, naming the numbers, if ``adding`` more managed devices would pass the limit."""
    hold_staging_lock(session)
    now = capacity(session, settings)
    if now.managed + adding > now.capacity:
        raise CapacityExceeded(
            f"staging {adding:,} handset(s) would pass the MDM capacity: {now.managed:,} of "
            f"{now.capacity:,} managed devices are in use, {now.spare:,} spare. Retire "
            "devices or raise mdm_capacity after the Intune licence is increased."
        )
    return Capacity(now.managed + adding, now.capacity, now.warning_from)
