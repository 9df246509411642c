"""``mobilise finance`` end to end, as a user runs it (a real process on a real database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mobilise.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def mobilise(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOBILISE_DATABASE_URL": settings.database_url,
           "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_papers_spend_variance_thresholds_and_refresh(sqlite_settings: Settings,
                                                     tmp_path: Path) -> None:
    assert mobilise(sqlite_settings, "finance", "load-papers").returncode == 0
    envelopes = json.loads(mobilise(sqlite_settings, "finance", "envelopes", "--decision",
                                    "PCD 1322", "-f", "json").stdout)
    assert {(e["year"], e["budget"], e["purpose"], e["amount"]) for e in envelopes} >= {
        ("2022/23", "capital", "delivery", "8200000.00"),
        ("2025/26", "capital", "refresh", "9000000.00")}
    spend = tmp_path / "spend.csv"
    spend.write_text("kind,reference,date,supplier,decision,budget,amount,order,approval\n"
                     "order,PO-1,2022-11-01,Northwind,PCD 1322,capital,\"250,000\",,\n"
                     "invoice,INV-1,31/03/2023,Northwind,PCD 1322,capital,100000,PO-1,\n",
                     encoding="utf-8")
    dry = mobilise(sqlite_settings, "finance", "import-spend", str(spend), "--dry-run",
                   "-f", "csv")
    assert dry.returncode == 0 and dry.stdout.splitlines() == [
        "change,document", "add,order PO-1", "add,invoice INV-1"]
    assert "would import: 2 added" in dry.stderr
    assert mobilise(sqlite_settings, "finance", "import-spend", str(spend)).returncode == 0
    rows = json.loads(mobilise(sqlite_settings, "finance", "variance", "-f", "json").stdout)
    cap = next(r for r in rows if (r["year"], r["budget"]) == ("2022/23", "capital"))
    assert (cap["committed"], cap["actual"], cap["forecast"], cap["variance"]) == (
        "250000.00", "100000.00", "250000.00", "7950000.00")
    flagged = mobilise(sqlite_settings, "finance", "thresholds", "-f", "csv").stdout
    assert "PO-1" in flagged and "Public Contracts Regulations 2015" in flagged
    assert "Deputy Mayor" not in flagged
    refresh = mobilise(sqlite_settings, "finance", "refresh", "-f", "json")
    assert json.loads(refresh.stdout) == []
    assert "no handset purchase batches imported" in refresh.stderr
    costs = json.loads(mobilise(sqlite_settings, "finance", "unit-costs", "-f", "json").stdout)
    # Each unit cost says what it divides: the spend to date is over handsets issued.
    issued = next(c for c in costs if "per handset issued to date" in json.dumps(c))
    assert issued["spend"] == "£100,000.00"
    assert issued["unit_cost"] == "not yet available"
