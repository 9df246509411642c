"""``mobilise emulator``: run the local Microsoft Graph emulator and set up its people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mobilise.emulator.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT,
    DEFAULT_UPLOAD_HOST,
)
from mobilise.emulator.store import Store

app = typer.Typer(help="A local Microsoft Graph emulator (users, OneDrive, faults).")
users_app = typer.Typer(help="People known to the emulator's directory.")
app.add_typer(users_app, name="users")

RootOption = Annotated[Path, typer.Option("--root", help="state directory")]
ONE_TB = 1024**4


def _parse_faults(pairs: list[str]) -> dict[str, float]:
    faults: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--fault takes name=value, not '{pair}'")
        faults[name.replace("-", "_")] = float(value)
    return faults


@app.command()
def serve(
    root: RootOption = Path("./mobilise-data/emulator"),
    port: Annotated[int, typer.Option(help="HTTPS port")] = 8443,
    host: str = "127.0.0.1",
    tenant: str = DEFAULT_TENANT,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    seed: Annotated[int | None, typer.Option(help="fault RNG seed")] = None,
    throttle_rate: Annotated[float | None, typer.Option(help="share of 429s")] = None,
    unavailable_rate: Annotated[float | None, typer.Option(help="share of 503s")] = None,
    reset_rate: Annotated[float | None, typer.Option(help="share of cut connections")] = None,
    latency_ms: Annotated[float | None, typer.Option(help="mean added latency")] = None,
    latency_rate: Annotated[float | None, typer.Option(help="share with latency")] = None,
    retry_after: Annotated[float | None, typer.Option(help="Retry-After seconds")] = None,
    ru_per_minute: Annotated[int | None, typer.Option(help="resource units/min/app")] = None,
    fault: Annotated[list[str] | None, typer.Option(help="any fault setting name=value")] = None,
    upload_host: Annotated[str, typer.Option(
        help="host name of upload and download URLs (Microsoft's are on another host than "
             "Graph's; '' serves them on the Graph host)")] = DEFAULT_UPLOAD_HOST,
) -> None:
    """Serve Graph over HTTPS; the CA to trust is written to ROOT/tls/ca.pem."""
    from mobilise.emulator.server import serve as run

    faults: dict[str, float] = _parse_faults(fault or [])
    named = {"seed": seed, "throttle_rate": throttle_rate, "unavailable_rate": unavailable_rate,
             "reset_rate": reset_rate, "latency_ms": latency_ms, "latency_rate": latency_rate,
             "retry_after": retry_after, "ru_per_minute": ru_per_minute}
    faults.update({k: float(v) for k, v in named.items() if v is not None})
    typed: dict[str, float | int] = {
        k: int(v) if k in ("seed", "ru_per_minute") else v for k, v in faults.items()}
    typer.echo(f"Graph emulator on https://{host}:{port}/v1.0 (CA: {root / 'tls' / 'ca.pem'})")
    run(root, host=host, port=port, tenant=tenant, faults=typed, client_id=client_id,
        client_secret=client_secret, upload_host=upload_host or None)


@app.command()
def provision(
    upn: str,
    root: RootOption = Path("./mobilise-data/emulator"),
    quota: Annotated[int, typer.Option(help="quota in bytes")] = ONE_TB,
) -> None:
    """Provision (or re-quota) the OneDrive of UPN, adding the person if new."""
    store = Store(root)
    try:
        drive = store.provision(upn, quota)
    finally:
        store.close()
    typer.echo(json.dumps({"upn": upn, "drive": drive.id, "quota": drive.quota_total}))


@users_app.command("add")
def users_add(
    upn: str,
    root: RootOption = Path("./mobilise-data/emulator"),
    display_name: Annotated[str | None, typer.Option(help="shown name")] = None,
    app_role: Annotated[list[str] | None, typer.Option(
        help="an app role assigned to them, in their ID token's roles claim (repeat)")] = None,
    group: Annotated[list[str] | None, typer.Option(
        help="a group (object id) they belong to, in the groups claim (repeat)")] = None,
) -> None:
    """Add a person to the emulator's directory (their OneDrive is not provisioned)."""
    store = Store(root)
    try:
        user = store.add_user(upn, display_name)
        if app_role or group:
            user = store.set_assignments(upn, list(app_role) if app_role else None,
                                         list(group) if group else None)
    finally:
        store.close()
    typer.echo(json.dumps({"id": user["id"], "userPrincipalName": user["upn"]}))


@app.command("apps-add")
def apps_add(
    client_id: str,
    root: RootOption = Path("./mobilise-data/emulator"),
    secret: Annotated[str | None, typer.Option(help="client secret")] = None,
    certificate: Annotated[Path | None, typer.Option(help="PEM certificate")] = None,
    role: Annotated[list[str] | None, typer.Option(
        help="an application permission it was granted (repeat); none given: all")] = None,
    redirect_uri: Annotated[list[str] | None, typer.Option(
        help="a registered web redirect URI for sign-in (repeat); none given: any")] = None,
) -> None:
    """Register an app (client id) with a secret and/or a certificate."""
    store = Store(root)
    try:
        pem = certificate.read_text() if certificate else None
        store.add_app(client_id, secret, pem)
        store.set_app_roles(client_id, list(role) if role else None)
        store.set_redirect_uris(client_id, list(redirect_uri) if redirect_uri else None)
    finally:
        store.close()
    typer.echo(json.dumps({"client_id": client_id}))


@app.command("devices-load")
def devices_load(
    path: Annotated[Path, typer.Argument(help="JSON: a list of managedDevice objects, or "
                                              "{\"value\": [...]}")],
    root: RootOption = Path("./mobilise-data/emulator"),
) -> None:
    """Load (add or replace by id) Intune managed devices into the emulator."""
    from mobilise.emulator.intune import ManagedDevices

    data = json.loads(path.read_text(encoding="utf-8"))
    devices = data["value"] if isinstance(data, dict) else data
    store = Store(root)
    try:
        loaded = ManagedDevices(store).load(list(devices))
    finally:
        store.close()
    typer.echo(json.dumps({"loaded": loaded}))
