"""Two clients that drive the emulator through the same cases.

``SdkDriver`` is Microsoft's own stack: ``azure-identity`` for the token, ``msgraph-sdk``'s
request builders, ``msgraph-core``'s ``LargeFileUploadTask``, errors as ``ODataError``. It
only trusts the emulator's CA (in its httpx client and in azure-identity's transport) and
points its base URL at the emulator; everything else is the SDK's default.

``OursDriver`` is Mobilise's client: ``GraphClient`` and the ``onedrive`` backend, with the
Intune paths and action bodies of ``devices.intune``.

Each method returns plain values, so a test reads the same for both; a refusal is turned
into ``(status, code)`` by ``failure``.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from azure.identity import ClientSecretCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.device_management.managed_devices.item.wipe.wipe_post_request_body import (
    WipePostRequestBody,
)
from msgraph.generated.device_management.managed_devices.managed_devices_request_builder import (
    ManagedDevicesRequestBuilder,
)
from msgraph.generated.drives.item.items.item.children.children_request_builder import (
    ChildrenRequestBuilder,
)
from msgraph.generated.drives.item.items.item.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
    CreateUploadSessionPostRequestBody,
)
from msgraph.generated.models.drive_item import DriveItem
from msgraph.generated.models.drive_item_uploadable_properties import (
    DriveItemUploadableProperties,
)
from msgraph.generated.models.folder import Folder
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import GraphClientFactory
from msgraph_core.tasks.large_file_upload import LargeFileUploadTask

from mobilise.devices.intune import ACTION_BODIES, DEVICES
from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorProcess
from mobilise.graph import GraphClient, GraphError, Pacer, groups
from mobilise.storage.onedrive import OneDriveBackend
from tests.storage.onedrive_fixture import emulator_settings

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
T = TypeVar("T")


@dataclass
class Listing:
    names: list[str]
    pages: int


@dataclass
class DeltaRound:
    changed: dict[str, str]      # id -> name of items present
    deleted: set[str]            # ids reported with the deleted facet
    link: str                    # the deltaLink to follow next time


@dataclass
class FileItem:
    id: str
    name: str
    size: int
    qxh: str | None


def failure(action: Callable[[], Any]) -> tuple[int, str]:
    """Run ``action``, which must be refused; the status and Graph error code, as each
    client's own error type carries them."""
    try:
        action()
    except ODataError as exc:
        assert exc.error is not None
        return int(exc.response_status_code or 0), str(exc.error.code)
    except GraphError as exc:
        return exc.http_status, exc.code
    raise AssertionError("the request was not refused")


