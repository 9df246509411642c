"""Server-rendered pages: one Jinja2 environment, one navigation, one way to render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from starlette.datastructures import FormData

from mobilise import __version__
from mobilise.core.actor import Actor, Role
from mobilise.core.oidc import EntraSignIn
from mobilise.core.words import label, size_text, when_text
from mobilise.web.auth import csrf_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
# The GOV.UK Design System's own macros, imported as "govuk_frontend_jinja/components/...".
TEMPLATES.env.loader = ChoiceLoader([
    TEMPLATES.env.loader or FileSystemLoader(str(Path(__file__).parent.parent / "templates")),
    PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
])
# How internal values read on every page: one dictionary, one size and one time format.
TEMPLATES.env.filters["label"] = label
TEMPLATES.env.filters["size"] = size_text
TEMPLATES.env.filters["when"] = when_text

# A status's GOV.UK tag colour, by what it means: red for what needs acting on (failed,
# lost, full), yellow for what is uncertain or waiting, green for what is done, grey for
# what is over; the handset, SIM and drive states' own ``colour`` names one directly.
_TAG_COLOURS = {
    "red": "red", "failed": "red", "no_show": "red", "full": "red", "error": "red",
    # Amber is GOV.UK's orange, as the charts draw it (charts.MEANING).
    "high": "red", "medium": "orange", "low": "grey",
    "amber": "orange", "uncertain": "orange", "sending": "orange", "warning": "orange",
    "queued": "grey", "pending": "grey",
    "green": "green", "done": "green", "sent": "green", "attended": "green",
    "succeeded": "green", "accepted": "green",
    "blue": "blue", "running": "blue", "active": "blue", "booked": "blue",
    "teal": "teal", "purple": "purple",
    "grey": "grey", "leaver": "grey", "cancelled": "grey", "expired": "grey",
}


def tag_class(status: object) -> str:
    """The class of a GOV.UK tag for ``status``: ``govuk-tag govuk-tag--<colour>``."""
    colour = _TAG_COLOURS.get(str(status), "grey")
    return f"govuk-tag govuk-tag--{colour}"


TEMPLATES.env.filters["tag"] = tag_class

_ANY = frozenset({Role.VIEWER})  # any signed-in role (Actor.has_any)

# (label, path, the roles its page admits): one entry per line, in the order the
# programme thinks of them. The roles are those of the page's own route guard (a test
# holds them equal), so a link is shown exactly to those who may follow it.
NAVIGATION: list[tuple[str, str, frozenset[Role]]] = [
    # Shown to every login linked to a person (staff or not), and to no other.
    ("My Mobilise", "/me", frozenset({Role.PERSON})),
    ("Overview", "/", _ANY),
    ("People", "/people", _ANY),
    ("Handsets", "/handsets", _ANY),
    ("Hand-over", "/handover", frozenset({Role.SERVICE_DESK})),
    ("Acceptable-use policy", "/policy", frozenset({Role.SERVICE_DESK, Role.PROGRAMME})),
    ("Adjustment requests", "/adjustments", frozenset({Role.SERVICE_DESK})),
    ("Rollout", "/rollout", _ANY),
    ("Comms", "/comms", _ANY),
    ("H: drives", "/drives", _ANY),
    ("Waves", "/waves", _ANY),
    ("Migration progress", "/migration/progress", _ANY),
    ("Retention", "/retention", frozenset({Role.RECORDS, Role.AUDITOR})),
    ("Finance", "/finance", _ANY),
    ("Board report", "/reports/board", _ANY),
    ("Work in progress", "/jobs", _ANY),
    ("Audit", "/audit", frozenset({Role.AUDITOR})),
    ("Logins", "/users", frozenset({Role.ADMIN})),
]


def navigation(actor: Actor | None) -> list[tuple[str, str]]:
    """The links ``actor`` may follow."""
    if actor is None:
        return []
    return [(label, href) for label, href, roles in NAVIGATION if actor.has_any(roles)]


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    return TEMPLATES.TemplateResponse(
        request, template,
        {"actor": actor, "csrf_token": csrf_token(request), "nav": navigation(actor),
         "version": __version__, "path": request.url.path, **context},
        status_code=status_code,
    )


def login_choices(request: Request) -> dict[str, bool]:
    """What the sign-in page offers: Microsoft when configured, passwords unless off."""
    settings = request.app.state.settings
    sign_in = getattr(request.app.state, "entra", None) or EntraSignIn(settings)
    return {"microsoft": sign_in.enabled, "passwords": settings.local_passwords}


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    if status == 401:
        return page(request, "login.html", status_code=401, error=None, next=request.url.path,
                    **login_choices(request))
    return page(request, "error.html", status_code=status, title=title, detail=detail)


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form, read in the event loop (a body is read asynchronously) so that the
    handler itself can be a plain function: FastAPI runs those in its thread pool, and
    their database work (row locks included) never holds up the server's other requests.
    The role guard has already checked the CSRF token of a signed-in session."""
    return {k: str(v) for k, v in (await request.form()).items()}


async def form_data(request: Request) -> FormData:
    """The posted form with every value of a repeated field (``form_fields`` keeps one)."""
    return await request.form()
