"""Typed Graph failures, parsed from Microsoft's error body.

Each class is also the matching class of ``mobilise.core.errors`` (so the CLI and API map
it). The Graph client knows nothing of storage backends: the OneDrive backend maps these
to ``mobilise.storage.base``'s errors at its own boundary::

    GraphError
    ├── Unauthenticated      401         NotAuthenticated
    ├── AccessDenied         403         PermissionDenied
    ├── ItemNotFound         404         NotFound
    │   └── UploadSessionNotFound        the session expired or never was
    ├── DriveNotProvisioned  404         NotFound (the person's OneDrive does not exist yet)
    ├── NameExists           409         Conflict
    ├── ResyncRequired       410         Conflict (a delta token is no longer valid; carries
    │                                    the Location of a fresh enumeration when sent)
    ├── PreconditionFailed   412         Conflict (If-Match / If-None-Match)
    ├── InvalidRange         416         Conflict (fragment already received)
    ├── InvalidRequest       400         InvalidInput
    │   ├── InvalidName      400 "The provided name cannot contain any illegal
    │   │                        characters." (real Graph sends no inner code; the
    │   │                        documented invalidPath is accepted too)
    │   ├── PathTooLong      400 pathIsTooLong
    │   └── FileTooLarge     400 maxFileSizeExceeded
    ├── QuotaExceeded        507         CapacityExceeded
    ├── Throttled            429/503     ExternalServiceError
    └── ServiceFailed        5xx, cut connections, anything else after retries
        └── ServiceUnreachable   nothing listens (connection refused): not worth retrying
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from mobilise.core import errors as core


class GraphError(core.MobiliseError):
    # Whether trying again later may succeed (the storage contract reads the same name).
    retryable = False

    def __init__(self, message: str, *, http_status: int = 0, code: str = "",
                 inner_codes: tuple[str, ...] = (), request_id: str | None = None,
                 location: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.inner_codes = inner_codes
        self.request_id = request_id
        self.location = location   # the Location header, where the answer has one

    @property
    def most_specific_code(self) -> str:
        return self.inner_codes[-1] if self.inner_codes else self.code


class Unauthenticated(GraphError, core.NotAuthenticated):
    pass


class AccessDenied(GraphError, core.PermissionDenied):
    pass


class ItemNotFound(GraphError, core.NotFound):
    pass


class UploadSessionNotFound(ItemNotFound):
    pass


class DriveNotProvisioned(GraphError, core.NotFound):
    pass


class NameExists(GraphError, core.Conflict):
    pass


class ResyncRequired(GraphError, core.Conflict):
    pass


class InvalidRange(GraphError, core.Conflict):
    pass


class PreconditionFailed(GraphError, core.Conflict):
    pass


class InvalidRequest(GraphError, core.InvalidInput):
    pass


class InvalidName(InvalidRequest):
    pass


class PathTooLong(InvalidRequest):
    pass


class FileTooLarge(InvalidRequest):
    pass


class QuotaExceeded(GraphError, core.CapacityExceeded):
    pass


class ServiceFailed(GraphError, core.ExternalServiceError):
    retryable = True


class ServiceUnreachable(ServiceFailed):
    """The endpoint refused the connection: nothing listens there (a wrong address, or
    the service is down). Reported at once rather than after minutes of back-off; an
    engine must not retry it file by file either."""

    retryable = False


class Throttled(ServiceFailed):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


_BY_INNER: dict[str, type[GraphError]] = {
    "pathIsTooLong": PathTooLong,
    "pathTooDeep": PathTooLong,
    "invalidPath": InvalidName,
    "maxFileSizeExceeded": FileTooLarge,
    "uploadSessionNotFound": UploadSessionNotFound,
    "nameAlreadyExists": NameExists,
    "fragmentOverlap": InvalidRange,
}

_BY_CODE: dict[str, type[GraphError]] = {
    "accessDenied": AccessDenied,
    "itemNotFound": ItemNotFound,
    "nameAlreadyExists": NameExists,
    "resyncRequired": ResyncRequired,
    "resourceModified": PreconditionFailed,
    "invalidRange": InvalidRange,
    "invalidRequest": InvalidRequest,
    "quotaLimitReached": QuotaExceeded,
    "unauthenticated": Unauthenticated,
    "InvalidAuthenticationToken": Unauthenticated,
    "activityLimitReached": Throttled,
    "TooManyRequests": Throttled,
    "serviceNotAvailable": Throttled,
}

_BY_STATUS: dict[int, type[GraphError]] = {
    400: InvalidRequest, 401: Unauthenticated, 403: AccessDenied, 404: ItemNotFound,
    409: NameExists, 410: ResyncRequired, 412: PreconditionFailed, 416: InvalidRange,
    429: Throttled,
    503: Throttled, 507: QuotaExceeded,
}


def inner_codes(error: dict[str, Any]) -> tuple[str, ...]:
    """Codes from the outermost inner error to the innermost, accepting both spellings."""
    found: list[str] = []
    node: Any = error.get("innerError") or error.get("innererror")
    while isinstance(node, dict):
        code = node.get("code")
        if isinstance(code, str):
            found.append(code)
        node = node.get("innerError") or node.get("innererror")
    return tuple(found)


def is_name_message(message: str) -> bool:
    """Real Graph reports a refused name as 400 invalidRequest with no inner code, only
    the message "The provided name cannot contain any illegal characters."."""
    lowered = message.lower()
    return "provided name" in lowered or "illegal characters" in lowered


def error_from_response(response: httpx.Response) -> GraphError:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code", ""))
    inner = inner_codes(error)
    message = str(error.get("message") or response.reason_phrase or "Graph request failed")
    cls = next((_BY_INNER[c] for c in reversed(inner) if c in _BY_INNER), None)
    if cls is None and code == "invalidRequest" and is_name_message(message):
        cls = InvalidName
    cls = cls or _BY_CODE.get(code) or _BY_STATUS.get(response.status_code) or ServiceFailed
    text = f"Graph {response.request.method} {response.status_code} {code}: {message}"
    kw: dict[str, Any] = {"http_status": response.status_code, "code": code,
                          "inner_codes": inner,
                          "request_id": response.headers.get("request-id"),
                          "location": response.headers.get("location")}
    if cls is Throttled:
        return Throttled(text, retry_after=retry_after(response), **kw)
    return cls(text, **kw)


def refused_connection(exc: BaseException) -> bool:
    """Whether ``exc`` (from httpx or requests, however wrapped) comes from a refused
    connection: the chain of causes, contexts, arguments and urllib3's ``reason``."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        node = todo.pop()
        if not isinstance(node, BaseException) or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ConnectionRefusedError):
            return True
        todo += [node.__cause__, node.__context__, getattr(node, "reason", None), *node.args]
    return False


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date is allowed by RFC 9110 but Graph sends seconds
    return max(0.0, seconds)


def retry_after(response: httpx.Response) -> float | None:
    """The larger of Retry-After and RateLimit-Reset, in seconds (fractions allowed)."""
    waits = [w for w in (_seconds(response.headers.get("retry-after")),
                         _seconds(response.headers.get("ratelimit-reset"))) if w is not None]
    return max(waits) if waits else None
