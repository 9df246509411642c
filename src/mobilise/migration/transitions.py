"""The declared lifecycles of rounds and of each person's migration."""

from __future__ import annotations

from typing import Any

from mobilise.core.transitions import Context, Lifecycle, Transition
from mobilise.migration.models import MigrationRound, MigrationState, PersonMigration, RoundStatus


def _clear_reason(ctx: Context, obj: Any) -> None:
    obj.reason = None


def _record_reason(ctx: Context, obj: Any) -> None:
    obj.reason = ctx.reason


def _verified(ctx: Context, obj: Any) -> str | None:
    # Cutover passes the verification it ran; nothing else may mark a person migrated.
    if not ctx.params.get("verified"):
        return "only a passed cutover verification marks a person migrated"
    return None


def _frozen(ctx: Context, obj: Any) -> str | None:
    return None if obj.source_frozen_at else "the operator has not confirmed the source frozen"


ROUND_LIFECYCLE: Lifecycle[MigrationRound] = Lifecycle(
    entity="migration_round",
    state_attr="status",
    transitions=[
        Transition("start", frozenset({RoundStatus.PLANNED.value}), RoundStatus.RUNNING.value,
                   effects=(_clear_reason,)),
        Transition("finish", frozenset({RoundStatus.RUNNING.value}), RoundStatus.DONE.value),
        Transition("fail", frozenset({RoundStatus.RUNNING.value}), RoundStatus.FAILED.value,
                   needs_reason=True, effects=(_record_reason,)),
        Transition("replan", frozenset({RoundStatus.FAILED.value, RoundStatus.RUNNING.value}),
                   RoundStatus.PLANNED.value, needs_reason=True, effects=(_record_reason,),
                   label="plan a failed or interrupted round again"),
    ],
)

PERSON_LIFECYCLE: Lifecycle[PersonMigration] = Lifecycle(
    entity="migration_person",
    state_attr="state",
    transitions=[
        Transition("start",
                   frozenset({MigrationState.NOT_STARTED.value, MigrationState.FAILED.value}),
                   MigrationState.IN_PROGRESS.value, effects=(_clear_reason,)),
        Transition("migrate", frozenset({MigrationState.IN_PROGRESS.value}),
                   MigrationState.MIGRATED.value, guards=(_frozen, _verified),
                   effects=(_clear_reason,)),
        Transition("fail", frozenset({MigrationState.IN_PROGRESS.value}),
                   MigrationState.FAILED.value, needs_reason=True,
                   effects=(_record_reason,)),
    ],
)
