"""One file's place in a sync: what the plan says to do with it and what became of it.

Shared by ``sync`` (the engine) and ``localcopy`` (its fast local-to-local path), so
neither imports the other for these types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mobilise.storage.base import Entry

# The local backend's in-flight files: a crash mid-write leaves one behind. They are ours,
# never a person's file, so a later round removes them once they are old enough that no
# live writer can own them.
PARTIAL_PREFIX = ".mobilise-"
PARTIAL_SUFFIX = ".partial"


class Disposition(StrEnum):
    """What the retention rules decided for a file."""

    MIGRATE = "migrate"
    ARCHIVE = "archive"
    REVIEW = "review"
    DISPOSE = "dispose"


class Outcome(StrEnum):
    COPIED = "copied"  # copied this round and verified
    SKIPPED = "skipped"  # already identical at the destination
    VERIFIED = "verified"  # present and hash-checked (cutover verification)
    DESTINATION_NEWER = "destination_newer"  # never overwritten
    DESTINATION_ONLY = "destination_only"  # never deleted
    WAITING = "waiting"  # retention review pending
    NOT_MOVED = "not_moved"  # with a reason (link, dispose, collision, no archive)
    SOURCE_CHANGED = "source_changed"  # changed while it was copied: next round
    FAILED = "failed"  # with the error

    @property
    def colour(self) -> str:
        return _OUTCOME_COLOURS[self.value]


_OUTCOME_COLOURS = {
    "copied": "green", "skipped": "green", "verified": "green", "destination_newer": "amber",
    "destination_only": "grey", "waiting": "amber", "not_moved": "grey",
    "source_changed": "amber", "failed": "red",
}


class Step(StrEnum):
    COPY_NEW = "copy_new"
    COPY_CHANGED = "copy_changed"
    SKIP = "skip"
    REPORT = "report"  # nothing to do but say so


@dataclass(frozen=True)
class PlannedFile:
    source: Entry | None  # None for a destination-only file
    dest_path: str
    target: str  # "main" or "archive"
    step: Step
    outcome: Outcome | None = None  # for REPORT and SKIP
    reason: str | None = None
    dest: Entry | None = None  # what the destination holds now, if anything

    @property
    def path(self) -> str:
        return self.source.path if self.source else self.dest_path

    @property
    def renamed(self) -> bool:
        return self.source is not None and self.source.path != self.dest_path


@dataclass
class FileResult:
    path: str
    dest_path: str
    target: str
    outcome: Outcome
    size: int = 0
    modified: datetime | None = None  # the source's, when the outcome was decided
    hash: str | None = None
    reason: str | None = None
    attempts: int = 0
    throttled: int = 0  # attempts the service throttled


# Files up to this size are read whole and hashed in one call.
SMALL_FILE = 1024 * 1024
