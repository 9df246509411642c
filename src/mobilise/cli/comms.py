"""``mobilise comms``: templates, preview, the outbox, sending and mail-merge export."""

from __future__ import annotations

import json
import os
import socket
from datetime import timedelta
from pathlib import Path

import typer

from mobilise.cli.context import (
    FormatOption,
    LimitOption,
    actor,
    console,
    emit,
    err_console,
    read_pages,
    require_schema,
    rows_wanted,
    session,
    settings,
)
from mobilise.comms import outbox, templates
from mobilise.core.db import session_factory
from mobilise.core.errors import InvalidInput
from mobilise.core.output import Format, render
from mobilise.core.progress import RichProgress

app = typer.Typer(help="Messages to people: versioned templates, the outbox, SMTP sending.",
                  no_args_is_help=True)
templates_app = typer.Typer(help="Versioned message templates.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")


@templates_app.command("list")
def templates_list(fmt: FormatOption = Format.TABLE) -> None:
    """Every version of every template."""
    with session() as s:
        rows = [{"name": t.name, "version": t.version, "subject": t.subject, "note": t.note,
                 "created_at": t.created_at} for t in templates.list_templates(s)]
    emit(rows, ["name", "version", "subject", "note", "created_at"], fmt, title="templates")


@templates_app.command("init")
def templates_init() -> None:
    """Add the default templates that have no version yet."""
    with session() as s:
        added = templates.ensure_defaults(s, actor())
    console.print(f"added {added} default templates")


@templates_app.command("add")
def templates_add(
    name: str,
    subject: str = typer.Option(..., help="Jinja2 subject line"),
    body: Path = typer.Option(..., exists=True, dir_okay=False, help="Jinja2 body text file"),
    note: str | None = typer.Option(None, help="what changed"),
) -> None:
    """Add the next version of a template (earlier versions are kept)."""
    with session() as s:
        row = templates.add_version(s, actor(), name, subject, body.read_text("utf-8"),
                                    note=note)
        console.print(f"{row.name} version {row.version} added")


@app.command()
def preview(
    name: str,
    version: int | None = typer.Option(None, help="default: the current version"),
    context: Path | None = typer.Option(None, exists=True, help="JSON context; default: "
                                        "the template's sample"),
) -> None:
    """Render a template with a sample (or given) context."""
    ctx = json.loads(context.read_text("utf-8")) if context else None
    if ctx is not None and not isinstance(ctx, dict):
        raise InvalidInput("the context file must hold a JSON object")
    with session() as s:
        out = templates.preview(s, name, settings().organisation, version=version,
                                context=ctx)
    typer.echo(f"Subject: {out.subject}\n(template {out.template} v{out.version})\n")
    typer.echo(out.body)


@app.command("queue")
def queue_list(
    status: str | None = typer.Option(None, help="queued, sending, sent, failed, uncertain"),
    template: str | None = typer.Option(None),
    limit: int | None = LimitOption(100),
    offset: int = typer.Option(0, min=0),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """The outbox: messages and their state."""
    with session() as s:
        rows = read_pages(
            lambda n, start: outbox.outbox_rows(s, status, template, n, offset=start),
            offset, rows_wanted(limit, fmt, 100))
        total = outbox.count_outbox(s, status, template) if fmt is Format.TABLE else None
        summary = outbox.counts(s)
    emit(rows, outbox.OUTBOX_COLUMNS, fmt, title="outbox", total=total, offset=offset)
    err_console.print(", ".join(f"{k}: {v}" for k, v in summary.items()))


@app.command()
def send(
    limit: int | None = typer.Option(None, min=1, help="send at most this many"),
    lease_seconds: int = typer.Option(600, min=0, help="a claim older than this belonged "
                                      "to a sender that died: its message becomes uncertain"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Send queued messages over SMTP, at most once each."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    require_schema(settings().database_url)
    report = outbox.send_queued(
        session_factory(settings()), settings(), worker=worker, limit=limit,
        lease=timedelta(seconds=lease_seconds),
        progress=RichProgress("messages") if progress else None)
    console.print(", ".join(f"{k}: {v}" for k, v in report.as_dict().items()))
    if report.uncertain or report.stale:
        err_console.print("some messages may or may not have been delivered: see "
                          "'mobilise comms queue --status uncertain'")


@app.command()
def requeue(
    uncertain: bool = typer.Option(False, "--uncertain", help="requeue uncertain messages"),
    failed: bool = typer.Option(False, "--failed", help="requeue failed messages"),
    ids: list[int] = typer.Option([], "--id", help="only these message ids"),
) -> None:
    """Put failed or uncertain messages back in the queue (a deliberate resend)."""
    if uncertain == failed:
        raise InvalidInput("choose one of --uncertain or --failed")
    with session() as s:
        n = outbox.requeue(s, "uncertain" if uncertain else "failed", ids)
    console.print(f"requeued {n} messages")


@app.command()
def export(
    out: Path = typer.Argument(..., dir_okay=False, help="CSV file to write"),
    status: str = typer.Option("queued", help="which messages"),
    template: str | None = typer.Option(None),
) -> None:
    """Export messages for a mail merge (CSV; formula cells neutralised)."""
    with session() as s:
        rows = outbox.outbox_rows(s, status, template, limit=1_000_000, with_body=True)
    out.write_text(render(rows, outbox.MERGE_COLUMNS, Format.CSV), encoding="utf-8")
    console.print(f"{len(rows)} messages written to {out}")
