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
    # Never granted: every login linked to a person in the register holds it, and with it
    # the self-service pages (/me) about that person alone, whatever its staff roles.
    PERSON = "person"


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    request_id: str | None = None
    user_id: int | None = None
    person_id: int | None = None  # the person this login is (``User.person_id``)

    def has_any(self, roles: frozenset[Role]) -> bool:
        """Admin may do anything; ``viewer`` in ``roles`` means any signed-in staff role.
        ``person`` is held only by a login linked to a person: admin alone is not enough
        (there would be no one for the self-service pages to be about)."""
        if Role.PERSON in roles and Role.PERSON in self.roles:
            return True
        staff = self.roles - {Role.PERSON}
        if roles and roles <= {Role.PERSON}:
            return False
        if Role.ADMIN in staff:
            return True
        if Role.VIEWER in roles and staff:
            return True
        return bool(staff & roles)


def cli_actor() -> Actor:
    """The operator at the terminal: they hold the machine, so they hold every role."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(name=f"cli:{who}", roles=frozenset({Role.ADMIN}))


SYSTEM = Actor(name="system", roles=frozenset({Role.ADMIN}))
