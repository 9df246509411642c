"""Importing spend: purchase orders (commitments) and invoices (actuals), each charged to
a decision's envelope for one year, budget type and purpose.

All or nothing: every row is validated (format, known decision, an envelope to charge,
invoices naming a known order of the same decision) before anything is written; a
re-import of the same document updates it (audited) rather than counting it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.errors import FileProblem, ImportRejected
from mobilise.core.importer import Row, read_rows
from mobilise.finance.importers import EnvelopeKey, allocated_year, spend_spec
from mobilise.finance.models import Decision, Envelope, SpendKind, SpendLine
from mobilise.finance.years import FinancialYear

FIELDS = ("dated", "supplier", "description", "decision_id", "year", "budget", "purpose",
          "amount_pence", "order_reference", "approval")


@dataclass
class SpendImport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "changed": len(self.changed),
                "unchanged": self.unchanged}


# Spend may be charged to an open-ended envelope in any year from its start: this far.
OPEN_ENDED_YEARS = 100


def envelope_keys(session: Session) -> set[EnvelopeKey]:
    rows = session.execute(select(Decision.reference, Envelope.year, Envelope.budget,
                                  Envelope.purpose, Envelope.open_ended)
                           .join(Decision, Envelope.decision_id == Decision.id)).all()
    return {(d, year, b, p) for d, y, b, p, open_ended in rows
            for year in (range(y, y + OPEN_ENDED_YEARS) if open_ended else (y,))}


def import_spend(session: Session, actor: Actor, path: Path, *,
                 dry_run: bool = False) -> SpendImport:
    rows = read_rows(path, spend_spec(envelope_keys(session)))
    decisions = {d.reference: d.id for d in session.scalars(select(Decision))}
    existing = {(s.kind, s.reference): s for s in session.scalars(select(SpendLine))}
    _check_documents(path, rows, existing, decisions)
    result = SpendImport()
    for row in rows:
        v = row.values
        wanted = _wanted(v, decisions, path)
        key = (v["kind"], v["reference"])
        line = existing.get(key)
        label = f"{v['kind']} {v['reference']}"
        if line is None:
            result.added.append(label)
            if not dry_run:
                audit.create(session, actor, f"spend.{v['kind']}.add",
                             SpendLine(kind=v["kind"], reference=v["reference"], **wanted),
                             reason=f"spend {path.name}")
        elif any(getattr(line, k) != wanted[k] for k in FIELDS):
            result.changed.append(label)
            if not dry_run:
                with audit.change(session, actor, f"spend.{v['kind']}.update", line,
                                  reason=f"spend {path.name}"):
                    for k in FIELDS:
                        setattr(line, k, wanted[k])
        else:
            result.unchanged += 1
    if not dry_run:
        session.flush()
    return result


def _wanted(v: dict[str, Any], decisions: dict[str, int], path: Path) -> dict[str, Any]:
    return {"dated": v["dated"], "supplier": v["supplier"], "description": v["description"],
            "decision_id": decisions[v["decision"]], "year": allocated_year(v).start_year,
            "budget": v["budget"], "purpose": v["purpose"], "amount_pence": v["amount"],
            "order_reference": v["order"], "approval": v["approval"], "source": path.name}


def _check_documents(path: Path, rows: list[Row],
                     existing: dict[tuple[str, str], SpendLine],
                     decisions: dict[str, int]) -> None:
    """Checks across rows: a document once per file; an invoice draws on a known order
    of the same decision."""
    problems: list[FileProblem] = []
    first_line: dict[tuple[str, str], int] = {}
    orders: dict[str, int] = {ref: s.decision_id for (kind, ref), s in existing.items()
                              if kind == SpendKind.ORDER.value}
    for row in rows:
        v = row.values
        key = (v["kind"], v["reference"].lower())
        if key in first_line:
            problems.append(FileProblem(str(path), row.line, row.columns["reference"],
                                        f"{v['kind']} {v['reference']!r} is also on line "
                                        f"{first_line[key]}"))
        first_line.setdefault(key, row.line)
        if v["kind"] == SpendKind.ORDER.value:
            orders[v["reference"]] = decisions[v["decision"]]
    for row in rows:
        v = row.values
        if v["kind"] != SpendKind.INVOICE.value or not v["order"]:
            continue
        column = row.columns.get("order", 1)
        if v["order"] not in orders:
            problems.append(FileProblem(str(path), row.line, column,
                                        f"unknown purchase order {v['order']!r}"))
        elif orders[v["order"]] != decisions[v["decision"]]:
            problems.append(FileProblem(str(path), row.line, column,
                                        f"purchase order {v['order']!r} belongs to another "
                                        "decision"))
    if problems:
        raise ImportRejected(problems)


def spend_rows(session: Session, kind: str | None = None,
               decision: str | None = None) -> list[dict[str, Any]]:
    stmt = (select(SpendLine, Decision.reference)
            .join(Decision, SpendLine.decision_id == Decision.id)
            .order_by(SpendLine.dated, SpendLine.kind, SpendLine.reference))
    if kind:
        stmt = stmt.where(SpendLine.kind == kind)
    if decision:
        stmt = stmt.where(Decision.reference == decision)
    return [{"kind": s.kind, "reference": s.reference, "dated": s.dated,
             "supplier": s.supplier, "description": s.description, "decision": ref,
             "year": FinancialYear(s.year).label, "budget": s.budget, "purpose": s.purpose,
             "amount_pence": s.amount_pence, "order": s.order_reference,
             "approval": s.approval} for s, ref in session.execute(stmt).all()]


SPEND_COLUMNS = ["kind", "reference", "dated", "supplier", "decision", "year", "budget",
                 "purpose", "amount", "order", "approval"]
