"""Graph-shaped error answers.

Every refusal the emulator gives is a ``GraphFault``; the app turns it into Microsoft's body
shape: ``{"error": {"code", "message", "innerError": {"code", "date", "request-id",
"client-request-id"}}}``. ``code`` is one of the documented top-level codes; the inner code
is the most specific one the documents name (``pathIsTooLong``, ``fragmentOverlap``...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class GraphFault(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        inner: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # Most real Graph errors carry no inner code; only the specific ones do.
        self.inner = inner
        self.headers = headers or {}
        # A path below /v1.0 for the Location header (410 on delta: a fresh enumeration).
        self.location: str | None = None

    def body(self, request_id: str, client_request_id: str | None) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    **({"code": self.inner} if self.inner else {}),
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id or request_id,
                },
            }
        }


def not_found(
    message: str = "The resource could not be found.", inner: str | None = None
) -> GraphFault:
    return GraphFault(404, "itemNotFound", message, inner)


def invalid_request(message: str, inner: str | None = None) -> GraphFault:
    return GraphFault(400, "invalidRequest", message, inner)


def name_exists(name: str) -> GraphFault:
    return GraphFault(
        409, "nameAlreadyExists", f"The specified item name '{name}' already exists."
    )


def quota_reached() -> GraphFault:
    return GraphFault(507, "quotaLimitReached", "Insufficient storage space on the drive.")


def unauthenticated(message: str = "Access token is missing or invalid.") -> GraphFault:
    return GraphFault(401, "unauthenticated", message)
