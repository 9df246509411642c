"""``mobilise rollout``: plan, book and run hand-over appointments; stock; forecast."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

import typer

from mobilise.cli.context import (
    FormatOption,
    LimitOption,
    actor,
    console,
    emit,
    err_console,
    read_counted_pages,
    rows_wanted,
    session,
    settings,
)
from mobilise.core.clock import Clock, FixedClock, SystemClock
from mobilise.core.output import Format
from mobilise.people.register import get_person
from mobilise.rollout import appointments as appts
from mobilise.rollout import reports, stock
from mobilise.rollout.calendar import working_days_after
from mobilise.rollout.notices import Notice, appointment_calendar, queue_notices
from mobilise.rollout.planner import plan_rollout
from mobilise.rollout.planning import PlanOptions, RolloutRecords, gather_input, replan

app = typer.Typer(help="The handset rollout: plan, appointments, stock, forecast.",
                  no_args_is_help=True)
stock_app = typer.Typer(help="Stock deliveries.", no_args_is_help=True)
app.add_typer(stock_app, name="stock")

AsOf = typer.Option(None, "--as-of", help="today's date for this command (default: today)")


def _clock(as_of: datetime | None) -> Clock:
    return FixedClock(as_of) if as_of else SystemClock()


def records() -> RolloutRecords:
    return RolloutRecords(managed_before=settings().rollout_managed_before)


def _day(value: datetime) -> date:
    return value.date()


@app.command()
def plan(
    start: datetime | None = typer.Option(None, help="first planning day (default: the next "
                                          "working day)"),
    deadline: datetime | None = typer.Option(None, help="default: settings.rollout_deadline"),
    staging_per_day: int | None = typer.Option(None, min=0),
    slots: int | None = typer.Option(None, min=0, help="slots per issuing site without its "
                                     "own capacity"),
    priority: str | None = typer.Option(None, help="comma-separated, first served first"),
    staged_on_hand: int = typer.Option(0, min=0, help="handsets staged but not yet issued"),
    apply: bool = typer.Option(False, "--apply", help="book the plan (default: show it)"),
    show_staging: bool = typer.Option(False, "--staging", help="print the staging schedule"),
    as_of: datetime | None = AsOf,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Plan an appointment for everyone still without a handset; --apply books it."""
    clock = _clock(as_of)
    first = _day(start) if start else working_days_after(
        clock.today() + timedelta(days=1), 1)[0]
    options = PlanOptions.from_settings(
        settings(), first, deadline=_day(deadline) if deadline else None,
        staging_per_day=staging_per_day, default_slots=slots,
        priority=tuple(p.strip() for p in priority.split(",")) if priority else None)
    recs = RolloutRecords(staged=staged_on_hand,
                          managed_before=settings().rollout_managed_before)
    with session() as s:
        if apply:
            result, applied = replan(s, actor(), recs, options, clock)
            err_console.print(f"booked {applied.booked}, kept {applied.kept}, moved "
                              f"{applied.moved}, cancelled {applied.cancelled} "
                              f"(plan {applied.plan_id})")
        else:
            result = plan_rollout(gather_input(s, recs, options).input)
    if show_staging:
        emit([asdict(d) for d in result.staging],
             ["day", "delivered", "staged", "issued", "stock_waiting", "staged_waiting"], fmt,
             title="staging schedule")
    summary = result.summary()
    emit([{"field": k, "value": v} for k, v in summary.items()], ["field", "value"], fmt,
         title="rollout plan" + ("" if apply else " (not booked: use --apply)"))


@app.command()
def capacity(site: str, slots_per_day: int = typer.Argument(..., min=0)) -> None:
    """Set how many hand-overs an issuing site can do in a day."""
    with session() as s:
        appts.set_site_capacity(s, actor(), stock.get_site(s, site), slots_per_day)
    console.print(f"{site}: {slots_per_day} a day (re-plan to use it)")


@app.command()
def book(person: str, site: str, day: datetime) -> None:
    """Book one person into a site on a day (refused when the day is full)."""
    with session() as s:
        found = get_person(s, person)
        a = appts.book(s, actor(), found.id, stock.get_site(s, site).id, _day(day))
        console.print(f"appointment {a.id}: {found.number} at {site} on {a.day}")


def _move(name: str, ids: list[int], reason: str | None) -> None:
    with session() as s:
        done = appts.transition(s, actor(), name, [appts.get_appointment(s, i) for i in ids],
                                reason=reason)
    console.print(f"{name.replace('_', '-')}: {len(done)} appointment(s)")


@app.command()
def confirm(ids: list[int]) -> None:
    """Confirm appointments (a confirmed appointment then moves only with a reason)."""
    _move("confirm", ids, None)


@app.command()
def attend(ids: list[int]) -> None:
    """Record that people came and took their handset: refused unless the handset register
    shows one issued to them ('mobilise devices issue' attends the appointment itself)."""
    _move("attend", ids, None)


@app.command("not-issued")
def not_issued(ids: list[int], reason: str = typer.Option(..., help="why no handset")) -> None:
    """Record that people came but left without a handset (the next re-plan rebooks them)."""
    _move("attend_not_issued", ids, reason)


@app.command("no-show")
def no_show(ids: list[int], reason: str | None = typer.Option(None)) -> None:
    """Record that people did not come (the next re-plan rebooks them)."""
    _move("no_show", ids, reason)


