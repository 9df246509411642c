"""One person followed through both programmes: from the roster to their appointment, the
hand-over of their handset, their H: drive's migration and its end state, the files they
reviewed and the messages they were sent. Each link is read from the rows that own it (the
register, the appointments, the handset register, the waves, the review queue, the
outbox), so the journey can never say something another page contradicts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms.models import OutboxMessage
from mobilise.core.words import label
from mobilise.devices.models import Handset
from mobilise.migration.models import DriveAfterCutover, PersonMigration
from mobilise.people.models import Person, Site
from mobilise.people.register import get_person
from mobilise.retention.models import ReviewItem
from mobilise.rollout.models import Appointment


@dataclass
class Journey:
    person: dict[str, Any]
    appointments: list[dict[str, Any]] = field(default_factory=list)
    handsets: list[dict[str, Any]] = field(default_factory=list)
    migrations: list[dict[str, Any]] = field(default_factory=list)
    review: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"person": self.person, "appointments": self.appointments,
                "handsets": self.handsets, "migrations": self.migrations,
                "review": self.review, "messages": self.messages}

    def steps(self) -> list[dict[str, str]]:
        """The journey as one line per link, in the order it happens (for the CLI)."""
        lines = [{"step": "roster", "detail": f"{self.person['name']} ({self.person['number']}), "
                  f"{label(self.person['status'])}"}]
        lines += [{"step": "appointment",
                   "detail": f"{a['day']} at {a['site']}: {label(a['status'])}"
                   + (f", handset {a['imei']}" if a["imei"] else "")}
                  for a in self.appointments]
        lines += [{"step": "handset", "detail": f"{h['imei']} ({h['model']}): {label(h['status'])}"
                   + (f" since {h['issued_at']}" if h["issued_at"] else "")}
                  for h in self.handsets]
        lines += [{"step": "H: drive", "detail": f"wave {m['wave']}: {label(m['state'])}"
                   + (f", after cutover {label(m['after_cutover'])}" if m["after_cutover"] else "")
                   + (f" ({m['reason']})" if m["reason"] else "")}
                  for m in self.migrations]
        if self.review["items"]:
            decided = ", ".join(f"{label(k)} {v}"
                                for k, v in sorted(self.review["decided"].items()))
            lines.append({"step": "review", "detail": f"{self.review['items']} files: "
                          f"{self.review['open']} open; decided: {decided or 'none'}"})
        lines += [{"step": "message", "detail": f"{label(m['template'])} ({label(m['status'])})"}
                  for m in self.messages]
        return lines


def journey(session: Session, key: str | int) -> Journey:
    """The journey of the person known by ``key`` (number, UPN or id)."""
    person = get_person(session, key)
    return Journey(person=_who(person), appointments=_appointments(session, person),
                   handsets=_handsets(session, person),
                   migrations=_migrations(session, person),
                   review=_review(session, person), messages=_messages(session, person))


def _who(person: Person) -> dict[str, Any]:
    return {"number": person.number, "name": f"{person.first_name} {person.last_name}",
            "upn": person.upn, "status": person.status, "eligible": person.eligible}


def _appointments(session: Session, person: Person) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Appointment.day, Appointment.status, Site.name, Handset.imei)
        .join(Site, Site.id == Appointment.site_id)
        .outerjoin(Handset, Handset.id == Appointment.handset_id)
        .where(Appointment.person_id == person.id).order_by(Appointment.day, Appointment.id))
    return [{"day": day.isoformat(), "status": status, "site": site, "imei": imei}
            for day, status, site, imei in rows]


def _handsets(session: Session, person: Person) -> list[dict[str, Any]]:
    handsets = session.scalars(select(Handset).where(Handset.holder_id == person.id)
                               .order_by(Handset.issued_at, Handset.id))
    return [{"imei": h.imei, "model": h.model.name, "status": h.status,
             "issued_at": h.issued_at.isoformat() if h.issued_at else None}
            for h in handsets]


def _migrations(session: Session, person: Person) -> list[dict[str, Any]]:
    members = session.scalars(select(PersonMigration).where(
        PersonMigration.person_id == person.id).order_by(PersonMigration.id)).all()
    after = {r.migration_id: r for r in session.scalars(select(DriveAfterCutover).where(
        DriveAfterCutover.migration_id.in_([m.id for m in members])))}
    return [{"wave": m.wave.name, "wave_id": m.wave_id, "state": m.state, "reason": m.reason,
             "after_cutover": after[m.id].state if m.id in after else None,
             "released_bytes": after[m.id].released_bytes if m.id in after else None}
            for m in members]


def _review(session: Session, person: Person) -> dict[str, Any]:
    items = session.execute(select(ReviewItem.status, ReviewItem.decision).where(
        ReviewItem.person == person.number)).all()
    decided = Counter(decision for _, decision in items if decision)
    return {"items": len(items), "open": sum(1 for _, decision in items if not decision),
            "decided": dict(decided)}


def _messages(session: Session, person: Person) -> list[dict[str, Any]]:
    rows = session.execute(select(OutboxMessage.template, OutboxMessage.status,
                                  OutboxMessage.created_at)
                           .where(OutboxMessage.person_id == person.id)
                           .order_by(OutboxMessage.created_at, OutboxMessage.id))
    return [{"template": t, "status": s, "queued_at": at.isoformat()} for t, s, at in rows]
