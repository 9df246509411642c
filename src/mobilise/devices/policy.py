"""The acceptable-use policy: published versions, the holders' electronic signatures of
them, their receipts, and who has not yet accepted the version in force.

A signature binds four things: the person, the handset, the version (and the SHA-256 of
its text, so that the words accepted can be proved later) and the time. A new version in
force asks every holder to sign again; ``acceptance_status`` says who has.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from mobilise.comms.outbox import queue
from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.core.settings import Settings
from mobilise.devices.models import (
    Handset,
    HandsetStatus,
    KitIssue,
    PolicyAcceptance,
    PolicyVersion,
    SignedHow,
)
from mobilise.people.models import Person


def text_hash(text: str) -> str:
    """The SHA-256 of the policy's text as published (UTF-8, exactly as stored)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def publish_version(session: Session, actor: Actor, clock: Clock, version: str, text: str,
                    effective_on: date | None = None) -> PolicyVersion:
    """Publish a new version; once in force, every holder is asked to accept it again."""
    version = version.strip()
    if not version or len(version) > 20:
        raise InvalidInput("a policy version is 1 to 20 characters")
    if not text.strip():
        raise InvalidInput("the policy text is empty")
    row = PolicyVersion(version=version, text=text, sha256=text_hash(text),
                        effective_on=effective_on or clock.today(), published_at=clock.now(),
                        published_by=actor.name)
    audit.create(session, actor, "policy.publish", row)
    try:
        session.flush()
    except IntegrityError:  # the unique version: published by someone else meanwhile
        raise Conflict(f"policy version {version!r} is already published") from None
    return row


def versions(session: Session) -> list[PolicyVersion]:
    return list(session.scalars(select(PolicyVersion).order_by(
        PolicyVersion.effective_on.desc(), PolicyVersion.id.desc())))


def current_version(session: Session, clock: Clock) -> PolicyVersion | None:
    """The version in force today: the latest effective one (None before any is)."""
    return session.scalars(select(PolicyVersion)
                           .where(PolicyVersion.effective_on <= clock.today())
                           .order_by(PolicyVersion.effective_on.desc(),
                                     PolicyVersion.id.desc()).limit(1)).first()


def require_current(session: Session, clock: Clock) -> PolicyVersion:
    found = current_version(session, clock)
    if found is None:
        raise InvalidInput("no acceptable-use policy version is in force: publish one "
                           "(mobilise devices policy publish)")
    return found


def held_by(session: Session, person_id: int) -> list[Handset]:
    return list(session.scalars(select(Handset).where(
        Handset.holder_id == person_id, Handset.status == HandsetStatus.ISSUED.value)
        .order_by(Handset.id)))


def accept(session: Session, actor: Actor, clock: Clock, person: Person, handset: Handset,
           how: str) -> PolicyAcceptance:
    """``person`` signs the policy in force for ``handset`` (which they must hold). Of two
    signatures at once, the database keeps one and the other is refused."""
    if how not in {h.value for h in SignedHow}:
        raise InvalidInput(f"signed how: one of {', '.join(h.value for h in SignedHow)}")
    if handset.holder_id != person.id or handset.status != HandsetStatus.ISSUED.value:
        # Not "forbidden": a handset someone else holds is none of this person's business.
        raise NotFound(f"{person.number} holds no handset {handset.imei}")
    policy = require_current(session, clock)
    # Read now: after a refused flush the session can no longer load them.
    already = f"policy {policy.version} is already accepted for handset {handset.imei}"
    if _signed(session, person.id, handset.id, policy.id):
        raise Conflict(already)
    row = PolicyAcceptance(person_id=person.id, handset_id=handset.id,
                           policy_version_id=policy.id, text_sha256=policy.sha256,
                           accepted_at=clock.now(), how=how, signed_by=actor.name)
    audit.create(session, actor, "policy.accept", row,
                 reason=f"{person.number} accepts AUP {policy.version} ({how})")
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(already) from None
    return row


def _signed(session: Session, person_id: int, handset_id: int, policy_id: int) -> bool:
    return session.scalar(select(PolicyAcceptance.id).where(
        PolicyAcceptance.person_id == person_id, PolicyAcceptance.handset_id == handset_id,
        PolicyAcceptance.policy_version_id == policy_id)) is not None


