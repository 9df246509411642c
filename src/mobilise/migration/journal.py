"""Journals: per person and round, an append-only JSON-lines record of each file's outcome.

A journal is written as the sync goes, one line per file, so that reports and the next
round can read what happened. It is never needed to be correct: a sync compares the two
sides and a journal only saves work (re-hashing a file whose size and time are unchanged
since it was last verified). A crash can leave the last line torn; readers skip any line
that does not parse, and a writer first ends a torn line so the next record starts clean.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Record:
    """One file's outcome in one round."""

    path: str  # source path
    outcome: str  # an Outcome value (see sync.py)
    dest: str | None = None  # destination path after name remediation
    target: str | None = None  # "main" or "archive"
    size: int | None = None
    modified: str | None = None  # ISO 8601, the source's modified time
    hash: str | None = None  # quickXorHash of the content verified
    reason: str | None = None
    attempts: int = 0

    def to_json(self) -> str:
        # Field by field rather than ``asdict`` (which deep-copies): a journal line is
        # written for every file, and this is most of its cost.
        data = {name: value for name in _FIELDS
                if (value := getattr(self, name)) is not None}
        return _ENCODER.encode(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


_FIELDS = tuple(Record.__dataclass_fields__)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def journal_path(data_dir: Path, person: str, round_name: str) -> Path:
    safe_person = person.replace("/", "_").replace("\\", "_")
    safe_round = round_name.replace("/", "_").replace("\\", "_")
    return Path(data_dir) / "journals" / safe_person / f"{safe_round}.jsonl"


class Journal:
    """Appends records to one journal file; safe to share between threads."""

    def __init__(self, path: Path, *, durable: bool = False) -> None:
        self.path = path
        self.durable = durable
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 - closed in close()
        self._end_torn_line()

    def _end_torn_line(self) -> None:
        size = self._file.tell()
        if size == 0:
            return
        with open(self.path, "rb") as reader:
            reader.seek(size - 1)
            if reader.read(1) != b"\n":
                self._file.write(b"\n")
                self._file.flush()

    def append(self, record: Record) -> None:
        line = record.to_json().encode("utf-8", "surrogateescape") + b"\n"
        with self._lock:
            # One write per record: a crash tears at most the record being written.
            self._file.write(line)
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())

    def append_many(self, records: list[Record]) -> None:
        """Several records in one write: a batch of small files costs one system call.
        A crash tears at most the last record, which readers skip; the files of the
        records lost are found again by the next round's comparison of the two sides."""
        if not records:
            return
        data = b"".join(r.to_json().encode("utf-8", "surrogateescape") + b"\n"
                        for r in records)
        with self._lock:
            self._file.write(data)
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> Iterator[Record]:
    """The records of one journal, skipping a torn (unparseable) line."""
    if not path.exists():
        return
    with open(path, "rb") as stream:
        for raw in stream:
            try:
                data = json.loads(raw.decode("utf-8", "surrogateescape"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(data, dict) and "path" in data and "outcome" in data:
                yield Record.from_json(data)


def person_journals(data_dir: Path, person: str) -> list[Path]:
    """Every round's journal of one person, oldest first (by file time)."""
    folder = journal_path(data_dir, person, "x").parent
    if not folder.exists():
        return []
    return sorted(folder.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime_ns, p.name))


def verified_hashes(data_dir: Path, person: str) -> dict[tuple[str, int, str], str]:
    """(source path, size, modified) → quickXorHash of the content last verified with
    exactly that size and time. Lets a round skip re-reading an unchanged file."""
    known: dict[tuple[str, int, str], str] = {}
    for path in person_journals(data_dir, person):
        for record in read_journal(path):
            if record.hash and record.size is not None and record.modified and \
                    record.outcome in VERIFIED_OUTCOMES:
                known[(record.path, record.size, record.modified)] = record.hash
    return known


VERIFIED_OUTCOMES = frozenset({"copied", "verified"})
