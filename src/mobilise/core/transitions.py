"""The one transition mechanism: a declared table of (from states, to state, guard,
effects), run on one object or many, each run audited.

A guard returns ``None`` to allow or a sentence saying why not. A bulk run checks every
object first and refuses the whole run, changing nothing, if any guard says no: the
operator gets every reason at once (Ralph's bulk transitions, without partial failure).

One winner: before any guard runs, the objects' rows are locked and read again (``lock``:
``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite), so of two concurrent
runs from the same state the second waits, sees the state the first committed, and is
refused (``TransitionRefused``, a 409 ``Conflict``) without writing anything, audit
entries included. Never decide on a state read before the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, inspect, select
from sqlalchemy.orm import Mapper, Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.db import hold_write_lock, is_postgres
from mobilise.core.errors import ConcurrentChange, InvalidInput, TransitionRefused

T = TypeVar("T", bound=audit.Audited)


@dataclass(frozen=True)
class Context:
    session: Session
    actor: Actor
    reason: str | None
    params: dict[str, Any]


Guard = Callable[[Context, Any], str | None]
Effect = Callable[[Context, Any], None]


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[Any]
    target: Any
    guards: tuple[Guard, ...] = ()
    effects: tuple[Effect, ...] = ()
    needs_reason: bool = False
    label: str = ""


@dataclass
class Lifecycle(Generic[T]):
    """The declared lifecycle of one kind of object, whose state lives in ``state_attr``."""

    entity: str
    state_attr: str
    transitions: Sequence[Transition]
    # Rows an effect will write that other writers lock before these objects' rows (an
    # appointment's capacity row): locked first, so every writer takes locks in one order.
    lock_first: Callable[[Session, Sequence[Any]], None] | None = None
    by_name: dict[str, Transition] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {t.name: t for t in self.transitions}

    def get(self, name: str) -> Transition:
        try:
            return self.by_name[name]
        except KeyError:
            known = ", ".join(sorted(self.by_name))
            raise InvalidInput(f"no {self.entity} transition {name!r}; known: {known}") from None

    def available(self, state: Any) -> list[Transition]:
        return [t for t in self.transitions if state in t.sources]

    def refusal(self, ctx: Context, transition: Transition, obj: Any) -> str | None:
        state = getattr(obj, self.state_attr)
        if state not in transition.sources:
            allowed = ", ".join(sorted(_label(s) for s in transition.sources))
            return f"cannot {transition.name} from {_label(state)} (only from {allowed})"
        if transition.needs_reason and not (ctx.reason and ctx.reason.strip()):
            return f"{transition.name} needs a reason"
        for guard in transition.guards:
            why = guard(ctx, obj)
            if why:
                return why
        return None


def _label(state: Any) -> str:
    return str(state.value if isinstance(state, Enum) else state)


_CHUNK = 500  # keys per IN list: well under every driver's parameter limit


def lock(session: Session, objs: Sequence[Any]) -> None:
    """Lock the rows of ``objs`` until the transaction ends and read them again.

    Pending changes are flushed first (the re-read would otherwise overwrite them). Rows
    are locked in key order, so two bulk runs over overlapping objects cannot deadlock.
    An object whose row has gone meanwhile is a ``ConcurrentChange``.
    """
    if not objs:
        return
    session.flush()
    hold_write_lock(session)
    by_class: dict[type, list[Any]] = {}
    for obj in objs:
        by_class.setdefault(type(obj), []).append(obj)
    for cls, members in by_class.items():
        mapper: Mapper[Any] = inspect(cls)
        if len(mapper.primary_key) != 1:
            raise TypeError(f"{cls.__name__}: lock() takes objects with a one-column key")
        key: ColumnElement[Any] = mapper.primary_key[0]
        ids = sorted({mapper.primary_key_from_instance(o)[0] for o in members})
        found = 0
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            query: Select[Any] = (select(cls).where(key.in_(chunk)).order_by(key)
                                  .execution_options(populate_existing=True))
            if is_postgres(session):
                query = query.with_for_update(of=cls)
            found += len(session.scalars(query).all())
        if found < len(ids):
            raise ConcurrentChange(f"{len(ids) - found} of {len(ids)} {cls.__name__} row(s) were "
                           "removed by someone else meanwhile; nothing changed")


def run_transition(
    session: Session,
    actor: Actor,
    lifecycle: Lifecycle[T],
    name: str,
    objs: Iterable[T],
    *,
    reason: str | None = None,
    **params: Any,
) -> list[T]:
    """Move every object along transition ``name``, or none of them. The objects are
    locked and re-read first (``lock``): the guards judge what is committed, and of
    concurrent runs only the first is let through."""
    transition = lifecycle.get(name)
    ctx = Context(session, actor, reason, params)
    targets = list(objs)
    if lifecycle.lock_first is not None and targets:
        lifecycle.lock_first(session, targets)
    lock(session, targets)
    refusals = []
    for obj in targets:
        why = lifecycle.refusal(ctx, transition, obj)
        if why:
            refusals.append(f"{obj.audit_entity} {obj.audit_id}: {why}")
    if refusals:
        raise TransitionRefused(
            f"{transition.name} refused for {len(refusals)} of {len(targets)}; nothing changed: "
            + "; ".join(refusals[:20]),
            details=refusals,
        )
    for obj in targets:
        with audit.change(session, actor, f"{lifecycle.entity}.{transition.name}", obj,
                          reason=reason):
            setattr(obj, lifecycle.state_attr, transition.target)
            for effect in transition.effects:
                effect(ctx, obj)
    return targets
