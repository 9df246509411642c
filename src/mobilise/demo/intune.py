"""Demo step: an Intune tenant in the Graph emulator holding the demo's enrolled handsets
(with the usual untidiness: a few never signed in, one nobody registered), then a sync,
one run of the action sender (at most 150 actions, so the demo never waits on Intune's
write limit), the devices checking in, and a second sync that records the outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from mobilise.core.actor import Actor
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.core.words import counts_text
from mobilise.devices import intune
from mobilise.devices.models import Handset
from mobilise.graph import GraphClient

ACTOR = Actor("demo")
SEND_AT_MOST = 150  # below Intune's 200 writes per 20 s: the demo never waits


def _device(h: Handset, n: int) -> dict[str, Any]:
    staging = n % 50 == 0
    upn = "" if staging or h.holder is None else h.holder.upn
    return {"id": f"md-{h.imei}", "imei": h.imei, "serialNumber": h.serial,
            "deviceName": f"Staging_{h.serial}_demo" if staging else f"{h.serial}_AE",
            # Intune enrolled it when staging did: the register's date, not another.
            "complianceState": "compliant", "enrolledDateTime": _graph_time(h.enrolled_at),
            "lastSyncDateTime": "2026-11-21T07:00:00Z", "osVersion": "14",
            "androidSecurityPatchLevel": "2026-10-01", "userPrincipalName": upn,
            "model": h.model.code, "manufacturer": h.model.manufacturer}


def _graph_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def intune_step(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorProcess

    with session_scope(settings) as s:
        devices = [_device(h, n) for n, h in enumerate(s.scalars(
            select(Handset).options(joinedload(Handset.holder), joinedload(Handset.model))
            .order_by(Handset.id))) if h.intune_id is None and h.enrolled_at is not None]
    devices.append({"id": "md-unregistered", "imei": "356938035643809",
                    "serialNumber": "RZ8DEMO0001", "deviceName": "RZ8DEMO0001_AE"})
    emulator = EmulatorProcess(out_dir / "intune-emulator").start()
    try:
        with emulator.admin() as admin:
            admin.post("/managedDevices", json={"value": devices}).raise_for_status()
        demo = settings.model_copy(update={
            "graph_url": emulator.graph_url, "graph_authority": emulator.authority,
            "graph_tenant_id": emulator.tenant, "graph_client_id": DEFAULT_CLIENT_ID,
            "graph_client_secret": SecretStr(DEFAULT_CLIENT_SECRET),
            "graph_ca_bundle": emulator.ca, "graph_resource_units_per_minute": 600_000})
        with GraphClient(demo) as client, session_scope(demo) as s:
            synced = intune.sync_intune(s, ACTOR, client, demo)
            sent = intune.send_actions(s, client, demo, SystemClock(), actor=ACTOR,
                                       limit=SEND_AT_MOST)
            # The wiped handsets check in; the next sync reads their results.
            with emulator.admin() as admin:
                admin.post("/managedDevices/checkin", json={}).raise_for_status()
            after = intune.sync_intune(s, ACTOR, client, demo)
    finally:
        emulator.stop()
    return (f"Intune: {synced.devices:,} devices synced, {synced.matched:,} matched to the "
            f"register; to look into: {counts_text(synced.counts())}; remote wipes sent: "
            f"{sent.sent:,} ({sent.failed:,} failed); after the devices checked in, "
            f"{after.actions_done:,} done, {after.actions_failed:,} failed")
