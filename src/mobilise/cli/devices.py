"""``mobilise devices``: the handset register, its lifecycle, manifests and stocktakes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from mobilise.cli.context import (
    FormatOption,
    LimitOption,
    actor,
    column_mapping,
    console,
    emit,
    err_console,
    read_counted_pages,
    read_pages,
    rows_wanted,
    session,
    settings,
)
from mobilise.core.clock import SystemClock
from mobilise.core.output import Format
from mobilise.core.progress import JobProgress, RichProgress, Tee
from mobilise.devices import capacity as capacity_
from mobilise.devices import handsets, manifests, register
from mobilise.devices.models import HandsetModel, HandsetStatus
from mobilise.devices.stocktake import take_stock
from mobilise.devices.transitions import HANDSET
from mobilise.people.register import get_person
from mobilise.rollout.handover import hand_over

app = typer.Typer(help="Handsets: register, lifecycle, manifests, hand-over, stocktake.",
                  no_args_is_help=True)


def _lines(path: Path | None, given: list[str]) -> list[str]:
    """IMEIs from the arguments and/or a file (one a line; a CSV's first column)."""
    out = [g.strip() for g in given if g.strip()]
    if path is not None:
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            cell = line.split(",", 1)[0].strip().strip('"')
            if cell and not cell.lower().startswith("imei"):
                out.append(cell)
    return out


@app.command("list")
def list_(
    q: str | None = typer.Option(None, "--search", "-q", help="IMEI, serial or asset tag"),
    status: str | None = typer.Option(None, help="lifecycle state, e.g. in_stock"),
    site: str | None = typer.Option(None, help="site code"),
    model: str | None = typer.Option(None, help="model code"),
    holder: str | None = typer.Option(None, help="warrant/staff number or UPN"),
    po: str | None = typer.Option(None, "--po", help="purchase order"),
    limit: int | None = LimitOption(50),
    offset: int = typer.Option(0, min=0),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List handsets, filtered and paged (a table shows 50; csv and json every one)."""
    query = register.HandsetQuery(q=q, status=status, site=site, model=model, holder=holder,
                                  purchase_order=po)
    with session() as s:
        found, total = read_counted_pages(
            lambda n, start: register.find_handsets(s, replace(query, limit=n, offset=start)),
            offset, rows_wanted(limit, fmt, 50))
        rows = [register.handset_row(h) for h in found]
    emit(rows, register.HANDSET_COLUMNS, fmt, title="handsets", total=total, offset=offset)


@app.command("show")
def show(key: str = typer.Argument(..., help="IMEI, serial, asset tag or id"),
         fmt: FormatOption = Format.TABLE) -> None:
    """One handset, with its queued remote actions."""
    with session() as s:
        h = register.get_handset(s, key)
        row = register.handset_row(h)
        queue = register.action_rows(s, handset=h)
    if fmt is Format.TABLE:
        emit([{"field": k, "value": v} for k, v in row.items()], ["field", "value"], fmt)
        if queue:
            emit(queue, register.ACTION_COLUMNS, fmt, title="remote actions")
    else:
        emit([{**row, "actions": queue}], [*row, "actions"], fmt)


@app.command("import-manifest")
def import_manifest(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="manifest CSV or XLSX"),
    site: str | None = typer.Option(None, help="site code where the delivery arrived"),
    ordered: bool = typer.Option(False, "--ordered",
                                 help="advance notice: register as ordered, not received"),
    map_: list[str] = typer.Option([], "--map", help="column mapping 'File header=field'"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check the file, change nothing"),
) -> None:
    """Register a supplier's delivery manifest: every row valid, or nothing changes."""
    status = HandsetStatus.ORDERED if ordered else HandsetStatus.RECEIVED
    with session() as s:
        where = handsets.get_site(s, site) if site else None
        result = manifests.import_manifest(
            s, actor(), settings(), path, site=where, status=status,
            mapping=column_mapping(map_), dry_run=dry_run, progress=RichProgress("handsets"))
        if dry_run:
            s.rollback()
    verb = "would register" if dry_run else "registered"
    console.print(f"{verb} {result.handsets:,} handsets and {result.sims:,} SIMs "
                  f"(purchase orders: {', '.join(result.purchase_orders)})")


@app.command("transitions")
def transitions(fmt: FormatOption = Format.TABLE) -> None:
    """The lifecycle table: each transition, its source states and target."""
    rows = [{"transition": t.name, "from": ", ".join(sorted(s.value for s in t.sources)),
             "to": t.target.value, "label": t.label,
             "guards": ", ".join(g.__name__.strip("_") for g in t.guards)}
            for t in HANDSET.transitions]
    emit(rows, ["transition", "from", "to", "label", "guards"], fmt)


@app.command("transition")
def transition(
    name: str = typer.Argument(..., help="stage, enrol, stock, return, repair, lose, steal, "
                               "find, retire, dispose..."),
    imeis: list[str] = typer.Argument(None, help="IMEIs (or use --file)"),
    file: Path | None = typer.Option(None, "--file", exists=True, dir_okay=False,
                                     help="IMEI list, one a line"),
    reason: str | None = typer.Option(None, help="why (recorded in the audit log)"),
    site: str | None = typer.Option(None, help="site code (receive, stage, stock, return)"),
    police_reference: str | None = typer.Option(None, help="lose / steal"),
    repair_reference: str | None = typer.Option(None, help="repair"),
    wipe_evidence: str | None = typer.Option(None, help="dispose"),
    weee_reference: str | None = typer.Option(None, help="dispose"),
    compliance: str | None = typer.Option(None, help="enrol: Intune complianceState"),
) -> None:
    """Move handsets along one transition, all of them or none (every refusal listed)."""
    wanted = _lines(file, imeis or [])
    params: dict[str, Any] = {"police_reference": police_reference,
                              "repair_reference": repair_reference,
                              "wipe_evidence": wipe_evidence, "weee_reference": weee_reference,
                              "compliance": compliance}
    with session() as s:
        if site:
            params["site"] = handsets.get_site(s, site)
        found = register.handsets_by_imei(s, wanted)
        moved = handsets.move_handsets(s, actor(), settings(), SystemClock(), name, found,
                                       reason=reason, **params)
    for warning in moved.warnings:
        err_console.print(f"[yellow]{warning}[/]", markup=True, highlight=False)
    console.print(f"{name}: {len(moved.handsets):,} handset(s) moved to "
                  f"{HANDSET.get(name).target.value}")


@app.command("issue")
def issue(
    imei: str = typer.Argument(..., help="IMEI scanned from the box"),
    person: str = typer.Argument(..., help="warrant/staff number or UPN"),
    method: str = typer.Option(..., help="how acceptance was given: signature, web-form, paper"),
    policy_version: str | None = typer.Option(None, help="acceptable-use policy version"),
    iccid: str | None = typer.Option(None, help="SIM to fit, if none is fitted"),
    kit: str | None = typer.Option(None, help="accessory kit code"),
) -> None:
    """Hand a handset to a person, recording acceptance of the acceptable-use policy; their
    open appointment is attended with it."""
    with session() as s:
        handset = register.get_handset(s, imei)
        who = get_person(s, person)
        sim = register.get_sim(s, iccid) if iccid else None
        accessory = handsets.get_kit(s, kit) if kit else None
        done = hand_over(s, actor(), settings(), SystemClock(), handset, who, method=method,
                         policy_version=policy_version, sim=sim, kit=accessory)
        closed = (f"; appointment {done.appointment.id} attended" if done.appointment
                  else "")
        console.print(f"issued {handset.imei} to {who.display_name} ({who.number}){closed}")


@app.command("stocktake")
def stocktake(
    site: str = typer.Argument(..., help="site code"),
    imeis: list[str] = typer.Argument(None, help="scanned IMEIs (or use --file)"),
    file: Path | None = typer.Option(None, "--file", exists=True, dir_okay=False,
                                     help="scanner output, one IMEI a line"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Compare a batch of scanned IMEIs with the register for a site."""
    with session() as s:
        report = take_stock(s, actor(), SystemClock(), handsets.get_site(s, site),
                            _lines(file, imeis or []))
    problems = [r for r in report.rows() if r["finding"] != "found"]
    emit(problems if fmt is Format.TABLE else report.rows(), ["finding", "imei", "detail"],
         fmt, title=f"stocktake at {site}")
    err_console.print(", ".join(f"{k}: {v}" for k, v in report.summary().items()))


@app.command("export-identifiers")
def export_identifiers(
    out: Path = typer.Argument(..., dir_okay=False, help="CSV to write (split per 5,000)"),
    po: str | None = typer.Option(None, "--po", help="only this purchase order"),
) -> None:
    """Write the corporate-identifier list (IMEIs) for Intune and the Knox reseller."""
    with session() as s:
        files = manifests.export_identifiers(s, out, purchase_order=po)
    for f in files:
        console.print(f"wrote {f}")


@app.command("capacity")
def capacity(fmt: FormatOption = Format.TABLE) -> None:
    """Managed devices against the MDM capacity."""
    with session() as s:
        now = capacity_.capacity(s, settings())
        counts = register.status_counts(s)
    rows: list[dict[str, Any]] = [{"measure": "managed devices", "value": now.managed},
            {"measure": "capacity", "value": now.capacity},
            {"measure": "warning from", "value": now.warning_from},
            {"measure": "spare", "value": now.spare},
            {"measure": "level", "value": now.level}]
    rows += [{"measure": f"status {k}", "value": v} for k, v in counts.items()]
    emit(rows, ["measure", "value"], fmt)
    if now.level != "ok":
        err_console.print(now.message)


@app.command("models")
def models(fmt: FormatOption = Format.TABLE) -> None:
    """The models catalogue."""
    from sqlalchemy import select

    with session() as s:
        rows = register.model_rows(s.scalars(select(HandsetModel).order_by(HandsetModel.code))
                                   .all())
    emit(rows, ["code", "manufacturer", "name", "dual_sim", "warranty_months"], fmt)


@app.command("add-model")
def add_model(
    code: str, manufacturer: str, name: str,
    single_sim: bool = typer.Option(False, "--single-sim"),
    warranty_months: int = typer.Option(24, min=0, max=120),
) -> None:
    """Add a model to the catalogue (what manifests may name)."""
    with session() as s:
        handsets.add_model(s, actor(), code, manufacturer, name, dual_sim=not single_sim,
                           warranty_months=warranty_months)
    console.print(f"added model {code}")


@app.command("add-kit")
def add_kit(code: str, name: str, contents: str = typer.Option("", help="what is in it")) -> None:
    """Add an accessory kit."""
    with session() as s:
        handsets.add_kit(s, actor(), code, name, contents)
    console.print(f"added kit {code}")


@app.command("compliance")
def compliance(imei: str, state: str = typer.Argument(..., help="compliant, noncompliant...")
               ) -> None:
    """Record a handset's Intune compliance state by hand (Intune sync records it for
    the handsets it finds in Intune)."""
    with session() as s:
        handsets.record_compliance(s, actor(), register.get_handset(s, imei), state)
    console.print(f"{imei}: {state}")


@app.command("allow-extra")
def allow_extra(
    person: str, reason: str = typer.Option(..., help="the adjustment and why"),
    handsets_: int = typer.Option(2, "--handsets", min=1, max=5),
    reference: str | None = typer.Option(None, help="occupational health referral"),
) -> None:
    """Record an adjustment that lets a person hold more than one handset."""
    with session() as s:
        handsets.allow_extra_handset(s, actor(), get_person(s, person), reason,
                                     handsets=handsets_, reference=reference)
    console.print(f"{person} may hold {handsets_} handsets")


@app.command("recovery")
def recovery(fmt: FormatOption = Format.TABLE) -> None:
    """Open recovery tasks for handsets held by leavers, then list every open task."""
    with session() as s:
        opened = handsets.open_recovery_tasks(s, actor(), settings(), SystemClock())
        rows = register.recovery_rows(s)
    emit(rows, register.RECOVERY_COLUMNS, fmt, title="open recovery tasks")
    err_console.print(f"{len(opened)} new recovery task(s)")


@app.command("actions")
def actions(status: str | None = typer.Option(None, help="queued, sent, done, failed"),
            limit: int | None = LimitOption(200),
            offset: int = typer.Option(0, min=0),
            fmt: FormatOption = Format.TABLE) -> None:
    """The remote-action queue (wipes, retires, SIM bars), newest first."""
    with session() as s:
        rows = read_pages(
            lambda n, start: register.action_rows(s, status=status, limit=n, offset=start),
            offset, rows_wanted(limit, fmt, 200))
        total = register.count_actions(s, status) if fmt is Format.TABLE else None
    emit(rows, register.ACTION_COLUMNS, fmt, total=total, offset=offset)


@app.command("sync-intune")
def sync_intune(fmt: FormatOption = Format.TABLE) -> None:
    """Read Intune's managed devices, update the register and list the mismatches."""
    from mobilise.devices import intune
    from mobilise.graph import GraphClient

    with GraphClient(settings()) as client, session() as s:
        report = intune.sync_intune(s, actor(), client, settings(),
                                    progress=RichProgress("Intune devices"))
        rows = [m.row() for m in report.mismatches]
    summary = report.summary()
    if fmt is Format.TABLE:
        emit([{"measure": k, "value": v} for k, v in summary.items()],
             ["measure", "value"], fmt, title="Intune sync")
        emit(rows, intune.MISMATCH_COLUMNS, fmt, title="mismatches")
    else:
        emit(rows, intune.MISMATCH_COLUMNS, fmt)


@app.command("send-actions")
def send_actions(limit: int = typer.Option(10_000, min=1, help="most actions this run"),
                 fmt: FormatOption = Format.TABLE) -> None:
    """Send queued wipes, retires and locks to Intune, paced to its write limit."""
    from mobilise.devices import intune
    from mobilise.graph import GraphClient

    # The bar for the operator, a Job row for the web's live status page.
    with GraphClient(settings()) as client, session() as s, session() as job_session, \
            RichProgress(unit="actions") as bar:
        report = intune.send_actions(
            s, client, settings(), SystemClock(), actor=actor(), limit=limit,
            progress=Tee(bar, JobProgress(job_session, "intune-actions")))
    emit([report.summary()], list(report.summary()), fmt, title="Intune actions")


@app.command("policy-publish")
def policy_publish(
    version: str = typer.Argument(..., help="e.g. 2.0"),
    text_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the policy text"),
    effective_on: str | None = typer.Option(None, help="YYYY-MM-DD (default: today)"),
) -> None:
    """Publish an acceptable-use policy version: from its effective day every holder is
    asked to accept it again."""
    from datetime import date

    from mobilise.core.errors import InvalidInput
    from mobilise.devices import policy

    try:
        day = date.fromisoformat(effective_on) if effective_on else None
    except ValueError:
        raise InvalidInput(f"--effective-on {effective_on!r} is not YYYY-MM-DD") from None
    with session() as s:
        row = policy.publish_version(s, actor(), SystemClock(), version,
                                     text_file.read_text(encoding="utf-8"), day)
        console.print(f"published policy {row.version} (in force from {row.effective_on}; "
                      f"text SHA-256 {row.sha256})")


@app.command("policy-status")
def policy_status(
    not_accepted: bool = typer.Option(False, "--not-accepted",
                                      help="only holders who have not accepted"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Who holds a handset and whether they accepted the policy version in force."""
    from mobilise.devices import policy

    with session() as s:
        status = policy.acceptance_status(s, SystemClock(),
                                          accepted=False if not_accepted else None)
        title = (f"policy {status.policy.version}: {status.accepted} of {len(status.rows)} "
                 "accepted" if status.policy else "no policy version in force")
        emit(status.rows, policy.STATUS_COLUMNS, fmt, title=title)
