"""The decisions register: record a decision with its envelopes, import envelopes from a
file, list and find decisions. Re-recording a decision reconciles it (audited), so loading
the papers twice changes nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.errors import FileProblem, ImportRejected, NotFound
from mobilise.core.importer import Row, read_rows
from mobilise.finance.importers import ENVELOPES
from mobilise.finance.models import (
    BudgetType,
    Decision,
    Envelope,
    FundingSource,
    Programme,
    Purpose,
)
from mobilise.finance.money import format_millions
from mobilise.finance.papers import PAPERS, DecisionPaper, EnvelopeFigure
from mobilise.finance.thresholds import PAPER_THRESHOLDS, record_threshold
from mobilise.finance.years import FinancialYear


@dataclass
class Recorded:
    decisions_added: int = 0
    decisions_changed: int = 0
    envelopes_added: int = 0
    envelopes_changed: int = 0

    def merge(self, other: Recorded) -> None:
        self.decisions_added += other.decisions_added
        self.decisions_changed += other.decisions_changed
        self.envelopes_added += other.envelopes_added
        self.envelopes_changed += other.envelopes_changed


def record_decision(session: Session, actor: Actor, paper: DecisionPaper,
                    *, reason: str | None = None) -> Recorded:
    """Add the decision, or bring it and its envelopes in line with ``paper``.

    Envelopes the paper does not mention are left alone: an envelope import may add years
    one at a time."""
    out = Recorded()
    decision = session.scalar(select(Decision).where(Decision.reference == paper.reference))
    wanted = {"title": paper.title, "decided_on": paper.decided_on, "approver": paper.approver,
              "programme": paper.programme.value, "notes": paper.notes}
    if decision is None:
        decision = Decision(reference=paper.reference, **wanted)
        audit.create(session, actor, "decision.add", decision, reason=reason)
        session.flush()
        out.decisions_added += 1
    elif any(getattr(decision, name) != v for name, v in wanted.items()):
        with audit.change(session, actor, "decision.update", decision, reason=reason):
            for name, value in wanted.items():
                setattr(decision, name, value)
        out.decisions_changed += 1
    existing = {(e.year, e.budget, e.purpose): e for e in session.scalars(
        select(Envelope).where(Envelope.decision_id == decision.id))}
    for figure in paper.envelopes:
        key = (figure.year, figure.budget.value, figure.purpose.value)
        envelope = existing.get(key)
        if envelope is None:
            audit.create(session, actor, "envelope.add", Envelope(
                decision_id=decision.id, year=figure.year, budget=figure.budget.value,
                purpose=figure.purpose.value, amount_pence=figure.amount_pence,
                open_ended=figure.open_ended), reason=reason)
            out.envelopes_added += 1
        elif (envelope.amount_pence, envelope.open_ended) != (figure.amount_pence,
                                                              figure.open_ended):
            with audit.change(session, actor, "envelope.update", envelope, reason=reason):
                envelope.amount_pence = figure.amount_pence
                envelope.open_ended = figure.open_ended
            out.envelopes_changed += 1
        if figure.open_ended:
            out.envelopes_changed += _fold_into_open_ended(session, actor, figure,
                                                           existing.values(), reason)
    _record_funding(session, actor, decision, paper, reason)
    session.flush()
    return out


def _fold_into_open_ended(session: Session, actor: Actor, figure: EnvelopeFigure,
                          existing: Iterable[Envelope], reason: str | None) -> int:
    """Later years recorded one by one at the open-ended amount (as the papers were once
    loaded, four years of £3m) are that envelope's own years now: removed, audited."""
    folded = [e for e in existing if not e.open_ended and e.year > figure.year
              and (e.budget, e.purpose) == (figure.budget.value, figure.purpose.value)
              and e.amount_pence == figure.amount_pence]
    for envelope in folded:
        audit.delete(session, actor, "envelope.fold", envelope,
                     reason=reason or "into the open-ended envelope")
    return len(folded)


def _record_funding(session: Session, actor: Actor, decision: Decision, paper: DecisionPaper,
                    reason: str | None) -> None:
    """The funding sources the paper names, added or brought in line (others left)."""
    existing = {f.kind: f for f in session.scalars(
        select(FundingSource).where(FundingSource.decision_id == decision.id))}
    for figure in paper.funding:
        wanted = {"description": figure.description, "year": figure.year,
                  "amount_pence": figure.amount_pence, "source": figure.source}
        found = existing.get(figure.kind.value)
        if found is None:
            audit.create(session, actor, "funding.add", FundingSource(
                decision_id=decision.id, kind=figure.kind.value, **wanted), reason=reason)
        elif any(getattr(found, k) != v for k, v in wanted.items()):
            with audit.change(session, actor, "funding.update", found, reason=reason):
                for k, v in wanted.items():
                    setattr(found, k, v)


