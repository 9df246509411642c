"""The audit log names what each entry is about (a person by name and number, a wave by
name, a rule set by version) and links to its page, with the internal id still shown."""

from __future__ import annotations

from sqlalchemy import select

from mobilise.core.db import session_scope
from mobilise.people.models import Person
from tests.web.conftest import Web


def test_entries_name_and_link_their_entities(web: Web) -> None:
    made = web.client.post("/api/v1/waves", headers=web.as_("admin"),
                           json={"name": "Pilot", "people": ["100001"]})
    assert made.status_code == 201, made.text
    wave = made.json()["id"]
    with session_scope(web.settings) as s:
        person = s.scalars(select(Person).where(Person.number == "100001")).one()
        pid, name = person.id, person.display_name
    shown = web.client.get("/audit", headers=web.as_("auditor"))
    assert shown.status_code == 200
    assert f'<a href="/waves/{wave}">wave Pilot</a>' in shown.text
    assert f"#{wave}</span>" in shown.text  # the id stays visible
    people = web.client.get("/audit?entity=person", headers=web.as_("auditor")).text
    assert f'<a href="/people/100001">{name} (100001)</a>' in people
    assert f"#{pid}</span>" in people
    assert web.client.get("/audit", headers=web.as_("viewer")).status_code == 403
