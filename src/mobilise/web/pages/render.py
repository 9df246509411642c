"""Server-rendered pages: one Jinja2 environment, one navigation, one way to render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from mobilise import __version__
from mobilise.core.words import label, size_text, when_text
from mobilise.web.auth import csrf_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
# How internal values read on every page: one dictionary, one size and one time format.
TEMPLATES.env.filters["label"] = label
TEMPLATES.env.filters["size"] = size_text
TEMPLATES.env.filters["when"] = when_text

# (label, path): one entry per line, in the order the programme thinks of them.
NAVIGATION: list[tuple[str, str]] = [
    ("Overview", "/"),
    ("People", "/people"),
    ("Handsets", "/handsets"),
    ("Hand-over", "/handover"),
    ("Rollout", "/rollout"),
    ("Comms", "/comms"),
    ("H: drives", "/drives"),
    ("Waves", "/waves"),
    ("Migration progress", "/migration/progress"),
    ("Retention", "/retention"),
    ("Finance", "/finance"),
    ("Board report", "/reports/board"),
    ("Work in progress", "/jobs"),
    ("Audit", "/audit"),
]


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    return TEMPLATES.TemplateResponse(
        request, template,
        {"actor": actor, "csrf_token": csrf_token(request), "nav": NAVIGATION,
         "version": __version__, "path": request.url.path, **context},
        status_code=status_code,
    )


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    if status == 401:
        return page(request, "login.html", status_code=401, error=None, next=request.url.path)
    return page(request, "error.html", status_code=status, title=title, detail=detail)
