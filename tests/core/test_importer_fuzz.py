"""Whatever bytes arrive, an import answers with rows or with ImportRejected naming a
file, line and column; it never fails any other way."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobilise.core.errors import ImportRejected
from mobilise.core.importer import read_rows
from mobilise.people.importers import roster_spec

SPEC = roster_spec({"CE", "NW"}, {"CE-01"})
HEADER = ("number,first_name,last_name,upn,email,kind,rank,org_unit,site,status,left_on,"
          "eligible\n")
cell = st.one_of(st.text(max_size=12), st.sampled_from(
    ["CE", "officer", "staff", "a@b.cd", "yes", "2024-02-29", "31/03/2023", "", "=1+1", '"']))
row = st.lists(cell, min_size=0, max_size=14).map(lambda cells: ",".join(cells))


def _check(data: bytes, suffix: str = ".csv") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"roster{suffix}"
        path.write_bytes(data)
        try:
            rows = read_rows(path, SPEC)
        except ImportRejected as err:
            assert err.problems
            for p in err.problems:
                assert p.file == str(path) and p.line >= 1 and p.column >= 1
            return
        assert all(r.values["org_unit"] in {"CE", "NW"} for r in rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, max_size=6))
def test_random_rosters(rows: list[str]) -> None:
    _check((HEADER + "\n".join(rows)).encode("utf-8"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _check(HEADER.encode() + data)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_as_xlsx(data: bytes) -> None:
    _check(data, ".xlsx")
