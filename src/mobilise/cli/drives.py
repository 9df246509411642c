"""``mobilise drives``: scan H: drives, assess them for OneDrive, report readiness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mobilise.cli.context import FormatOption, emit, err_console, session, settings
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput, NotFound
from mobilise.core.output import Format, to_json
from mobilise.core.progress import RichProgress
from mobilise.drives import estate
from mobilise.drives.reports import (
    FINDING_COLUMNS,
    RETENTION_ACTION_COLUMNS,
    RETENTION_FILE_COLUMNS,
    RETENTION_RULE_COLUMNS,
    SUMMARY_COLUMNS,
    ReadinessReport,
    add_retention,
    assess_folder,
    estate_summary,
    person_report,
    retention_files,
    summary_rows,
)
from mobilise.retention.outcomes import LISTED

app = typer.Typer(help="H: drives: discover, scan, assess for OneDrive, report readiness.",
                  no_args_is_help=True)


@app.command("assess")
def assess_(
    path: Path = typer.Argument(..., exists=True, file_okay=False, help="folder to assess"),
    upn: str = typer.Option(..., "--upn", help="the OneDrive owner's UPN (counts in paths)"),
    target_folder: str = typer.Option("", "--target-folder",
                                      help="folder in the OneDrive the files go into"),
    fmt: FormatOption = Format.JSON,
) -> None:
    """Assess any folder for OneDrive, without a database (for pilots and scripts)."""
    report = assess_folder(path, upn, clock=SystemClock(),
                           quota_bytes=settings().onedrive_quota_bytes,
                           target_folder=target_folder)
    if fmt is Format.JSON:
        typer.echo(to_json(report.as_dict()))
        return
    emit(report.findings, FINDING_COLUMNS, fmt, title=f"{path}: {len(report.findings)} findings")


@app.command("scan")
def scan(
    person: list[str] = typer.Option([], "--person", help="number or UPN (repeatable)"),
    everyone: bool = typer.Option(False, "--all", help="every active person"),
    wave: str | None = typer.Option(None, "--wave", help="everyone in a migration wave"),
    source: str = typer.Option("local", "--source",
                               help="local (home_root, a mounted share) or smb (smb_server)"),
    target_folder: str = typer.Option("", "--target-folder"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Scan people's drives to Parquet inventories (in parallel) and assess them."""
    if source not in ("local", "smb"):
        raise InvalidInput(f"source {source!r}: use local or smb")
    if not person and not everyone and not wave:
        raise InvalidInput("say whose drives: --person ID (repeatable), --wave W or --all")
    with session() as s:
        if wave:
            from mobilise.migration.waves import get_wave, wave_people

            person = [*person, *(m.person.number for m in wave_people(s, get_wave(s, wave)))]
        people = estate.select_people(s, person, everyone=everyone)
        missing = set(person) - {p.number for p in people} - {p.upn for p in people}
        if missing:
            raise NotFound(f"no person {', '.join(sorted(missing))}")
        with RichProgress(unit="people") as bar:
            result = estate.scan_people(
                s, settings(), people, SystemClock(), progress=bar, target_folder=target_folder,
                source=estate.smb_source(settings()) if source == "smb" else None)
        numbers = {p.id: p.number for p in people}
        rows = [_scan_row(numbers[r.person_id], r) for r in result.scans]
    emit(rows, ["person", "status", "files", "bytes", "to_rename", "cannot_move", "fits_quota",
                "reason"], fmt, title="drive scans")
    for missing_drive in result.discovery.without_drive:
        err_console.print(f"no drive: {missing_drive.person_key}: {missing_drive.reason}",
                          highlight=False)


def _scan_row(number: str, scan: Any) -> dict[str, Any]:
    return {"person": number, "status": scan.status, "files": scan.files, "bytes": scan.bytes,
            "to_rename": scan.to_rename, "cannot_move": scan.cannot_move,
            "fits_quota": scan.fits_quota, "reason": scan.reason}