@app.command()
def cancel(ids: list[int], reason: str = typer.Option(..., help="why")) -> None:
    """Cancel appointments, giving their places back."""
    _move("cancel", ids, reason)


@app.command()
def reschedule(appointment: int, site: str, day: datetime,
               reason: str | None = typer.Option(None, help="needed for a confirmed one")) -> None:
    """Move an appointment to another site or day."""
    with session() as s:
        new = appts.reschedule(s, actor(), appts.get_appointment(s, appointment),
                               stock.get_site(s, site).id, _day(day), reason=reason)
        console.print(f"appointment {appointment} moved: now appointment {new.id} on {new.day}")


@app.command("appointments")
def list_appointments(
    day: datetime | None = typer.Option(None), site: str | None = typer.Option(None),
    status: str | None = typer.Option(None), person: str | None = typer.Option(None),
    limit: int | None = LimitOption(100), offset: int = typer.Option(0, min=0),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List appointments (a table shows 100; csv and json every one)."""
    with session() as s:
        rows, total = read_counted_pages(
            lambda n, start: reports.appointment_rows(
                s, day=_day(day) if day else None, site=site, status=status, person=person,
                limit=n, offset=start),
            offset, rows_wanted(limit, fmt, 100))
    emit(rows, reports.APPOINTMENT_COLUMNS, fmt, title="appointments", total=total,
         offset=offset)


@app.command()
def forecast(by_unit: bool = typer.Option(False, "--by-unit", help="progress of each org unit"),
             org_unit: str | None = typer.Option(None, help="the burndown of one org unit"),
             as_of: datetime | None = AsOf, fmt: FormatOption = Format.TABLE) -> None:
    """Weekly burndown (planned, actual, forecast), or progress by org unit, and risks."""
    clock = _clock(as_of)
    with session() as s:
        if by_unit:
            emit(reports.by_org_unit(s, records()), ["org_unit", "name", "people", "issued",
                 "booked", "remaining", "wave_first_day", "wave_last_day"], fmt,
                 title="progress by org unit")
            return
        fc = reports.forecast(s, records(), settings(), clock, org_unit)
        flags = reports.risks(s, records(), settings(), clock)
    emit(fc.weeks, ["week", "planned", "replanned", "actual", "forecast"], fmt,
         title="handsets issued (cumulative)")
    if fmt is Format.TABLE:
        for k, v in fc.summary().items():
            err_console.print(f"{k}: {v}")
        for r in flags:
            err_console.print(f"[{r.level}]{r.flag}[/]: {r.message}", highlight=False)


@app.command()
def risks(as_of: datetime | None = AsOf, fmt: FormatOption = Format.TABLE) -> None:
    """Risk flags: stock short, capacity short, MDM capacity, deadline at risk."""
    with session() as s:
        rows = [asdict(r) for r in reports.risks(s, records(), settings(), _clock(as_of))]
    emit(rows, ["flag", "level", "message"], fmt, title="risks")


@app.command()
def ics(appointment: int, out: Path | None = typer.Option(None, dir_okay=False)) -> None:
    """The calendar (ICS) file of an appointment."""
    with session() as s:
        text = appointment_calendar(appts.get_appointment(s, appointment), settings(),
                                    SystemClock())
    if out:
        out.write_text(text, encoding="utf-8", newline="")
        console.print(f"written {out}")
    else:
        typer.echo(text, nl=False)


@app.command()
def notify(kind: Notice, days_ahead: int = typer.Option(2, min=0, help="for reminders"),
           as_of: datetime | None = AsOf) -> None:
    """Queue invitations, reminders, no-show notices or hand-over confirmations."""
    with session() as s:
        n = queue_notices(s, settings(), kind, _clock(as_of), days_ahead=days_ahead)
    console.print(f"queued {n} {kind.value} messages (send with 'mobilise comms send')")


@stock_app.command("add")
def stock_add(expected_on: datetime, quantity: int,
              reference: str = typer.Option("", help="supplier reference"),
              model: str = typer.Option("", help="an alternative model, e.g. large-screen "
                                        "(default: the standard model)")) -> None:
    """Record an expected delivery."""
    with session() as s:
        d = stock.add_delivery(s, actor(), _day(expected_on), quantity, reference, model)
        console.print(f"delivery {d.id}: {quantity} expected on {d.expected_on}")


@stock_app.command("receive")
def stock_receive(delivery: int, on: datetime = typer.Option(..., help="day received")) -> None:
    """Record that a delivery arrived."""
    with session() as s:
        stock.receive(s, actor(), stock.get_delivery(s, delivery), _day(on))
    console.print(f"delivery {delivery} received")


@stock_app.command("expect")
def stock_expect(delivery: int, on: datetime,
                 reason: str = typer.Option(..., help="why it moved")) -> None:
    """Move a delivery's expected date (then re-plan)."""
    with session() as s:
        stock.expect(s, actor(), stock.get_delivery(s, delivery), _day(on), reason)
    console.print(f"delivery {delivery} now expected on {_day(on)}")


@stock_app.command("list")
def stock_list(fmt: FormatOption = Format.TABLE) -> None:
    """Deliveries, expected and received."""
    with session() as s:
        rows = [{c: getattr(d, c) for c in stock.DELIVERY_COLUMNS} for d in stock.deliveries(s)]
    emit(rows, stock.DELIVERY_COLUMNS, fmt, title="stock deliveries")
