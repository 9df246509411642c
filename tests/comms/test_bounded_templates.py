"""Template rendering is bounded in output and time (tracker #17): a body of
``{{ 'A' * 1000000000 }}`` is refused at save, and a version already stored renders to a
clear error instead of a gigabyte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jinja2 import StrictUndefined
from sqlalchemy.orm import Session

from mobilise.comms import templates
from mobilise.comms.bounded import MAX_OUTPUT, BoundedEnvironment, RenderLimit, render_bounded
from mobilise.comms.models import MessageTemplate
from mobilise.core import audit
from mobilise.core.errors import InvalidInput
from tests.factories import ADMIN

BOMBS = [
    "{{ 'A' * 1000000000 }}",
    "{{ 1000000000 * 'A' }}",
    "{{ 'A' * 600000 }}",                                   # just over the output bound
    "{% for i in range(2000) %}{{ 'A' * 400 }}{% endfor %}",  # over it a little at a time
    "{{ 'A'|center(1000000000) }}",
    "{{ '%1000000000s'|format('x') }}",
    "{{ '%1000000000s' % 'x' }}",
    "{{ ('A' * 400000) ~ ('A' * 400000) }}",
    "{{ (['x'] * 400000)|join('y' * 400000) }}",
    "{{ (['x' * 400000] * 400000)|tojson }}",
    "{{ ('a' * 400000)|replace('a', 'b' * 400000) }}",
    "{{ 10 ** 100000 }}",
    "{{ ((10 ** 64) ** 64) ** 64 }}",
]
ENDLESS = [
    "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
    "{% for a in 'x' * 400000 %}{% for b in 'y' * 400000 %}{% endfor %}{% endfor %}",
]


def _render(text: str) -> str:
    env = BoundedEnvironment(undefined=StrictUndefined, autoescape=False)
    return render_bounded(env.from_string(text).generate({"name": "Jo", "items": [1, 2]}))


@pytest.mark.parametrize("text", BOMBS + ENDLESS)
def test_bounded_rendering_refuses_what_would_be_too_large_or_too_long(text: str) -> None:
    with pytest.raises(RenderLimit):
        _render(text)


def test_ordinary_templates_render_as_before() -> None:
    assert _render("Hello {{ name }}: {% for x in items %}{{ x }}{{ loop.index }},"
                   "{% endfor %} {{ items|join(', ') }} {{ 'a' ~ 1 ~ name|upper }} "
                   "{{ 5000000|filesizeformat }} {{ '%5s'|format('x') }}") == \
        "Hello Jo: 11,22, 1, 2 a1JO 5.0 MB     x"
    assert len(_render(f"{{{{ 'A' * {MAX_OUTPUT} }}}}")) == MAX_OUTPUT


@pytest.mark.parametrize("body", BOMBS[:4] + ENDLESS[:1])
def test_a_template_that_would_render_too_much_is_refused_at_save(session: Session,
                                                                  body: str) -> None:
    with pytest.raises(InvalidInput, match="the template body is refused"):
        templates.add_version(session, ADMIN, "invitation", "Your phone", body)
    session.rollback()
    assert templates.list_templates(session) == []


def test_a_stored_bomb_previews_as_a_clear_error(session: Session) -> None:
    # A version saved before the bounds existed.
    audit.create(session, ADMIN, "template.add_version", MessageTemplate(
        name="invitation", version=1, subject="Hi", body="{{ 'A' * 1000000000 }}",
        created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    session.commit()
    with pytest.raises(InvalidInput, match="template invitation v1: the template would "
                                           "produce 1,000,000,000 characters"):
        templates.preview(session, "invitation", "Example Police")


def test_save_still_accepts_templates_using_data_the_sample_lacks(session: Session) -> None:
    row = templates.add_version(session, ADMIN, "custom", "For {{ person.name }}",
                                "{{ unknown.thing }} and {{ 'x' * 3 }}")
    assert row.version == 1
