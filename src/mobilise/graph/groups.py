"""Entra ID group membership: the Known Folder Move group's members.

``add_member`` is Microsoft's "Add members" (``POST /groups/{id}/members/$ref`` with the
member named as a directory object, 204); a member already there is answered 400 with
"One or more added object references already exist ..." and is reported as ``False``
(already a member), not as a failure, so adding the same people again is harmless.
"""

from __future__ import annotations

from urllib.parse import quote

from mobilise.graph.client import GraphClient
from mobilise.graph.errors import GraphError

DIRECTORY_OBJECT = "https://graph.microsoft.com/v1.0/directoryObjects/{id}"
ALREADY_MEMBER = "already exist"  # in Microsoft's message for a member added twice


def user_id(client: GraphClient, upn: str) -> str:
    """The user's object id (a directory object is named by its id, never its UPN)."""
    return str(client.get_json(f"users/{quote(upn)}", params={"$select": "id"})["id"])


def add_member(client: GraphClient, group_id: str, object_id: str) -> bool:
    """Add the directory object to the group: True when added, False when it was a member
    already."""
    try:
        client.request("POST", f"groups/{quote(group_id)}/members/$ref",
                       json={"@odata.id": DIRECTORY_OBJECT.format(id=object_id)})
    except GraphError as err:
        if err.http_status == 400 and ALREADY_MEMBER in str(err):
            return False
        raise
    return True


def members(client: GraphClient, group_id: str) -> list[dict[str, str]]:
    """Every member of the group (id and UPN), following the pages."""
    return [{"id": str(m.get("id")), "userPrincipalName": str(m.get("userPrincipalName"))}
            for m in client.items(f"groups/{quote(group_id)}/members")]
