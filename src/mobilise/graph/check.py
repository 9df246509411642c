"""``mobilise graph check``: what the configured tenant lets Mobilise do, step by step,
with the application permission each step needs.

Every step but one only reads. The canary (when the operator names a folder) creates one
small file through an upload session, as a migration does, checks its quickXorHash and
deletes it again. Intune's privileged actions (retire, wipe) are never tried: acting on a
device is not a probe. Whether the app holds that permission is read from the access
token's ``roles`` claim where the token is a JWT (Entra's are).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from mobilise.graph.client import GraphClient
from mobilise.graph.errors import AccessDenied, GraphError, Unauthenticated

FILES_READ = "Files.Read.All"
FILES_WRITE = "Files.ReadWrite.All"
USERS_READ = "User.Read.All"
DEVICES_READ = "DeviceManagementManagedDevices.Read.All"
DEVICES_ACT = "DeviceManagementManagedDevices.PrivilegedOperations.All"
COLUMNS = ["step", "permission", "outcome", "detail"]
OK, REFUSED, FAILED, SKIPPED = "ok", "refused", "failed", "skipped"
NOT_PROVISIONED, NOT_PROBED = "not provisioned", "not probed"


@dataclass
class CheckStep:
    step: str
    permission: str
    outcome: str
    detail: str = ""

    def row(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed(self) -> bool:
        return self.outcome in (REFUSED, FAILED)


def _attempt(step: str, permission: str, work: Callable[[], str]) -> CheckStep:
    try:
        return CheckStep(step, permission, OK, work())
    except AccessDenied as exc:
        return CheckStep(step, permission, REFUSED,
                         f"403: grant the application permission {permission} and admin "
                         f"consent ({exc.code})")
    except Unauthenticated as exc:
        return CheckStep(step, permission, REFUSED, f"401: {exc}")
    except GraphError as exc:
        return CheckStep(step, permission, FAILED, str(exc))


def token_roles(token: str) -> set[str] | None:
    """The ``roles`` claim of a JWT access token, unverified (only read to advise);
    None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    roles = payload.get("roles") if isinstance(payload, dict) else None
    return {str(r) for r in roles} if isinstance(roles, list) else set()


# Writes one file in ``folder`` of ``upn``'s OneDrive, checks its hash and deletes it; says
# what it did. The storage package provides it (storage.onedrive.canary_upload): the
# OneDrive backend is built on this package, not the other way round.
Canary = Callable[[GraphClient, str, str], str]


def check_tenant(client: GraphClient, *, upn: str | None = None,
                 folder: str | None = None, canary: Canary | None = None) -> list[CheckStep]:
    """Run the probe; each step says what worked and which permission it needs. The
    canary upload runs when both ``folder`` and ``canary`` are given."""
    steps: list[CheckStep] = []
    token = ""

    def get_token() -> str:
        nonlocal token
        token = client.tokens.token()
        return "an access token was issued for the app (certificate or secret)"

    steps.append(_attempt("token", "(the app's credential)", get_token))
    if steps[-1].failed:
        return steps + [CheckStep(s, p, SKIPPED, "no token") for s, p in (
            ("read users", USERS_READ), ("read OneDrive", FILES_READ),
            ("read Intune devices", DEVICES_READ))]
    steps.append(_attempt("read users", USERS_READ, lambda: _first(
        client, "users", "$select", "id,userPrincipalName")))
    steps += _drive_steps(client, upn, folder if canary else None, canary)
    steps.append(_attempt("read Intune devices", DEVICES_READ, lambda: _first(
        client, "deviceManagement/managedDevices", "$select", "id,serialNumber")))
    steps.append(_privileged(token))
    return steps


def _first(client: GraphClient, path: str, key: str, value: str) -> str:
    page = client.get_json(path, params={"$top": 1, key: value})
    return f"{len(page.get('value', []))} item(s) on the first page"


def _drive_steps(client: GraphClient, upn: str | None, folder: str | None,
                 canary: Canary | None) -> list[CheckStep]:
    if not upn:
        return [CheckStep("read OneDrive", FILES_READ, SKIPPED, "name a person with --upn")]
    drive: dict[str, Any] = {}

    def read_drive() -> str:
        drive.update(client.get_json(f"users/{quote(upn)}/drive"))
        quota = drive.get("quota") or {}
        return f"drive {drive.get('id')}; quota {quota.get('state', '?')}"

    first = _attempt(f"read the OneDrive of {upn}", FILES_READ, read_drive)
    if first.outcome == FAILED and "404" in first.detail:
        # Graph answers 404 until the person's OneDrive exists.
        first = CheckStep(first.step, FILES_READ, NOT_PROVISIONED,
                          "404: the OneDrive does not exist yet; pre-provision it "
                          "(Request-SPOPersonalSite) and check again")
    steps = [first]
    if first.outcome != OK:
        return steps
    base = f"drives/{drive['id']}"
    steps.append(_attempt("list the drive's root", FILES_READ,
                          lambda: _first(client, f"{base}/root/children", "$select", "id")))
    steps.append(_attempt("delta (latest token)", FILES_READ, lambda: _delta(client, base)))
    if folder and canary:
        steps.append(_attempt(f"canary upload in {folder}", FILES_WRITE,
                              lambda: canary(client, upn, folder)))
    else:
        steps.append(CheckStep("canary upload", FILES_WRITE, SKIPPED,
                               "name a folder with --folder to try one"))
    return steps


def _delta(client: GraphClient, base: str) -> str:
    page = client.get_json(f"{base}/root/delta", params={"token": "latest"})
    return "deltaLink received" if "@odata.deltaLink" in page else "no deltaLink in answer"


def _privileged(token: str) -> CheckStep:
    roles = token_roles(token)
    step = "Intune retire/wipe (not tried)"
    if roles is None:
        return CheckStep(step, DEVICES_ACT, NOT_PROBED,
                         "the token is not a JWT; check the app's permissions in Entra")
    if DEVICES_ACT in roles:
        return CheckStep(step, DEVICES_ACT, OK, "granted (token roles)")
    return CheckStep(step, DEVICES_ACT, REFUSED, "not in the token's roles: grant it and "
                                                 "admin consent before sending actions")
