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
from urllib.parse import unquote, urlsplit

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.types import Receive, Scope, Send

from mobilise.emulator import drives, query, signin, uploads
from mobilise.emulator.errors import GraphFault, invalid_request, not_found, unauthenticated
from mobilise.emulator.faults import FaultConfig, FaultPlan, ResourceBudget, request_cost
from mobilise.emulator.groups import Groups
from mobilise.emulator.identity import (
    TokenRefused,
    issue_token,
    openid_configuration,
    read_form,
)
from mobilise.emulator.intune import ManagedDevices, WriteLimit
from mobilise.emulator.permissions import required_roles
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
                 faults: dict[str, Any] | None = None,
                 upload_host: str | None = None) -> None:
        self.store = Store(root)
        self.tenant = tenant
        self.tenant_host = tenant_host
        # Microsoft serves upload and download URLs from the tenant's SharePoint host, not
        # from graph.microsoft.com, so clients that attach tokens by host send none there.
        # ``upload_host`` is the second host name the emulator plays that part under.
        self.upload_host = upload_host
        stored = self.store.get_meta("faults")
        config = FaultConfig.from_dict(json.loads(stored)) if stored else FaultConfig()
        if faults:
            config = config.merged(faults)
        self.store.set_meta("faults", json.dumps(config.as_dict()))
        self.plan = FaultPlan(config)
        self.budget = ResourceBudget()
        self.devices = ManagedDevices(self.store)
        self.groups = Groups(self.store)
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
        request.state.request_id = request_id
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
        # Graph always answers with a client-request-id: the caller's, or its own request-id.
        response.headers["client-request-id"] = request.headers.get(
            "client-request-id", request_id)
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
        headers = dict(fault.headers)
        if fault.location is not None:
            headers["Location"] = self.graph_base(request) + fault.location
        return JSONResponse(
            fault.body(request_id, request.headers.get("client-request-id")),
            status_code=fault.status, headers=headers)

    async def route(self, request: Request, path: str) -> Outcome:
        tenant_token = f"/{self.tenant}/oauth2/v2.0/token"
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            tenant = path.split("/")[1]
            return Outcome(JSONResponse(openid_configuration(self.base(request), tenant)))
        if path == tenant_token or path.endswith("/oauth2/v2.0/token"):
            return Outcome(await self.token(request, path.split("/")[1]))
        if path.endswith("/oauth2/v2.0/authorize"):
            return Outcome(await self.authorize(request))
        if path.endswith("/discovery/v2.0/keys"):
            issuer = f"{self.base(request)}/{path.split('/')[1]}/v2.0"
            return Outcome(JSONResponse(signin.jwks(self.store, issuer)))
        if path.startswith("/v1.0/"):
            app_id = self.authenticate(request)
            self.authorise(app_id, request.method, path[len("/v1.0"):])
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
            response = self.error(fault, request, request.state.request_id)
        return Outcome(response, client_id, decision.fault)

    def authenticate(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise unauthenticated("The Authorization header is missing.")
        client_id = self.store.token_app(header[7:].strip())
        if client_id is None:
            raise unauthenticated("The access token is invalid or has expired.")
        return client_id

    def authorise(self, client_id: str, method: str, path: str) -> None:
        roles = self.store.app_roles(client_id)
        if roles is None:
            return
        needed = required_roles(method, path)
        if not roles.intersection(needed):
            raise GraphFault(403, "accessDenied",
                             f"Either scp or roles claim need to be present in the token: "
                             f"this call needs one of {', '.join(needed)}.")

    @staticmethod
    def base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    @classmethod
    def graph_base(cls, request: Request) -> str:
        return f"{cls.base(request)}/v1.0"

    def file_base(self, request: Request) -> str:
        """Where upload and download URLs point: the second host name, when one is set."""
        if self.upload_host is None:
            return self.base(request)
        port = request.url.port
        return f"{request.url.scheme}://{self.upload_host}" + (f":{port}" if port else "")

    def check_file_host(self, request: Request) -> None:
        if self.upload_host is not None and request.url.hostname != self.upload_host:
            raise not_found("Upload and download URLs are served from their own host.")

    # --- identity ---------------------------------------------------------------------
    async def token(self, request: Request, tenant: str) -> Response:
        if request.method != "POST":
            raise invalid_request("The token endpoint takes POST.")
        body = await request.body()
        try:
            form = read_form(body)
            if form.get("grant_type") == "authorization_code":
                answer = signin.redeem(self.store, form, f"{self.base(request)}/{tenant}/v2.0",
                                       self.tenant)
            else:
                answer = issue_token(self.store, body)
        except TokenRefused as refused:
            return JSONResponse(refused.body(), status_code=400)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    async def authorize(self, request: Request) -> Response:
        """The sign-in page (GET), and the chosen user's way back to the app (POST)."""
        if request.method == "POST":
            params = read_form(await request.body())
        else:
            params = dict(request.query_params)
        headers = {"Cache-Control": "no-store"}
        try:
            signin.check_request(self.store, params)
        except signin.SignInRefused as refused:
            return HTMLResponse(signin.error_page(refused.message), status_code=400,
                                headers=headers)
        problem = signin.request_error(params)
        if problem is not None:
            error, description = problem
            return RedirectResponse(signin.back_to_app(
                params, {"error": error, "error_description": description}), status_code=302)
        if request.method != "POST":
            return HTMLResponse(signin.sign_in_page(params), headers=headers)
        try:
            code = signin.issue_code(self.store, params, params.get("login", "").strip())
        except signin.SignInRefused as refused:
            return HTMLResponse(signin.sign_in_page(params, refused.message), status_code=400,
                                headers=headers)
        return RedirectResponse(signin.back_to_app(params, {"code": code}), status_code=302)

    # --- Graph ------------------------------------------------------------------------
    async def graph(self, request: Request, path: str, client_id: str | None) -> Response:
        parts = path.split("/")  # "", "users", "{u}", "drive", ...
        if parts[1:3] == ["deviceManagement", "managedDevices"]:
            return await self.managed_devices(request, parts[3:], client_id)
        if path in ("/users", "/users/"):
            return self.list_users(request)
        if len(parts) >= 4 and parts[1] == "groups" and parts[3] == "members":
            return await self.group_members(request, unquote(parts[2]), parts[4:])
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

    async def group_members(self, request: Request, group_id: str, rest: list[str]
                            ) -> Response:
        """``POST /groups/{id}/members/$ref`` (204) and ``GET /groups/{id}/members``."""
        if rest == ["$ref"] and request.method == "POST":
            self.groups.add_member(group_id, await self.json_body(request))
            return Response(status_code=204)
        if not rest and request.method == "GET":
            top = drives.page_size(request.query_params.get("$top"), 100, 999)
            skip = request.query_params.get("$skiptoken")
            after = int(drives.decode_cursor(skip).get("s", 0)) if skip else 0
            found = self.groups.members(group_id, after, top + 1)
            body: dict[str, Any] = {
                "@odata.context": f"{self.graph_base(request)}/$metadata#directoryObjects",
                "value": [member for _, member in found[:top]]}
            if len(found) > top:
                token = drives.encode_cursor({"s": found[top - 1][0]})
                body["@odata.nextLink"] = str(
                    request.url.include_query_params(**{"$top": top, "$skiptoken": token}))
            return JSONResponse(body)
        raise invalid_request(f"{request.method} is not supported on a group's members.")

    async def managed_devices(self, request: Request, rest: list[str],
                              client_id: str | None) -> Response:
        method = request.method
        if not rest or rest == [""]:
            if method != "GET":
                raise invalid_request(f"{method} is not supported on managedDevices.")
            return self.list_devices(request)
        device_id = unquote(rest[0])
        if len(rest) == 1 and method == "GET":
            return JSONResponse(self.devices.get_v1(device_id))
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
        address = drives.parse_address(rest)
        if address is None:
            raise invalid_request(f"Unsupported path '{rest}'.")
        if address.delta:
            if method != "GET":
                raise invalid_request(f"{method} is not supported on delta.")
            return self.delta(request, drive, address)
        if (address.suffix, method) in (("/content", "PUT"), ("/createUploadSession", "POST")):
            return await self.upload_request(request, drive, upn, address, client_id)
        if (address.suffix, method) == ("", "PUT"):
            return await self.commit_upload(request, drive, upn, address)
        return await self.item_request(request, drive, upn, address)

    def existing(self, drive: Drive, address: drives.Address) -> Any:
        try:
            return drives.resolve(self.store, drive, address)
        except GraphFault:
            return None

    async def upload_request(self, request: Request, drive: Drive, upn: str,
                             address: drives.Address, client_id: str | None) -> Response:
        base = self.file_base(request)
        conflict = request.query_params.get("@microsoft.graph.conflictBehavior")
        query.preconditions(request.headers, self.existing(drive, address), reading=False)
        if address.suffix == "/content":
            parent, name = self.content_target(drive, address)
            body = await request.body()
            if parent is None:
                raise not_found()
            done = uploads.simple_upload(self.store, drive, upn, parent, name, conflict, body)
            return JSONResponse(item_json(self.store, done.item, base),
                                status_code=201 if done.created else 200)
        parent, name = self.content_target(drive, address)
        payload = await self.json_body(request)
        session = uploads.create_session(self.store, drive, upn, parent, name, payload,
                                         conflict, client_id, self.plan.config)
        return JSONResponse(uploads.session_json(
            session, f"{self.file_base(request)}/_upload/{session.id}"))

    async def commit_upload(self, request: Request, drive: Drive, upn: str,
                            address: drives.Address) -> Response:
        """Commit a preserved upload session with new metadata ("Handle upload errors"):
        PUT a driveItem carrying ``@microsoft.graph.sourceUrl`` = the uploadUrl."""
        payload = await self.json_body(request)
        source = payload.get("@microsoft.graph.sourceUrl")
        if not isinstance(source, str) or "/_upload/" not in source:
            raise invalid_request("PUT on an item takes @microsoft.graph.sourceUrl.")
        target = self.existing(drive, address)
        query.preconditions(request.headers, target, reading=False)
        name = payload.get("name")
        if target is not None and target.is_folder and isinstance(name, str):
            parent = target
        elif target is not None and target.parent_id is not None:
            parent, name = self.store.item(target.parent_id), name or target.name
        else:
            parent, last = drives.resolve_parent(self.store, drive, address)
            name = name if isinstance(name, str) else last
        if not isinstance(name, str):
            raise invalid_request("The item needs a name.")
        session = uploads.live_session(self.store, urlsplit(source).path.split("/_upload/")[1])
        if session.drive_id != drive.id:
            raise invalid_request("The upload session belongs to another drive.")
        conflict = drives.conflict_behaviour(
            payload.get("@microsoft.graph.conflictBehavior"), session.conflict)
        drives.check_new_name(self.store, upn, parent, name, is_folder=False)
        session.parent_id = parent.id
        done = uploads.finish(self.store, session, name=name, conflict=conflict)
        return JSONResponse(item_json(self.store, done.item, self.file_base(request)),
                            status_code=201 if done.created else 200)

    async def item_request(self, request: Request, drive: Drive, upn: str,
                           address: drives.Address) -> Response:
        method, suffix, base = request.method, address.suffix, self.file_base(request)
        item = drives.resolve(self.store, drive, address)
        fields = request.query_params.get("$select")
        if suffix == "/children" and method == "GET":
            return self.children(request, item)
        if suffix == "/children" and method == "POST":
            payload = await self.json_body(request)
            folder = drives.create_folder(self.store, drive, upn, item, payload)
            return JSONResponse(item_json(self.store, folder, base), status_code=201)
        if suffix == "/content" and method == "GET":
            if item.is_folder:
                raise invalid_request("A folder has no content.")
            if query.preconditions(request.headers, item, reading=True) == 304:
                return Response(status_code=304)
            sig = download_signature(self.store, item.id)
            location = f"{base}/_download/{item.id}?sig={sig}"
            return Response(status_code=302, headers={"Location": location})
        if suffix == "" and method == "GET":
            if query.preconditions(request.headers, item, reading=True) == 304:
                return Response(status_code=304)
            return JSONResponse(query.select(item_json(self.store, item, base), fields))
        if suffix == "" and method == "PATCH":
            query.preconditions(request.headers, item, reading=False)
            payload = await self.json_body(request)
            patched = drives.patch_item(self.store, drive, upn, item, payload)
            return JSONResponse(item_json(self.store, patched, base))
        if suffix == "" and method == "DELETE":
            query.preconditions(request.headers, item, reading=False)
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
        params = request.query_params
        top = drives.page_size(params.get("$top"), DEFAULT_PAGE, MAX_PAGE)
        base = self.file_base(request)
        if "$filter" in params or "$orderby" in params:
            values, token = self.arranged_children(folder, params, top, base)
        else:
            items, token = drives.children_page(self.store, folder, top, params.get("$skiptoken"))
            values = [item_json(self.store, i, base) for i in items]
        body: dict[str, Any] = {"value": [query.select(v, params.get("$select"))
                                          for v in values]}
        if token is not None:
            body["@odata.nextLink"] = str(
                request.url.include_query_params(**{"$top": top, "$skiptoken": token}))
        return JSONResponse(body)

    def arranged_children(self, folder: Any, params: Any, top: int, base: str
                          ) -> tuple[list[dict[str, Any]], str | None]:
        """Children filtered and sorted as asked, paged by position (folders are small
        enough in the emulator to arrange whole)."""
        values = [item_json(self.store, i, base)
                  for i in self.store.children(folder.id, ("", ""), 10**9)]
        if params.get("$filter"):
            keep = query.item_filter(params["$filter"])
            values = [v for v in values if keep(v)]
        if params.get("$orderby"):
            field, descending = query.item_order(params["$orderby"])
            values.sort(key=lambda v: (str(v.get(field, "")).lower() if field == "name"
                                       else v.get(field, "")), reverse=descending)
        skip = params.get("$skiptoken")
        start = int(drives.decode_cursor(skip).get("o", 0)) if skip else 0
        page = values[start:start + top]
        more = start + top < len(values)
        return page, drives.encode_cursor({"o": start + top}) if more else None

    def delta(self, request: Request, drive: Drive, address: drives.Address) -> Response:
        scope = drives.resolve(self.store, drive, address)
        if scope.id != drive.root_id:
            # "In OneDrive for Business and SharePoint, delta is only supported on the root
            # folder, not on other folders within a drive."
            raise invalid_request("Delta is only supported on the root folder of a drive.")
        params = request.query_params
        top = drives.page_size(params.get("$top"), DEFAULT_PAGE, MAX_PAGE)
        canonical = f"/drives/{drive.id}/root/delta"
        try:
            page = drives.delta_page(self.store, drive, address.delta_token or params.get("token"),
                                     params.get("$skiptoken"), top)
        except GraphFault as fault:
            if fault.status == 410:
                fault.location = canonical  # a fresh enumeration from scratch
            raise
        base = self.file_base(request)
        fields = params.get("$select")
        body: dict[str, Any] = {"value": [
            query.select(item_json(self.store, i, base, in_delta=True), fields)
            for i in page.items]}
        link = httpx.URL(self.graph_base(request) + canonical)
        keep = {"$select": fields} if fields else {}
        if page.next_skiptoken is not None:
            body["@odata.nextLink"] = str(link.copy_merge_params(
                {**keep, "$top": top, "$skiptoken": page.next_skiptoken}))
        else:
            body["@odata.deltaLink"] = str(link.copy_merge_params(
                {**keep, "token": page.delta_token or ""}))
        return JSONResponse(body)

    # --- upload sessions and downloads -----------------------------------------------
    async def upload(self, request: Request, path: str, client_id: str | None) -> Response:
        self.check_file_host(request)
        session = uploads.live_session(self.store, path[len("/_upload/"):])
        if request.method == "GET":
            return JSONResponse(uploads.session_json(session))
        if request.method == "DELETE":
            self.store.drop_session(session.id)
            return Response(status_code=204)
        if request.method == "POST":
            # The explicit commit of a deferCommit session: an empty POST.
            placed = uploads.finish(self.store, session)
            return JSONResponse(item_json(self.store, placed.item, self.file_base(request)),
                                status_code=201 if placed.created else 200)
        if request.method != "PUT":
            raise invalid_request("Upload URLs take PUT, POST, GET or DELETE.")
        if "authorization" in request.headers:
            # The uploadUrl is pre-authenticated; Microsoft warns a token may be refused.
            raise unauthenticated("Do not send an Authorization header to an uploadUrl.")
        fragment = uploads.check_fragment(
            session, request.headers.get("content-range"), request.headers.get("content-length"))
        body = await request.body()
        done = uploads.accept_fragment(self.store, session, fragment, body, self.plan.config)
        if done is None:
            return JSONResponse(uploads.session_json(session), status_code=202)
        return JSONResponse(item_json(self.store, done.item, self.file_base(request)),
                            status_code=201 if done.created else 200)

    async def download(self, request: Request, path: str, client_id: str | None) -> Response:
        self.check_file_host(request)
        item_id = path[len("/_download/"):]
        item = self.store.item(item_id)
        if item is None or request.query_params.get("sig") != download_signature(
                self.store, item_id):
            raise not_found()
        return FileResponse(self.store.content_path(item.id),
                            media_type="application/octet-stream")

    # --- admin ------------------------------------------------------------------------
    def assign(self, upn: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A user's app roles (``appRoles``: values) and groups (``groups``: object ids)."""
        roles, groups = payload.get("appRoles"), payload.get("groups")
        if not isinstance(roles, list | None) or not isinstance(groups, list | None):
            raise ValueError("appRoles and groups are lists of strings")
        return self.store.set_assignments(
            upn, None if roles is None else [str(r) for r in roles],
            None if groups is None else [str(g) for g in groups])

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
            if "appRoles" in payload or "groups" in payload:
                user = self.assign(user["upn"], payload)
            return JSONResponse(user_json(user), status_code=201)
        if path.startswith("/users/") and method == "PATCH":
            user = self.assign(unquote(path[len("/users/"):]), payload)
            return JSONResponse(user_json(user))
        if path == "/drives" and method == "POST":
            drive = self.store.provision(payload["userPrincipalName"], int(payload["quota"]))
            return JSONResponse(drive_json(self.store, drive, self.tenant_host), status_code=201)
        if path == "/apps" and method == "POST":
            self.store.add_app(payload["client_id"], payload.get("client_secret"),
                               payload.get("certificate_pem"))
            roles = payload.get("roles")
            self.store.set_app_roles(payload["client_id"],
                                     None if roles is None else [str(r) for r in roles])
            uris = payload.get("redirect_uris")
            self.store.set_redirect_uris(payload["client_id"],
                                         None if uris is None else [str(u) for u in uris])
            return JSONResponse({"client_id": payload["client_id"]}, status_code=201)
        if path == "/groups" and method == "POST":
            group = self.groups.add_group(str(payload["displayName"]), payload.get("id"))
            return JSONResponse(group, status_code=201)
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
