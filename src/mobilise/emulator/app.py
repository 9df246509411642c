"""The emulator as one ASGI application.

Routing is done by hand rather than with Starlette's router because Graph's path-based
addressing (``/drives/{d}/root:/a/b:/children``) does not fit route templates, and every
unknown path must still answer with a Graph-shaped error.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from mobilise.emulator import drives, uploads
from mobilise.emulator.errors import GraphFault, invalid_request, not_found, unauthenticated
from mobilise.emulator.faults import FaultConfig, FaultPlan, ResourceBudget, request_cost
from mobilise.emulator.identity import TokenRefused, issue_token, openid_configuration
from mobilise.emulator.intune import ManagedDevices, WriteLimit
from mobilise.emulator.shapes import (
    download_signature,
    drive_json,
    item_json,
    user_json,
)
from mobilise.emulator.store import Drive, Store

DEFAULT_PAGE = 200
MAX_PAGE = 1000


class CutResponse(Response):
    """Sends the headers and half the body, then drops the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body or b""
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        headers.append((b"content-length", str(len(body) + 64).encode()))
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2],
                    "more_body": True})
        raise ConnectionResetError("emulator: injected connection reset")


@dataclass
class Outcome:
    response: Response
    client_id: str | None = None
    fault: str | None = None


class Emulator:
    def __init__(self, root: Path, *, tenant: str = "mobilise-tenant",
                 tenant_host: str = "example-my.sharepoint.com",
                 faults: dict[str, Any] | None = None) -> None:
        self.store = Store(root)
        self.tenant = tenant
        self.tenant_host = tenant_host
        stored = self.store.get_meta("faults")
        config = FaultConfig.from_dict(json.loads(stored)) if stored else FaultConfig()
        if faults:
            config = config.merged(faults)
        self.store.set_meta("faults", json.dumps(config.as_dict()))
        self.plan = FaultPlan(config)
        self.budget = ResourceBudget()
        self.devices = ManagedDevices(self.store)
        self.writes = WriteLimit()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    # --- entry ------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        if path.startswith("/_emulator/"):
            return await self.admin(request, path[len("/_emulator"):])
        query = request.url.query
        log_id = self.store.log_start(
            request.method, path + (f"?{query}" if query else ""),
            request.headers.get("client-request-id"), request.headers.get("content-range"))
        request_id = str(uuid.uuid4())
        outcome = Outcome(JSONResponse({}))
        try:
            outcome = await self.route(request, path)
        except GraphFault as refusal:
            outcome.response = self.error(refusal, request, request_id)
        except ClientDisconnect:
            self.store.log_finish(log_id, 499, None, outcome.client_id, "client-disconnect",
                                  getattr(request.state, "latency", None))
            return Response(status_code=499)
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer and log
            bug = GraphFault(500, "generalException", f"Unexpected error: {exc!r}")
            outcome.response = self.error(bug, request, request_id)
        response = outcome.response
        response.headers["request-id"] = request_id
        if "client-request-id" in request.headers:
            response.headers["client-request-id"] = request.headers["client-request-id"]
        retry_after = response.headers.get("retry-after")
        self.store.log_finish(
            log_id, response.status_code, float(retry_after) if retry_after else None,
            outcome.client_id, outcome.fault, getattr(request.state, "latency", None))
        if outcome.fault in ("reset-before", "reset-after"):
            return self.cut(response)
        return response

    @staticmethod
    def cut(response: Response) -> Response:
        if isinstance(response, FileResponse):
            # Only the start of a file is ever sent before the cut: no need to read it all.
            with open(response.path, "rb") as handle:
                body = handle.read(64 * 1024)
        else:
            body = bytes(response.body)
        cut = CutResponse(body, status_code=response.status_code)
        cut.raw_headers = response.raw_headers
        return cut

    def error(self, fault: GraphFault, request: Request, request_id: str) -> Response:
        return JSONResponse(
            fault.body(request_id, request.headers.get("client-request-id")),
            status_code=fault.status, headers=fault.headers)

    async def route(self, request: Request, path: str) -> Outcome:
        tenant_token = f"/{self.tenant}/oauth2/v2.0/token"
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            tenant = path.split("/")[1]
            return Outcome(JSONResponse(openid_configuration(self.base(request), tenant)))
        if path == tenant_token or path.endswith("/oauth2/v2.0/token"):
            return Outcome(await self.token(request))
        if path.startswith("/v1.0/"):
            app_id = self.authenticate(request)
            return await self.with_faults(request, app_id, path[len("/v1.0"):], self.graph)
        if path.startswith("/_upload/"):
            session = self.store.session(path[len("/_upload/"):])
            session_app = session.client_id if session else None
            return await self.with_faults(request, session_app, path, self.upload)
        if path.startswith("/_download/"):
            return await self.with_faults(request, None, path, self.download)
        raise invalid_request(f"Unsupported path '{path}'.")

    async def with_faults(self, request: Request, client_id: str | None, path: str,
                          handler: Any) -> Outcome:
        decision = self.plan.draw()
        if decision.latency:
            request.state.latency = decision.latency
            await asyncio.sleep(decision.latency)
        if client_id is not None:
            self.budget.charge(client_id, request_cost(request.method),
                               self.plan.config.ru_per_minute)
        if decision.fault == "throttle":
            raise self.plan.throttled()
        if decision.fault == "unavailable":
            raise self.plan.unavailable()
        if decision.fault == "reset-before":
            return Outcome(JSONResponse({"value": "x" * 64}), client_id, decision.fault)
        try:
            response: Response = await handler(request, path, client_id)
        except GraphFault as fault:
            response = self.error(fault, request, str(uuid.uuid4()))
        return Outcome(response, client_id, decision.fault)

    def authenticate(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise unauthenticated("The Authorization header is missing.")
        client_id = self.store.token_app(header[7:].strip())
        if client_id is None:
            raise unauthenticated("The access token is invalid or has expired.")
        return client_id

    @staticmethod
    def base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    # --- identity ---------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        if request.method != "POST":
            raise invalid_request("The token endpoint takes POST.")
        try:
            answer = issue_token(self.store, await request.body())
        except TokenRefused as refused:
            return JSONResponse(refused.body(), status_code=400)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    # --- Graph ------------------------------------------------------------------------
    async def graph(self, request: Request, path: str, client_id: str | None) -> Response:
        parts = path.split("/")  # "", "users", "{u}", "drive", ...
        if parts[1:3] == ["deviceManagement", "managedDevices"]:
            return await self.managed_devices(request, parts[3:], client_id)
        if path in ("/users", "/users/"):
            return self.list_users(request)
        if len(parts) >= 3 and parts[1] == "users":
            user = self.store.user(unquote(parts[2]))
            if user is None:
                raise GraphFault(404, "itemNotFound", f"User '{unquote(parts[2])}' not found.")
            if len(parts) == 3:
                return JSONResponse(user_json(user))
            if parts[3] != "drive":
                raise invalid_request(f"Unsupported path '{path}'.")
            drive = self.store.drive_of_user(user["id"])
            if drive is None:
                raise GraphFault(404, "itemNotFound",
                                 "The user's OneDrive has not been provisioned yet.")
            rest = "/" + "/".join(parts[4:]) if len(parts) > 4 else ""
            return await self.drive_request(request, drive, user["upn"], rest, client_id)
        if len(parts) >= 3 and parts[1] == "drives":
            drive_found = self.store.drive(unquote(parts[2]))
            if drive_found is None:
                raise not_found(f"Drive '{unquote(parts[2])}' does not exist.")
            owner = self.store.drive_owner(drive_found)
            rest = "/" + "/".join(parts[3:]) if len(parts) > 3 else ""
            return await self.drive_request(request, drive_found, owner["upn"], rest, client_id)
        raise invalid_request(f"Unsupported path '{path}'.")

    def list_users(self, request: Request) -> Response:
        top = drives.page_size(request.query_params.get("$top"), 100, 999)
        skip = request.query_params.get("$skiptoken")
        after = str(drives.decode_cursor(skip).get("k", "")) if skip else ""
        users = self.store.users_page(after, top + 1)
        body: dict[str, Any] = {"value": [user_json(u) for u in users[:top]]}
        if len(users) > top:
            token = drives.encode_cursor({"k": users[top - 1]["upn_key"]})
            body["@odata.nextLink"] = str(
                request.url.include_query_params(**{"$top": top, "$skiptoken": token}))
        return JSONResponse(body)

    async def managed_devices(self, request: Request, rest: list[str],
                              client_id: str | None) -> Response:
        method = request.method
        if not rest or rest == [""]:
            if method != "GET":
                raise invalid_request(f"{method} is not supported on managedDevices.")
            return self.list_devices(request)
        device_id = unquote(rest[0])
        if len(rest) == 1 and method == "GET":
            return JSONResponse(self.devices.get(device_id))
        if len(rest) == 2 and method == "POST":
            self.writes.charge(client_id or "", self.plan.config.intune_writes_per_20s)
            body = await self.json_body(request)
            self.devices.act(device_id, rest[1], body, client_id)
            return Response(status_code=204)
        raise invalid_request(f"{method} is not supported here.")

    def list_devices(self, request: Request) -> Response:
        params = request.query_params
        top = drives.page_size(params.get("$top"), MAX_PAGE, MAX_PAGE)
        skip = params.get("$skiptoken")
        after = int(drives.decode_cursor(skip).get("s", 0)) if skip else 0
        rows = self.devices.page(after, top + 1, params.get("$filter"))
        body: dict[str, Any] = {"value": [device for _, device in rows[:top]]}
        if len(rows) > top:
            token = drives.encode_cursor({"s": rows[top - 1][0]})
            body["@odata.nextLink"] = str(
                request.url.include_query_params(**{"$top": top, "$skiptoken": token}))
        return JSONResponse(body)

    async def drive_request(self, request: Request, drive: Drive, upn: str, rest: str,
                            client_id: str | None) -> Response:
        method = request.method
        if rest in ("", "/"):
            return JSONResponse(drive_json(self.store, drive, self.tenant_host))
        if rest == "/root/delta" and method == "GET":
            return self.delta(request, drive)
        address = drives.parse_address(rest)
        if address is None:
            raise invalid_request(f"Unsupported path '{rest}'.")
        if (address.suffix, method) in (("/content", "PUT"), ("/createUploadSession", "POST")):
            return await self.upload_request(request, drive, upn, address, client_id)
        return await self.item_request(request, drive, upn, address)

    async def upload_request(self, request: Request, drive: Drive, upn: str,
                             address: drives.Address, client_id: str | None) -> Response:
        base = self.base(request)
        conflict = request.query_params.get("@microsoft.graph.conflictBehavior")
        if address.suffix == "/content":
            parent, name = self.content_target(drive, address)
            body = await request.body()
            if parent is None:
                raise not_found()
            done = uploads.simple_upload(self.store, drive, upn, parent, name, conflict, body)
            return JSONResponse(item_json(self.store, done.item, base),
                                status_code=201 if done.created else 200)
        parent, name = drives.resolve_parent(self.store, drive, address)
        payload = await self.json_body(request)
        session = uploads.create_session(self.store, drive, upn, parent, name, payload,
                                         conflict, client_id, self.plan.config)
        return JSONResponse(uploads.session_json(session, f"{base}/_upload/{session.id}"))

    async def item_request(self, request: Request, drive: Drive, upn: str,
                           address: drives.Address) -> Response:
        method, suffix, base = request.method, address.suffix, self.base(request)
        item = drives.resolve(self.store, drive, address)
        if suffix == "/children" and method == "GET":
            return self.children(request, item)
        if suffix == "/children" and method == "POST":
            payload = await self.json_body(request)
            folder = drives.create_folder(self.store, drive, upn, item, payload)
            return JSONResponse(item_json(self.store, folder, base), status_code=201)
        if suffix == "/content" and method == "GET":
            if item.is_folder:
                raise invalid_request("A folder has no content.")
            sig = download_signature(self.store, item.id)
            location = f"{base}/_download/{item.id}?sig={sig}"
            return Response(status_code=302, headers={"Location": location})
        if suffix == "" and method == "GET":
            return JSONResponse(item_json(self.store, item, base))
        if suffix == "" and method == "PATCH":
            payload = await self.json_body(request)
            patched = drives.patch_item(self.store, drive, upn, item, payload)
            return JSONResponse(item_json(self.store, patched, base))
        if suffix == "" and method == "DELETE":
            drives.delete_item(self.store, item)
            return Response(status_code=204)
        raise invalid_request(f"{method} is not supported here.")

    def content_target(self, drive: Drive, address: drives.Address) -> tuple[Any, str]:
        """PUT content addresses either an existing file or ``parent:/name:``."""
        if address.segments:
            return drives.resolve_parent(self.store, drive, address)
        item = drives.base_item(self.store, drive, address)
        if item.is_folder or item.parent_id is None:
            raise invalid_request("PUT content needs a file, or a folder and a file name.")
        return self.store.item(item.parent_id), item.name

    async def json_body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise invalid_request("The body is not valid JSON.") from exc
        if not isinstance(value, dict):
            raise invalid_request("The body must be a JSON object.")
        return value

    def children(self, request: Request, folder: Any) -> Response:
        if not folder.is_folder:
            raise invalid_request("The item is not a folder.")
        top = drives.page_size(request.query_params.get("$top"), DEFAULT_PAGE, MAX_PAGE)
        items, token = drives.children_page(
            self.store, folder, top, request.query_params.get("$skiptoken"))
        base = self.base(request)
        body: dict[str, Any] = {"value": [item_json(self.store, i, base) for i in items]}
        if token is not None:
            body["@odata.nextLink"] = str(
                request.url.include_query_params(**{"$top": top, "$skiptoken": token}))
        return JSONResponse(body)

    def delta(self, request: Request, drive: Drive) -> Response:
        params = request.query_params
        top = drives.page_size(params.get("$top"), DEFAULT_PAGE, MAX_PAGE)
        page = drives.delta_page(self.store, drive, params.get("token"),
                                 params.get("$skiptoken"), top)
        base = self.base(request)
        body: dict[str, Any] = {
            "value": [item_json(self.store, i, base, in_delta=True) for i in page.items]}
        plain = request.url.remove_query_params(["token", "$skiptoken", "$top"])
        if page.next_skiptoken is not None:
            body["@odata.nextLink"] = str(plain.include_query_params(
                **{"$top": top, "$skiptoken": page.next_skiptoken}))
        else:
            body["@odata.deltaLink"] = str(plain.include_query_params(token=page.delta_token))
        return JSONResponse(body)

    # --- upload sessions and downloads -----------------------------------------------
    async def upload(self, request: Request, path: str, client_id: str | None) -> Response:
        session = uploads.live_session(self.store, path[len("/_upload/"):])
        if request.method == "GET":
            return JSONResponse(uploads.session_json(session))
        if request.method == "DELETE":
            self.store.drop_session(session.id)
            return Response(status_code=204)
        if request.method != "PUT":
            raise invalid_request("Upload URLs take PUT, GET or DELETE.")
        if "authorization" in request.headers:
            # The uploadUrl is pre-authenticated; Microsoft warns a token may be refused.
            raise unauthenticated("Do not send an Authorization header to an uploadUrl.")
        fragment = uploads.check_fragment(
            session, request.headers.get("content-range"), request.headers.get("content-length"))
        body = await request.body()
        done = uploads.accept_fragment(self.store, session, fragment, body, self.plan.config)
        if done is None:
            return JSONResponse(uploads.session_json(session), status_code=202)
        return JSONResponse(item_json(self.store, done.item, self.base(request)),
                            status_code=201 if done.created else 200)

    async def download(self, request: Request, path: str, client_id: str | None) -> Response:
        item_id = path[len("/_download/"):]
        item = self.store.item(item_id)
        if item is None or request.query_params.get("sig") != download_signature(
                self.store, item_id):
            raise not_found()
        return FileResponse(self.store.content_path(item.id),
                            media_type="application/octet-stream")

    # --- admin ------------------------------------------------------------------------
    async def admin(self, request: Request, path: str) -> Response:
        try:
            return await self.admin_route(request, path)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def admin_route(self, request: Request, path: str) -> Response:
        method = request.method
        payload = await self.json_body(request) if method in ("POST", "PUT", "PATCH") else {}
        if path == "/users" and method == "POST":
            user = self.store.add_user(payload["userPrincipalName"], payload.get("displayName"))
            return JSONResponse(user_json(user), status_code=201)
        if path == "/drives" and method == "POST":
            drive = self.store.provision(payload["userPrincipalName"], int(payload["quota"]))
            return JSONResponse(drive_json(self.store, drive, self.tenant_host), status_code=201)
        if path == "/apps" and method == "POST":
            self.store.add_app(payload["client_id"], payload.get("client_secret"),
                               payload.get("certificate_pem"))
            return JSONResponse({"client_id": payload["client_id"]}, status_code=201)
        if path == "/managedDevices" and method == "POST":
            return JSONResponse({"loaded": self.devices.load(list(payload["value"]))},
                                status_code=201)
        if path == "/managedDevices" and method == "DELETE":
            self.devices.clear()
            return Response(status_code=204)
        if path == "/managedDevices/actions" and method == "GET":
            return JSONResponse({"value": self.devices.actions()})
        if path == "/managedDevices/checkin" and method == "POST":
            ids, named = payload.get("ids"), payload.get("actions")
            ended = self.devices.check_in(
                None if ids is None else [str(i) for i in ids],
                str(payload.get("outcome", "done")),
                [str(a) for a in named] if named else None)
            return JSONResponse({"ended": ended})
        if path == "/faults" and method == "GET":
            return JSONResponse(self.plan.config.as_dict())
        if path == "/faults" and method in ("PUT", "PATCH"):
            base = FaultConfig() if method == "PUT" else self.plan.config
            config = base.merged(payload)
            self.plan.reconfigure(config)
            self.budget = ResourceBudget()
            self.writes = WriteLimit()
            self.store.set_meta("faults", json.dumps(config.as_dict()))
            return JSONResponse(config.as_dict())
        if path == "/requests" and method == "GET":
            after = int(request.query_params.get("after", "0"))
            return JSONResponse({"value": list(self.store.requests(after))})
        if path == "/requests" and method == "DELETE":
            self.store.clear_requests()
            return Response(status_code=204)
        if path == "/health":
            return JSONResponse({"status": "ok", "time": time.time()})
        return JSONResponse({"error": f"no admin route {method} {path}"}, status_code=404)
