"""What the operational database keeps about drives: one row per scan with its totals and
readiness. The inventories themselves (a row per file) stay in Parquet."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mobilise.core.db import Base


class ScanStatus(StrEnum):
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def colour(self) -> str:
        return {"complete": "green", "failed": "red"}[self.value]


class DriveScan(Base):
    __tablename__ = "drive_scan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    scan_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    root: Mapped[str] = mapped_column(String(1000))
    inventory: Mapped[str | None] = mapped_column(String(1000))
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    folders: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    to_rename: Mapped[int] = mapped_column(Integer, default=0)
    cannot_move: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    fits_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    issues: Mapped[dict[str, Any] | None]
