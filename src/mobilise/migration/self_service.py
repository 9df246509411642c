"""My H: drive: a signed-in person's own readiness report, files due for their review,
their wave's dates and, once moved, where their files are.

Composes what exists: the readiness report (``drives.reports``), retention review
(``retention.review``: the person's own decisions go through its ``decide``), and the
migration's waves and journals. Every function takes the person, never a key the caller
chose, so nothing here can show or change another person's files.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import InvalidInput, NotFound
from mobilise.core.settings import Settings
from mobilise.drives import estate
from mobilise.drives.reports import add_retention, person_report
from mobilise.migration.models import MigrationState, PersonMigration
from mobilise.migration.reports import person_report as journal_report
from mobilise.people.models import Person
from mobilise.retention import review
from mobilise.retention.models import ReviewItem, ReviewStatus

MAX_LISTED = 500  # findings and files listed on the page; the counts are always whole


def readiness(session: Session, settings: Settings, person: Person, today: date
              ) -> dict[str, Any] | None:
    """The person's readiness from their latest scan: renames (old → new) and the files
    that cannot move, each with its reason; None before their drive is scanned."""
    pairs = estate.latest_scans(session, [person.id])
    if not pairs:
        return None
    one = person_report(person.number, person.upn, estate.inventory_of(pairs[0][1]),
                        quota_bytes=settings.onedrive_quota_bytes)
    report = add_retention(one, session, person, today).as_dict()
    findings = report["findings"]
    return {
        "scanned_at": pairs[0][1].scanned_at,
        "summary": report["summary"],
        "renames": [{"old": f["path"], "new": f["proposed_name"], "reason": f["reason"]}
                    for f in findings if f["action"] == "rename"][:MAX_LISTED],
        "cannot_move": [{"path": f["path"], "reason": f["reason"]}
                        for f in findings if f["action"] == "cannot_move"][:MAX_LISTED],
    }


def my_reviews(session: Session, person: Person, *, status: str = ReviewStatus.PENDING.value,
               offset: int = 0) -> dict[str, Any]:
    """The person's files due for review, each with the rule that sent it there."""
    return review.list_items(session, status=status, person=person.number,
                             limit=MAX_LISTED, offset=offset).as_dict()


def decide_mine(session: Session, actor: Actor, clock: Clock, person: Person,
                item_ids: Sequence[int], decision: str, justification: str
                ) -> list[ReviewItem]:
    """Decide some of one's own files at once, with one justification. An id that is not
    one of the person's own is 'not found', whoever's it is."""
    ids = sorted(set(item_ids))
    if not ids:
        raise InvalidInput("choose at least one file")
    if not justification.strip():
        raise InvalidInput("give a justification for the decision")
    mine = set(session.scalars(select(ReviewItem.id).where(
        ReviewItem.id.in_(ids), ReviewItem.person == person.number)))
    missing = [i for i in ids if i not in mine]
    if missing:
        raise NotFound(f"no review item(s) {missing} of yours")
    return review.decide(session, actor, ids, decision, justification, clock=clock)


def my_waves(session: Session, person: Person) -> list[dict[str, Any]]:
    """The person's migration waves: state and the dates of each round."""
    out = []
    for m in session.scalars(select(PersonMigration).where(
            PersonMigration.person_id == person.id).order_by(PersonMigration.id)):
        out.append({"wave": m.wave.name, "description": m.wave.description,
                    "state": m.state, "reason": m.reason,
                    "rounds": [{"number": r.number, "kind": r.kind, "status": r.status,
                                "scheduled_for": r.scheduled_for,
                                "finished_at": r.finished_at} for r in m.wave.rounds]})
    return out


def where_my_files_are(session: Session, settings: Settings, person: Person
                       ) -> dict[str, Any] | None:
    """After migration: where the files went, which were renamed, which did not move."""
    migrated = session.scalar(select(PersonMigration.id).where(
        PersonMigration.person_id == person.id,
        PersonMigration.state == MigrationState.MIGRATED.value).limit(1))
    if migrated is None:
        return None
    journal = journal_report(settings, person.number)
    if settings.migration_destination == "local":
        place = f"{settings.migration_destination_root}/{person.upn}"
    else:
        place = f"OneDrive for Business of {person.upn}"
    return {"destination": place, "summary": journal.summary(),
            "renamed": [{"old": o, "new": n} for o, n in journal.renamed[:MAX_LISTED]],
            "not_moved": [{"path": r.path, "reason": r.reason}
                          for r in journal.not_moved[:MAX_LISTED]]}


def my_drive(session: Session, settings: Settings, clock: Clock, person: Person
             ) -> dict[str, Any]:
    return {"readiness": readiness(session, settings, person, clock.today()),
            "reviews": my_reviews(session, person), "waves": my_waves(session, person),
            "migrated": where_my_files_are(session, settings, person)}
