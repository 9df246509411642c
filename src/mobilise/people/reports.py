"""Queries about the people register that feed the CLI, the API and the pages alike."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from mobilise.people.models import OrgUnit, Person, PersonStatus


def register_summary(session: Session) -> dict[str, Any]:
    active = Person.status == PersonStatus.ACTIVE.value
    totals = session.execute(select(
        func.count(Person.id),
        func.sum(case((active, 1), else_=0)),
        func.sum(case((active & (Person.kind == "officer"), 1), else_=0)),
        func.sum(case((active & Person.eligible, 1), else_=0)),
        func.sum(case((active & Person.adjustments.is_not(None), 1), else_=0)),
    )).one()
    by_unit = session.execute(
        select(OrgUnit.code, OrgUnit.name, OrgUnit.kind,
               func.sum(case((active, 1), else_=0)), func.count(Person.id))
        .join(Person, Person.org_unit_id == OrgUnit.id, isouter=True)
        .group_by(OrgUnit.code, OrgUnit.name, OrgUnit.kind).order_by(OrgUnit.code)
    ).all()
    return {
        "people": totals[0] or 0, "active": totals[1] or 0, "officers": totals[2] or 0,
        "eligible": totals[3] or 0, "adjustments": totals[4] or 0,
        "leavers": (totals[0] or 0) - (totals[1] or 0),
        "by_unit": [{"org_unit": c, "name": n, "kind": k, "active": int(a or 0),
                     "all": int(t or 0)}
                    for c, n, k, a, t in cast("list[tuple[str, str, str, int | None, int]]",
                                              by_unit)],
    }
