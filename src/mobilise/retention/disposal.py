"""Disposal: nothing is deleted outside a batch. A batch is proposed from files that are
eligible for disposal (a ``dispose`` rule whose period has run, or a review decided
``dispose``), approved by a records manager other than the proposer, then executed
through the storage backend. At execution each file is checked again (holds in force,
size, modified time, SHA-256) and skipped if anything changed; each deletion and each skip
is an audit event; the certificate lists exactly the files deleted.

A path that is not valid UTF-8 is evaluated and shown as text (``\\xNN`` escapes) and kept
as raw bytes on its item: storage is addressed by the bytes where the backend can
(RAW_NAMES), and elsewhere (SMB) the file is skipped with the reason. A file that cannot be
read, at proposal or at execution, is skipped with the reason: never fatal."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from markupsafe import escape
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.db import serialise_on
from mobilise.core.errors import Conflict, InvalidInput, MobiliseError, NotFound, TransitionRefused
from mobilise.core.output import to_csv
from mobilise.core.transitions import Context, Lifecycle, Transition, lock, run_transition
from mobilise.retention.evaluate import Estate, Sql, evaluate
from mobilise.retention.holds import FileFacts, covering_hold, holds_in_force
from mobilise.retention.models import (
    BatchStatus,
    DisposalBatch,
    DisposalItem,
    ItemOutcome,
    ReviewDecision,
    ReviewItem,
    ReviewStatus,
    RuleSetVersion,
)
from mobilise.retention.rule_sets import RECORDS, parsed, require_records_manager
from mobilise.storage.base import Backend, Capability, EntryNotFound, StorageError

Drive = Callable[[str], Backend]  # the storage backend of one person's drive
# A person's paths that are not valid UTF-8: the evaluated text -> the raw bytes.
RawPaths = Callable[[str], Mapping[str, bytes]]
CHUNK = 1 << 20


def _records_manager(ctx: Context, _batch: DisposalBatch) -> str | None:
    return None if ctx.actor.has_any(RECORDS) else "only a records manager may do this"


def _not_the_proposer(ctx: Context, batch: DisposalBatch) -> str | None:
    if ctx.actor.name == batch.proposed_by:
        return "the proposer cannot approve their own batch: another records manager must"
    return None


def _stamp(field: str) -> Callable[[Context, DisposalBatch], None]:
    def effect(ctx: Context, batch: DisposalBatch) -> None:
        setattr(batch, f"{field}_by", ctx.actor.name)
        setattr(batch, f"{field}_at", ctx.params["clock"].now())
        for key in ("deleted_files", "deleted_bytes", "skipped_files"):
            if key in ctx.params:
                setattr(batch, key, ctx.params[key])
    return effect


BATCH = Lifecycle[DisposalBatch](
    entity="disposal_batch",
    state_attr="status",
    transitions=[
        Transition("approve", frozenset({BatchStatus.PROPOSED.value}), BatchStatus.APPROVED.value,
                   guards=(_records_manager, _not_the_proposer), effects=(_stamp("approved"),),
                   label="Approve"),
        Transition("execute", frozenset({BatchStatus.APPROVED.value}), BatchStatus.EXECUTED.value,
                   guards=(_records_manager,), effects=(_stamp("executed"),), label="Execute"),
        Transition("cancel", frozenset({BatchStatus.PROPOSED.value, BatchStatus.APPROVED.value}),
                   BatchStatus.CANCELLED.value, guards=(_records_manager,), needs_reason=True,
                   label="Cancel"),
    ],
)


def sha256_of(backend: Backend, path: str) -> str:
    digest = hashlib.sha256()
    with backend.open_read(path) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Candidate:
    """A file due for disposal, as the evaluation (or a review decision) names it."""

    person: str
    path: str
    rule: str
    eligible_since: date | None
    size: int
    review_item: int | None = None


def _candidates(
    session: Session, version: RuleSetVersion, estate: Estate, as_of: date,
    person: str | None, rule: str | None, people: Sequence[str] | None = None,
) -> list[Candidate]:
    """Every file due for disposal: by a ``dispose`` rule whose period has run, or by a
    review decided ``dispose``."""
    rule_set = parsed(version)
    holds = holds_in_force(session)
    where = Sql("i.person = ?", [person]) if person is not None else None
    evaluate(estate, rule_set, as_of, holds, table="disposal_due", where=where)
    filters = "action = 'dispose' AND eligible_since <= ?"
    params: list[Any] = [as_of]
    if rule is not None:
        filters += " AND rule = ?"
        params.append(rule)
    found = [Candidate(p, f, r, e, int(size or 0)) for p, f, r, e, size in estate.con.execute(
        f"SELECT person, path, rule, eligible_since, size FROM disposal_due WHERE {filters} "
        "ORDER BY person, path", params).fetchall()]
    reviewed = select(ReviewItem).where(
        ReviewItem.rule_set_id == version.id, ReviewItem.status == ReviewStatus.DECIDED.value,
        ReviewItem.decision == ReviewDecision.DISPOSE.value)
    if person is not None:
        reviewed = reviewed.where(ReviewItem.person == person)
    if people is not None:  # the estate holds only these; so do the reviewed files
        reviewed = reviewed.where(ReviewItem.person.in_(people))
    if rule is not None:
        reviewed = reviewed.where(ReviewItem.rule == rule)
    found += [Candidate(i.person, i.path, i.rule, i.eligible_since, i.size, i.id)
              for i in session.scalars(reviewed)]
    return found


def storage_path(backend: Backend, path: str, raw: bytes | None) -> str | None:
    """The name the backend knows the file by: the evaluated path, or for a path that is
    not valid UTF-8 its raw bytes as the backend takes them (``os.fsdecode``, for backends
    with RAW_NAMES); None when the backend cannot address those bytes (SMB names are
    UTF-16, so a name that is not valid UTF-8 has no SMB spelling)."""
    if raw is None:
        return path
    if Capability.RAW_NAMES in backend.capabilities:
        return os.fsdecode(raw)
    return None


def _open_drive(drive: Drive, person: str) -> Backend | str:
    """The person's drive, or why it cannot be used (a drive root outside the home root,
    a person no longer in the register): the file is then skipped with that reason."""
    try:
        return drive(person)
    except MobiliseError as err:
        return f"the drive cannot be used: {err.message}"


def _unaddressable(backend: Backend) -> str:
    return (f"the {backend.name} storage backend cannot address a name that is not valid "
            "UTF-8; dispose of it from a source that keeps raw names (local)")


def _in_open_or_done_batches(session: Session) -> set[tuple[str, str]]:
    rows = session.execute(
        select(DisposalItem.person, DisposalItem.path).join(DisposalBatch).where(
            DisposalBatch.status != BatchStatus.CANCELLED.value,
            DisposalItem.outcome != ItemOutcome.SKIPPED.value))
    return {(p, f) for p, f in rows}


def propose_batch(
    session: Session, actor: Actor, version: RuleSetVersion, estate: Estate, drive: Drive,
    as_of: date, *, person: str | None = None, rule: str | None = None,
    limit: int | None = None, clock: Clock | None = None, raw_paths: RawPaths | None = None,
    people: Sequence[str] | None = None,
) -> DisposalBatch:
    """Propose a batch of every file now due for disposal (optionally one person, some
    ``people`` such as a wave's, or one rule).
    Each file's size, modified time and SHA-256 are read from storage and recorded; a file
    that cannot be addressed or read is recorded as skipped, with the reason. ``raw_paths``
    gives, per person, the raw bytes of paths that are not valid UTF-8."""
    require_records_manager(actor, "propose a disposal batch")
    clock = clock or SystemClock()
    rule_set = parsed(version)
    # A file is in one batch at most: proposals run one at a time from here (every rule
    # set version row locked), so what is taken is read after the previous one committed.
    serialise_on(session, RuleSetVersion.__table__, true())
    taken = _in_open_or_done_batches(session)
    raw_of: dict[str, Mapping[str, bytes]] = {}
    drives: dict[str, Backend | str] = {}
    items: list[DisposalItem] = []
    already = 0
    for c in _candidates(session, version, estate, as_of, person, rule, people):
        if (c.person, c.path) in taken:
            already += 1
            continue
        if limit is not None and len(items) >= limit:
            continue
        if raw_paths is not None and c.person not in raw_of:
            raw_of[c.person] = raw_paths(c.person)
        item = DisposalItem(
            person=c.person, path=c.path, raw_path=raw_of.get(c.person, {}).get(c.path),
            size=c.size, rule=c.rule, authority=rule_set.rule(c.rule).authority,
            eligible_since=c.eligible_since, review_item_id=c.review_item,
            outcome=ItemOutcome.PENDING.value)
        if _checked(item, drive, drives):
            items.append(item)
            taken.add((c.person, c.path))
    skipped = [i for i in items if i.outcome == ItemOutcome.SKIPPED.value]
    if not items and already:
        raise Conflict(f"every file due ({already}) is already in a disposal batch: "
                       "nothing to propose")
    if len(skipped) == len(items):
        why = f" ({len(skipped)} due cannot be disposed: {skipped[0].skip_reason})" \
            if skipped else ""
        raise InvalidInput(f"no file is due for disposal: nothing to propose{why}")
    usable = [b for b in drives.values() if not isinstance(b, str)]
    batch = DisposalBatch(
        rule_set_id=version.id, status=BatchStatus.PROPOSED.value,
        method=f"deleted through the {usable[0].name} storage backend (remove)",
        proposed_by=actor.name, proposed_at=clock.now(), deleted_files=0, deleted_bytes=0,
        skipped_files=len(skipped))
    audit.create(session, actor, "retention.disposal.propose", batch,
                 reason=f"{len(items) - len(skipped)} files due under {version.name} "
                        f"v{version.version}" + (f"; {len(skipped)} skipped" if skipped else ""))
    session.flush()
    for item in items:
        item.batch_id = batch.id
        session.add(item)
    session.flush()
    return batch


def _checked(item: DisposalItem, drive: Drive, drives: dict[str, Backend | str]) -> bool:
    """Whether ``item`` goes in the batch: its facts read from its person's drive (opened
    once, kept in ``drives``), or skipped with the reason the drive cannot be opened.
    False: the file is no longer there to dispose of."""
    if item.person not in drives:
        drives[item.person] = _open_drive(drive, item.person)
    backend = drives[item.person]
    if isinstance(backend, str):
        item.outcome, item.skip_reason = ItemOutcome.SKIPPED.value, backend
        return True
    return _record_facts(item, backend) is not False


def propose_listed(
    session: Session, actor: Actor, version: RuleSetVersion, candidates: Sequence[Candidate],
    drive: Drive, *, authorities: Mapping[str, str], reason: str,
    clock: Clock | None = None,
) -> DisposalBatch:
    """Propose a batch of the files named (a migrated person's whole H: drive, once its
    release is signed off) rather than of those a rule found due: the same batch as
    ``propose_batch`` makes (facts recorded now and re-checked at execution, approval by a
    second records manager, a certificate), each item's authority the sign-off given per
    person in ``authorities``. A file already in an open or executed batch is left out."""
    require_records_manager(actor, "propose a disposal batch")
    clock = clock or SystemClock()
    serialise_on(session, RuleSetVersion.__table__, true())
    taken = _in_open_or_done_batches(session)
    drives: dict[str, Backend | str] = {}
    items: list[DisposalItem] = []
    for c in candidates:
        if (c.person, c.path) in taken:
            continue
        item = DisposalItem(person=c.person, path=c.path, size=c.size, rule=c.rule,
                            authority=authorities.get(c.person, c.rule),
                            eligible_since=c.eligible_since, outcome=ItemOutcome.PENDING.value)
        if _checked(item, drive, drives):
            items.append(item)
    usable = [b for b in drives.values() if not isinstance(b, str)]
    if not items or not usable:
        raise InvalidInput("no file named can be disposed of: nothing to propose")
    skipped = sum(1 for i in items if i.outcome == ItemOutcome.SKIPPED.value)
    batch = DisposalBatch(
        rule_set_id=version.id, status=BatchStatus.PROPOSED.value,
        method=f"deleted through the {usable[0].name} storage backend (remove)",
        proposed_by=actor.name, proposed_at=clock.now(), deleted_files=0, deleted_bytes=0,
        skipped_files=skipped)
    audit.create(session, actor, "retention.disposal.propose", batch,
                 reason=f"{reason}: {len(items) - skipped} files"
                        + (f"; {skipped} skipped" if skipped else ""))
    session.flush()
    for item in items:
        item.batch_id = batch.id
        session.add(item)
    session.flush()
    return batch


def _record_facts(item: DisposalItem, backend: Backend) -> bool | None:
    """Read the file's size, modified time and hash into ``item``; mark it skipped (with
    the reason) if it cannot be addressed or read. False: the file is gone since the scan,
    so there is nothing to dispose."""
    address = storage_path(backend, item.path, item.raw_path)
    if address is None:
        item.outcome, item.skip_reason = ItemOutcome.SKIPPED.value, _unaddressable(backend)
        return None
    try:
        entry = backend.stat(address)
        digest = sha256_of(backend, address)
    except EntryNotFound:
        return False
    except (StorageError, OSError) as exc:
        item.outcome, item.skip_reason = ItemOutcome.SKIPPED.value, f"cannot read the file: {exc}"
        return None
    item.size, item.modified, item.sha256 = entry.size, entry.modified, digest
    return True


def get_batch(session: Session, batch_id: int) -> DisposalBatch:
    batch = session.get(DisposalBatch, batch_id)
    if batch is None:
        raise NotFound(f"no disposal batch {batch_id}")
    return batch


def approve_batch(
    session: Session, actor: Actor, batch_id: int, *, reason: str | None = None,
    clock: Clock | None = None,
) -> DisposalBatch:
    batch = get_batch(session, batch_id)
    run_transition(session, actor, BATCH, "approve", [batch], reason=reason,
                   clock=clock or SystemClock())
    session.flush()
    return batch


def cancel_batch(session: Session, actor: Actor, batch_id: int, reason: str) -> DisposalBatch:
    batch = get_batch(session, batch_id)
    run_transition(session, actor, BATCH, "cancel", [batch], reason=reason,
                   clock=SystemClock())
    session.flush()
    return batch


def _why_not(item: DisposalItem, backend: Backend, address: str, holds: Any, as_of: date
             ) -> str | None:
    """Re-check one file just before deleting it: None means delete."""
    if item.modified is None or item.sha256 is None:
        return "nothing was recorded at proposal to check the file against"
    try:
        entry = backend.stat(address)
    except EntryNotFound:
        return "the file is no longer there"
    except (StorageError, OSError) as exc:
        return f"cannot check the file: {exc}"
    facts = FileFacts(item.person, item.path, entry.size, entry.modified, entry.created)
    hold = covering_hold(holds, facts, as_of)
    if hold is not None:
        return f"under hold {hold}"
    if entry.size != item.size:
        return f"size changed ({item.size} -> {entry.size} bytes)"
    if utc(entry.modified) != utc(item.modified):
        return f"modified since proposal ({utc(item.modified)} -> {utc(entry.modified)})"
    try:
        digest = sha256_of(backend, address)
    except (StorageError, OSError) as exc:  # unreadable now: skipped, never fatal
        return f"cannot read the file: {exc}"
    if digest != item.sha256:
        return "content changed (SHA-256 differs)"
    return None


def _delete(item: DisposalItem, backend: Backend | str, holds: Any, as_of: date) -> str | None:
    """Delete one file if it passes its re-check: None when deleted, else why not."""
    if isinstance(backend, str):
        return backend
    address = storage_path(backend, item.path, item.raw_path)
    if address is None:
        return _unaddressable(backend)
    why = _why_not(item, backend, address, holds, as_of)
    if why is None:
        try:
            backend.remove(address)
        except (StorageError, OSError) as exc:
            why = f"storage refused the deletion: {exc}"
    return why


def execute_batch(
    session: Session, actor: Actor, batch_id: int, drive: Drive, *,
    clock: Clock | None = None,
) -> DisposalBatch:
    """Delete every file of an approved batch that passes its re-check; skip the rest."""
    clock = clock or SystemClock()
    batch = get_batch(session, batch_id)
    # One executor: lock the batch and read it again before touching any file, so a
    # concurrent execution waits here, then finds it executed and is refused (the
    # transition itself runs after the deletions, holding this lock throughout).
    lock(session, [batch])
    refusal = BATCH.refusal(Context(session, actor, None, {}), BATCH.get("execute"), batch)
    if refusal:
        raise TransitionRefused(f"disposal_batch {batch.id}: {refusal}")
    holds = holds_in_force(session)  # read now: a hold placed after approval counts
    deleted = deleted_bytes = 0
    skipped = sum(1 for i in batch.items if i.outcome == ItemOutcome.SKIPPED.value)
    for item in batch.items:
        if item.outcome != ItemOutcome.PENDING.value:
            continue
        why = _delete(item, _open_drive(drive, item.person), holds, clock.today())
        item.done_at = clock.now()
        if why is None:
            item.outcome = ItemOutcome.DELETED.value
            deleted += 1
            deleted_bytes += item.size
            audit.event(session, actor, "retention.file.dispose", "disposal_item", str(item.id),
                        _item_record(batch, item), reason=f"disposal batch {batch.id}")
        else:
            item.outcome, item.skip_reason = ItemOutcome.SKIPPED.value, why
            skipped += 1
            audit.event(session, actor, "retention.file.skip", "disposal_item", str(item.id),
                        _item_record(batch, item), reason=why)
    run_transition(session, actor, BATCH, "execute", [batch], clock=clock,
                   deleted_files=deleted, deleted_bytes=deleted_bytes, skipped_files=skipped)
    session.flush()
    return batch


def _item_record(batch: DisposalBatch, item: DisposalItem) -> dict[str, Any]:
    return {"batch": batch.id, "person": item.person, "path": item.path,
            "path_bytes": item.raw_path.hex() if item.raw_path is not None else None,
            "size": item.size, "sha256": item.sha256, "rule": item.rule,
            "outcome": item.outcome, "skip_reason": item.skip_reason}


CERTIFICATE_COLUMNS = [
    "path", "size", "sha256", "owner", "rule", "rule_set", "rule_set_version",
    "rule_set_hash", "authority", "eligible_since", "holds_checked", "reviewed_by",
    "justification", "approved_by", "approved_at", "executed_by", "executed_at", "method",
    "path_bytes",
]


def certificate_rows(session: Session, batch_id: int) -> list[dict[str, Any]]:
    """One row per file deleted by the batch (never its content)."""
    batch = get_batch(session, batch_id)
    if batch.status != BatchStatus.EXECUTED.value:
        raise InvalidInput(f"batch {batch_id} is {batch.status}: no certificate before execution")
    version = batch.rule_set
    rows = []
    for item in batch.items:
        if item.outcome != ItemOutcome.DELETED.value:
            continue
        review = item.review_item
        rows.append({
            "path": item.path, "size": item.size, "sha256": item.sha256, "owner": item.person,
            "rule": item.rule, "rule_set": version.name, "rule_set_version": version.version,
            "rule_set_hash": version.content_hash, "authority": item.authority,
            "eligible_since": item.eligible_since,
            "holds_checked": "none in force at execution",
            "reviewed_by": review.decided_by if review else None,
            "justification": review.justification if review else None,
            "approved_by": batch.approved_by, "approved_at": batch.approved_at,
            "executed_by": batch.executed_by, "executed_at": item.done_at,
            "method": batch.method,
            # A path that is not valid UTF-8 is shown with \xNN escapes; its exact bytes:
            "path_bytes": item.raw_path.hex() if item.raw_path is not None else None,
        })
    return rows


def certificate_csv(session: Session, batch_id: int) -> str:
    return to_csv(certificate_rows(session, batch_id), CERTIFICATE_COLUMNS)


def certificate_html(session: Session, batch_id: int, organisation: str = "") -> str:
    batch = get_batch(session, batch_id)
    rows = certificate_rows(session, batch_id)
    version = batch.rule_set
    cells = "".join(
        "<tr>" + "".join(f"<td>{escape(_text(r[c]))}</td>" for c in CERTIFICATE_COLUMNS)
        + "</tr>" for r in rows)
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in CERTIFICATE_COLUMNS)
    total = sum(r["size"] for r in rows)
    # From the items recorded, like the rows above: never from the batch's counters.
    skipped = sum(1 for i in batch.items if i.outcome == ItemOutcome.SKIPPED.value)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Certificate of disposal, batch {batch.id}</title></head><body><main>"
        f"<h1>Certificate of disposal: batch {batch.id}</h1>"
        f"<p>{escape(organisation)}</p><dl>"
        f"<dt>Rule set</dt><dd>{escape(version.name)} v{version.version} "
        f"(SHA-256 {escape(version.content_hash)})</dd>"
        f"<dt>Proposed by</dt><dd>{escape(batch.proposed_by)}, {_text(batch.proposed_at)}</dd>"
        f"<dt>Approved by</dt><dd>{escape(_text(batch.approved_by))}, "
        f"{_text(batch.approved_at)}</dd>"
        f"<dt>Executed by</dt><dd>{escape(_text(batch.executed_by))}, "
        f"{_text(batch.executed_at)}</dd>"
        f"<dt>Method</dt><dd>{escape(batch.method)}</dd>"
        f"<dt>Files deleted</dt><dd>{len(rows)} ({total} bytes)</dd>"
        f"<dt>Files skipped</dt><dd>{skipped}</dd></dl>"
        f"<table><caption>Files deleted</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{cells}</tbody></table></main></body></html>"
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc(value).isoformat()
    return str(value)


def batches(session: Session, status: str | None = None) -> Sequence[DisposalBatch]:
    query = select(DisposalBatch).order_by(DisposalBatch.id)
    if status is not None:
        query = query.where(DisposalBatch.status == status)
    return session.scalars(query).all()
