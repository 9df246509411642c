"""Two service desks handing out the last licence seat at the same moment: one wins."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.db import session_factory
from mobilise.core.settings import Settings
from mobilise.devices import handsets
from mobilise.devices.models import Handset, LicenceSeat
from mobilise.people.models import Person
from tests.devices.fleet import build_fleet, clock, spares
from tests.factories import ADMIN


def _issue(session: Session, settings: Settings, handset_id: int, person_id: int) -> None:
    h = session.get(Handset, handset_id)
    p = session.get(Person, person_id)
    assert h is not None and p is not None
    handsets.issue_handset(session, ADMIN, settings, clock(), h, p, method="signature")
    session.flush()


def test_the_last_seat_is_given_once(settings: Settings, session: Session,
                                     tmp_path: Path) -> None:
    fleet = build_fleet(session, settings, tmp_path, seats=2)
    first, second = (h.id for h in spares(fleet)[:2])
    alice, bob = fleet.people[6].id, fleet.people[7].id
    session.close()

    desk_a = session_factory(settings)()
    _issue(desk_a, settings, first, alice)  # holds its locks, not yet committed
    outcome: dict[str, BaseException | None] = {}

    def desk_b() -> None:
        s = session_factory(settings)()
        try:
            _issue(s, settings, second, bob)
            s.commit()
            outcome["b"] = None
        except BaseException as err:  # noqa: BLE001 - the outcome is what we test
            s.rollback()
            outcome["b"] = err
        finally:
            s.close()

    thread = threading.Thread(target=desk_b)
    thread.start()
    time.sleep(0.5)
    desk_a.commit()
    desk_a.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome["b"] is not None, "both desks issued a handset on the last seat"
    # Desk B waited for desk A's lock, then counted the seat A had taken.
    assert "no free NetMotion licence seat (2 of 2 assigned)" in str(outcome["b"])
    check = session_factory(settings)()
    in_use = check.scalar(select(func.count()).select_from(LicenceSeat).where(
        LicenceSeat.released_at.is_(None)))
    check.close()
    assert in_use == 2


def test_two_staging_runs_cannot_both_take_the_last_enrolments(
        settings: Settings, session: Session, tmp_path: Path) -> None:
    from mobilise.core.errors import CapacityExceeded, TransitionRefused
    from mobilise.devices.models import HandsetStatus
    from tests.devices.fleet import register

    fleet = build_fleet(session, settings, tmp_path)
    new = register(session, settings, tmp_path, range(100, 104), fleet.site, name="more.csv")
    session.commit()
    ids = [h.id for h in new]
    # 12 managed already; room for 2 more.
    small = settings.model_copy(update={"mdm_capacity": 14})
    session.close()

    def stage(s: Session, which: list[int]) -> None:
        hs = [s.get(Handset, i) for i in which]
        handsets.move_handsets(s, ADMIN, small, clock(), "stage", hs)  # type: ignore[arg-type]
        s.flush()

    run_a = session_factory(settings)()
    stage(run_a, ids[:2])
    outcome: dict[str, BaseException | None] = {}

    def run_b() -> None:
        s = session_factory(settings)()
        try:
            stage(s, ids[2:])
            s.commit()
            outcome["b"] = None
        except BaseException as err:  # noqa: BLE001 - the outcome is what we test
            s.rollback()
            outcome["b"] = err
        finally:
            s.close()

    thread = threading.Thread(target=run_b)
    thread.start()
    time.sleep(0.5)
    run_a.commit()
    run_a.close()
    thread.join(timeout=60)
    assert isinstance(outcome["b"], CapacityExceeded | TransitionRefused), outcome
    assert "14 of 14" in str(outcome["b"])
    check = session_factory(settings)()
    staged = check.scalar(select(func.count()).select_from(Handset).where(
        Handset.status == HandsetStatus.STAGED.value, Handset.id.in_(ids)))
    check.close()
    assert staged == 2
