"""``mobilise audit``: read and verify the tamper-evident audit log."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import func, select

from mobilise.cli.context import (
    FormatOption,
    LimitOption,
    actor,
    emit,
    read_pages,
    rows_wanted,
    session,
)
from mobilise.core import audit
from mobilise.core.output import Format

app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)


@app.command("log")
def log(
    entity: str | None = typer.Option(None, help="only this entity type, e.g. person"),
    entity_id: str | None = typer.Option(None, "--id", help="only this entity id"),
    action: str | None = typer.Option(None, help="only this action, e.g. person.leave"),
    limit: int | None = LimitOption(50),
    offset: int = typer.Option(0, min=0),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """The latest audit entries, newest first (a table shows 50; csv and json all)."""
    stmt = select(audit.AuditEntry)
    if entity:
        stmt = stmt.where(audit.AuditEntry.entity == entity)
    if entity_id:
        stmt = stmt.where(audit.AuditEntry.entity_id == entity_id)
    if action:
        stmt = stmt.where(audit.AuditEntry.action == action)
    newest = stmt.order_by(audit.AuditEntry.seq.desc())
    with session() as s:
        entries = read_pages(lambda n, start: s.scalars(newest.limit(n).offset(start)).all(),
                             offset, rows_wanted(limit, fmt, 50))
        total = (s.scalar(select(func.count()).select_from(stmt.subquery()))
                 if fmt is Format.TABLE else None)
        rows = [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                 "entity": e.entity, "id": e.entity_id, "reason": e.reason,
                 "before": e.before, "after": e.after} for e in entries]
    columns = ["seq", "at", "actor", "action", "entity", "id", "reason"]
    emit(rows, columns if fmt is Format.TABLE else [*columns, "before", "after"], fmt,
         total=total, offset=offset)


@app.command("verify")
def verify(
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", exists=True, dir_okay=False,
        help="a file from 'mobilise audit checkpoint': also prove that nothing up to it "
             "was deleted or rewritten since"),
) -> None:
    """Walk the hash chain; exit non-zero naming the first altered, missing or moved entry."""
    with session() as s:
        mark = (audit.Checkpoint.from_json(checkpoint.read_text(encoding="utf-8"),
                                           audit.keys_of(s)) if checkpoint else None)
        result = audit.verify(s, checkpoint=mark)
    typer.echo(f"audit chain intact: {result.entries} entries ({result.keyed} keyed), "
               f"last hash {result.last_hash}")
    if mark is not None:
        typer.echo(f"and unchanged up to the checkpoint taken {mark.taken_at} "
                   f"(entry {mark.seq})")


@app.command("checkpoint")
def checkpoint(
    out: Path = typer.Option(..., "--out", dir_okay=False, writable=True,
                             help="where to write the signed checkpoint; keep a copy "
                                  "away from the database (see docs/security.md)"),
) -> None:
    """Verify the chain and write its newest (sequence, hash), signed with the audit key,
    for 'mobilise audit verify --checkpoint FILE' to check against later."""
    with session() as s:
        mark = audit.checkpoint(s, actor())
    out.write_text(mark.to_json(), encoding="utf-8")
    typer.echo(f"checkpoint of entry {mark.seq} (hash {mark.hash}) written to {out}")
