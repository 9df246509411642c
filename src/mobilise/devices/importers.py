"""Column map and row checks for supplier delivery manifests (CSV or XLSX)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mobilise.core.importer import Column, ImportSpec, parse_date
from mobilise.devices.identifiers import parse_iccid, parse_imei, parse_msisdn


@dataclass(frozen=True)
class Registered:
    """What is already in the register, so that each row is checked against it in the
    same pass as its check digits (the operator sees every problem at once)."""

    imeis: frozenset[str]
    serials: frozenset[str]
    iccids: frozenset[str]
    asset_tags: frozenset[str]


def _serial(text: str) -> str:
    value = text.strip().upper()
    if not value.isalnum() or len(value) > 40:
        raise ValueError(f"serial number {text!r} must be letters and digits, at most 40")
    return value


def manifest_spec(models: Mapping[str, int], registered: Registered) -> ImportSpec:
    """``models`` maps a folded model code or name to the catalogue id."""

    def check(values: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        if values["model"].strip().lower() not in models:
            problems.append(("model", f"unknown model {values['model']!r}: add it to the "
                                      "catalogue (mobilise devices models add)"))
        for key in ("imei", "imei2"):
            if values.get(key) and values[key] in registered.imeis:
                problems.append((key, f"{key.upper()} {values[key]} is already registered"))
        if values.get("imei2") and values["imei2"] == values["imei"]:
            problems.append(("imei2", "IMEI2 is the same as IMEI"))
        for key, known, what in (("serial", registered.serials, "serial number"),
                                 ("iccid", registered.iccids, "ICCID"),
                                 ("asset_tag", registered.asset_tags, "asset tag")):
            if values.get(key) and values[key] in known:
                problems.append((key, f"{what} {values[key]} is already registered"))
        return problems

    return ImportSpec(
        name="delivery manifest",
        columns=(
            Column("purchase_order", ("po", "po number", "purchase order", "order number",
                                      "order")),
            Column("imei", ("imei1", "imei 1", "imei/meid"), parse_imei),
            Column("imei2", ("imei 2", "second imei"), parse_imei, required=False),
            Column("serial", ("serial number", "serial no", "sn"), _serial),
            Column("model", ("model code", "model number", "device model")),
            Column("iccid", ("sim", "sim iccid", "iccid number"), parse_iccid, required=False),
            Column("msisdn", ("mobile number", "phone number"), parse_msisdn, required=False),
            Column("asset_tag", ("asset", "asset number"), required=False),
            Column("purchase_date", ("delivery date", "invoice date"), parse_date,
                   required=False),
            Column("carrier", ("network", "network operator", "sim carrier"),
                   required=False),
        ),
        unique=("imei", "imei2", "serial", "iccid", "msisdn", "asset_tag"),
        row_check=check,
    )


def folded_models(rows: list[tuple[int, str, str]]) -> dict[str, int]:
    """Accept a model by its code or its name, in any case."""
    out: dict[str, int] = {}
    for model_id, code, name in rows:
        out[code.strip().lower()] = model_id
        out.setdefault(name.strip().lower(), model_id)
    return out

