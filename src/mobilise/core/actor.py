"""Who is acting: a person logged into the web, an API token, or the CLI operator."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    PROGRAMME = "programme"
    SERVICE_DESK = "service-desk"
    MIGRATION = "migration"
    RECORDS = "records"
    AUDITOR = "auditor"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    request_id: str | None = None
    user_id: int | None = None

    def has_any(self, roles: frozenset[Role]) -> bool:
        """Admin may do anything; ``viewer`` in ``roles`` means any signed-in role."""
        if Role.ADMIN in self.roles:
            return True
        if Role.VIEWER in roles and self.roles:
            return True
        return bool(self.roles & roles)


def cli_actor() -> Actor:
    """The operator at the terminal: they hold the machine, so they hold every role."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(name=f"cli:{who}", roles=frozenset({Role.ADMIN}))


SYSTEM = Actor(name="system", roles=frozenset({Role.ADMIN}))
