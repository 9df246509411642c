from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobilise.core.output import neutralise, render
from mobilise.core.settings import Settings


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    out = render([{"a": cell}], ["a"], "csv")
    assert out.splitlines()[1].lstrip('"').startswith("'")


def test_plain_values_are_untouched() -> None:
    assert neutralise("Smith") == "Smith"
    assert neutralise(-5) == -5
    assert json.loads(render([{"a": 1, "b": None}], ["a", "b"], "json")) == [{"a": 1, "b": None}]


def test_settings_from_toml_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "mobilise.toml"
    toml.write_text('organisation = "Toml Police"\nmdm_capacity = 123\n'
                    'database_url = "postgresql+psycopg://app:hunter2@db/mobilise"\n')
    monkeypatch.setenv("MOBILISE_CONFIG", str(toml))
    monkeypatch.setenv("MOBILISE_MDM_CAPACITY", "456")
    s = Settings()
    assert s.organisation == "Toml Police"
    assert s.mdm_capacity == 456
    masked = s.masked()
    assert masked["database_url"] == "postgresql+psycopg://app:********@db/mobilise"
    assert masked["secret_key"] == "********"
    assert "hunter2" not in json.dumps(masked)