@app.command("report")
def report(
    person: str | None = typer.Option(None, "--person", help="number or UPN"),
    target_folder: str = typer.Option("", "--target-folder"),
    section: str = typer.Option(
        "findings", "--section",
        help="with --person and csv: findings (what OneDrive objects to) or retention "
             "(the files the rule set in force sends to review or disposal)"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """A person's readiness report, or (without --person) the estate summary. A person's
    report includes what the retention rule set in force decides for their files."""
    if section not in {"findings", "retention"}:
        raise InvalidInput(f"--section {section!r}: findings or retention")
    quota = settings().onedrive_quota_bytes
    with session() as s:
        if person is None:
            pairs = estate.latest_scans(s)
            readiness = [estate.readiness_of(scan, p, quota) for p, scan in pairs]
            units = {p.number: p.org_unit.code if p.org_unit else "(none)" for p, _ in pairs}
        else:
            people = estate.select_people(s, [person])
            if not people:
                raise NotFound(f"no person {person!r}")
            pairs = estate.latest_scans(s, [people[0].id])
            if not pairs:
                raise NotFound(f"{person}: no complete scan yet; run mobilise drives scan")
            who, scan = pairs[0]
            one = person_report(who.number, who.upn, estate.inventory_of(scan),
                                quota_bytes=quota, target_folder=target_folder,
                                data_dir=settings().data_dir)
            add_retention(one, s, who, SystemClock().today())
    if person is not None:
        _person_report(one, who.number, section, fmt)
        return
    summary = estate_summary(readiness, units)
    if fmt is Format.JSON:
        typer.echo(to_json({**summary, "people_detail": summary_rows(readiness)}))
        return
    emit(summary_rows(readiness), SUMMARY_COLUMNS, fmt,
         title=f"{summary['people']} people, {summary['files']:,} files, "
               f"{summary['terabytes']} TB, {summary['ready']} ready")
    if fmt is Format.TABLE:
        issues = [{"kind": k, "count": v} for k, v in summary["issues_by_kind"].items()]
        emit(issues, ["kind", "count"], fmt, title="issues by kind")
        units_rows = [{"org_unit": u, **v} for u, v in summary["by_org_unit"].items()]
        emit(units_rows, ["org_unit", "people", "files", "bytes", "to_rename", "cannot_move",
                          "ready", "over_quota"], fmt, title="by org unit")


def _person_report(one: ReadinessReport, number: str, section: str, fmt: Format) -> None:
    """JSON holds everything; a table or HTML shows each part in turn; CSV is one table,
    so it shows the section asked for."""
    if fmt is Format.JSON:
        typer.echo(to_json(one.as_dict()))
        return
    title = _headline(one.as_dict()["summary"], number)
    if fmt is Format.CSV:
        if section == "retention":
            emit(retention_files(one), RETENTION_FILE_COLUMNS, fmt)
        else:
            emit(one.findings, FINDING_COLUMNS, fmt)
        return
    emit(one.findings, FINDING_COLUMNS, fmt, title=title)
    kept = one.retention
    if kept is None:
        return
    if kept.rule_set is None or kept.note:
        emit([{"retention": kept.note}], ["retention"], fmt, title="retention")
        return
    name = f"retention: {kept.rule_set} v{kept.version} on {kept.as_of.isoformat()}"
    emit(kept.by_action, RETENTION_ACTION_COLUMNS, fmt, title=f"{name}, per action")
    emit(kept.by_rule, RETENTION_RULE_COLUMNS, fmt, title=f"{name}, per rule")
    emit(retention_files(one), RETENTION_FILE_COLUMNS, fmt,
         title=f"{kept.count('review')} files to review, {kept.count('dispose')} to dispose "
               f"(at most {LISTED} of each listed)")


def _headline(summary: dict[str, Any], number: str) -> str:
    return (f"{number}: {summary['files']:,} files, {summary['to_rename']} to rename, "
            f"{summary['cannot_move']} cannot move, "
            f"{'fits' if summary['fits_quota'] else 'OVER'} quota")


@app.command("discover")
def discover(
    leavers: bool = typer.Option(True, "--leavers/--no-leavers", help="include leavers"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Match people to home directories; list people without a drive and orphan drives."""
    with session() as s:
        people = estate.select_people(s, everyone=True, include_leavers=leavers)
        found = estate.discover(settings(), people)
    rows: list[dict[str, Any]] = [
        {"status": "leaver drive" if m.leaver else "matched", "person": m.person_key,
         "home": m.home, "detail": m.source.value} for m in found.matched]
    rows += [{"status": "no drive", "person": m.person_key, "home": "", "detail": m.reason}
             for m in found.without_drive]
    rows += [{"status": "refused", "person": r.match.person_key, "home": r.match.home,
              "detail": r.reason} for r in found.refused]
    rows += [{"status": "orphan", "person": "", "home": h, "detail": "no person"}
             for h in found.orphans]
    emit(rows, ["status", "person", "home", "detail"], fmt,
         title=f"{len(found.matched)} matched, {len(found.without_drive)} without a drive, "
               f"{len(found.orphans)} orphans, {len(found.refused)} refused")
