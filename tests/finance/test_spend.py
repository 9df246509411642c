"""Decisions, spend import (all or nothing, line-numbered), variance and thresholds."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditEntry
from mobilise.core.errors import ImportRejected, InvalidInput
from mobilise.core.settings import Settings
from mobilise.finance.decisions import envelope_rows, import_envelopes, record_decision
from mobilise.finance.models import BudgetType, Envelope, Purpose, SpendLine
from mobilise.finance.papers import PAPERS, PCD_1322, EnvelopeFigure
from mobilise.finance.spend import envelope_keys, import_spend
from mobilise.finance.thresholds import (
    PAPER_THRESHOLDS,
    DatedThreshold,
    flagged_commitments,
    record_threshold,
    threshold_rows,
)
from mobilise.finance.variance import by_year_and_budget, variance_lines
from mobilise.finance.years import FinancialYear
from tests.factories import ADMIN, write_csv
from tests.finance.conftest import spend_file

GOOD = [
    ["order", "PO-1", "2022-11-02", "Samsung", "A32 handsets", "PCD 1322", "capital",
     "delivery", "", "7,000,000.00", "", "PCD 1322"],
    ["order", "PO-2", "2022-11-10", "Stager Ltd", "staging", "PCD 1322", "capital",
     "delivery", "", "300000", "", ""],
    ["invoice", "INV-1", "2023-01-15", "Samsung", "first delivery", "PCD 1322", "capital",
     "delivery", "", "4000000", "PO-1", ""],
    ["invoice", "INV-2", "2023-03-31", "Samsung", "second delivery", "PCD 1322", "capital",
     "delivery", "", "3,500,000", "PO-1", ""],
    ["invoice", "INV-3", "2023-04-01", "Airtime Co", "airtime April", "PCD 1322", "revenue",
     "delivery", "", "250000.50", "", ""],
]


def test_papers_give_the_approved_envelopes(papers: Session) -> None:
    rows = {(r["decision"], r["year"], r["budget"], r["purpose"]): r["amount_pence"]
            for r in envelope_rows(papers)}
    pcd = "PCD 1322"
    assert rows[(pcd, "2022/23", "capital", "delivery")] == 820_000_000
    assert rows[(pcd, "2023/24", "capital", "delivery")] == 40_000_000
    assert rows[(pcd, "2022/23", "revenue", "delivery")] == 80_000_000
    assert rows[(pcd, "2023/24", "revenue", "delivery")] == 300_000_000
    assert rows[(pcd, "2024/25", "capital", "refresh")] == 300_000_000
    assert rows[(pcd, "2025/26", "capital", "refresh")] == 900_000_000
    assert rows[("OneDrive Migration 2025", "2025/26", "capital", "delivery")] == 83_000_000
    capital_delivery = sum(v for k, v in rows.items() if k[0] == pcd and k[2:] ==
                           ("capital", "delivery"))
    assert capital_delivery == 860_000_000  # the paper's £8.6m
    # Recording the papers again changes nothing and writes no audit entry.
    before = papers.scalar(select(func.count()).select_from(AuditEntry))
    for paper in PAPERS:
        again = record_decision(papers, ADMIN, paper)
        assert again.envelopes_added == again.envelopes_changed == 0
    papers.commit()
    assert papers.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_spend_with_one_bad_line_imports_nothing_and_names_the_line(
        papers: Session, tmp_path: Path) -> None:
    bad = [*GOOD[:3], ["invoice", "INV-2", "2023-03-31", "Samsung", "x", "PCD 1322",
                       "capital", "delivery", "", "3,500,000.005", "PO-1", ""], GOOD[4]]
    path = spend_file(tmp_path, bad)
    with pytest.raises(ImportRejected) as caught:
        import_spend(papers, ADMIN, path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:5:10: amount: '3,500,000.005' has fractions of a penny"]
    papers.rollback()
    assert papers.scalar(select(func.count()).select_from(SpendLine)) == 0


@pytest.mark.parametrize(("row", "column", "message"), [
    (["invoice", "INV-9", "2023-01-01", "S", "", "PCD 9999", "capital", "", "", "1", "", ""],
     6, "unknown decision 'PCD 9999'"),
    (["invoice", "INV-9", "2027-01-01", "S", "", "PCD 1322", "capital", "", "", "1", "", ""],
     7, "PCD 1322 has no capital delivery envelope in 2026/27"),
    (["invoice", "INV-9", "2023-01-01", "S", "", "PCD 1322", "capital", "", "", "1", "PO-X",
      ""], 11, "unknown purchase order 'PO-X'"),
    (["invoice", "INV-1", "2023-01-01", "S", "", "PCD 1322", "capital", "", "", "1", "", ""],
     2, "invoice 'INV-1' is also on line 4"),
    (["order", "PO-9", "31/02/2023", "S", "", "PCD 1322", "capital", "", "", "1", "", ""],
     3, "dated: '31/02/2023' is not a date"),
    (["refund", "R-1", "2023-01-01", "S", "", "PCD 1322", "capital", "", "", "1", "", ""],
     1, "'refund' is not a purchase order or an invoice"),
])
def test_each_kind_of_bad_line_is_named(papers: Session, tmp_path: Path, row: list[str],
                                        column: int, message: str) -> None:
    path = spend_file(tmp_path, [*GOOD, row])
    with pytest.raises(ImportRejected) as caught:
        import_spend(papers, ADMIN, path)
    problems = caught.value.problems
    assert len(problems) == 1
    assert (problems[0].line, problems[0].column) == (7, column)
    assert message in problems[0].message


def test_xlsx_spend_imports_like_csv(papers: Session, tmp_path: Path) -> None:
    from openpyxl import Workbook

    from tests.finance.conftest import SPEND_HEADER

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(SPEND_HEADER)
    for row in GOOD:
        sheet.append(row)
    path = tmp_path / "spend.xlsx"
    book.save(path)
    assert import_spend(papers, ADMIN, path).summary() == {"added": 5, "changed": 0,
                                                          "unchanged": 0}


def test_variance_by_year_and_type(papers: Session, tmp_path: Path) -> None:
    import_spend(papers, ADMIN, spend_file(tmp_path, GOOD))
    papers.commit()
    lines = {(x.decision, x.year, x.budget, x.purpose): x for x in variance_lines(papers)}
    cap = lines[("PCD 1322", 2022, "capital", "delivery")]
    assert cap.envelope == 820_000_000
    assert cap.committed == 730_000_000
    assert cap.actual == 750_000_000  # INV-2 on 31 March stays in 2022/23
    # PO-1 is fully invoiced (over by £0.5m: never negative outstanding); PO-2 not at all.
    assert cap.outstanding == 30_000_000
    assert cap.forecast == 780_000_000
    assert cap.variance == 40_000_000
    rev = lines[("PCD 1322", 2023, "revenue", "delivery")]  # 1 April: the next year
    assert (rev.actual, rev.envelope, rev.variance) == (25_000_050, 300_000_000, 274_999_950)
    totals = {(x.year, x.budget): x for x in by_year_and_budget(list(lines.values()))}
    assert totals[(2025, "capital")].envelope == 900_000_000 + 83_000_000
    # Re-importing the same file counts nothing twice.
    again = import_spend(papers, ADMIN, spend_file(tmp_path, GOOD))
    assert again.summary() == {"added": 0, "changed": 0, "unchanged": 5}


def test_overspend_shows_as_negative_variance(papers: Session, tmp_path: Path) -> None:
    rows = [["invoice", "INV-X", "2025-06-01", "Migrator", "", "OneDrive Migration 2025",
             "capital", "", "2025/26", "900,000", "", ""]]
    import_spend(papers, ADMIN, spend_file(tmp_path, rows))
    line = next(x for x in variance_lines(papers, decision="OneDrive Migration 2025"))
    assert line.variance == -7_000_000


def test_thresholds_flag_commitments_with_the_approval_they_need(
        papers: Session, tmp_path: Path, settings: Settings) -> None:
    rows = [*GOOD,
            ["order", "PO-3", "2022-12-01", "NetMotion", "", "PCD 1322", "capital", "", "",
             "213,477.00", "", ""],
            ["order", "PO-4", "2022-12-01", "Cases", "", "PCD 1322", "capital", "", "",
             "213,476.99", "", ""],
            ["order", "PO-5", "2022-12-01", "Stager Ltd", "", "PCD 1322", "capital", "", "",
             "500,000", "", "DMPC tender approval 2022/117"]]
    import_spend(papers, ADMIN, spend_file(tmp_path, rows))
    flagged = {f["reference"]: f for f in flagged_commitments(papers, settings)}
    assert set(flagged) == {"PO-1", "PO-2", "PO-3", "PO-5"}  # PO-4 is a penny under
    assert flagged["PO-3"]["thresholds"] == "procurement"
    assert "Public Contracts Regulations 2015" in flagged["PO-3"]["needs"]
    assert flagged["PO-5"]["thresholds"] == "procurement, delegation"
    assert "Deputy Mayor" in flagged["PO-5"]["needs"]
    assert flagged["PO-5"]["approval_recorded"] and not flagged["PO-3"]["approval_recorded"]
    lower = settings.model_copy(update={"delegation_limit": 250_000})
    assert "delegation" in {f["reference"]: f for f in
                            flagged_commitments(papers, lower)}["PO-2"]["thresholds"]


def test_envelope_import_is_all_or_nothing(session: Session, tmp_path: Path) -> None:
    header = ["decision", "title", "decided_on", "approver", "programme", "year", "budget",
              "purpose", "amount"]
    good = ["PCD 1322", PCD_1322.title, "2022-10-31", "DMPC", "rollout", "2022/23",
            "capital", "delivery", "8.2m"]
    path = write_csv(tmp_path / "env.csv", header, [
        good, [*good[:5], "2023/24", "capital", "delivery", "0.4m"],
        [*good[:3], "Someone else", "rollout", "2024/25", "capital", "refresh", "3m"]])
    with pytest.raises(ImportRejected) as caught:
        import_envelopes(session, ADMIN, path)
    assert [(p.line, p.column) for p in caught.value.problems] == [(4, 4)]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Envelope)) == 0
    path = write_csv(tmp_path / "env.csv", header, [
        good, [*good[:5], "2023/24", "capital", "delivery", "0.4m"]])
    assert import_envelopes(session, ADMIN, path).envelopes_added == 2


def test_each_commitment_is_held_to_the_threshold_in_force_on_its_date(
        papers: Session, tmp_path: Path, settings: Settings) -> None:
    """The two papers cite £213,477 (from 1 January 2022) and £214,904 (from 1 January
    2024): an order of £214,000 needs PCR procurement in 2023 but not in 2024."""
    assert all(record_threshold(papers, ADMIN, t) for t in PAPER_THRESHOLDS)
    assert not any(record_threshold(papers, ADMIN, t) for t in PAPER_THRESHOLDS)
    with pytest.raises(InvalidInput):
        record_threshold(papers, ADMIN, DatedThreshold("tender", date(2024, 1, 1), 1, "x"))
    rows = [["order", ref, day, "Supplier", "", "PCD 1322", "capital", "", "2023/24", amount,
             "", ""] for ref, day, amount in (("PO-A", "2023-06-01", "214,000"),
                                                ("PO-B", "2024-06-01", "214,000"),
                                                ("PO-C", "2024-06-01", "214,904"))]
    import_spend(papers, ADMIN, spend_file(tmp_path, rows))
    flagged = {f["reference"]: f for f in flagged_commitments(papers, settings)}
    assert set(flagged) == {"PO-A", "PO-C"}
    assert "£213,477.00" in flagged["PO-A"]["in_force"]
    assert "PCD 1322" in flagged["PO-A"]["in_force"]
    assert "£214,904.00" in flagged["PO-C"]["in_force"]
    assert "from 01 January 2024" in flagged["PO-C"]["in_force"]
    rows_shown = threshold_rows(papers)
    assert [(r["rule"], r["effective_from"]) for r in rows_shown] == [
        ("delegation", date(2022, 1, 1)), ("procurement", date(2022, 1, 1)),
        ("procurement", date(2024, 1, 1))]


def test_open_ended_revenue_is_projected_over_the_years_asked(papers: Session) -> None:
    """PCD 1322's "£3m per year from 2023/24" has no end year: one open-ended envelope,
    counted in every year a report covers (by default the latest year anything names:
    2025/26, the refresh capital), and in any later year asked for."""
    [revenue] = [r for r in envelope_rows(papers) if r["open_ended"]]
    assert (revenue["year"], revenue["amount_pence"], revenue["per"]) == (
        "2023/24", 300_000_000, "a year, no end year")

    def revenue_by_year(through: int | None = None) -> dict[str, int]:
        return {FinancialYear(x.year).label: x.envelope
                for x in by_year_and_budget(variance_lines(papers, through=through))
                if x.budget == "revenue"}

    assert revenue_by_year() == {"2022/23": 80_000_000, "2023/24": 300_000_000,
                                 "2024/25": 300_000_000, "2025/26": 300_000_000}
    assert len(revenue_by_year(2030)) == 9 and revenue_by_year(2030)["2030/31"] == 300_000_000
    # Spend may be charged to any year of it.
    assert ("PCD 1322", 2040, "revenue", "delivery") in envelope_keys(papers)


def test_years_once_recorded_one_by_one_fold_into_the_open_ended_envelope(
        session: Session) -> None:
    """A register loaded when four years of £3m were recorded: recording the paper again
    keeps one open-ended envelope (audited), and the years are the same money."""
    old = replace(PCD_1322, envelopes=tuple(
        [e for e in PCD_1322.envelopes if not e.open_ended]
        + [EnvelopeFigure(2023 + n, BudgetType.REVENUE, Purpose.DELIVERY, 300_000_000)
           for n in range(4)]))
    record_decision(session, ADMIN, old)
    done = record_decision(session, ADMIN, PCD_1322)
    assert done.envelopes_changed == 4  # 2023/24 made open-ended, three later years folded
    rows = [r for r in envelope_rows(session) if r["budget"] == "revenue"]
    assert [(r["year"], r["open_ended"]) for r in rows] == [("2022/23", False),
                                                           ("2023/24", True)]
    folds = session.scalar(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "envelope.fold"))
    assert folds == 3
