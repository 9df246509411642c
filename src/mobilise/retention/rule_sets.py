"""Rule set versions in the database: added as drafts, activated once, never edited after."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import serialise_on
from mobilise.core.errors import Conflict, NotFound, PermissionDenied
from mobilise.core.transitions import lock
from mobilise.retention.models import RuleSetStatus, RuleSetVersion
from mobilise.retention.rules import RuleSet, parse_rule_set

RECORDS = frozenset({Role.RECORDS})


def require_records_manager(actor: Actor, what: str) -> None:
    if not actor.has_any(RECORDS):
        raise PermissionDenied(f"only a records manager may {what}")


def add_rule_set(
    session: Session, actor: Actor, text: str, *, file: str = "<rule set>",
    clock: Clock | None = None,
) -> RuleSetVersion:
    """Validate and store a new version as a draft (the same version twice is refused)."""
    require_records_manager(actor, "add a rule set")
    parsed = parse_rule_set(text, file)
    existing = session.scalar(select(RuleSetVersion).where(
        RuleSetVersion.name == parsed.name, RuleSetVersion.version == parsed.version))
    if existing is not None:
        if existing.content_hash == parsed.content_hash:
            return existing
        raise Conflict(f"{parsed.name} v{parsed.version} exists with different text: "
                       "give the new text a new version number")
    row = RuleSetVersion(
        name=parsed.name, version=parsed.version, yaml=text, content_hash=parsed.content_hash,
        status=RuleSetStatus.DRAFT.value, created_by=actor.name,
        created_at=(clock or SystemClock()).now(),
    )
    audit.create(session, actor, "retention.rule_set.add", row)
    session.flush()
    return row


def activate(
    session: Session, actor: Actor, name: str, version: int, *, reason: str | None = None,
    clock: Clock | None = None,
) -> RuleSetVersion:
    """Make a version the one in force; the version it replaces is retired."""
    require_records_manager(actor, "activate a rule set")
    row = get_version(session, name, version)
    # One version in force: every version of the rule set is locked (and the one to
    # activate read again) before deciding, so concurrent activations run in turn.
    serialise_on(session, RuleSetVersion.__table__, RuleSetVersion.name == name)
    lock(session, [row])
    if row.status != RuleSetStatus.DRAFT.value:
        raise Conflict(f"{name} v{version} is {row.status}: only a draft can be activated")
    now = (clock or SystemClock()).now()
    for old in session.scalars(select(RuleSetVersion).where(
            RuleSetVersion.name == name, RuleSetVersion.status == RuleSetStatus.ACTIVE.value)):
        with audit.change(session, actor, "retention.rule_set.retire", old, reason=reason):
            old.status = RuleSetStatus.RETIRED.value
            old.retired_at = now
    with audit.change(session, actor, "retention.rule_set.activate", row, reason=reason):
        row.status = RuleSetStatus.ACTIVE.value
        row.activated_by = actor.name
        row.activated_at = now
    session.flush()
    return row


def get_version(session: Session, name: str, version: int | None = None) -> RuleSetVersion:
    """A given version, or (``version=None``) the active one."""
    query = select(RuleSetVersion).where(RuleSetVersion.name == name)
    if version is None:
        query = query.where(RuleSetVersion.status == RuleSetStatus.ACTIVE.value)
    else:
        query = query.where(RuleSetVersion.version == version)
    row = session.scalar(query)
    if row is None:
        which = "active version" if version is None else f"v{version}"
        raise NotFound(f"no {which} of rule set {name!r}")
    return row


def parsed(row: RuleSetVersion) -> RuleSet:
    rule_set = parse_rule_set(row.yaml, f"{row.name} v{row.version}")
    if rule_set.content_hash != row.content_hash:
        raise Conflict(f"{row.name} v{row.version}: stored text does not match its hash")
    return rule_set
