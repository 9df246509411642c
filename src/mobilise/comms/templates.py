"""Versioned message templates: add a version, find the current one, render, preview.

Templates are rendered in Jinja2's sandbox with strict undefined variables, so a template
author cannot reach into Python objects and a misspelt variable is an error at preview
time rather than a blank in 30,000 e-mails. Every render is bounded in output and time
(``comms.bounded``), and a template is refused at save when rendering it with sample data
goes over those bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Template, TemplateError
from jinja2.exceptions import SecurityError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.comms.bounded import BoundedEnvironment, RenderLimit, render_bounded
from mobilise.comms.defaults import BY_NAME, DEFAULTS
from mobilise.comms.models import MessageTemplate
from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import InvalidInput, NotFound

ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False,
                         keep_trailing_newline=True)
# For the check at save: a variable the sample lacks renders empty, so the whole template
# is rendered (and bounded), not just the part before the first unknown name.
_LENIENT = BoundedEnvironment(undefined=ChainableUndefined, autoescape=False,
                              keep_trailing_newline=True)


@dataclass(frozen=True)
class Rendered:
    template: str
    version: int
    subject: str
    body: str


def _check(name: str, subject: str, body: str) -> None:
    sample = sample_context(name, "Example Police")
    for label, text in (("subject", subject), ("body", body)):
        try:
            compiled = _LENIENT.from_string(text)
        except TemplateError as err:
            raise InvalidInput(f"the template {label} does not parse: {err}") from None
        try:
            render_bounded(compiled.generate(sample))
        except RenderLimit as err:
            raise InvalidInput(f"the template {label} is refused: {err.message} "
                               "(rendered with sample data)") from None
        except SecurityError as err:
            raise InvalidInput(f"the template {label} is refused: {err}") from None
        except TemplateError:
            pass  # data the sample lacks: the preview shows it


def add_version(session: Session, actor: Actor, name: str, subject: str, body: str, *,
                note: str | None = None, clock: Clock | None = None) -> MessageTemplate:
    """Add the next version of template ``name``; earlier versions stay as they were."""
    if not name.replace("_", "").isalnum():
        raise InvalidInput(f"template names are letters, digits and '_': {name!r}")
    _check(name, subject, body)
    latest = session.scalar(select(func.max(MessageTemplate.version))
                            .where(MessageTemplate.name == name)) or 0
    row = MessageTemplate(name=name, version=latest + 1, subject=subject, body=body,
                          note=note, created_at=(clock or SystemClock()).now())
    audit.create(session, actor, "template.add_version", row)
    session.flush()
    return row


def ensure_defaults(session: Session, actor: Actor, clock: Clock | None = None) -> int:
    """Give every default template its first version if it has none yet, and the next
    version when its default has changed and the latest version is still a default (one
    someone added is theirs to keep)."""
    latest: dict[str, MessageTemplate] = {}
    for row in session.scalars(select(MessageTemplate).order_by(MessageTemplate.version)):
        latest[row.name] = row
    added = 0
    for t in DEFAULTS:
        found = latest.get(t.name)
        if found is not None and (found.note != "default" or (found.subject, found.body)
                                == (t.subject, t.body)):
            continue
        add_version(session, actor, t.name, t.subject, t.body, note="default", clock=clock)
        added += 1
    return added


def current(session: Session, name: str, version: int | None = None) -> MessageTemplate:
    stmt = select(MessageTemplate).where(MessageTemplate.name == name)
    stmt = (stmt.where(MessageTemplate.version == version) if version is not None
            else stmt.order_by(MessageTemplate.version.desc()).limit(1))
    found = session.scalar(stmt)
    if found is None:
        raise NotFound(f"no template {name!r}" + (f" version {version}" if version else "")
                       + " (run 'mobilise comms templates init' for the defaults)")
    return found


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    # Template versions never change, so compiling each text once is safe.
    return ENV.from_string(text)


def render(template: MessageTemplate, context: dict[str, Any]) -> Rendered:
    subject_t, body_t = _compiled(template.subject), _compiled(template.body)
    try:
        subject = render_bounded(subject_t.generate(context))
        body = render_bounded(body_t.generate(context))
    except (TemplateError, RenderLimit) as err:
        why = err.message if isinstance(err, RenderLimit) else str(err)
        raise InvalidInput(f"template {template.name} v{template.version}: {why}") from None
    return Rendered(template.name, template.version, " ".join(subject.split()), body)


def sample_context(name: str, organisation: str) -> dict[str, Any]:
    default = BY_NAME.get(name)
    return {**(default.sample if default else {}), "organisation": organisation}


def preview(session: Session, name: str, organisation: str, *, version: int | None = None,
            context: dict[str, Any] | None = None) -> Rendered:
    ctx = {"organisation": organisation, **context} if context else sample_context(
        name, organisation)
    return render(current(session, name, version), ctx)


def list_templates(session: Session) -> list[MessageTemplate]:
    return list(session.scalars(select(MessageTemplate)
                                .order_by(MessageTemplate.name, MessageTemplate.version)))
