"""Property: whatever sequence of bookings, moves and outcomes, no site-day holds more than
its capacity, the capacity row's count is exactly the appointments holding a place, and a
person never has two live appointments."""

from __future__ import annotations

import shutil
from collections import Counter
from contextlib import suppress
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mobilise.core import audit
from mobilise.core.db import make_engine, session_scope
from mobilise.core.errors import CapacityExceeded, Conflict, InvalidInput, TransitionRefused
from mobilise.core.settings import Settings
from mobilise.people.models import Person, Site
from mobilise.rollout import appointments as appts
from mobilise.rollout.models import Appointment, IssueSlot
from tests.factories import ADMIN, load_people

DAYS = [date(2023, 1, 9), date(2023, 1, 10), date(2023, 1, 11)]
HOLDS_A_PLACE = {"booked", "confirmed", "attended", "not_issued", "no_show"}

step = st.tuples(st.sampled_from(["book", "reschedule", "cancel", "confirm", "attend",
                                  "attend_not_issued", "no_show"]),
                 st.integers(0, 5), st.integers(0, 2), st.booleans())


def apply(settings: Settings, op: str, who: int, day: int, with_reason: bool) -> None:
    with session_scope(settings) as s:
        site = s.scalar(select(Site.id).where(Site.code == "CE-01"))
        person = list(s.scalars(select(Person.id).order_by(Person.id)))[who]
        assert site is not None
        live = appts.live_appointment(s, person)
        reason = "asked to move" if with_reason else None
        if op == "book":
            appts.book(s, ADMIN, person, site, DAYS[day])
        elif live is None:
            return
        elif op == "reschedule":
            appts.reschedule(s, ADMIN, live, site, DAYS[day], reason=reason)
        else:
            appts.transition(s, ADMIN, op, [live], reason=reason)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_no_sequence_overbooks(sqlite_template: Path,
                               tmp_path_factory: pytest.TempPathFactory,
                               steps: list[tuple[str, int, int, bool]]) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    shutil.copy(sqlite_template, tmp / "m.db")
    settings_ = Settings(database_url=f"sqlite:///{tmp / 'm.db'}", data_dir=tmp / "data")
    with session_scope(settings_) as s:
        load_people(s, tmp, count=6)
        site = s.scalar(select(Site.id).where(Site.code == "CE-01"))
        assert site is not None
        appts.open_places(s, site, DAYS, capacity=2)
    for op, who, day, with_reason in steps:
        # A refusal rolls back; the invariant must hold either way.
        with suppress(CapacityExceeded, Conflict, TransitionRefused, InvalidInput):
            apply(settings_, op, who, day, with_reason)
    with session_scope(settings_) as s:
        rows = s.scalars(select(Appointment)).all()
        holding = Counter(a.day for a in rows if a.status in HOLDS_A_PLACE)
        for slot in s.scalars(select(IssueSlot)):
            assert slot.booked == holding[slot.day] <= slot.capacity
        live = Counter(a.person_id for a in rows if a.status in ("booked", "confirmed"))
        assert all(n == 1 for n in live.values())
        audit.verify(s)
    make_engine(settings_.database_url).dispose()
