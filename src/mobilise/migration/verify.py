"""Full verification, the gate of cutover: every file that should be at a destination is
there with the source's size and quickXorHash.

The source's hash may come from a journal when the file's size and modified time are
exactly those recorded at a verified copy (the source is frozen at cutover, so re-reading
millions of unchanged files proves nothing new); the destination's hash is always taken
afresh, from the service's own hash or by reading the file back.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mobilise.migration.files import FileResult, Outcome, PlannedFile, Step
from mobilise.migration.journal import Journal
from mobilise.migration.sync import (
    Sides,
    destination_hash,
    hash_entry,
    list_files,
    plan_files,
    to_record,
    walk,
)
from mobilise.storage.base import Backend, StorageError

KnownHashes = Mapping[tuple[str, int, str], str]


@dataclass
class Verification:
    verified: list[FileResult] = field(default_factory=list)
    problems: list[FileResult] = field(default_factory=list)
    waiting: list[FileResult] = field(default_factory=list)  # review files not decided

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_person(
    source: Backend,
    main: Backend,
    *,
    archive: Backend | None = None,
    dispositions: Mapping[str, str] | None = None,
    renames: Mapping[str, str] | None = None,
    known_hashes: KnownHashes | None = None,
    journal: Journal | None = None,
    concurrency: int = 8,
) -> Verification:
    sides = Sides(list(walk(source)), list_files(main),
                  list_files(archive) if archive is not None else None,
                  max(source.time_precision, main.time_precision),
                  max(source.time_precision, archive.time_precision) if archive else
                  main.time_precision)
    plan = plan_files(sides, dispositions, renames)
    result = Verification()
    to_check: list[PlannedFile] = []
    for planned in plan:
        if planned.outcome is Outcome.WAITING:
            result.waiting.append(_result(planned, Outcome.WAITING, planned.reason))
        elif planned.step is Step.REPORT and planned.outcome is Outcome.DESTINATION_NEWER:
            result.problems.append(_result(planned, Outcome.DESTINATION_NEWER, planned.reason))
        elif planned.step in (Step.COPY_NEW, Step.COPY_CHANGED):
            why = "missing at the destination" if planned.step is Step.COPY_NEW \
                else "differs at the destination (size or modified time)"
            result.problems.append(_result(planned, Outcome.FAILED, why))
        elif planned.step is Step.SKIP:
            to_check.append(planned)

    def check(planned: PlannedFile) -> FileResult:
        return _check(source, main, archive, sides, planned, known_hashes or {})

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for checked in pool.map(check, to_check):
            if checked.outcome is Outcome.VERIFIED:
                result.verified.append(checked)
            else:
                result.problems.append(checked)
            if journal is not None:
                journal.append(to_record(checked))
    return result


def _result(planned: PlannedFile, outcome: Outcome, reason: str | None,
            digest: str | None = None) -> FileResult:
    source = planned.source
    return FileResult(planned.path, planned.dest_path, planned.target, outcome,
                      size=source.size if source else 0,
                      modified=source.modified if source else None, hash=digest, reason=reason)


def _check(source: Backend, main: Backend, archive: Backend | None, sides: Sides,
           planned: PlannedFile, known: KnownHashes) -> FileResult:
    assert planned.source is not None
    entry = planned.source
    destination = archive if planned.target == "archive" and archive is not None else main
    listing = sides.folded[planned.target]
    dest = listing[planned.dest_path.casefold()]
    try:
        expected = known.get((entry.path, entry.size, entry.modified.isoformat())) \
            or hash_entry(source, entry.path, entry.size)
        arrived = destination_hash(destination, dest)
    except StorageError as exc:
        return _result(planned, Outcome.FAILED, f"could not hash: {type(exc).__name__}: {exc}")
    if arrived != expected:
        return _result(planned, Outcome.FAILED,
                       f"quickXorHash {arrived} at the destination, {expected} at the source")
    return _result(planned, Outcome.VERIFIED, None, expected)
