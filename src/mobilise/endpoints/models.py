"""A laptop as the endpoint inventory last reported it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilise.core.audit import Audited
from mobilise.core.db import Base
from mobilise.people.models import Person


class Endpoint(Audited, Base):
    """One device of the inventory. The report is a snapshot: each import replaces the
    facts of the devices it names (last offline-files sync, cache, items pending)."""

    __tablename__ = "endpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device: Mapped[str] = mapped_column(String(100), unique=True)
    # The primary user as the inventory names them; matched to a person by UPN or SAM
    # account name. Unmatched devices are kept (a shared or kiosk laptop) but gate nobody.
    primary_user: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    # None: offline files have never synced on this laptop.
    last_sync: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cache_bytes: Mapped[int | None] = mapped_column(BigInteger)
    pending_items: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_file: Mapped[str] = mapped_column(String(255))

    person: Mapped[Person | None] = relationship()