def funding_rows(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Decision.reference, FundingSource)
        .join(FundingSource, FundingSource.decision_id == Decision.id)
        .order_by(Decision.reference, FundingSource.kind)).all()
    return [{"decision": ref, "kind": f.kind, "description": f.description,
             "year": FinancialYear(f.year).label if f.year is not None else None,
             "amount_pence": f.amount_pence,
             "amount_stated": f.amount_pence is not None, "source": f.source}
            for ref, f in rows]


FUNDING_COLUMNS = ["decision", "kind", "description", "year", "amount", "source"]


def record_papers(session: Session, actor: Actor, *, reason: str = "decision paper"
                  ) -> tuple[dict[str, Recorded], int]:
    """Both decision papers (their money and funding) and the thresholds they cite; the
    number of thresholds added or changed."""
    done = {paper.reference: record_decision(session, actor, paper, reason=reason)
            for paper in PAPERS}
    changed = sum(record_threshold(session, actor, t, reason=reason) for t in PAPER_THRESHOLDS)
    return done, changed


def import_envelopes(session: Session, actor: Actor, path: Path) -> Recorded:
    """One row per envelope; decision details repeat on each row and must agree."""
    rows = read_rows(path, ENVELOPES)
    papers = _papers_from_rows(path, rows)
    out = Recorded()
    for paper in papers:
        out.merge(record_decision(session, actor, paper, reason=f"envelopes {path.name}"))
    return out


def _papers_from_rows(path: Path, rows: list[Row]) -> list[DecisionPaper]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.values["decision"]].append(row)
    problems: list[FileProblem] = []
    papers = []
    seen: dict[tuple[str, int, str, str], int] = {}
    for reference, group in grouped.items():
        first = group[0]
        for row in group:
            for key in ("title", "decided_on", "approver", "programme"):
                if row.values[key] != first.values[key]:
                    problems.append(FileProblem(
                        str(path), row.line, row.columns.get(key, 1),
                        f"{key} of {reference!r} differs from line {first.line}"))
            key4 = (reference, row.values["year"].start_year, row.values["budget"],
                    row.values["purpose"])
            if key4 in seen:
                problems.append(FileProblem(str(path), row.line, row.columns.get("year", 1),
                                            f"the same envelope is on line {seen[key4]}"))
            seen[key4] = row.line
        v = first.values
        papers.append(DecisionPaper(
            reference=reference, title=v["title"], decided_on=v["decided_on"],
            approver=v["approver"], programme=Programme(v["programme"]),
            envelopes=tuple(EnvelopeFigure(r.values["year"].start_year,
                                           BudgetType(r.values["budget"]),
                                           Purpose(r.values["purpose"]),
                                           r.values["amount"], r.values["open_ended"])
                            for r in group),
            notes=v["notes"]))
    if problems:
        raise ImportRejected(problems)
    return papers


def list_decisions(session: Session) -> list[Decision]:
    return list(session.scalars(select(Decision).options(selectinload(Decision.envelopes))
                                .order_by(Decision.decided_on.is_(None), Decision.decided_on,
                                          Decision.reference)))


def get_decision(session: Session, reference: str) -> Decision:
    decision = session.scalar(select(Decision).options(selectinload(Decision.envelopes))
                              .where(Decision.reference == reference.strip()))
    if decision is None:
        raise NotFound(f"no decision {reference!r}")
    return decision


def decision_row(decision: Decision) -> dict[str, Any]:
    """Capital and revenue over the envelopes with a year; open-ended ones (no end year,
    so no total) as their yearly amounts, described."""
    fixed = [e for e in decision.envelopes if not e.open_ended]
    capital = sum(e.amount_pence for e in fixed if e.budget == "capital")
    revenue = sum(e.amount_pence for e in fixed if e.budget == "revenue")
    yearly = [f"{e.budget} {format_millions(e.amount_pence)} a year from "
              f"{FinancialYear(e.year).label}, no end year"
              for e in decision.envelopes if e.open_ended]
    return {"reference": decision.reference, "title": decision.title,
            "decided_on": decision.decided_on, "approver": decision.approver,
            "programme": decision.programme, "capital_pence": capital,
            "revenue_pence": revenue, "open_ended": "; ".join(yearly), "notes": decision.notes}


def envelope_rows(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Decision.reference, Envelope.year, Envelope.budget, Envelope.purpose,
               Envelope.amount_pence, Envelope.open_ended)
        .join(Decision, Envelope.decision_id == Decision.id)
        .order_by(Decision.reference, Envelope.year, Envelope.budget, Envelope.purpose)).all()
    return [{"decision": d, "year": FinancialYear(y).label,
             "budget": b, "purpose": p, "amount_pence": a, "open_ended": o,
             "per": "a year, no end year" if o else "the year"}
            for d, y, b, p, a, o in rows]


DECISION_COLUMNS = ["reference", "title", "decided_on", "approver", "programme", "capital",
                    "revenue", "open_ended"]
ENVELOPE_COLUMNS = ["decision", "year", "budget", "purpose", "amount", "per"]
