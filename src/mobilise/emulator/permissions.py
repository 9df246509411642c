"""Application permissions (app roles) the emulator asks for, when an app has been given
a set of them (``POST /_emulator/apps`` with ``roles``); an app without a set may do
everything, as before. Each request needs any one of the roles listed for it, from the
"Permissions" table of its Microsoft page (least privileged first)."""

from __future__ import annotations

FILES_READ = ("Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All",
              "Sites.ReadWrite.All")
FILES_WRITE = ("Files.ReadWrite.All", "Sites.ReadWrite.All")
USERS_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")
DEVICES_READ = ("DeviceManagementManagedDevices.Read.All",
                "DeviceManagementManagedDevices.ReadWrite.All")
DEVICES_ACT = ("DeviceManagementManagedDevices.PrivilegedOperations.All",)
# "Add members" (a user into a group) and "List group members", least privileged first.
MEMBERS_WRITE = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All",
                 "Directory.ReadWrite.All")
MEMBERS_READ = ("GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All",
                "Group.ReadWrite.All", "Directory.Read.All")


def required_roles(method: str, path: str) -> tuple[str, ...]:
    """Any one of these roles lets ``method path`` (below /v1.0) through."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["deviceManagement", "managedDevices"]:
        # retire, wipe, syncDevice... are privileged operations; reading is not.
        return DEVICES_ACT if method == "POST" else DEVICES_READ
    if parts[:1] == ["groups"]:
        return MEMBERS_WRITE if method == "POST" else MEMBERS_READ
    if parts[:1] == ["users"] and (len(parts) <= 2):
        return USERS_READ
    return FILES_READ if method == "GET" else FILES_WRITE
