"""Route handlers are plain functions (FastAPI runs them in its thread pool). An ``async``
handler runs on the event loop: its database work, a row lock waited for above all,
would hold up every other request the process serves, including the one whose commit
would release that lock."""

from __future__ import annotations

import inspect

from mobilise.core.settings import Settings
from mobilise.web.app import create_app
from tests.web.conftest import all_routes

# async handlers, and why each may be: none of them touches the database on the loop.
ASYNC_ALLOWED = {
    "login": "hands its database work (argon2 and the throttle) to the thread pool",
}


def test_no_handler_does_database_work_on_the_event_loop(sqlite_settings: Settings) -> None:
    found = {r.endpoint.__name__: r.path for r in all_routes(create_app(sqlite_settings))
             if inspect.iscoroutinefunction(r.endpoint)}
    assert set(found) <= set(ASYNC_ALLOWED), {k: v for k, v in found.items()
                                              if k not in ASYNC_ALLOWED}
