"""``mobilise retention``: rule sets, dry runs, explanations, holds, review and disposal."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from mobilise.cli.context import (
    FormatOption,
    LimitOption,
    TokenOption,
    actor,
    console,
    emit,
    err_console,
    read_counted_pages,
    rows_wanted,
    session,
    settings,
    user_actor,
)
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput
from mobilise.core.output import Format
from mobilise.retention import disposal, dry_run, holds, review, rule_sets
from mobilise.retention.evaluate import Estate, explain
from mobilise.retention.models import RuleSetVersion
from mobilise.retention.rules import RuleSet, load_rule_set_file
from mobilise.retention.scanned import active_rule_set, drive_of, open_inventory

app = typer.Typer(help="Review, retention and disposal: rule sets, dry runs, holds, review, "
                       "disposal batches and certificates.", no_args_is_help=True)
holds_app = typer.Typer(help="Legal and statutory holds.", no_args_is_help=True)
review_app = typer.Typer(help="Disposition review.", no_args_is_help=True)
dispose_app = typer.Typer(help="Disposal batches.", no_args_is_help=True)
drives_app = typer.Typer(help="Leavers' and orphan drives: their queue and decisions.",
                         no_args_is_help=True)
app.add_typer(holds_app, name="holds")
app.add_typer(review_app, name="review")
app.add_typer(dispose_app, name="dispose")
app.add_typer(drives_app, name="drives")

Inventory = Annotated[str, typer.Option(
    "--inventory", "-i", help="inventory Parquet file(s), globs or a folder: Mobilise's scans "
    "(e.g. 'DATA_DIR/inventory/*/*.parquet') or files with a person column")]
People = Annotated[Path | None, typer.Option("--people", help="people Parquet file")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="evaluation date (default today)")]
Rules = Annotated[str, typer.Option(
    "--rules", "-r", help="a rule set file, or NAME or NAME@VERSION stored in the database")]


def _as_of(value: str | None) -> date:
    if value is None:
        return SystemClock().today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--as-of {value!r}: use YYYY-MM-DD") from None


def _estate(s: Session, inventory: str, people: Path | None) -> Estate:
    # Mobilise's own scans (inventory/<person>/<scan>.parquet) and inventories with a
    # person column alike: retention.scanned.open_inventory is the one reader.
    return open_inventory(s, inventory, people).estate


def _rule_set(ref: str) -> RuleSet:
    """A file on disk, or ``name`` (the active version) / ``name@version`` from the database."""
    if Path(ref).is_file():
        return load_rule_set_file(Path(ref))
    name, _, version = ref.partition("@")
    with session() as s:
        row = rule_sets.get_version(s, name, int(version) if version else None)
        return rule_sets.parsed(row)


@app.command()
def validate(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Check a rule set file; problems are listed as file:line:column: message."""
    rule_set = load_rule_set_file(path)
    console.print(f"{rule_set.name} v{rule_set.version}: {len(rule_set.rules)} rules, "
                  f"default {rule_set.default.id if rule_set.default else '(review)'}; "
                  f"sha256 {rule_set.content_hash}", markup=False, highlight=False)


@app.command()
def activate(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    reason: str = typer.Option(None, help="why this version comes into force"),
) -> None:
    """Store a rule set version (if new) and bring it into force; the version in force
    before is retired. An active version can never be edited: write a new version."""
    text = path.read_text(encoding="utf-8")
    with session() as s:
        row = rule_sets.add_rule_set(s, actor(), text, file=str(path))
        row = rule_sets.activate(s, actor(), row.name, row.version, reason=reason)
        console.print(f"{row.name} v{row.version} is active (sha256 {row.content_hash})",
                      markup=False, highlight=False)


