"""Approval thresholds on commitments, each dated.

Two rules: contracts at or over the Public Contracts Regulations 2015 threshold (inclusive
of VAT) must be procured under the Regulations, and the Deputy Mayor for Policing and
Crime approves going to tender for contracts of £500,000 or more (MOPAC Scheme of
Delegation and Consent, paragraph 4.13). The PCR threshold is revised every two years, so
the two papers cite different figures: PCD 1322 (October 2022) £213,477, in force from
1 January 2022; the 2025 OneDrive paper £214,904, in force from 1 January 2024. Each rule's
thresholds are kept by the day they take effect (``finance_threshold``); a commitment is
held to the threshold in force on its own date. Before a rule's first recorded threshold
(or with none recorded) the setting (``procurement_threshold``, ``delegation_limit``)
applies, and the answer says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.errors import InvalidInput
from mobilise.core.settings import Settings
from mobilise.finance.models import Decision, SpendKind, SpendLine, Threshold, ThresholdRule
from mobilise.finance.money import format_pounds, pounds
from mobilise.finance.years import FinancialYear

NEEDS = {
    ThresholdRule.PROCUREMENT: "procurement under the Public Contracts Regulations 2015",
    ThresholdRule.DELEGATION: "Deputy Mayor for Policing and Crime approval "
                              "(Scheme of Delegation 4.13)",
}


@dataclass(frozen=True)
class Rule:
    name: str
    threshold_pence: int
    needs: str
    source: str = "setting"


@dataclass(frozen=True)
class DatedThreshold:
    rule: str
    effective_from: date
    amount_pence: int
    source: str


# The thresholds the two decision papers cite, with the day each took effect.
PAPER_THRESHOLDS = (
    DatedThreshold("procurement", date(2022, 1, 1), pounds(213_477),
                   "PCD 1322, legal comments 4.1 (PCR 2015 threshold from 1 January 2022)"),
    DatedThreshold("procurement", date(2024, 1, 1), pounds(214_904),
                   "OneDrive migration paper 2025, legal comments (PCR 2015 threshold from "
                   "1 January 2024)"),
    DatedThreshold("delegation", date(2022, 1, 1), pounds(500_000),
                   "MOPAC Scheme of Delegation and Consent 4.13, cited by PCD 1322"),
)


def _settings_rule(settings: Settings, rule: ThresholdRule) -> Rule:
    name = ("procurement_threshold" if rule is ThresholdRule.PROCUREMENT
            else "delegation_limit")
    return Rule(rule.value, pounds(getattr(settings, name)), NEEDS[rule], f"setting {name}")


def dated(session: Session) -> list[Threshold]:
    return list(session.scalars(select(Threshold).order_by(Threshold.rule,
                                                           Threshold.effective_from)))


def rules_on(table: list[Threshold], settings: Settings, day: date) -> list[Rule]:
    """Each rule's threshold in force on ``day``: the latest taking effect on or before it."""
    out = []
    for rule in ThresholdRule:
        in_force = [t for t in table if t.rule == rule.value and t.effective_from <= day]
        if in_force:
            t = in_force[-1]
            out.append(Rule(rule.value, t.amount_pence, NEEDS[rule],
                            f"{t.source}, in force from {t.effective_from:%d %B %Y}"))
        else:
            out.append(_settings_rule(settings, rule))
    return out


def rules(settings: Settings) -> list[Rule]:
    """The settings' thresholds alone (no dated thresholds recorded)."""
    return [_settings_rule(settings, rule) for rule in ThresholdRule]


def flagged_commitments(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every purchase order at or over a threshold in force on its date, with every approval
    it needs and the approval reference recorded against it (or none: that is the risk to
    report)."""
    table = dated(session)
    lowest = min([t.amount_pence for t in table]
                 + [r.threshold_pence for r in rules(settings)])
    stmt = (select(SpendLine, Decision.reference)
            .join(Decision, SpendLine.decision_id == Decision.id)
            .where(SpendLine.kind == SpendKind.ORDER.value,
                   SpendLine.amount_pence >= lowest)
            .order_by(SpendLine.amount_pence.desc(), SpendLine.reference))
    out = []
    for order, decision in session.execute(stmt).all():
        met = [r for r in rules_on(table, settings, order.dated)
               if order.amount_pence >= r.threshold_pence]
        if not met:
            continue
        out.append({
            "reference": order.reference, "dated": order.dated, "supplier": order.supplier,
            "decision": decision, "year": FinancialYear(order.year).label,
            "amount_pence": order.amount_pence,
            "thresholds": ", ".join(r.name for r in met),
            "needs": "; ".join(r.needs for r in met),
            "in_force": "; ".join(f"{r.name} {format_pounds(r.threshold_pence)} ({r.source})"
                                  for r in met),
            "approval": order.approval,
            "approval_recorded": bool(order.approval and order.approval.strip()),
        })
    return out


def record_threshold(session: Session, actor: Actor, item: DatedThreshold, *,
                     reason: str | None = None) -> bool:
    """Add a rule's threshold from a day, or correct it; True when something changed."""
    if item.rule not in {r.value for r in ThresholdRule}:
        raise InvalidInput(f"{item.rule!r} is not a threshold rule (procurement, delegation)")
    if item.amount_pence <= 0:
        raise InvalidInput("a threshold must be more than zero")
    found = session.scalar(select(Threshold).where(Threshold.rule == item.rule,
                                                   Threshold.effective_from
                                                   == item.effective_from))
    if found is None:
        audit.create(session, actor, "threshold.add",
                     Threshold(rule=item.rule, effective_from=item.effective_from,
                               amount_pence=item.amount_pence, source=item.source),
                     reason=reason)
        session.flush()
        return True
    if (found.amount_pence, found.source) == (item.amount_pence, item.source):
        return False
    with audit.change(session, actor, "threshold.update", found, reason=reason):
        found.amount_pence, found.source = item.amount_pence, item.source
    session.flush()
    return True


def threshold_rows(session: Session) -> list[dict[str, Any]]:
    return [{"rule": t.rule, "effective_from": t.effective_from,
             "amount_pence": t.amount_pence, "source": t.source} for t in dated(session)]


THRESHOLD_COLUMNS = ["reference", "dated", "supplier", "decision", "year", "amount",
                     "thresholds", "in_force", "needs", "approval"]
DATED_COLUMNS = ["rule", "effective_from", "amount", "source"]
