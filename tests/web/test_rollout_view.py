"""The rollout page opens on the programme's own dates (the plan's start to its deadline)
and words a zero rate as what it is."""

from __future__ import annotations

import re

from tests.web.conftest import Web
from tests.web.test_rollout_api import PLAN


def _weeks(text: str) -> list[str]:
    """The burndown table's weeks."""
    table = text.split("Burndown as a table", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[^>]*><td[^>]*>(\d{4}-\d\d-\d\d)</td>", table)


def test_no_hand_overs_are_worded_not_counted(web: Web) -> None:
    page = web.client.get("/rollout", headers=web.as_("viewer")).text
    assert "no hand-overs recorded yet" in page
    assert "0.0</span> a week" not in page and "not known" not in page
    assert "a finish is forecast once hand-overs are being recorded" in page


def test_the_default_view_is_the_programme_and_every_week_is_a_link_away(web: Web) -> None:
    prog = web.as_("programme")
    assert web.client.post("/api/v1/rollout/stock", json={"expected_on": "2023-01-02",
                                                          "quantity": 20},
                           headers=prog).status_code == 201
    assert web.client.post("/api/v1/rollout/plan", json=PLAN, headers=prog).status_code == 200
    # Read long after the programme: every week since would be charted otherwise.
    page = web.client.get("/rollout?as_of=2025-11-20", headers=prog).text
    weeks = _weeks(page)
    assert weeks[0] == "2023-01-09" and weeks[-1] == "2023-03-27", weeks
    assert len(weeks) == 12
    assert "The programme&#39;s own dates" in page or "The programme's own dates" in page
    assert 'href="?as_of=2025-11-20&amp;org_unit=&amp;view=all"' in page
    everything = _weeks(web.client.get("/rollout?as_of=2025-11-20&view=all",
                                       headers=prog).text)
    assert everything[0] == "2023-01-09" and everything[-1] >= "2025-11-17"
    assert web.client.get("/rollout?view=some", headers=prog).status_code == 422
