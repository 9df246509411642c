"""Finding handsets, SIMs and licences: search, filters, paging, one by identifier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from mobilise.core.errors import InvalidInput, NotFound
from mobilise.devices.identifiers import parse_iccid
from mobilise.devices.models import (
    DeviceAction,
    Handset,
    HandsetModel,
    HandsetStatus,
    LicencePool,
    LicenceSeat,
    RecoveryTask,
    Sim,
    SimBarState,
)
from mobilise.people.models import Person, Site


@dataclass(frozen=True)
class HandsetQuery:
    q: str | None = None
    status: str | None = None
    site: str | None = None
    model: str | None = None
    holder: str | None = None
    purchase_order: str | None = None
    limit: int = 50
    offset: int = 0


def _filtered(query: HandsetQuery) -> Select[Handset]:
    stmt = select(Handset)
    if query.q:
        text = query.q.strip()
        like = f"%{text.lower()}%"
        stmt = stmt.where(or_(Handset.imei.like(f"{text}%"), Handset.imei2.like(f"{text}%"),
                              func.lower(Handset.serial).like(like),
                              func.lower(Handset.asset_tag).like(like)))
    if query.status:
        if query.status not in {s.value for s in HandsetStatus}:
            raise InvalidInput(f"unknown handset status {query.status!r}")
        stmt = stmt.where(Handset.status == query.status)
    if query.site:
        stmt = stmt.join(Site, Handset.site_id == Site.id).where(Site.code == query.site)
    if query.model:
        stmt = stmt.join(HandsetModel, Handset.model_id == HandsetModel.id).where(
            HandsetModel.code == query.model)
    if query.holder:
        stmt = stmt.join(Person, Handset.holder_id == Person.id).where(
            or_(Person.number == query.holder, Person.upn == query.holder.lower()))
    if query.purchase_order:
        stmt = stmt.where(Handset.purchase_order == query.purchase_order)
    return stmt


def find_handsets(session: Session, query: HandsetQuery) -> tuple[list[Handset], int]:
    stmt = _filtered(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = session.scalars(
        stmt.options(joinedload(Handset.model), joinedload(Handset.holder),
                     joinedload(Handset.site), joinedload(Handset.sim))
        .order_by(Handset.id).limit(query.limit).offset(query.offset)
    ).all()
    return list(page), total


def get_handset(session: Session, key: str | int) -> Handset:
    """A handset by IMEI (either slot), serial number, asset tag or id."""
    text = str(key).strip()
    handset = session.scalar(
        select(Handset).options(joinedload(Handset.model), joinedload(Handset.holder),
                                joinedload(Handset.site), joinedload(Handset.sim))
        .where(or_(Handset.imei == text, Handset.imei2 == text, Handset.serial == text,
                   Handset.asset_tag == text)))
    if handset is None and (text.isascii() and text.isdigit()) and len(text) < 15:
        handset = session.get(Handset, int(text))
    if handset is None:
        raise NotFound(f"no handset {text!r} (IMEI, serial, asset tag or id)")
    return handset


def handsets_by_imei(session: Session, imeis: Iterable[str]) -> list[Handset]:
    """Handsets for a list of IMEIs, in order; ``NotFound`` naming every unknown IMEI."""
    wanted = [i.strip() for i in imeis if i.strip()]
    found: dict[str, Handset] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for h in session.scalars(select(Handset).where(
                or_(Handset.imei.in_(chunk), Handset.imei2.in_(chunk)))):
            found[h.imei] = h
            if h.imei2:
                found[h.imei2] = h
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise NotFound(f"{len(unknown)} IMEI(s) not registered: {', '.join(unknown[:20])}",
                       details=unknown)
    seen: set[int] = set()
    out = []
    for imei in wanted:
        h = found[imei]
        if h.id not in seen:
            seen.add(h.id)
            out.append(h)
    return out


def held_by(session: Session, person_ids: Iterable[int]) -> dict[int, list[Handset]]:
    """The handsets each person holds now (issued to them), for pages that list people."""
    ids = list(person_ids)
    held: dict[int, list[Handset]] = {}
    if not ids:
        return held
    for h in session.scalars(select(Handset).where(Handset.holder_id.in_(ids))
                             .options(selectinload(Handset.model), selectinload(Handset.sim),
                                      selectinload(Handset.site), selectinload(Handset.holder))
                             .order_by(Handset.issued_at)):
        held.setdefault(h.holder_id or 0, []).append(h)
    return held


def handset_row(h: Handset) -> dict[str, Any]:
    state = h.state
    return {
        "id": h.id, "imei": h.imei, "imei2": h.imei2, "serial": h.serial,
        "model": h.model.code if h.model else None, "asset_tag": h.asset_tag,
        "purchase_order": h.purchase_order, "purchase_date": h.purchase_date,
        "warranty_end": h.warranty_end, "end_of_life": h.end_of_life,
        "status": state.value, "status_label": state.label, "colour": state.colour,
        "compliance": h.compliance, "enrolled_at": h.enrolled_at,
        "holder": h.holder.number if h.holder else None,
        "holder_name": h.holder.display_name if h.holder else None,
        "site": h.site.code if h.site else None,
        "iccid": h.sim.iccid if h.sim else None,
        "msisdn": h.sim.msisdn if h.sim else None,
        "issued_at": h.issued_at, "police_reference": h.police_reference,
        "repair_reference": h.repair_reference, "wipe_evidence": h.wipe_evidence,
        "weee_reference": h.weee_reference,
    }


HANDSET_COLUMNS = ["imei", "serial", "model", "status", "holder", "site", "iccid",
                   "purchase_order"]


def status_counts(session: Session) -> dict[str, int]:
    counts = dict(session.execute(
        select(Handset.status, func.count()).group_by(Handset.status)).all())
    return {s.value: counts.get(s.value, 0) for s in HandsetStatus}


def get_sim(session: Session, key: str) -> Sim:
    text = key.strip()
    with suppress(ValueError):
        text = parse_iccid(text)
    sim = session.scalar(select(Sim).where(or_(Sim.iccid == text, Sim.msisdn == text)))
    if sim is None:
        raise NotFound(f"no SIM {key!r} (ICCID or MSISDN)")
    return sim


def _sims(free_only: bool, iccid: str | None,
          bar_states: Sequence[str]) -> Select[Sim, str]:
    stmt = select(Sim, Handset.imei).outerjoin(Handset, Handset.sim_id == Sim.id)
    if iccid:
        stmt = stmt.where(Sim.iccid == iccid)
    if free_only:
        stmt = stmt.where(Handset.id.is_(None), Sim.barred.is_(False),
                          Sim.bar_state == SimBarState.NONE.value)
    if bar_states:
        stmt = stmt.where(Sim.bar_state.in_(bar_states))
    return stmt


def count_sims(session: Session, *, free_only: bool = False) -> int:
    return _count(session, _sims(free_only, None, ()))


def _count(session: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def sim_rows(session: Session, *, free_only: bool = False, limit: int = 200,
             offset: int = 0, iccid: str | None = None,
             bar_states: Sequence[str] = ()) -> list[dict[str, Any]]:
    stmt = _sims(free_only, iccid, bar_states).order_by(Sim.id).limit(limit).offset(offset)
    return [{"iccid": s.iccid, "msisdn": s.msisdn, "carrier": s.carrier, "barred": s.barred,
             "barred_at": s.barred_at, "bar_state": s.bar_state,
             "bar_label": s.bar_state.replace("_", " "),
             "bar_colour": SimBarState(s.bar_state).colour,
             "bar_requested_at": s.bar_requested_at, "bar_reference": s.bar_reference,
             "handset": imei}
            for s, imei in session.execute(stmt)]


SIM_COLUMNS = ["iccid", "msisdn", "carrier", "bar_state", "handset"]


def pool_rows(session: Session) -> list[dict[str, Any]]:
    used = dict(session.execute(
        select(LicenceSeat.pool_id, func.count()).where(LicenceSeat.released_at.is_(None))
        .group_by(LicenceSeat.pool_id)).all())
    return [{"code": p.code, "product": p.product, "reseller": p.reseller,
             "purchase_order": p.purchase_order, "seats_bought": p.seats_bought,
             "seats_assigned": used.get(p.id, 0),
             "seats_free": p.seats_bought - used.get(p.id, 0), "expires_on": p.expires_on}
            for p in session.scalars(select(LicencePool).order_by(LicencePool.id))]


POOL_COLUMNS = ["code", "product", "seats_bought", "seats_assigned", "seats_free",
                "purchase_order", "expires_on"]


def _seats(pool_code: str | None) -> Select[LicenceSeat, str, str, str]:
    stmt = (select(LicenceSeat, LicencePool.code, Handset.imei, Person.number)
            .join(LicencePool, LicenceSeat.pool_id == LicencePool.id)
            .join(Handset, LicenceSeat.handset_id == Handset.id)
            .outerjoin(Person, LicenceSeat.person_id == Person.id)
            .where(LicenceSeat.released_at.is_(None)))
    if pool_code:
        stmt = stmt.where(LicencePool.code == pool_code)
    return stmt


def count_seats(session: Session, pool_code: str | None = None) -> int:
    return _count(session, _seats(pool_code))


def seat_rows(session: Session, pool_code: str | None = None, limit: int = 500,
              offset: int = 0) -> list[dict[str, Any]]:
    stmt = _seats(pool_code).order_by(LicenceSeat.id).limit(limit).offset(offset)
    return [{"pool": code, "imei": imei, "person": number, "assigned_at": seat.assigned_at}
            for seat, code, imei, number in session.execute(stmt)]


SEAT_COLUMNS = ["pool", "imei", "person", "assigned_at"]


def _actions(handset: Handset | None, status: str | None
             ) -> Select[DeviceAction, str]:
    stmt = select(DeviceAction, Handset.imei).join(Handset, DeviceAction.handset_id == Handset.id)
    if handset is not None:
        stmt = stmt.where(DeviceAction.handset_id == handset.id)
    if status:
        stmt = stmt.where(DeviceAction.status == status)
    return stmt


def count_actions(session: Session, status: str | None = None) -> int:
    return _count(session, _actions(None, status))


def action_rows(session: Session, handset: Handset | None = None,
                status: str | None = None, limit: int = 200,
                offset: int = 0) -> list[dict[str, Any]]:
    stmt = (_actions(handset, status).order_by(DeviceAction.id.desc())
            .limit(limit).offset(offset))
    return [{"id": a.id, "imei": imei, "kind": a.kind, "status": a.status,
             "attempts": a.attempts, "last_error": a.last_error, "queued_at": a.queued_at,
             "finished_at": a.finished_at, "reason": a.reason}
            for a, imei in session.execute(stmt)]


ACTION_COLUMNS = ["id", "imei", "kind", "status", "attempts", "queued_at", "last_error"]


def recovery_rows(session: Session, open_only: bool = True) -> list[dict[str, Any]]:
    stmt = (select(RecoveryTask, Handset.imei, Person.number, Person.first_name,
                   Person.last_name)
            .join(Handset, RecoveryTask.handset_id == Handset.id)
            .join(Person, RecoveryTask.person_id == Person.id)
            .order_by(RecoveryTask.due_on, RecoveryTask.id))
    if open_only:
        stmt = stmt.where(RecoveryTask.status == "open")
    return [{"id": t.id, "imei": imei, "person": number, "name": f"{first} {last}",
             "due_on": t.due_on, "status": t.status}
            for t, imei, number, first, last in session.execute(stmt)]


RECOVERY_COLUMNS = ["id", "imei", "person", "name", "due_on", "status"]


def model_rows(models: Sequence[HandsetModel]) -> list[dict[str, Any]]:
    return [{"code": m.code, "manufacturer": m.manufacturer, "name": m.name,
             "dual_sim": m.dual_sim, "warranty_months": m.warranty_months} for m in models]