@app.command("dry-run")
def dry_run_(
    inventory: Inventory, rules: Rules, people: People = None, as_of: AsOf = None,
    by: str = typer.Option("action", help="action, rule, org_unit or person"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """What the rules would do to every file: files and bytes per action, rule, org unit or
    person (due_* = eligible by the evaluation date). Changes nothing."""
    if by not in dry_run.GROUPINGS:
        raise InvalidInput(f"--by {by!r}: one of {', '.join(dry_run.GROUPINGS)}")
    with session() as s:
        in_force = holds.holds_in_force(s)
        result = dry_run.dry_run(_estate(s, inventory, people), _rule_set(rules), _as_of(as_of),
                                 in_force, groupings=list(dict.fromkeys(["action", by])))
        dry_run.record(s, actor(), result)
        s.commit()
    rows = result.tables[f"by_{by}"]
    columns = ([] if by == "action" else [by]) + ["action", "files", "bytes", "due_files",
                                                  "due_bytes"]
    emit(rows, columns, fmt, title=f"{result.rule_set} v{result.version}: {result.files:,} "
         f"files, {dry_run.bytes_text(result.bytes)}")


@app.command()
def diff(
    inventory: Inventory,
    old: str = typer.Argument(..., help="rule set file, NAME@VERSION"),
    new: str = typer.Argument(..., help="rule set file, NAME@VERSION"),
    people: People = None, as_of: AsOf = None, fmt: FormatOption = Format.TABLE,
) -> None:
    """What changes between two rule set versions over the whole estate."""
    with session() as s:
        in_force = holds.holds_in_force(s)
        estate = _estate(s, inventory, people)
    result = dry_run.diff(estate, _rule_set(old), _rule_set(new), _as_of(as_of), in_force)
    if fmt is Format.TABLE:
        for sentence in result.sentences() or ["no file changes action"]:
            console.print(sentence, markup=False, highlight=False)
    emit(result.transitions, ["old_action", "new_action", "files", "bytes"], fmt,
         title=f"{result.changed_files:,} files change rule or action")


@app.command("explain")
def explain_(
    inventory: Inventory, rules: Rules,
    person: str = typer.Option(..., help="the person (inventory key)"),
    path: str = typer.Option(..., help="the file's path in their drive"),
    people: People = None, as_of: AsOf = None, fmt: FormatOption = Format.TABLE,
) -> None:
    """The rule that decides one file, and each rule it beat and why."""
    with session() as s:
        in_force = holds.holds_in_force(s)
        estate = _estate(s, inventory, people)
    shown = explain(estate, _rule_set(rules), person, path, _as_of(as_of), in_force)
    if fmt is Format.JSON:
        typer.echo(json.dumps(shown.as_dict(), indent=2))
        return
    console.print(f"{shown.action} by rule {shown.rule}"
                  f" (eligible since {shown.eligible_since or 'never'}): {shown.reason}",
                  markup=False, highlight=False)
    emit([{"rule": r, "action": a, "why it lost": w} for r, a, w in shown.beaten],
         ["rule", "action", "why it lost"], fmt, title="rules it beat")


@app.command()
def purview(
    rules: str | None = typer.Option(
        None, "--rules", "-r",
        help="a rule set file, or NAME or NAME@VERSION stored in the database (default: the "
             "active one)"),
    out: Path = typer.Option(Path("."), help="folder to write the plan to"),
    reviewer: str | None = typer.Option(
        None, help="address or group that receives Purview's disposition reviews (review "
                   "rules); without one they keep"),
    prefix: str = typer.Option("RRD", help="first word of every label and policy name"),
    as_of: AsOf = None,
) -> None:
    """The rules' future in OneDrive: Microsoft Purview retention labels and policies from a
    rule set, as a PowerShell script and a CSV for the records team, with what has no
    Purview equivalent. Changes nothing."""
    from mobilise.retention import purview as plan_of

    if rules is None:
        with session() as s:
            row = active_rule_set(s)
            if row is None:
                raise InvalidInput("no rule set is active: give --rules")
            rule_set = rule_sets.parsed(row)
    else:
        rule_set = _rule_set(rules)
    plan = plan_of.plan(rule_set, as_of=_as_of(as_of), prefix=prefix, reviewer=reviewer)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"purview-{plan.rule_set}-v{plan.version}"
    stem.with_suffix(".ps1").write_text(plan_of.powershell(plan), encoding="utf-8")
    stem.with_suffix(".csv").write_text(plan_of.csv_text(plan), encoding="utf-8")
    emit([{"rule": g.rule, "cannot carry": g.what, "instead": g.instead} for g in plan.gaps],
         ["rule", "cannot carry", "instead"], Format.TABLE,
         title=f"{len(plan.labels)} labels ({len(plan.auto_applied)} auto-applied, "
               f"{len(plan.published)} published); what Purview cannot carry")
    err_console.print(f"written {stem}.ps1 and .csv", markup=False, highlight=False)


# --- leavers' and orphan drives ------------------------------------------------------


def _case_row(case: Any) -> dict[str, Any]:
    return {"case": case.id, "kind": case.kind, "home": case.home,
            "proposed": case.proposed, "rule": case.proposed_rule or "",
            "due_on": case.due_on, "why": case.proposed_why, "outcome": case.outcome or "",
            "decided_by": case.decided_by or "", "reason": case.reason or ""}


CASE_COLUMNS = ["case", "kind", "home", "proposed", "rule", "due_on", "outcome", "decided_by",
                "reason"]


@drives_app.command("refresh")
def drives_refresh() -> None:
    """Discover leavers' and orphan drives; give each new one a case with the proposal of
    the rule set in force."""
    from mobilise.retention import leavers

    with session() as s:
        row = active_rule_set(s)
        result = leavers.refresh_queue(s, actor(), settings(),
                                       rule_sets.parsed(row) if row else None)
    err_console.print(f"{result.added} new drives in the queue; {result.open} awaiting a "
                      "decision", markup=False, highlight=False)


@drives_app.command("list")
def drives_list(open_only: bool = typer.Option(False, "--open", help="only undecided"),
                kind: str | None = typer.Option(None, help="leaver or orphan"),
                fmt: FormatOption = Format.TABLE) -> None:
    """Leavers' and orphan drives, with the proposal and the decision."""
    from mobilise.retention import leavers

    with session() as s:
        rows = [_case_row(c) for c in leavers.cases(s, open_only=open_only, kind=kind)]
    emit(rows, CASE_COLUMNS, fmt, title="leavers' and orphan drives")


@drives_app.command("decide")
def drives_decide(case: int, outcome: str = typer.Argument(..., help="archive, review or "
                                                           "dispose"),
                  reason: str = typer.Option(..., help="why"),
                  token: TokenOption = None) -> None:
    """Record a records manager's decision on a leaver's or orphan drive."""
    from mobilise.retention import leavers

    with session() as s:
        decided = leavers.decide(s, user_actor(s, token), case, outcome, reason)
        home = decided.home
    err_console.print(f"{home}: {outcome}", markup=False, highlight=False)


# --- holds ---------------------------------------------------------------------------


@holds_app.command("list")
def holds_list(all_: bool = typer.Option(False, "--all", help="include released holds"),
               fmt: FormatOption = Format.TABLE) -> None:
    """Holds in force (or all)."""
    from sqlalchemy import select

    from mobilise.retention.models import Hold, HoldStatus

    with session() as s:
        query = select(Hold).order_by(Hold.id)
        if not all_:
            query = query.where(Hold.status == HoldStatus.PLACED.value)
        rows = [{"reference": h.reference, "kind": h.kind, "status": h.status,
                 "people": ", ".join(h.people or []),
                 "folders": ", ".join(f"{f['person']}:{f['path']}" for f in h.folders or []),
                 "selector": h.selector_yaml, "placed_by": h.placed_by,
                 "placed_at": h.placed_at, "reason": h.reason} for h in s.scalars(query)]
    emit(rows, list(rows[0]) if rows else ["reference"], fmt, title="holds")


@holds_app.command("place")
def holds_place(
    reference: str, kind: str = typer.Option(..., help="litigation, foi, sar, inquiry, complaint"),
    reason: str = typer.Option(...),
    person: list[str] = typer.Option([], help="a person's whole drive (repeatable)"),
    folder: list[str] = typer.Option([], help="PERSON:PATH (repeatable)"),
    select: str | None = typer.Option(None, help="a selector, e.g. '{name: \"*Op Castle*\"}'"),
) -> None:
    """Place a hold: from now on nothing it covers is disposed."""
    folders = []
    for value in folder:
        owner, sep, path = value.partition(":")
        if not sep:
            raise InvalidInput(f"--folder {value!r}: use PERSON:PATH")
        folders.append({"person": owner, "path": path})
    with session() as s:
        holds.place_hold(s, actor(), reference, kind, reason, people=person, folders=folders,
                         selector=select)
    err_console.print(f"hold {reference} placed")


@holds_app.command("release")
def holds_release(reference: str, reason: str = typer.Option(...)) -> None:
    """Release a hold (the files it covered follow their rules again)."""
    with session() as s:
        holds.release_hold(s, actor(), reference, reason)
    err_console.print(f"hold {reference} released")


# --- review --------------------------------------------------------------------------


def _stored_version(s: Session, ref: str | None) -> RuleSetVersion:
    """NAME@VERSION or NAME (its active version) from the database; nothing: the rule set
    in force."""
    if not ref:
        row = active_rule_set(s)
        if row is None:
            raise InvalidInput("no rule set is active: name one with --rules NAME[@VERSION]")
        return row
    name, _, version = ref.partition("@")
    if version and not version.isdigit():
        raise InvalidInput(f"--rules {ref!r}: use NAME@NUMBER")
    return rule_sets.get_version(s, name, int(version) if version else None)


@review_app.command("queue")
def review_queue(
    inventory: str | None = typer.Option(
        None, "--inventory", "-i",
        help="inventory Parquet file(s); default: the latest scan of every drive"),
    rules: str | None = typer.Option(None, "--rules",
                                     help="NAME[@VERSION]; default: the rule set in force"),
    people: People = None, as_of: AsOf = None, person: str | None = None,
    rule: str | None = None,
) -> None:
    """Queue review items for files due for review (held files wait for the release)."""
    from mobilise.migration.review_load import cutover_dates, queue_for_review

    with session() as s:
        row = _stored_version(s, rules)
        if inventory is None:
            count = queue_for_review(s, actor(), settings(), row, _as_of(as_of),
                                     person=person, rule=rule)
        else:
            count = review.queue_reviews(s, actor(), row, _estate(s, inventory, people),
                                         _as_of(as_of), holds.holds_in_force(s),
                                         person=person, rule=rule,
                                         review_days=settings().retention_review_days,
                                         cutovers=cutover_dates(s))
    err_console.print(f"{count} review items queued under {row.name} v{row.version}")


@review_app.command("items")
def review_items(
    status: str | None = typer.Option(
        "open", help="open (pending or escalated), pending, escalated or decided"),
    person: str | None = None, rule: str | None = None,
    decision: str | None = typer.Option(None, help="keep-migrate, keep-archive or dispose"),
    limit: int | None = LimitOption(100),
    offset: int = typer.Option(0, min=0, help="skip this many first"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Review items, filtered (a table shows 100 and says how many match; csv and json
    every one)."""

    def page(n: int, start: int) -> tuple[list[Any], int]:
        listed = review.list_items(s, status=status, person=person, rule=rule,
                                   decision=decision, limit=n, offset=start)
        return listed.items, listed.total

    with session() as s:
        items, total = read_counted_pages(page, offset, rows_wanted(limit, fmt, 100),
                                          page=review.MAX_PAGE)
        rows = [review.item_row(i) for i in items]
    emit(rows, ["id", "person", "path", "size", "rule", "eligible_since", "status",
                "assigned_to", "due_on", "escalated_to", "decision", "justification",
                "decided_by", "decided_at"], fmt, title="review items",
         total=total, offset=offset)


@review_app.command("list")
def review_list(by: str = typer.Option("person", help="person or rule"),
                fmt: FormatOption = Format.TABLE) -> None:
    """Review items awaiting a decision (pending or escalated) per person or per rule."""
    with session() as s:
        rows = review.review_queue(s, by=by)
    emit(rows, [by, "files", "bytes", "escalated"], fmt, title="awaiting review")


@review_app.command("sweep")
def review_sweep(fmt: FormatOption = Format.TABLE) -> None:
    """Remind people whose review deadline is near (once a round) and escalate items past
    it to the person's line manager, or to the records team if they have none."""
    from mobilise.retention.routing import sweep

    with session() as s:
        result = sweep(s, actor(), settings())
    emit([result.as_dict()], ["reminded", "escalated", "to_line_managers", "line_managers",
                              "to_records"], fmt, title="review sweep")


@review_app.command("load")
def review_load(fmt: FormatOption = Format.TABLE) -> None:
    """Review load per migration wave: people and files awaiting review, overdue and
    escalated (files awaiting review block a person's cutover)."""
    from mobilise.migration.review_load import LOAD_COLUMNS, load_rows

    with session() as s:
        rows = load_rows(s)
    emit(rows, ["wave", *LOAD_COLUMNS], fmt, title="review load per wave")


@review_app.command("decide")
def review_decide(
    decision: str = typer.Argument(..., help="keep-migrate, keep-archive or dispose"),
    items: list[int] = typer.Option([], "--item", help="review item id (repeatable)"),
    rule: str | None = typer.Option(None, help="bulk: every pending item of this rule"),
    rules: str | None = typer.Option(
        None, "--rules", help="NAME[@VERSION] for --rule; default: the rule set in force"),
    person: str | None = typer.Option(None, help="with --rule: only this person's items"),
    justification: str = typer.Option(..., help="why: kept in the record of the decision"),
) -> None:
    """Decide review items, one by one or in bulk by rule."""
    with session() as s:
        if rule is not None:
            row = _stored_version(s, rules)
            done = review.decide_rule(s, actor(), row, rule, decision, justification,
                                      person=person)
        elif items:
            done = review.decide(s, actor(), items, decision, justification)
        else:
            raise InvalidInput("name the items (--item ID) or a rule (--rule ID)")
    err_console.print(f"{len(done)} review items decided: {decision}")


# --- disposal ------------------------------------------------------------------------


@dispose_app.command("propose")
def dispose_propose(inventory: Inventory, rules: str = typer.Option(..., "--rules"),
                    people: People = None, as_of: AsOf = None, person: str | None = None,
                    rule: str | None = None, limit: int | None = None,
                    token: TokenOption = None) -> None:
    """Propose a disposal batch of every file now due (re-read from storage)."""
    with session() as s:
        who = user_actor(s, token)
        name, _, version = rules.partition("@")
        row = rule_sets.get_version(s, name, int(version) if version else None)
        opened = open_inventory(s, inventory, people)
        batch = disposal.propose_batch(s, who, row, opened.estate,
                                       drive_of(s, settings()), _as_of(as_of), person=person,
                                       rule=rule, limit=limit, raw_paths=opened.raw_paths)
        err_console.print(f"batch {batch.id} proposed: {len(batch.items)} files, "
                          f"{sum(i.size for i in batch.items)} bytes; another records "
                          "manager must approve it")


@dispose_app.command("approve")
def dispose_approve(batch: int, reason: str | None = typer.Option(None),
                    token: TokenOption = None) -> None:
    """Approve a batch (not one you proposed): as the Mobilise user of --token."""
    with session() as s:
        disposal.approve_batch(s, user_actor(s, token), batch, reason=reason)
    err_console.print(f"batch {batch} approved")


@dispose_app.command("execute")
def dispose_execute(batch: int, token: TokenOption = None) -> None:
    """Delete the batch's files, each re-checked first (holds, size, time, SHA-256)."""
    with session() as s:
        done = disposal.execute_batch(s, user_actor(s, token), batch, drive_of(s, settings()))
        err_console.print(f"batch {batch}: {done.deleted_files} deleted "
                          f"({done.deleted_bytes} bytes), {done.skipped_files} skipped")


@dispose_app.command("cancel")
def dispose_cancel(batch: int, reason: str = typer.Option(...),
                   token: TokenOption = None) -> None:
    with session() as s:
        disposal.cancel_batch(s, user_actor(s, token), batch, reason)
    err_console.print(f"batch {batch} cancelled")


@dispose_app.command("list")
def dispose_list(status: str | None = None, fmt: FormatOption = Format.TABLE) -> None:
    with session() as s:
        rows: list[dict[str, Any]] = [
            {"batch": b.id, "status": b.status, "files": len(b.items),
             "proposed_by": b.proposed_by, "approved_by": b.approved_by,
             "executed_by": b.executed_by, "deleted": b.deleted_files,
             "skipped": b.skipped_files} for b in disposal.batches(s, status)]
    emit(rows, ["batch", "status", "files", "proposed_by", "approved_by", "executed_by",
                "deleted", "skipped"], fmt, title="disposal batches")


@app.command()
def certificate(batch: int, out: Path = typer.Option(Path("."), help="folder to write to")
                ) -> None:
    """Write the certificate of an executed batch as HTML and CSV."""
    out.mkdir(parents=True, exist_ok=True)
    with session() as s:
        html = disposal.certificate_html(s, batch, settings().organisation)
        text = disposal.certificate_csv(s, batch)
    (out / f"disposal-certificate-{batch}.html").write_text(html, encoding="utf-8")
    (out / f"disposal-certificate-{batch}.csv").write_text(text, encoding="utf-8")
    err_console.print(f"written {out / f'disposal-certificate-{batch}'}.html and .csv")
