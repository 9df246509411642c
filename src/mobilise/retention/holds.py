"""Holds: placed and released by a records manager with a reason. A placed hold stops the
disposal of everything it covers, from the moment it is committed: evaluation turns the
files it covers into ``hold``, and a disposal re-checks the holds in force file by file
at execution."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import Conflict, ImportRejected, InvalidInput, NotFound
from mobilise.core.limits import NestedTooDeep, load_yaml
from mobilise.core.transitions import lock
from mobilise.people.models import Person
from mobilise.retention import evaluate, reference
from mobilise.retention.models import Hold, HoldKind, HoldStatus
from mobilise.retention.rule_sets import require_records_manager
from mobilise.retention.rules import Folder, Selector, parse_rule_set


def parse_hold_selector(text: str) -> Selector:
    """A hold's selector uses the rule selector grammar (``select:`` of a rule)."""
    try:
        body = load_yaml(text)
    except NestedTooDeep as exc:
        raise InvalidInput(f"hold selector: {exc.message}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"hold selector is not valid YAML: {exc}") from None
    wrapper = yaml.safe_dump({
        "rule_set": "hold", "version": 1,
        "rules": [{"id": "hold", "title": "hold", "authority": "hold", "action": "review",
                   "select": body}],
    })
    try:
        return parse_rule_set(wrapper, "hold selector").rules[0].selector
    except ImportRejected as exc:
        raise InvalidInput("hold selector: " + "; ".join(p.message for p in exc.problems)) \
            from None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def hold_people(session: Session, keys: list[str]) -> list[str]:
    """The people a hold names, by warrant/staff number or UPN, as numbers (the key the
    inventories and evaluation use). An unknown person is refused: a hold on nobody
    protects nothing."""
    wanted = [k.strip() for k in keys]
    found = session.execute(select(Person.number, Person.upn).where(
        Person.number.in_(wanted) | Person.upn.in_([k.lower() for k in wanted])))
    by_key: dict[str, str] = {}
    for number, upn in found:
        by_key[number] = number
        by_key[upn.lower()] = number
    unknown = [k for k in wanted if k not in by_key and k.lower() not in by_key]
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:10])
        raise InvalidInput(f"no such person in the register: {shown}"
                           + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""))
    return list(dict.fromkeys(by_key.get(k) or by_key[k.lower()] for k in wanted))


def hold_path(path: str) -> str:
    """A folder of a hold as evaluation compares it: inside the person's drive, steps
    separated by ``/`` (a Windows ``Projects\\Castle`` is the same folder), no leading or
    trailing separator. Case is kept for display; matching ignores it, as OneDrive and the
    H: share do. A path that leaves the drive (``..``), names a drive letter or holds
    control characters is refused."""
    if _CONTROL.search(path):
        raise InvalidInput(f"hold folder {path!r}: no control characters")
    steps = [step for step in re.split(r"[\\/]", path) if step]
    if any(step in {".", ".."} for step in steps):
        raise InvalidInput(f"hold folder {path!r} leaves the person's drive ('.' or '..')")
    if steps and re.fullmatch(r"[A-Za-z]:", steps[0]):
        raise InvalidInput(f"hold folder {path!r}: give the path inside the person's drive, "
                           "without a drive letter")
    return "/".join(steps)


