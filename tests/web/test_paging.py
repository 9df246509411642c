"""The one pager of every paged list, and the comms outbox a page at a time, filtered by
status and template."""

from __future__ import annotations

from sqlalchemy import update

from mobilise.comms import outbox
from mobilise.comms.models import OutboxMessage
from mobilise.core.db import session_scope
from mobilise.web.params import Pager
from tests.web.conftest import Web


def test_the_pager_words_and_links_a_page() -> None:
    p = Pager.of(2, 50, 2400, status="sent", template=None)
    assert (p.offset, p.pages, p.first, p.last) == (50, 48, 51, 100)
    assert p.showing == "Showing 51–100 of 2,400"
    assert p.href(3) == "?status=sent&template=&page=3"
    assert p.numbers() == [1, 2, 3, 4, None, 48]
    assert Pager.of(24, 50, 2400).numbers() == [1, None, 22, 23, 24, 25, 26, None, 48]
    assert Pager.of(1, 50, 0).showing == "Nothing to show"
    assert Pager.of(1, 50, 0).pages == 1
    assert Pager.of(9, 50, 120).showing == "Page 9 is past the end: 120 in all"
    assert Pager.of(3, 50, 120).showing == "Showing 101–120 of 120"
    assert Pager.of(1, 10, 5, q="a b&c").href(2) == "?q=a+b%26c&page=2"


def _outbox(web: Web, count: int) -> None:
    with session_scope(web.settings) as s:
        for i in range(count):
            outbox.queue(s, key=f"test-{i}", template="invitation" if i % 3 else "reminder",
                         recipient=f"p{i}@example.police.uk", settings=web.settings,
                         context={"person": {"first_name": "Sam"},
                                  "appointment": {"day": "2023-01-10", "site_code": "CE-01",
                                                  "site_name": "HQ", "adjustments": ""}})
        s.flush()
        s.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key.in_(
            [f"test-{i}" for i in range(0, count, 2)])).values(status="sent"))


def test_the_outbox_pages_and_filters(web: Web) -> None:
    _outbox(web, 120)
    prog = web.as_("programme")
    first = web.client.get("/comms", headers=prog)
    assert first.status_code == 200, first.text
    assert "Showing 1–50 of 120" in first.text
    assert 'href="?status=&template=&page=2" rel="next"' in first.text
    assert first.text.count("@example.police.uk</td>") == 50
    third = web.client.get("/comms?page=3", headers=prog)
    assert "Showing 101–120 of 120" in third.text and "p119@example.police.uk" in third.text
    assert 'rel="prev"' in third.text and 'rel="next"' not in third.text
    sent = web.client.get("/comms?status=sent&template=invitation", headers=prog)
    # Of the 60 sent (the even ones), those not divisible by 3 are invitations: 40.
    assert "Showing 1–40 of 40" in sent.text
    assert '<option value="sent" selected>' in sent.text
    assert '<option value="invitation" selected>' in sent.text
    assert "p1@example.police.uk" not in sent.text and "p2@example.police.uk" in sent.text
    assert web.client.get("/comms?status=lost", headers=prog).status_code == 422
    assert web.client.get("/comms?page=0", headers=prog).status_code == 422
    assert "Showing" not in web.client.get("/comms", headers=web.as_("viewer")).text
