from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mobilise.finance.decisions import record_decision
from mobilise.finance.papers import PAPERS
from tests.factories import ADMIN, write_csv

SPEND_HEADER = ["kind", "reference", "date", "supplier", "description", "decision", "budget",
                "purpose", "year", "amount", "order", "approval"]


@pytest.fixture
def papers(session: Session) -> Session:
    """A session holding both decision papers' envelopes."""
    for paper in PAPERS:
        record_decision(session, ADMIN, paper)
    session.commit()
    return session


def spend_file(tmp: Path, rows: list[list[str]], name: str = "spend.csv") -> Path:
    return write_csv(tmp / name, SPEND_HEADER, rows)