def pending_handsets(session: Session, clock: Clock, person_id: int) -> list[Handset]:
    """The person's handsets still to be signed for under the version in force."""
    policy = current_version(session, clock)
    if policy is None:
        return []
    return [h for h in held_by(session, person_id)
            if not _signed(session, person_id, h.id, policy.id)]


def get_acceptance(session: Session, acceptance_id: int, person_id: int | None = None
                   ) -> PolicyAcceptance:
    """An acceptance by id; with ``person_id``, only one of that person's."""
    row = session.get(PolicyAcceptance, acceptance_id)
    if row is None or (person_id is not None and row.person_id != person_id):
        raise NotFound(f"no policy acceptance {acceptance_id}")
    return row


def acceptances_of(session: Session, person_id: int) -> list[PolicyAcceptance]:
    return list(session.scalars(select(PolicyAcceptance).where(
        PolicyAcceptance.person_id == person_id).order_by(PolicyAcceptance.id.desc())))


@dataclass(frozen=True)
class Status:
    policy: PolicyVersion | None
    rows: list[dict[str, Any]]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.rows if r["accepted"])

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.policy.version if self.policy else None,
                "sha256": self.policy.sha256 if self.policy else None,
                "holders": len(self.rows), "accepted": self.accepted,
                "not_accepted": len(self.rows) - self.accepted, "items": self.rows}


STATUS_COLUMNS = ["person", "name", "imei", "accepted", "accepted_at", "how"]


def acceptance_status(session: Session, clock: Clock, *, accepted: bool | None = None
                      ) -> Status:
    """Every issued handset's holder and whether they accepted the version in force."""
    policy = current_version(session, clock)
    signed: dict[tuple[int, int], PolicyAcceptance] = {}
    if policy is not None:
        signed = {(a.person_id, a.handset_id): a for a in session.scalars(
            select(PolicyAcceptance).where(PolicyAcceptance.policy_version_id == policy.id))}
    rows = []
    for h in session.scalars(select(Handset).options(joinedload(Handset.holder)).where(
            Handset.status == HandsetStatus.ISSUED.value, Handset.holder_id.is_not(None))
            .order_by(Handset.holder_id, Handset.id)):
        assert h.holder is not None
        a = signed.get((h.holder.id, h.id))
        if accepted is not None and (a is not None) != accepted:
            continue
        rows.append({"person": h.holder.number, "name": h.holder.display_name,
                     "imei": h.imei, "accepted": a is not None,
                     "accepted_at": a.accepted_at if a else None, "how": a.how if a else None})
    return Status(policy, rows)


def receipt(session: Session, acceptance: PolicyAcceptance) -> dict[str, Any]:
    """What a receipt shows: who, the handset (IMEI, number), the kit issued with it,
    the version and the hash of its text, and when and where it was signed."""
    h = acceptance.handset
    kit = session.scalars(select(KitIssue).where(
        KitIssue.handset_id == h.id, KitIssue.person_id == acceptance.person_id)
        .order_by(KitIssue.id.desc()).limit(1)).first()
    p = acceptance.person
    return {
        "id": acceptance.id,
        "person": {"number": p.number, "first_name": p.first_name, "last_name": p.last_name,
                   "email": p.email},
        "handset": {"imei": h.imei,
                    "model": f"{h.model.manufacturer} {h.model.name}" if h.model else "",
                    "number": h.sim.msisdn if h.sim is not None else None},
        "kit": {"code": kit.kit.code, "name": kit.kit.name, "contents": kit.kit.contents}
        if kit else None,
        "policy": {"version": acceptance.policy.version, "sha256": acceptance.text_sha256,
                   "effective_on": acceptance.policy.effective_on.isoformat()},
        "accepted_at": acceptance.accepted_at.isoformat(timespec="seconds"),
        "how": acceptance.how, "signed_by": acceptance.signed_by,
    }


def queue_receipt(session: Session, settings: Settings, clock: Clock,
                  acceptance: PolicyAcceptance) -> bool:
    """E-mail the receipt through the outbox (once per acceptance, however often asked)."""
    context = receipt(session, acceptance)
    _, new = queue(session, key=f"policy_receipt:acceptance:{acceptance.id}",
                   template="policy_receipt", recipient=acceptance.person.email,
                   context=context, settings=settings, person_id=acceptance.person_id,
                   clock=clock)
    return new
