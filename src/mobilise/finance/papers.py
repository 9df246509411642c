"""The two decision papers' approved money, as the figures the papers state.

PCD 1322 (Smartphone Rollout, signed 31/10/2022 by the Deputy Mayor for Policing and
Crime): capital £8.6m (£8.2m in 2022/23, £0.4m in 2023/24); revenue support £0.8m in
2022/23 rising to £3m a year from 2023/24; refresh capital £3m in 2024/25 and £9m in
2025/26. The paper sets no end to the £3m a year, so it is recorded as open-ended: £3m
every year from 2023/24, projected over whatever years a report covers.

The OneDrive migration paper ("Delivery of modern management of end user devices", 2025):
capital £0.830m in 2025/26. The published paper carries no decision reference or date
(it asks for a decision by the end of May 2025), so both are recorded as not yet known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from mobilise.finance.models import BudgetType, FundingKind, Programme, Purpose
from mobilise.finance.money import parse_pounds


@dataclass(frozen=True)
class EnvelopeFigure:
    year: int
    budget: BudgetType
    purpose: Purpose
    amount_pence: int
    open_ended: bool = False  # the amount every year from ``year``, no end year


@dataclass(frozen=True)
class FundingFigure:
    kind: FundingKind
    description: str
    year: int | None = None  # the year it applies to (or from), when the paper says
    amount_pence: int | None = None  # None: the paper names the source, not the amount
    source: str = ""


@dataclass(frozen=True)
class DecisionPaper:
    reference: str
    title: str
    decided_on: date | None
    approver: str
    programme: Programme
    envelopes: tuple[EnvelopeFigure, ...] = field(default=())
    notes: str | None = None
    funding: tuple[FundingFigure, ...] = field(default=())


CAPITAL, REVENUE = BudgetType.CAPITAL, BudgetType.REVENUE
DELIVERY, REFRESH = Purpose.DELIVERY, Purpose.REFRESH

PCD_1322 = DecisionPaper(
    reference="PCD 1322",
    title="Smartphone Rollout: procurement, staging and on-boarding of 29,737 smartphones",
    decided_on=date(2022, 10, 31),
    approver="Deputy Mayor for Policing and Crime",
    programme=Programme.ROLLOUT,
    envelopes=(
        EnvelopeFigure(2022, CAPITAL, DELIVERY, parse_pounds("8.2m")),
        EnvelopeFigure(2023, CAPITAL, DELIVERY, parse_pounds("0.4m")),
        EnvelopeFigure(2022, REVENUE, DELIVERY, parse_pounds("0.8m")),
        EnvelopeFigure(2023, REVENUE, DELIVERY, parse_pounds("3m"), open_ended=True),
        EnvelopeFigure(2024, CAPITAL, REFRESH, parse_pounds("3m")),
        EnvelopeFigure(2025, CAPITAL, REFRESH, parse_pounds("9m")),
    ),
    notes="Revenue support is £3m a year from 2023/24 with no end year in the paper: "
          "recorded as open-ended.",
    funding=(
        FundingFigure(FundingKind.UNDERSPEND, "the 2022/23 underspend", 2022,
                      source="PCD 1322, 3.2 (funded in part from; no amount stated)"),
        FundingFigure(FundingKind.REALLOCATION, "a reallocation of existing budgets",
                      source="PCD 1322, 3.2 (funded in part from; no amount stated)"),
        FundingFigure(FundingKind.CAPITAL_PROGRAMME,
                      "additions to the Capital Programme in future years", 2023,
                      source="PCD 1322, 3.2 (funded in part from; no amount stated)"),
    ),
)

ONEDRIVE_2025 = DecisionPaper(
    reference="OneDrive Migration 2025",
    title="Delivery of modern management of end user devices: H: drive to OneDrive "
          "migration, retention rules and business change",
    decided_on=None,
    approver="Deputy Mayor for Policing and Crime",
    programme=Programme.MIGRATION,
    envelopes=(EnvelopeFigure(2025, CAPITAL, DELIVERY, parse_pounds("0.830m")),),
    notes="The published paper has no decision reference or date; it asks for a decision "
          "by the end of May 2025.",
)

PAPERS = (PCD_1322, ONEDRIVE_2025)
