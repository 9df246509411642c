"""The one mapping from the error tree to HTTP: problem+json for the API, an HTML page
(the sign-in form for 401) for the pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mobilise.core.db import is_unique_violation
from mobilise.core.errors import ConcurrentChange, MobiliseError

PROBLEM = "application/problem+json"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", "")


def problem(request: Request, status: int, title: str, detail: str,
            errors: list[Any] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                            "detail": detail, "instance": request.url.path}
    if errors:
        body["errors"] = errors
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _out_of_range(request: Request) -> Response:
    detail = "a value is out of range (numbers must fit in 63 bits)"
    if _wants_json(request):
        return problem(request, 422, "Invalid input", detail)
    from mobilise.web.pages.render import error_page

    return error_page(request, 422, "Invalid input", detail)


def install(app: FastAPI) -> None:
    from mobilise.web.auth import known_actor
    from mobilise.web.pages.render import error_page

    @app.exception_handler(MobiliseError)
    async def _domain(request: Request, err: MobiliseError) -> Response:
        if _wants_json(request):
            return problem(request, err.status, err.title, err.message, err.details or None)
        return error_page(request, err.status, err.title, err.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in err.errors()]
        if _wants_json(request):
            return problem(request, 422, "Invalid input", "the request is not valid", errors)
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return error_page(request, 422, "Invalid input", detail)

    # A number too large for a database integer reaches the driver only when a route did
    # not bound it; it is still the caller's mistake, and nothing was changed.
    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, err: OverflowError) -> Response:
        return _out_of_range(request)

    @app.exception_handler(DataError)
    async def _data(request: Request, err: DataError) -> Response:
        return _out_of_range(request)

    # Two requests creating the same thing at once: the database's uniqueness rule lets
    # one in; the other is a conflict like any other (409), its transaction rolled back.
    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, err: IntegrityError) -> Response:
        if not is_unique_violation(err):
            raise err
        return await _domain(request, ConcurrentChange())

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return problem(request, err.status_code, str(err.detail), str(err.detail))
        await known_actor(request)  # an unknown path keeps the frame for who is signed in
        return error_page(request, err.status_code, str(err.detail), str(err.detail))
