"""What an audited entity is called and where its page is, for the audit log: a person by
name and number, a handset by IMEI, a wave by name, each linked to its own page."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mobilise.comms.models import MessageTemplate
from mobilise.core.auth import User
from mobilise.devices.models import AccessoryKit, Handset, HandsetModel, Sim
from mobilise.migration.models import MigrationRound, MigrationWave, PersonMigration
from mobilise.people.models import OrgUnit, Person, Site
from mobilise.retention.models import DisposalBatch, Hold, ReviewItem, RuleSetVersion
from mobilise.rollout.models import Appointment


@dataclass(frozen=True)
class Named:
    """How one kind of entity reads: its name, and the page that shows it (if any)."""

    model: Any
    name: Callable[[Any], str]
    href: Callable[[Any], str | None] = lambda _: None
    load: tuple[Any, ...] = ()  # the relationships its name reads, loaded with it


def _person(p: Person) -> str:
    return f"{p.display_name} ({p.number})"


def _q(text: object) -> str:
    return quote(str(text), safe="")


NAMED: dict[str, Named] = {
    "person": Named(Person, _person, lambda p: f"/people/{_q(p.number)}"),
    "handset": Named(Handset, lambda h: f"IMEI {h.imei}", lambda h: f"/handsets/{_q(h.imei)}"),
    "sim": Named(Sim, lambda s: f"SIM {s.iccid}", lambda _: "/sims"),
    "migration_wave": Named(MigrationWave, lambda w: f"wave {w.name}",
                            lambda w: f"/waves/{w.id}"),
    "migration_round": Named(MigrationRound,
                             lambda r: f"round {r.number} of wave {r.wave.name}",
                             lambda r: f"/waves/{r.wave_id}",
                             (selectinload(MigrationRound.wave),)),
    "migration_person": Named(PersonMigration,
                              lambda m: f"{_person(m.person)} in wave {m.wave.name}",
                              lambda m: f"/waves/{m.wave_id}",
                              (selectinload(PersonMigration.wave),
                               selectinload(PersonMigration.person))),
    "org_unit": Named(OrgUnit, lambda u: f"{u.code} – {u.name}",
                      lambda u: f"/people?org_unit={_q(u.code)}"),
    "site": Named(Site, lambda s: f"{s.code} – {s.name}"),
    "app_user": Named(User, lambda u: f"account {u.username}"),
    "handset_model": Named(HandsetModel, lambda m: f"{m.code} – {m.name}"),
    "accessory_kit": Named(AccessoryKit, lambda k: f"{k.code} – {k.name}"),
    "comms_template": Named(MessageTemplate, lambda t: f"template {t.name} v{t.version}",
                            lambda _: "/comms"),
    "rollout_appointment": Named(Appointment,
                                 lambda a: f"appointment of {_person(a.person)} on {a.day}",
                                 lambda a: f"/people/{_q(a.person.number)}",
                                 (selectinload(Appointment.person),)),
    "retention_rule_set": Named(RuleSetVersion, lambda v: f"{v.name} v{v.version}",
                                lambda v: f"/retention/rule-sets/{_q(v.name)}/{v.version}"),
    "retention_hold": Named(Hold, lambda h: f"hold {h.reference}",
                            lambda _: "/retention/holds"),
    "retention_review_item": Named(ReviewItem, lambda i: f"{i.person}: {i.path}",
                                   lambda i: f"/retention/review/people/{_q(i.person)}"),
    "retention_disposal_batch": Named(DisposalBatch, lambda b: f"disposal batch {b.id}",
                                      lambda b: f"/retention/disposal/{b.id}"),
}


def entity_names(session: Session, refs: Iterable[tuple[str, str | None]]
                 ) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(entity, id) → (name, link) for each reference whose entity is known and whose row
    still exists: one query per kind of entity."""
    wanted: dict[str, set[int]] = {}
    for entity, ident in refs:
        if entity in NAMED and ident and ident.isascii() and ident.isdigit() \
                and len(ident) < 19:
            wanted.setdefault(entity, set()).add(int(ident))
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    for entity, ids in wanted.items():
        named = NAMED[entity]
        stmt = select(named.model).where(named.model.id.in_(ids)).options(*named.load)
        row: Any
        for row in session.scalars(stmt):
            out[(entity, str(row.id))] = (named.name(row), named.href(row))
    return out
