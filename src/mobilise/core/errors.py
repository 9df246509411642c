"""The one exception tree of Mobilise.

Every error a user can cause or meet is a ``MobiliseError``. Each class carries the HTTP
status the API answers with (as problem+json) and the exit code the CLI ends with, so the
two interfaces map errors in exactly one place each (``web.problems`` and ``cli.main``).

    MobiliseError
    ├── NotAuthenticated      401 / exit 3   no or bad credentials
    ├── PermissionDenied      403 / exit 3   credentials lack the role
    ├── NotFound              404 / exit 4   no such person, handset, drive...
    ├── Conflict              409 / exit 5   duplicate, or the state forbids it
    │   ├── TransitionRefused 409 / exit 5   a lifecycle guard said no
    │   └── ConcurrentChange  409 / exit 5   lost a race: another request changed it first
    ├── InvalidInput          422 / exit 2   a value is wrong
    │   └── ImportRejected    422 / exit 2   a file failed validation (all errors listed)
    ├── CapacityExceeded      409 / exit 5   a configured limit would be passed
    ├── AuditChainBroken      500 / exit 6   the audit log does not verify
    ├── ExternalServiceError  502 / exit 7   Graph, SMB, SMTP... failed after retries
    └── DatabaseNotReady      503 / exit 8   no schema yet (run init), or unreachable
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


class MobiliseError(Exception):
    status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "Request failed"

    def __init__(self, message: str, *, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[Any] = details or []


class NotAuthenticated(MobiliseError):
    status = 401
    exit_code = 3
    title = "Not authenticated"


class PermissionDenied(MobiliseError):
    status = 403
    exit_code = 3
    title = "Permission denied"


class NotFound(MobiliseError):
    status = 404
    exit_code = 4
    title = "Not found"


class Conflict(MobiliseError):
    status = 409
    exit_code = 5
    title = "Conflict"


class TransitionRefused(Conflict):
    title = "Transition refused"


class ConcurrentChange(Conflict):
    """The loser of two concurrent changes of the same thing (a uniqueness rule refused
    its row, or the row went while it waited): nothing it did was kept."""

    title = "Changed concurrently"

    def __init__(self, message: str = "someone else made the same change at the same "
                 "moment: nothing was changed by this request; reload and try again",
                 *, details: list[Any] | None = None) -> None:
        super().__init__(message, details=details)


class CapacityExceeded(Conflict):
    title = "Capacity exceeded"


class InvalidInput(MobiliseError):
    status = 422
    exit_code = 2
    title = "Invalid input"


@dataclass(frozen=True, order=True)
class FileProblem:
    """One problem in an imported file, printed as ``file:line:column: message``."""

    file: str
    line: int
    column: int
    message: str = field(compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ImportRejected(InvalidInput):
    title = "Import rejected"

    def __init__(self, problems: list[FileProblem]) -> None:
        ordered = sorted(problems)
        shown = "\n".join(str(p) for p in ordered[:50])
        more = f"\n... and {len(ordered) - 50} more" if len(ordered) > 50 else ""
        super().__init__(
            f"{len(ordered)} problem(s); nothing was imported:\n{shown}{more}",
            details=[str(p) for p in ordered],
        )
        self.problems = ordered


class AuditChainBroken(MobiliseError):
    status = 500
    exit_code = 6
    title = "Audit chain broken"


class ExternalServiceError(MobiliseError):
    status = 502
    exit_code = 7
    title = "External service failed"


class DatabaseNotReady(MobiliseError):
    status = 503
    exit_code = 8
    title = "Database not ready"
