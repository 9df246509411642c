"""Microsoft Graph client: MSAL auth, one pacer per process, retries, typed errors, paging.

    from mobilise.graph import GraphClient
    client = GraphClient(settings)
    for user in client.items("users"):
        ...
"""

from mobilise.graph.client import GraphClient, user_agent
from mobilise.graph.errors import (
    AccessDenied,
    DriveNotProvisioned,
    FileTooLarge,
    GraphError,
    InvalidName,
    InvalidRange,
    InvalidRequest,
    ItemNotFound,
    NameExists,
    PathTooLong,
    PreconditionFailed,
    QuotaExceeded,
    ResyncRequired,
    ServiceFailed,
    ServiceUnreachable,
    Throttled,
    Unauthenticated,
    UploadSessionNotFound,
)
from mobilise.graph.pacer import Pacer, process_pacer

__all__ = [
    "AccessDenied", "DriveNotProvisioned", "FileTooLarge", "GraphClient", "GraphError",
    "InvalidName", "InvalidRange", "InvalidRequest", "ItemNotFound", "NameExists", "Pacer",
    "PathTooLong", "PreconditionFailed", "QuotaExceeded", "ResyncRequired", "ServiceFailed",
    "ServiceUnreachable", "Throttled", "Unauthenticated", "UploadSessionNotFound",
    "process_pacer", "user_agent",
]