# --- Microsoft's SDK -------------------------------------------------------------------
class SdkDriver:
    name = "sdk"

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        # The SDK is asynchronous. Its loop runs on a thread of its own: the test's thread
        # may already run a loop (Playwright's, kept for the whole session by the browser
        # tests), and a second loop cannot run on a thread that runs one.
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sdk-loop",
                                       daemon=True)
        self.thread.start()
        self.credential = ClientSecretCredential(
            emulator.tenant, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
            authority=emulator.url, disable_instance_discovery=True,
            connection_verify=str(emulator.ca))
        # Tokens go only to the Graph host; upload URLs live on the other host name.
        auth = AzureIdentityAuthenticationProvider(
            self.credential, scopes=[GRAPH_SCOPE], allowed_hosts=["127.0.0.1"])
        # No retries, so that 429 reaches the test as the SDK's ODataError.
        options = {RetryHandlerOption.get_key(): RetryHandlerOption(
            max_retries=0, should_retry=False)}
        http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(verify=emulator.tls(), timeout=60), options=options)
        self.adapter = GraphRequestAdapter(auth, client=http)
        self.adapter.base_url = emulator.graph_url
        self.client = GraphServiceClient(request_adapter=self.adapter)

    def run(self, work: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await work
        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()

    def token(self) -> str:
        return str(self.credential.get_token(GRAPH_SCOPE).token)

    def users(self, page_size: int) -> Listing:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=page_size)
        page = self.run(self.client.users.get(RequestConfiguration(query_parameters=query)))
        names, pages = [], 0
        while page is not None:
            pages += 1
            names += [str(u.user_principal_name) for u in page.value or []]
            if not page.odata_next_link:
                break
            page = self.run(self.client.users.with_url(page.odata_next_link).get())
        return Listing(names, pages)

    def drive_id(self, upn: str) -> str:
        drive = self.run(self.client.users.by_user_id(upn).drive.get())
        assert drive is not None
        return str(drive.id)

    def _item(self, drive_id: str, item_id: str) -> Any:
        return self.client.drives.by_drive_id(drive_id).items.by_drive_item_id(item_id)

    def children(self, drive_id: str, path: str, page_size: int) -> Listing:
        query = ChildrenRequestBuilder.ChildrenRequestBuilderGetQueryParameters(top=page_size)
        builder = self._item(drive_id, f"root:/{path}:" if path else "root").children
        page = self.run(builder.get(RequestConfiguration(query_parameters=query)))
        names, pages = [], 0
        while page is not None:
            pages += 1
            names += [str(i.name) for i in page.value or []]
            if not page.odata_next_link:
                break
            page = self.run(builder.with_url(page.odata_next_link).get())
        return Listing(names, pages)

    def item_by_path(self, drive_id: str, path: str, form: str) -> FileItem:
        if form == "encoded":
            # What by_drive_item_id('root:/Docs:') sends: items/root%3A%2FDocs%3A
            item = self.run(self._item(drive_id, f"root:/{path}:").get())
        else:
            url = f"{self.emulator.graph_url}/drives/{drive_id}/root:/{quote(path)}:"
            item = self.run(self._item(drive_id, "root").with_url(url).get())
        return _sdk_file(item)

    def mkdir(self, drive_id: str, parent: str, name: str, conflict: str) -> str:
        body = DriveItem(name=name, folder=Folder(),
                         additional_data={"@microsoft.graph.conflictBehavior": conflict})
        parent_id = f"root:/{parent}:" if parent else "root"
        made = self.run(self._item(drive_id, parent_id).children.post(body))
        assert made is not None
        return str(made.name)

    def put_small(self, drive_id: str, path: str, data: bytes) -> FileItem:
        return _sdk_file(self.run(self._item(drive_id, f"root:/{path}:").content.put(data)))

    def upload_large(self, drive_id: str, path: str, data: bytes,
                     chunk: int | None) -> FileItem:
        body = CreateUploadSessionPostRequestBody(item=DriveItemUploadableProperties(
            additional_data={"@microsoft.graph.conflictBehavior": "replace"}))
        session = self.run(self._item(drive_id, f"root:/{path}:").create_upload_session
                           .post(body))
        options = {} if chunk is None else {"max_chunk_size": chunk}
        task = LargeFileUploadTask(session, self.adapter, io.BytesIO(data),
                                   DriveItem.create_from_discriminator_value, **options)
        try:
            self.run(task.upload())
        except APIError as exc:
            # msgraph-core's task PUTs its final range once more after the session has
            # completed (microsoftgraph/msgraph-sdk-python-core#718): the finished session
            # is gone, so that repeat is refused. The file itself is complete (checked by
            # the caller through its size and quickXorHash).
            assert exc.response_status_code == 404, exc
        return self.item_by_path(drive_id, path, "encoded")

    def delete(self, drive_id: str, path: str, etag: str | None = None) -> None:
        config: RequestConfiguration[Any] = RequestConfiguration()
        if etag is not None:
            config.headers.add("If-Match", etag)
        self.run(self._item(drive_id, f"root:/{path}:").delete(config))

    def delta(self, drive_id: str, link: str | None, page_size: int) -> DeltaRound:
        builder = self._item(drive_id, "root").delta
        url = link or f"{self.emulator.graph_url}/drives/{drive_id}/items/root/delta()" \
                      f"?$top={page_size}"
        changed: dict[str, str] = {}
        deleted: set[str] = set()
        while True:
            page = self.run(builder.with_url(url).get())
            assert page is not None
            for item in page.value or []:
                if item.deleted is not None:
                    deleted.add(str(item.id))
                    changed.pop(str(item.id), None)
                else:
                    changed[str(item.id)] = str(item.name)
            if page.odata_next_link:
                url = page.odata_next_link
                continue
            return DeltaRound(changed, deleted, str(page.odata_delta_link))

    def overlap(self, drive_id: str, path: str) -> None:
        """Send the first fragment of a session twice (the second is refused)."""
        session = self.run(self._item(drive_id, f"root:/{path}:").create_upload_session.post(
            CreateUploadSessionPostRequestBody(item=DriveItemUploadableProperties())))
        assert session is not None
        for _ in range(2):
            info = RequestInformation(method=Method.PUT)
            info.url = str(session.upload_url)
            info.headers = HeadersCollection()
            info.headers.try_add("Content-Range", f"bytes 0-{327_680 - 1}/{2 * 327_680}")
            info.set_stream_content(b"\0" * 327_680)
            self.run(self.adapter.send_no_response_content_async(
                info, {"XXX": ODataError}))

    # --- Intune
    def devices(self, page_size: int, filter_: str | None = None) -> Listing:
        query = ManagedDevicesRequestBuilder.ManagedDevicesRequestBuilderGetQueryParameters(
            top=page_size, filter=filter_)
        builder = self.client.device_management.managed_devices
        page = self.run(builder.get(RequestConfiguration(query_parameters=query)))
        ids, pages = [], 0
        while page is not None:
            pages += 1
            ids += [str(d.id) for d in page.value or []]
            if not page.odata_next_link:
                break
            page = self.run(builder.with_url(page.odata_next_link).get())
        return Listing(ids, pages)

    def device(self, device_id: str) -> dict[str, Any]:
        device = self.run(self.client.device_management.managed_devices
                          .by_managed_device_id(device_id).get())
        assert device is not None
        return {"serialNumber": device.serial_number,
                "managementState": _enum(device.management_state),
                "deviceEnrollmentType": _enum(device.device_enrollment_type)}

    def act(self, device_id: str, action: str) -> None:
        item = self.client.device_management.managed_devices.by_managed_device_id(device_id)
        if action == "wipe":
            self.run(item.wipe.post(WipePostRequestBody(
                keep_enrollment_data=False, keep_user_data=False)))
        elif action == "retire":
            self.run(item.retire.post())
        else:
            self.run(item.sync_device.post())

    # --- Entra ID groups
    def user_id(self, upn: str) -> str:
        user = self.run(self.client.users.by_user_id(upn).get())
        assert user is not None
        return str(user.id)

    def add_member(self, group_id: str, object_id: str) -> bool:
        """True: added. A member already there is the SDK's ODataError (400), raised."""
        self.run(self.client.groups.by_group_id(group_id).members.ref.post(ReferenceCreate(
            odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{object_id}")))
        return True

    def members(self, group_id: str) -> list[str]:
        builder = self.client.groups.by_group_id(group_id).members
        page = self.run(builder.get())
        found: list[str] = []
        while page is not None:
            found += [str(m.user_principal_name) if isinstance(m, User) else str(m.id)
                      for m in page.value or []]
            if not page.odata_next_link:
                break
            page = self.run(builder.with_url(page.odata_next_link).get())
        return found


def _enum(value: Any) -> str | None:
    return None if value is None else str(value.value)


def _sdk_file(item: DriveItem | None) -> FileItem:
    assert item is not None
    hashes = item.file.hashes if item.file is not None else None
    return FileItem(str(item.id), str(item.name), int(item.size or 0),
                    hashes.quick_xor_hash if hashes is not None else None)


# --- Mobilise's client -----------------------------------------------------------------
class OursDriver:
    name = "ours"

    def __init__(self, emulator: EmulatorProcess, journal: Path) -> None:
        self.emulator = emulator
        self.journal = journal
        # No retries, so that 429 reaches the test as our Throttled.
        self.client = GraphClient(emulator_settings(emulator, graph_max_retries=0),
                                  pacer=Pacer(600_000))
        self.upns: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def backend(self, drive_id: str, **options: Any) -> OneDriveBackend:
        return OneDriveBackend(self.client, self.upns[drive_id], journal_dir=self.journal,
                               **options)

    def token(self) -> str:
        return self.client.tokens.token()

    def _listing(self, path: str, params: dict[str, str | int]) -> Listing:
        names, pages = [], 0
        for page in self.client.pages(path, params=params):
            pages += 1
            names += [str(v.get("userPrincipalName") or v.get("name") or v["id"])
                      for v in page.get("value", [])]
        return Listing(names, pages)

    def users(self, page_size: int) -> Listing:
        return self._listing("users", {"$top": page_size})

    def drive_id(self, upn: str) -> str:
        drive_id = str(self.client.get_json(f"users/{quote(upn)}/drive")["id"])
        self.upns[drive_id] = upn
        return drive_id

    def children(self, drive_id: str, path: str, page_size: int) -> Listing:
        where = f"drives/{drive_id}/root:/{quote(path)}:/children" if path else \
            f"drives/{drive_id}/root/children"
        return self._listing(where, {"$top": page_size})

    def item_by_path(self, drive_id: str, path: str, form: str) -> FileItem:
        if form == "encoded":
            url = f"drives/{drive_id}/items/{quote(f'root:/{path}:', safe='')}"
            return _our_file(self.client.get_json(url))
        entry = self.backend(drive_id).stat(path)
        return FileItem(str(entry.id), entry.path.rsplit("/", 1)[-1], entry.size,
                        entry.hashes.get("quickxor"))

    def mkdir(self, drive_id: str, parent: str, name: str, conflict: str) -> str:
        where = f"drives/{drive_id}/root:/{quote(parent)}:/children" if parent else \
            f"drives/{drive_id}/root/children"
        made = self.client.send_json("POST", where, {
            "name": name, "folder": {}, "@microsoft.graph.conflictBehavior": conflict})
        return str(made["name"])

    def put_small(self, drive_id: str, path: str, data: bytes) -> FileItem:
        entry = self.backend(drive_id).write(path, io.BytesIO(data), len(data))
        return self.item_by_path(drive_id, entry.path, "path")

    def upload_large(self, drive_id: str, path: str, data: bytes,
                     chunk: int | None) -> FileItem:
        options: dict[str, Any] = {"simple_upload_limit": 0}
        if chunk is not None:
            options["fragment_size"] = chunk
        self.backend(drive_id, **options).write(path, io.BytesIO(data), len(data))
        return self.item_by_path(drive_id, path, "encoded")

    def delete(self, drive_id: str, path: str, etag: str | None = None) -> None:
        headers = {"If-Match": etag} if etag is not None else None
        self.client.request("DELETE", f"drives/{drive_id}/root:/{quote(path)}:",
                            headers=headers)

    def delta(self, drive_id: str, link: str | None, page_size: int) -> DeltaRound:
        listing = self.backend(drive_id).delta(link)
        return DeltaRound({e.id or "": e.path.rsplit("/", 1)[-1] for e in listing.entries},
                          set(listing.removed), listing.token)

    def overlap(self, drive_id: str, path: str) -> None:
        session = self.client.send_json(
            "POST", f"drives/{drive_id}/root:/{quote(path)}:/createUploadSession", {"item": {}})
        for _ in range(2):
            self.client.request("PUT", str(session["uploadUrl"]), content=b"\0" * 327_680,
                                authenticated=False,
                                headers={"Content-Range": f"bytes 0-{327_680 - 1}/"
                                                          f"{2 * 327_680}"})

    # --- Intune
    def devices(self, page_size: int, filter_: str | None = None) -> Listing:
        params: dict[str, str | int] = {"$top": page_size}
        if filter_:
            params["$filter"] = filter_
        return self._listing(DEVICES, params)

    def device(self, device_id: str) -> dict[str, Any]:
        device = self.client.get_json(f"{DEVICES}/{device_id}")
        return {k: device.get(k) for k in
                ("serialNumber", "managementState", "deviceEnrollmentType")}

    def act(self, device_id: str, action: str) -> None:
        self.client.request("POST", f"{DEVICES}/{device_id}/{action}",
                            json=ACTION_BODIES.get(action, {}))

    # --- Entra ID groups
    def user_id(self, upn: str) -> str:
        return groups.user_id(self.client, upn)

    def add_member(self, group_id: str, object_id: str) -> bool:
        return groups.add_member(self.client, group_id, object_id)

    def members(self, group_id: str) -> list[str]:
        return [m["userPrincipalName"] for m in groups.members(self.client, group_id)]


def _our_file(item: dict[str, Any]) -> FileItem:
    hashes = (item.get("file") or {}).get("hashes") or {}
    return FileItem(str(item["id"]), str(item["name"]), int(item.get("size", 0)),
                    hashes.get("quickXorHash"))
