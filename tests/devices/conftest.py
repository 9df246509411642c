"""The devices tests use the shared fleet fixtures (tests/conftest.py) and the web app."""

from __future__ import annotations

from tests.web.conftest import web  # noqa: F401  (the app fixture, shared with tests/web)
