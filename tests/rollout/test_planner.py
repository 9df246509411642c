"""The planner against a case computed by hand, and its invariants on random inputs."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobilise.core.errors import InvalidInput
from mobilise.rollout.calendar import working_days
from mobilise.rollout.planner import (
    Candidate,
    Delivery,
    FixedAppointment,
    IssuingSite,
    Plan,
    PlanInput,
    plan_rollout,
    with_extra,
)

# Easter 2023: Good Friday 7 April and Easter Monday 10 April are bank holidays.
WED, THU, TUE, WED2, THU2 = (date(2023, 4, d) for d in (5, 6, 11, 12, 13))


def hand_case(deadline: date) -> PlanInput:
    """Site 1 issues 2 a day, site 2 one a day; 3 handsets arrive on the 5th and 3 on the
    11th; 2 can be staged a day. Response people (1, 2 at site 1; 5 at site 2) go first."""
    people = [
        Candidate(1, "CE", 1, "response", number="1"),
        Candidate(2, "CE", 1, "response", number="2"),
        Candidate(3, "CE", 1, "staff", number="3"),
        Candidate(4, "CE", 1, "staff", number="4"),
        Candidate(5, "NW", 2, "response", number="5"),
        Candidate(6, "NW", 2, "staff", number="6"),
    ]
    return PlanInput(
        people=people,
        sites=[IssuingSite(1, 2, org_unit="CE"), IssuingSite(2, 1, org_unit="NW")],
        deliveries=[Delivery(WED, 3), Delivery(TUE, 3)],
        staging_per_day=2, start=WED, deadline=deadline, priority=["response", "staff"],
    )


def test_working_days_skip_weekends_and_easter() -> None:
    assert working_days(date(2023, 4, 5), date(2023, 4, 13)) == [WED, THU, TUE, WED2, THU2]


def test_hand_checked_plan_meets_its_deadline() -> None:
    # Day by day, worked by hand:
    #  5th: 3 arrive, 2 staged (nothing staged earlier, so nobody can be issued).
    #  6th: site 1 issues persons 1, 2 (response); the last unstaged handset is staged.
    # 11th: 3 arrive; 1 staged handset: site 2 has more days of work left, so person 5
    #       (response) goes first; 2 staged.
    # 12th: 2 staged: both sites have one day left, site 1 first: persons 3, 4; 1 staged.
    # 13th: person 6 at site 2.
    plan = plan_rollout(hand_case(THU2))
    got = {(a.person_id, a.site_id, a.day) for a in plan.appointments}
    assert got == {(1, 1, THU), (2, 1, THU), (5, 2, TUE), (3, 1, WED2), (4, 1, WED2),
                   (6, 2, THU2)}
    assert [(s.day, s.delivered, s.staged, s.issued) for s in plan.staging] == [
        (WED, 3, 2, 0), (THU, 0, 1, 2), (TUE, 3, 2, 1), (WED2, 0, 1, 2), (THU2, 0, 0, 1)]
    assert plan.met and plan.last_day == THU2
    assert plan.people_late == 0 and plan.days_late == 0 and plan.advice is None


def test_hand_checked_shortfall_and_the_capacity_that_would_meet_it() -> None:
    # A deadline of the 12th: by then only 5 handsets can have been staged the day before
    # an issue (2 + 1 + 2), so one person is one working day late. More slots cannot help;
    # staging 3 a day (all 3 of the first delivery on the 5th, 3 on the 11th) or one more
    # handset in stock at the start (2 staged on the 6th as well) meets the 12th.
    plan = plan_rollout(hand_case(WED2))
    assert not plan.met
    assert plan.people_late == 1 and plan.days_late == 1 and plan.last_day == THU2
    assert plan.advice is not None
    assert plan.advice.extra_slots_per_site_per_day is None
    assert plan.advice.extra_staging_per_day == 1
    assert plan.advice.extra_stock_at_start == 1
    assert plan_rollout(with_extra(hand_case(WED2), staging=1)).met
    assert plan_rollout(with_extra(hand_case(WED2), stock=1)).met


def test_slots_are_the_bottleneck_when_stock_is_plentiful() -> None:
    # 10 people at one site with 1 slot a day, everything staged already: 10 working days.
    people = [Candidate(i, "CE", 1, "x") for i in range(10)]
    inp = PlanInput(people, [IssuingSite(1, 1)], [], staging_per_day=100,
                    start=date(2023, 1, 9), deadline=date(2023, 1, 13), staged_on_hand=10)
    plan = plan_rollout(inp)
    assert plan.last_day == date(2023, 1, 20) and plan.days_late == 5
    assert plan.people_late == 5
    assert plan.advice is not None and plan.advice.extra_slots_per_site_per_day == 1
    assert plan.advice.extra_staging_per_day is None and plan.advice.extra_stock_at_start is None


def test_accessible_site_is_respected_and_unplaceable_reported() -> None:
    people = [Candidate(1, "CE", 1, "x", needs_accessible=True), Candidate(2, "CE", 1, "x")]
    sites = [IssuingSite(1, 5, accessible=False, org_unit="CE"),
             IssuingSite(2, 5, accessible=True, org_unit="NW")]
    plan = plan_rollout(PlanInput(people, sites, [], 10, date(2023, 1, 9), date(2023, 3, 31),
                                  staged_on_hand=2))
    assert {a.person_id: a.site_id for a in plan.appointments} == {1: 2, 2: 1}
    plan = plan_rollout(PlanInput(people, sites[:1], [], 10, date(2023, 1, 9),
                                  date(2023, 3, 31), staged_on_hand=2))
    assert [u.person_id for u in plan.unplaceable] == [1]


def test_priority_goes_first_when_stock_is_short() -> None:
    people = [Candidate(i, "CE", 1, "staff" if i < 5 else "response") for i in range(10)]
    inp = PlanInput(people, [IssuingSite(1, 10)], [], 100, date(2023, 1, 9),
                    date(2023, 3, 31), priority=["response"], staged_on_hand=5)
    plan = plan_rollout(inp)
    assert sorted(a.person_id for a in plan.appointments) == [5, 6, 7, 8, 9]
    assert not plan.met and plan.days_late is None and plan.people_late == 5
    assert plan.advice is not None and plan.advice.extra_stock_at_start == 5


def test_confirmed_appointments_keep_their_slot() -> None:
    people = [Candidate(i, "CE", 1, "x") for i in range(3)]
    fixed = [FixedAppointment(99, 1, date(2023, 1, 10))]
    inp = PlanInput(people, [IssuingSite(1, 2)], [], 0, date(2023, 1, 9), date(2023, 3, 31),
                    fixed=fixed, staged_on_hand=4)
    plan = plan_rollout(inp)
    per_day = Counter(a.day for a in plan.appointments)
    assert per_day == {date(2023, 1, 9): 2, date(2023, 1, 10): 1}


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput):
        plan_rollout(PlanInput([], [], [], -1, date(2023, 1, 9), date(2023, 3, 31)))
    with pytest.raises(InvalidInput):
        plan_rollout(PlanInput([], [IssuingSite(1, -1)], [], 1, date(2023, 1, 9),
                               date(2023, 3, 31)))


def test_a_deadline_already_passed_makes_everyone_late() -> None:
    inp = PlanInput([Candidate(1, "CE", 1, "x")], [IssuingSite(1, 1)], [], 1,
                    date(2023, 4, 3), date(2023, 3, 31), staged_on_hand=1)
    plan = plan_rollout(inp)
    assert not plan.met and plan.people_late == 1 and plan.days_late == 1
    assert plan.advice is not None and plan.advice.extra_slots_per_site_per_day is None


def check_invariants(inp: PlanInput, plan: Plan) -> None:
    slots = {s.site_id: s.slots_per_day for s in inp.sites}
    per_site_day = Counter((a.site_id, a.day) for a in plan.appointments)
    assert all(n <= slots[site] for (site, _), n in per_site_day.items())
    assert len({a.person_id for a in plan.appointments}) == len(plan.appointments)
    staged_before = inp.staged_on_hand
    delivered = inp.stock_on_hand
    staged_total = inp.staged_on_hand
    issued = 0
    by_day = Counter(a.day for a in plan.appointments)
    for row in plan.staging:
        delivered += row.delivered
        issued += by_day[row.day]
        assert issued <= staged_before, "issued a handset not staged on an earlier day"
        staged_total += row.staged
        assert staged_total - inp.staged_on_hand <= delivered, "staged stock not yet arrived"
        staged_before = staged_total
    assert plan.met == (len(plan.appointments) == len(inp.people) - len(plan.unplaceable)
                        and all(a.day <= inp.deadline for a in plan.appointments))
    # Each model's handsets come from that model's stock, delivered before the issue day.
    model_of = {c.person_id: c.model for c in inp.people}
    for model in {c.model for c in inp.people}:
        on_hand = inp.stock_on_hand + inp.staged_on_hand if model == "" else 0
        for a in plan.appointments:
            issued_by = sum(1 for b in plan.appointments
                            if model_of[b.person_id] == model and b.day <= a.day)
            arrived = on_hand + sum(d.quantity for d in inp.deliveries
                                    if d.model == model and d.on < a.day)
            assert issued_by <= arrived, f"model {model!r} issued before it arrived"


@settings(max_examples=60, deadline=None)
@given(
    people=st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["a", "b", "c"]),
                              st.booleans(), st.sampled_from(["", "", "ls"])), max_size=60),
    slots=st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=1, max_size=3),
    deliveries=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 15),
                                  st.sampled_from(["", "ls"])), max_size=4),
    staging=st.integers(0, 8),
    deadline_days=st.integers(0, 25),
)
def test_plans_keep_every_rule(people: list[tuple[int, str, bool, str]],
                               slots: list[tuple[int, bool]],
                               deliveries: list[tuple[int, int, str]], staging: int,
                               deadline_days: int) -> None:
    start = date(2023, 3, 1)
    inp = PlanInput(
        people=[Candidate(i, "U", site, group, needs, model=model)
                for i, (site, group, needs, model) in enumerate(people)],
        sites=[IssuingSite(i + 1, n, acc) for i, (n, acc) in enumerate(slots)],
        deliveries=[Delivery(start + timedelta(days=d), q, m) for d, q, m in deliveries],
        staging_per_day=staging, start=start, deadline=start + timedelta(days=deadline_days),
        priority=["b"], horizon_days=120,
    )
    plan = plan_rollout(inp)
    check_invariants(inp, plan)
    if plan.advice is not None:
        for field_name, kwargs in (("extra_slots_per_site_per_day", "slots"),
                                   ("extra_staging_per_day", "staging"),
                                   ("extra_stock_at_start", "stock")):
            extra = getattr(plan.advice, field_name)
            if extra is None:
                continue
            assert plan_rollout(with_extra(inp, **{kwargs: extra}), advise=False).met
            if extra > 0:
                assert not plan_rollout(with_extra(inp, **{kwargs: extra - 1}),
                                        advise=False).met


def test_alternative_models_come_from_their_own_stock() -> None:
    # Two standard handsets on hand; the large-screen one arrives on Wednesday the 11th,
    # is staged that day and issued on Thursday, while the standard ones go on Tuesday.
    people = [Candidate(1, "CE", 1, "x"), Candidate(2, "CE", 1, "x", model="large-screen"),
              Candidate(3, "CE", 1, "x")]
    inp = PlanInput(people, [IssuingSite(1, 5)], [Delivery(date(2023, 1, 11), 1,
                                                           "large-screen")],
                    staging_per_day=5, start=date(2023, 1, 9), deadline=date(2023, 1, 12),
                    stock_on_hand=2)
    plan = plan_rollout(inp)
    assert {a.person_id: a.day for a in plan.appointments} == {
        1: date(2023, 1, 10), 3: date(2023, 1, 10), 2: date(2023, 1, 12)}
    assert plan.met
    late = plan_rollout(replace(inp, deadline=date(2023, 1, 11)))
    assert not late.met and late.people_late == 1
    assert late.advice is not None
    assert late.advice.extra_stock_at_start is None  # more standard handsets do not help
    assert late.advice.extra_stock_by_model == {"standard": None, "large-screen": 1}
    assert plan_rollout(replace(inp, deadline=date(2023, 1, 11),
                                model_stock={"large-screen": 1})).met
