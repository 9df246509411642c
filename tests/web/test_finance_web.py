"""The finance API and pages over HTTP, in-process."""

from __future__ import annotations

from pathlib import Path

from mobilise.core.db import session_scope
from mobilise.finance.decisions import record_papers
from tests.factories import ADMIN, write_csv
from tests.finance.conftest import SPEND_HEADER
from tests.web.conftest import Web

ROWS = [["order", "PO-1", "2022-11-02", "Northwind", "", "PCD 1322", "capital", "", "",
         "600000", "", ""],
        ["invoice", "INV-1", "2023-01-15", "Northwind", "", "PCD 1322", "capital", "", "",
         "250000", "PO-1", ""]]


def _load_papers(web: Web) -> None:
    with session_scope(web.settings) as s:
        record_papers(s, ADMIN)


def test_spend_import_over_api_is_all_or_nothing(web: Web, tmp_path: Path) -> None:
    _load_papers(web)
    bad = write_csv(tmp_path / "bad.csv", SPEND_HEADER,
                    [*ROWS, ["invoice", "INV-2", "2023-02-30", "Northwind", "", "PCD 1322",
                             "capital", "", "", "1", "PO-1", ""]])
    with bad.open("rb") as fh:
        r = web.client.post("/api/v1/finance/spend/import", headers=web.as_("programme"),
                            files={"file": ("bad.csv", fh, "text/csv")})
    assert r.status_code == 422
    assert r.json()["errors"] == ["bad.csv:4:3: dated: '2023-02-30' is not a date "
                                  "(YYYY-MM-DD or DD/MM/YYYY)"]
    spend = web.client.get("/api/v1/finance/spend", headers=web.as_("viewer")).json()
    assert spend["total"] == 0
    good = write_csv(tmp_path / "good.csv", SPEND_HEADER, ROWS)
    with good.open("rb") as fh:
        r = web.client.post("/api/v1/finance/spend/import", headers=web.as_("programme"),
                            files={"file": ("good.csv", fh, "text/csv")})
    assert r.status_code == 200 and r.json()["added"] == ["order PO-1", "invoice INV-1"]
    with good.open("rb") as fh:
        denied = web.client.post("/api/v1/finance/spend/import", headers=web.as_("viewer"),
                                 files={"file": ("good.csv", fh, "text/csv")})
    assert denied.status_code == 403


def test_variance_thresholds_and_board_over_api(web: Web, tmp_path: Path) -> None:
    _load_papers(web)
    good = write_csv(tmp_path / "good.csv", SPEND_HEADER, ROWS)
    with good.open("rb") as fh:
        web.client.post("/api/v1/finance/spend/import", headers=web.as_("programme"),
                        files={"file": ("good.csv", fh, "text/csv")})
    viewer = web.as_("viewer")
    rows = web.client.get("/api/v1/finance/variance", headers=viewer).json()
    cap = next(r for r in rows if r["year"] == "2022/23" and r["budget"] == "capital")
    assert cap["envelope"] == "8200000.00" and cap["actual"] == "250000.00"
    assert cap["forecast"] == "600000.00" and cap["variance"] == "7600000.00"
    flagged = web.client.get("/api/v1/finance/thresholds", headers=viewer).json()
    assert [(f["reference"], f["thresholds"]) for f in flagged] == [
        ("PO-1", "procurement, delegation")]
    decisions = web.client.get("/api/v1/finance/decisions", headers=viewer).json()
    assert [d["reference"] for d in decisions] == ["PCD 1322", "OneDrive Migration 2025"]
    # Revenue of £3m a year from 2023/24 is one open-ended envelope, not four years of it.
    assert len(decisions[0]["envelopes"]) == 6
    assert decisions[0]["open_ended"] == "revenue £3.000m a year from 2023/24, no end year"
    longer = web.client.get("/api/v1/finance/variance?through=2030/31", headers=viewer).json()
    assert {r["year"] for r in longer if r["budget"] == "revenue"} >= {"2030/31"}
    bad = web.client.get("/api/v1/finance/variance?through=soon", headers=viewer)
    assert bad.status_code == 422
    board = web.client.get("/api/v1/finance/board", headers=viewer).json()
    assert board["totals_pence"]["actual"] == 25_000_000
    assert {w["available"] for w in board["workstreams"]} == {False}
    refresh = web.client.get("/api/v1/finance/refresh?unit_cost=abc", headers=viewer)
    assert refresh.status_code == 422
    page = web.client.get("/reports/board", headers=viewer)
    assert page.status_code == 200 and page.text.count('class="chart-svg"') == 2
    pdf = web.client.get("/reports/board.pdf", headers=viewer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_finance_page_upload_shows_the_bad_line(web: Web, tmp_path: Path) -> None:
    _load_papers(web)
    assert web.login("programme").status_code == 303
    bad = write_csv(tmp_path / "bad.csv", SPEND_HEADER,
                    [ROWS[0], [*ROWS[1][:9], "12.345", "PO-1", ""]])
    with bad.open("rb") as fh:
        r = web.client.post("/finance/spend", data={"csrf_token": web.csrf()},
                            files={"file": ("bad.csv", fh, "text/csv")})
    assert r.status_code == 200
    assert "The spend file was not imported" in r.text
    assert "bad.csv:3:10: amount: &#39;12.345&#39; has fractions of a penny" in r.text
    assert "No decisions recorded yet" not in r.text


def test_funding_sources_and_dated_thresholds_over_api_and_page(web: Web) -> None:
    _load_papers(web)
    viewer = web.as_("viewer")
    funding = web.client.get("/api/v1/finance/funding", headers=viewer).json()
    assert [(f["decision"], f["kind"], f["amount"]) for f in funding] == [
        ("PCD 1322", "capital_programme", None), ("PCD 1322", "reallocation", None),
        ("PCD 1322", "underspend", None)]
    assert next(f for f in funding if f["kind"] == "underspend")["year"] == "2022/23"
    table = web.client.get("/api/v1/finance/threshold-table", headers=viewer).json()
    assert [(t["rule"], t["effective_from"], t["amount"]) for t in table] == [
        ("delegation", "2022-01-01", "500000.00"), ("procurement", "2022-01-01", "213477.00"),
        ("procurement", "2024-01-01", "214904.00")]
    assert web.login("viewer").status_code == 303
    page = web.client.get("/finance").text
    assert "a reallocation of existing budgets" in page and "£214,904.00" in page
