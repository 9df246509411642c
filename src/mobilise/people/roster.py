"""Importing and reconciling the HR roster and the force structure (org units, sites).

Re-importing a roster reconciles: new people are added, changed people updated, people
missing from the roster marked leavers (never deleted); every change is audited. A dry
run computes the same difference and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import FileProblem, ImportRejected, InvalidInput
from mobilise.core.importer import read_rows
from mobilise.people.importers import SITES, UNITS, roster_spec
from mobilise.people.logins import disable_leavers_logins
from mobilise.people.models import OrgUnit, Person, PersonStatus, Site

FIELDS = ("kind", "first_name", "last_name", "upn", "email", "rank", "org_unit_id", "site_id",
          "status", "left_on", "eligible", "eligibility_reason", "adjustments",
          "sam_account_name", "home_directory", "line_manager")


@dataclass
class RosterDiff:
    added: list[str] = field(default_factory=list)
    changed: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    leavers: list[str] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "changed": len(self.changed),
                "leavers": len(self.leavers), "unchanged": self.unchanged}


def import_units(session: Session, actor: Actor, path: Path) -> int:
    rows = read_rows(path, UNITS)
    existing = {u.code: u for u in session.scalars(select(OrgUnit))}
    for row in rows:
        v = row.values
        unit = existing.get(v["code"])
        if unit is None:
            audit.create(session, actor, "org_unit.add",
                         OrgUnit(code=v["code"], name=v["name"], kind=v["kind"]))
        else:
            with audit.change(session, actor, "org_unit.update", unit):
                unit.name, unit.kind = v["name"], v["kind"]
    return len(rows)


def import_sites(session: Session, actor: Actor, path: Path) -> int:
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    rows = read_rows(path, SITES)
    problems = [FileProblem(str(path), r.line, r.columns.get("org_unit", 1),
                            f"unknown org unit {r.values['org_unit']!r}")
                for r in rows if r.values["org_unit"] and r.values["org_unit"] not in units]
    if problems:
        raise ImportRejected(problems)
    existing = {s.code: s for s in session.scalars(select(Site))}
    for row in rows:
        v = row.values
        unit = units.get(v["org_unit"]) if v["org_unit"] else None
        site = existing.get(v["code"])
        if site is None:
            site = Site(code=v["code"])
            _set_site(site, v, unit)
            audit.create(session, actor, "site.add", site)
        else:
            with audit.change(session, actor, "site.update", site):
                _set_site(site, v, unit)
    return len(rows)


def _set_site(site: Site, v: dict[str, Any], unit: OrgUnit | None) -> None:
    site.name = v["name"]
    site.org_unit_id = unit.id if unit else None
    site.accessible = bool(v["accessible"])
    site.issuing = bool(v["issuing"])


def _wanted(v: dict[str, Any], units: dict[str, int], sites: dict[str, int]) -> dict[str, Any]:
    return {
        "kind": v["kind"], "first_name": v["first_name"], "last_name": v["last_name"],
        "upn": v["upn"], "email": v["email"], "rank": v["rank"],
        "org_unit_id": units[v["org_unit"]],
        "site_id": sites[v["site"]] if v["site"] else None,
        "status": v["status"], "left_on": v["left_on"], "eligible": bool(v["eligible"]),
        "eligibility_reason": v["eligibility_reason"], "adjustments": v["adjustments"],
        "sam_account_name": v["sam_account_name"], "home_directory": v["home_directory"],
        "line_manager": v["line_manager"],
    }


def import_roster(
    session: Session,
    actor: Actor,
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    dry_run: bool = False,
    clock: Clock | None = None,
    allow_mass_leavers: bool = False,
    max_leaver_share: float = 0.05,
) -> RosterDiff:
    """Reconcile the register with a roster file; all or nothing. An import that would
    make more than ``max_leaver_share`` of the active register leavers, or that comes from
    a file with under a tenth of the register's rows, is refused unless
    ``allow_mass_leavers``: such a file is far more often truncated than true."""
    today = (clock or SystemClock()).today()
    units: dict[str, int] = {c: i for c, i in session.execute(select(OrgUnit.code, OrgUnit.id))}
    sites: dict[str, int] = {c: i for c, i in session.execute(select(Site.code, Site.id))}
    rows = read_rows(path, roster_spec(set(units), set(sites)), mapping=mapping)
    people = {p.number: p for p in session.scalars(select(Person))}
    _refuse_stolen_upns(path, rows, people)
    if not (dry_run or allow_mass_leavers):
        _refuse_mass_leavers(path, rows, people, max_leaver_share)
    if not dry_run:
        _release_moving_upns(session, rows, people)
    diff = RosterDiff()
    seen: set[str] = set()
    for row in rows:
        number = row.values["number"]
        seen.add(number)
        wanted = _wanted(row.values, units, sites)
        person = people.get(number)
        if person is None:
            diff.added.append(number)
            if not dry_run:
                audit.create(session, actor, "person.add", Person(number=number, **wanted),
                             reason=f"roster {path.name}")
            continue
        changes = {k: (getattr(person, k), v) for k, v in wanted.items()
                   if getattr(person, k) != v}
        if not changes:
            diff.unchanged += 1
            continue
        diff.changed[number] = changes
        if not dry_run:
            why = f"roster {path.name}"
            with audit.change(session, actor, "person.update", person, reason=why):
                for k, (_, new) in changes.items():
                    setattr(person, k, new)
    for number, person in people.items():
        if number in seen or person.status == PersonStatus.LEAVER.value:
            continue
        diff.leavers.append(number)
        if not dry_run:
            with audit.change(session, actor, "person.leave", person,
                              reason=f"not in roster {path.name}"):
                person.status = PersonStatus.LEAVER.value
                person.left_on = today
    if diff.leavers and not dry_run:
        disable_leavers_logins(session, actor, [people[n].id for n in diff.leavers])
    return diff


def _release_moving_upns(session: Session, rows: list[Any], people: dict[str, Person]) -> None:
    """Free the UPNs that pass from one person to another in this roster (two people's
    UPNs swapped, or a chain of moves), so that the updates can go in any order.

    The unique constraint is checked on every statement, so a swap applied row by row
    collides with itself. Each person who gives up a UPN that someone else in the file
    takes is given a temporary UPN first, by a plain statement in this transaction; the
    audited change then writes their new UPN, so no temporary UPN outlives the transaction
    and the log records the real change (old UPN to new)."""
    wanted = {r.values["number"]: r.values["upn"] for r in rows}
    taken = set(wanted.values())
    giving_up = [p.id for number, p in people.items()
                 if number in wanted and wanted[number] != p.upn and p.upn in taken]
    if giving_up:
        session.connection().execute(
            update(Person).where(Person.id == bindparam("pid"))
            .values(upn=bindparam("temporary")),
            [{"pid": pid, "temporary": f"~moving~{pid}"} for pid in giving_up])


def _refuse_mass_leavers(path: Path, rows: list[Any], people: dict[str, Person],
                         max_share: float) -> None:
    active = {n for n, p in people.items() if p.status != PersonStatus.LEAVER.value}
    if not active:
        return  # a first import, or a register of leavers only: nobody to lose
    leaving = len(active - {r.values["number"] for r in rows})
    why = []
    if leaving > max_share * len(active):
        why.append(f"it would make {leaving:,} of the {len(active):,} active people leavers "
                   f"(more than {max_share:.0%})")
    if len(rows) < 0.1 * len(active):
        why.append(f"it has {len(rows):,} rows for a register of {len(active):,} active "
                   "people (under 10%)")
    if why:
        raise InvalidInput(
            f"roster {path.name}: {'; and '.join(why)}. Check that the file is complete; "
            "if it is, import it again with --allow-mass-leavers (API: "
            "allow_mass_leavers=true). Nothing was imported.")


def _refuse_stolen_upns(path: Path, rows: list[Any], people: dict[str, Person]) -> None:
    """A UPN may move between people only if the old holder is in the same roster."""
    in_file = {r.values["number"] for r in rows}
    holders = {p.upn: p.number for p in people.values()}
    problems = []
    for row in rows:
        holder = holders.get(row.values["upn"])
        if holder and holder != row.values["number"] and holder not in in_file:
            problems.append(FileProblem(str(path), row.line, row.columns["upn"],
                                        f"UPN {row.values['upn']!r} belongs to person {holder}, "
                                        "who is not in this roster"))
    if problems:
        raise ImportRejected(problems)
