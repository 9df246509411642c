"""The web application: JSON API under /api/v1, server-rendered pages, static assets."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import Depends, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise import __version__
from mobilise.core.db import session_factory
from mobilise.core.errors import InvalidInput
from mobilise.core.oidc import EntraSignIn
from mobilise.core.settings import Settings, secret_problem
from mobilise.finance.connected import ProgrammeRegisters
from mobilise.finance.sources import FinanceSources, current_sources, use_sources
from mobilise.web import problems
from mobilise.web.api import comms as comms_api
from mobilise.web.api import devices as devices_api
from mobilise.web.api import drives as drives_api
from mobilise.web.api import endpoints as endpoints_api
from mobilise.web.api import figures as figures_api
from mobilise.web.api import finance as finance_api
from mobilise.web.api import jobs as jobs_api
from mobilise.web.api import lifecycle as lifecycle_api
from mobilise.web.api import me as me_api
from mobilise.web.api import migration as migration_api
from mobilise.web.api import people as people_api
from mobilise.web.api import policy as policy_api
from mobilise.web.api import retention as retention_api
from mobilise.web.api import rollout as rollout_api
from mobilise.web.api import system as system_api
from mobilise.web.api import users as users_api
from mobilise.web.pages import audit as audit_pages
from mobilise.web.pages import devices as devices_pages
from mobilise.web.pages import drives as drives_pages
from mobilise.web.pages import endpoints as endpoints_pages
from mobilise.web.pages import finance as finance_pages
from mobilise.web.pages import home as home_pages
from mobilise.web.pages import jobs as jobs_pages
from mobilise.web.pages import logins as logins_pages
from mobilise.web.pages import me as me_pages
from mobilise.web.pages import migration as migration_pages
from mobilise.web.pages import people as people_pages
from mobilise.web.pages import policy as policy_pages
from mobilise.web.pages import retention as retention_pages
from mobilise.web.pages import rollout as rollout_pages
from mobilise.web.pages import signin as signin_pages
from mobilise.web.params import plain_request

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


# One router per line: each capability adds its API and its pages.
ROUTERS = (
    system_api.router,
    users_api.router,
    home_pages.router,
    signin_pages.router,
    logins_pages.router,
    jobs_api.router,
    jobs_pages.router,
    people_api.router,
    people_pages.router,
    devices_api.router,
    devices_pages.router,
    drives_api.router,
    drives_pages.router,
    retention_api.router,
    lifecycle_api.router,
    retention_pages.router,
    rollout_api.router,
    rollout_pages.router,
    comms_api.router,
    finance_api.router,
    figures_api.router,
    finance_pages.router,
    migration_api.router,
    migration_pages.router,
    endpoints_api.router,
    endpoints_pages.router,
    audit_pages.router,
    me_api.router,
    me_pages.router,
    policy_api.router,
    policy_pages.router,
)


def create_app(settings: Settings, *, served: bool = False) -> FastAPI:
    """The web pages and the API. ``served``: one of ``mobilise serve``'s processes,
    which share the pages' whole-register figures with each other and with the refresher
    process (web.warm); tests and tools work them out on demand, in the process."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes and dependencies run in this pool; its size bounds the requests
        # served at once (and the database connections they hold).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        if served:
            from mobilise.core.readcache import aggregates
            from mobilise.web.charts import warm_in_background
            from mobilise.web.warm import figure_store

            # The chart converter boots a JavaScript runtime on its first chart (about half
            # a second): booted now, beside start-up, rather than in a reader's request.
            warm_in_background()

            aggregates.store = figure_store(settings)
            # Everything loaded so far lives as long as the process: out of the collector's
            # sight, so its full collections (100 ms and more at full size, every request
            # in the process waiting) walk only what requests and figures create.
            gc.freeze()
        yield
        if served:
            gc.unfreeze()

    app = FastAPI(title="Mobilise", version=__version__, openapi_url=None, docs_url=None,
                  redoc_url=None, lifespan=lifespan, dependencies=[Depends(plain_request)])
    app.state.settings = settings
    if type(current_sources()) is FinanceSources:  # unless a caller installed its own
        use_sources(ProgrammeRegisters(settings))
    app.state.sessions = session_factory(settings)
    app.state.entra = EntraSignIn(settings)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key.get_secret_value(),
                       session_cookie="mobilise_session", same_site="strict",
                       https_only=settings.secure_cookies, max_age=8 * 3600)

    @app.middleware("http")
    async def headers(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            # Pages and API answers carry personal data: no browser or proxy keeps a copy
            # (a shared computer's back button, a caching proxy).
            response.headers["Cache-Control"] = "no-store"
        response.headers["X-Request-Id"] = request.state.request_id
        if settings.secure_cookies:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")),
              name="static")
    return app


def app_from_environment() -> FastAPI:
    """The app of one ``mobilise serve --workers N`` process, from the environment and
    mobilise.toml, as the CLI reads them."""
    from mobilise.core.logs import configure_logging

    settings = Settings()
    configure_logging(settings)
    problem = secret_problem(settings)
    if problem:
        raise InvalidInput(problem)
    return create_app(settings, served=True)
