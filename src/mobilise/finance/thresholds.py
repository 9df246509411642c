"""Approval thresholds on commitments.

Two rules from PCD 1322: contracts of £213,477 or more (inclusive of VAT) must be
procured under the Public Contracts Regulations 2015, and the Deputy Mayor for Policing
and Crime approves going to tender for contracts of £500,000 or more (MOPAC Scheme of
Delegation and Consent, paragraph 4.13). Both figures are settings because the PCR
threshold is revised every two years (the 2025 paper quotes £214,904).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.settings import Settings
from mobilise.finance.models import Decision, SpendKind, SpendLine
from mobilise.finance.money import pounds
from mobilise.finance.years import FinancialYear


@dataclass(frozen=True)
class Rule:
    name: str
    threshold_pence: int
    needs: str


def rules(settings: Settings) -> list[Rule]:
    return [
        Rule("procurement", pounds(settings.procurement_threshold),
             "procurement under the Public Contracts Regulations 2015"),
        Rule("delegation", pounds(settings.delegation_limit),
             "Deputy Mayor for Policing and Crime approval (Scheme of Delegation 4.13)"),
    ]


def flagged_commitments(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every purchase order at or over a threshold, with every approval it needs and the
    approval reference recorded against it (or none: that is the risk to report)."""
    active = rules(settings)
    lowest = min(rule.threshold_pence for rule in active)
    stmt = (select(SpendLine, Decision.reference)
            .join(Decision, SpendLine.decision_id == Decision.id)
            .where(SpendLine.kind == SpendKind.ORDER.value,
                   SpendLine.amount_pence >= lowest)
            .order_by(SpendLine.amount_pence.desc(), SpendLine.reference))
    out = []
    for order, decision in session.execute(stmt).all():
        met = [rule for rule in active if order.amount_pence >= rule.threshold_pence]
        out.append({
            "reference": order.reference, "dated": order.dated, "supplier": order.supplier,
            "decision": decision, "year": FinancialYear(order.year).label,
            "amount_pence": order.amount_pence,
            "thresholds": ", ".join(rule.name for rule in met),
            "needs": "; ".join(rule.needs for rule in met),
            "approval": order.approval,
            "approval_recorded": bool(order.approval and order.approval.strip()),
        })
    return out


THRESHOLD_COLUMNS = ["reference", "dated", "supplier", "decision", "year", "amount",
                     "thresholds", "needs", "approval"]
