"""SIM bars with the network operator: asked for, then confirmed.

A lost or stolen handset queues a ``bar_sim`` action (devices/transitions.py) in the same
commit as the report. ``send_bars`` sends every queued bar to the SIM's carrier through a
``Carrier``; the SIM moves none → bar_requested and the action is marked sent. Carriers
answer in their own time and way, so a person records the answer: ``confirm_bar`` moves the
SIM to barred (and finishes the action). Unbarring runs the same way back:
``request_unbar`` (refused while the SIM sits in a handset still lost or stolen) and
``confirm_unbar``. Every step is a declared, audited transition (``SIM_BAR``); a refused
one changes nothing.

The carrier most forces have is an account manager's mailbox, so ``EmailCarrier`` queues the
request in the comms outbox (sent by ``mobilise comms send``), addressed from
``settings.carrier_addresses`` (carrier → address) or ``carrier_default_address``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms import outbox, templates
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import InvalidInput
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices import actions
from mobilise.devices.models import (
    ActionKind,
    ActionStatus,
    DeviceAction,
    Handset,
    Sim,
    SimBarState,
)
from mobilise.devices.transitions import SIM_BAR


@dataclass(frozen=True)
class CarrierRequest:
    kind: str  # "bar" or "unbar"
    key: str  # our reference, quoted back by the carrier; unique per request
    sim: Sim
    reason: str
    handset: Handset | None = None
    police_reference: str | None = None


class Carrier(Protocol):
    def address(self, sim: Sim) -> str | None:
        """Where requests for ``sim`` go, or None if nowhere is configured."""
        ...

    def send(self, session: Session, request: CarrierRequest) -> str:
        """Pass the request on (in the caller's transaction); returns where it went."""
        ...


class EmailCarrier:
    """Bar and unbar requests by e-mail, through the comms outbox (at most once)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    def address(self, sim: Sim) -> str | None:
        by_name = {k.casefold(): v for k, v in self.settings.carrier_addresses.items()}
        return by_name.get(sim.carrier.casefold()) or self.settings.carrier_default_address

    def send(self, session: Session, request: CarrierRequest) -> str:
        recipient = self.address(request.sim)
        if not recipient:
            raise InvalidInput(_no_address([request.sim]))
        sim = request.sim
        context: dict[str, Any] = {
            "sim": {"iccid": sim.iccid, "msisdn": sim.msisdn, "carrier": sim.carrier},
            "handset": ({"imei": request.handset.imei, "status": request.handset.status}
                        if request.handset is not None else None),
            "request": {"key": request.key, "reason": request.reason,
                        "police_reference": request.police_reference},
        }
        outbox.queue(session, key=request.key, template=f"sim_{request.kind}",
                     recipient=recipient, context=context, settings=self.settings,
                     clock=self.clock)
        return recipient


def _no_address(sims: Sequence[Sim]) -> str:
    carriers = sorted({s.carrier or "(no carrier recorded)" for s in sims})
    return (f"no address for bar requests to {', '.join(carriers)}: set carrier_addresses "
            "or carrier_default_address")


def _ensure_templates(session: Session, actor: Actor, clock: Clock) -> None:
    templates.ensure_defaults(session, actor, clock)


@dataclass
class BarsSent:
    requested: list[str] = field(default_factory=list)  # ICCIDs
    already: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"requested": len(self.requested), "already_requested_or_barred":
                len(self.already)}


def send_bars(session: Session, actor: Actor, clock: Clock, carrier: Carrier, *,
              limit: int = 10_000) -> BarsSent:
    """Send every queued SIM bar to its carrier, or (if any carrier has no address)
    none of them."""
    due = [a for a in actions.due_actions(session, clock, "carrier", limit)
           if a.kind == ActionKind.BAR_SIM.value and a.sim_id is not None]
    sims = {a.id: session.get(Sim, a.sim_id) for a in due}
    unaddressed = [s for s in sims.values() if s is not None and not carrier.address(s)]
    if unaddressed:
        raise InvalidInput(_no_address(unaddressed))
    out = BarsSent()
    fresh = [a for a in due if (s := sims[a.id]) is not None
             and s.bar_state == SimBarState.NONE.value]
    for action in due:
        sim = sims[action.id]
        if sim is None or action in fresh:
            continue
        # Requested by an earlier run or another handset's report, or barred already.
        actions.record_sent(session, actor, action)
        if sim.bar_state == SimBarState.BARRED.value:
            actions.record_done(session, actor, clock, action)
        out.already.append(sim.iccid)
    if fresh:
        bar_sims = [s for a in fresh if (s := sims[a.id]) is not None]
        run_transition(session, actor, SIM_BAR, "request_bar", bar_sims,
                       reason="lost or stolen handset", clock=clock)
        _ensure_templates(session, actor, clock)
        for action, sim in zip(fresh, bar_sims, strict=True):
            carrier.send(session, CarrierRequest(
                "bar", f"carrier:{action.id}", sim, action.reason or "lost or stolen",
                handset=action.handset, police_reference=action.handset.police_reference))
            actions.record_sent(session, actor, action)
            out.requested.append(sim.iccid)
    session.flush()
    return out


def confirm_bar(session: Session, actor: Actor, clock: Clock, sim: Sim, *,
                reference: str | None = None) -> Sim:
    """The carrier confirmed the bar: the SIM is barred, its bar action done."""
    why = f"carrier confirmed the bar{f' ({reference})' if reference else ''}"
    run_transition(session, actor, SIM_BAR, "confirm_bar", [sim], reason=why, clock=clock,
                   reference=reference)
    for action in session.scalars(select(DeviceAction).where(
            DeviceAction.sim_id == sim.id, DeviceAction.kind == ActionKind.BAR_SIM.value,
            DeviceAction.status == ActionStatus.SENT.value)):
        actions.record_done(session, actor, clock, action)
    session.flush()
    return sim


def request_unbar(session: Session, actor: Actor, clock: Clock, carrier: Carrier, sim: Sim,
                  *, reason: str) -> str:
    """Ask the carrier to lift the bar; returns where the request went."""
    if not carrier.address(sim):
        raise InvalidInput(_no_address([sim]))
    run_transition(session, actor, SIM_BAR, "request_unbar", [sim], reason=reason,
                   clock=clock)
    _ensure_templates(session, actor, clock)
    session.flush()
    handset = session.scalar(select(Handset).where(Handset.sim_id == sim.id))
    stamp = sim.bar_requested_at.strftime("%Y%m%dT%H%M%S") if sim.bar_requested_at else "-"
    return carrier.send(session, CarrierRequest(
        "unbar", f"carrier:unbar:{sim.id}:{stamp}", sim, reason, handset=handset))


def confirm_unbar(session: Session, actor: Actor, clock: Clock, sim: Sim, *,
                  reference: str | None = None) -> Sim:
    why = f"carrier confirmed the unbar{f' ({reference})' if reference else ''}"
    run_transition(session, actor, SIM_BAR, "confirm_unbar", [sim], reason=why, clock=clock,
                   reference=reference)
    session.flush()
    return sim
