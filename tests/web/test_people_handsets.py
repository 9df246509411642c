"""Who holds a handset shows where people are listed: the search results and the
person's page."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.devices import handsets
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.people.register import get_person
from tests.devices.fleet import build_fleet
from tests.factories import ADMIN
from tests.web.conftest import Web


def test_search_results_and_the_person_page_show_the_handset(web: Web, tmp_path: Path) -> None:
    with session_scope(web.settings) as s:
        build_fleet(s, web.settings, tmp_path)
        spare = s.scalars(select(Handset).where(
            Handset.status == HandsetStatus.IN_STOCK.value, Handset.holder_id.is_(None))).first()
        assert spare is not None
        imei = spare.imei
        handsets.issue_handset(s, ADMIN, web.settings, SystemClock(), spare,
                               get_person(s, "100004"), method="signature",
                               policy_version=web.settings.acceptable_use_version)
    listing = web.client.get("/people?q=alex4", headers=web.as_("viewer"))
    assert listing.status_code == 200 and f'href="/handsets/{imei}"' in listing.text
    person = web.client.get("/people/100004", headers=web.as_("viewer"))
    assert f'href="/handsets/{imei}"' in person.text
    other = web.client.get("/people/100005", headers=web.as_("viewer"))
    assert "No handset issued." in other.text