def place_hold(
    session: Session, actor: Actor, reference_: str, kind: str, reason: str, *,
    people: list[str] | None = None, folders: list[dict[str, str]] | None = None,
    selector: str | None = None, clock: Clock | None = None,
) -> Hold:
    require_records_manager(actor, "place a hold")
    if kind not in {k.value for k in HoldKind}:
        raise InvalidInput(f"hold kind {kind!r}: one of {', '.join(k.value for k in HoldKind)}")
    if not reason.strip():
        raise InvalidInput("a hold needs a reason")
    if not (people or folders or selector):
        raise InvalidInput("a hold covers people, folders or a selector: give at least one")
    for folder in folders or []:
        if set(folder) != {"person", "path"}:
            raise InvalidInput("a folder is {person, path}")
    numbers = hold_people(session, list(people or []))
    held_folders = [{"person": hold_people(session, [f["person"]])[0],
                     "path": hold_path(f["path"])} for f in folders or []]
    if selector:
        parse_hold_selector(selector)
    if session.scalar(select(Hold).where(Hold.reference == reference_)) is not None:
        raise Conflict(f"hold {reference_!r} exists")
    hold = Hold(
        reference=reference_, kind=kind, people=numbers, folders=held_folders,
        selector_yaml=selector, status=HoldStatus.PLACED.value, reason=reason,
        placed_by=actor.name, placed_at=(clock or SystemClock()).now(),
    )
    audit.create(session, actor, "retention.hold.place", hold, reason=reason)
    session.flush()
    return hold


def release_hold(
    session: Session, actor: Actor, reference_: str, reason: str, *, clock: Clock | None = None
) -> Hold:
    require_records_manager(actor, "release a hold")
    if not reason.strip():
        raise InvalidInput("releasing a hold needs a reason")
    hold = session.scalar(select(Hold).where(Hold.reference == reference_))
    if hold is None:
        raise NotFound(f"no hold {reference_!r}")
    lock(session, [hold])  # one release: a concurrent one waits, then finds it released
    if hold.status != HoldStatus.PLACED.value:
        raise Conflict(f"hold {reference_!r} is already released")
    with audit.change(session, actor, "retention.hold.release", hold, reason=reason):
        hold.status = HoldStatus.RELEASED.value
        hold.released_by = actor.name
        hold.released_at = (clock or SystemClock()).now()
        hold.release_reason = reason
    session.flush()
    return hold


def holds_in_force(session: Session) -> list[evaluate.Hold]:
    rows = session.scalars(select(Hold).where(Hold.status == HoldStatus.PLACED.value)
                           .order_by(Hold.id))
    return [as_evaluation_hold(h) for h in rows]


def as_evaluation_hold(hold: Hold) -> evaluate.Hold:
    return evaluate.Hold(
        id=hold.reference,
        people=tuple(hold.people or ()),
        folders=tuple(Folder(f["person"], f["path"]) for f in hold.folders or ()),
        selector=parse_hold_selector(hold.selector_yaml) if hold.selector_yaml else None,
    )


@dataclass(frozen=True)
class FileFacts:
    """What execution knows about one file at the moment of deletion."""

    person: str
    path: str
    size: int
    modified: Any
    created: Any


def covering_hold(holds: list[evaluate.Hold], facts: FileFacts, as_of: date) -> str | None:
    """The first hold in force that covers the file. A selector that needs facts the
    storage cannot give now (person attributes, duplicates, accessed time) counts as
    covering: when in doubt, do not delete."""
    name = facts.path.rsplit("/", 1)[-1]
    row = {
        "person": facts.person, "path": facts.path, "name": name,
        "extension": name.rsplit(".", 1)[-1].lower() if "." in name else "",
        "size": facts.size, "modified": _naive(facts.modified),
        "created": _naive(facts.created), "accessed": None,
    }
    for hold in holds:
        if facts.person in hold.people or any(_folder_covers(f, facts) for f in hold.folders):
            return hold.id
        selector = hold.selector
        if selector is None:
            continue
        if _needs_more_than_storage(selector) or reference.selects(selector, row, as_of, False):
            return hold.id
    return None


def _folder_covers(folder: Folder, facts: FileFacts) -> bool:
    # Case-insensitive, as in the evaluation: the H: drive share is.
    return facts.person == folder.person and (
        folder.path == "" or facts.path.lower().startswith(folder.path.lower() + "/")
    )


def _needs_more_than_storage(selector: Selector) -> bool:
    return (selector.needs_people or selector.duplicate is not None
            or selector.accessed_before is not None or selector.accessed_after is not None)


def _naive(value: Any) -> Any:
    return value.replace(tzinfo=None) if value is not None and value.tzinfo else value

