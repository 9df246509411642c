"""Error parsing and the pacer, without a network."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mobilise.core import errors as core
from mobilise.graph import (
    AccessDenied,
    DriveNotProvisioned,
    InvalidName,
    InvalidRange,
    InvalidRequest,
    ItemNotFound,
    NameExists,
    Pacer,
    PathTooLong,
    PreconditionFailed,
    QuotaExceeded,
    ResyncRequired,
    Throttled,
    UploadSessionNotFound,
)
from mobilise.graph.errors import error_from_response, retry_after
from mobilise.storage import base as storage


def response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers=headers,
        request=httpx.Request("GET", "https://graph.test/v1.0/x"),
    )


def graph_body(code: str, inner: str | None = None, spelling: str = "innerError") -> dict:
    error: dict = {"code": code, "message": "m"}
    if inner:
        error[spelling] = {
            "code": inner,
            "date": "2024-01-01T00:00:00",
            "request-id": "r",
            "client-request-id": "c",
        }
    return {"error": error}


@pytest.mark.parametrize(
    ("status", "code", "inner", "cls", "bases"),
    [
        (
            400,
            "invalidRequest",
            "pathIsTooLong",
            PathTooLong,
            (core.InvalidInput,),
        ),
        (400, "invalidRequest", "invalidPath", InvalidName, (core.InvalidInput,)),
        (409, "nameAlreadyExists", None, NameExists, (core.Conflict,)),
        (507, "quotaLimitReached", None, QuotaExceeded, (core.CapacityExceeded,)),
        (404, "itemNotFound", None, ItemNotFound, (core.NotFound,)),
        (404, "itemNotFound", "uploadSessionNotFound", UploadSessionNotFound, (ItemNotFound,)),
        (403, "accessDenied", None, AccessDenied, (core.PermissionDenied,)),
        (412, "resourceModified", None, PreconditionFailed, (core.Conflict,)),
        (416, "invalidRange", "fragmentOverlap", InvalidRange, (core.Conflict,)),
        (429, "TooManyRequests", None, Throttled, (core.ExternalServiceError,)),
        (503, "serviceNotAvailable", None, Throttled, (core.ExternalServiceError,)),
    ],
)
def test_error_classes(status, code, inner, cls, bases) -> None:  # type: ignore[no-untyped-def]
    for spelling in ("innerError", "innererror"):
        error = error_from_response(response(status, graph_body(code, inner, spelling)))
        assert type(error) is cls
        assert all(isinstance(error, b) for b in bases)
        assert error.code == code and error.http_status == status


def test_graph_errors_are_not_storage_errors() -> None:
    """The Graph client raises its own errors; the OneDrive backend maps them."""
    import ast

    import mobilise.graph.errors as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(str(name).startswith("mobilise.storage") for name in imported)
    error = error_from_response(response(404, graph_body("itemNotFound")))
    assert not isinstance(error, storage.StorageError)


def test_a_refused_name_is_known_by_real_graphs_message() -> None:
    """Real Graph: 400 invalidRequest, no inner code, this message."""
    body = {"error": {"code": "invalidRequest",
                      "message": "The provided name cannot contain any illegal characters.",
                      "innerError": {"date": "2024-01-01T00:00:00", "request-id": "r",
                                     "client-request-id": "r"}}}
    assert type(error_from_response(response(400, body))) is InvalidName
    other = {"error": {"code": "invalidRequest", "message": "Invalid request"}}
    assert type(error_from_response(response(400, other))) is InvalidRequest


def test_gone_delta_carries_its_location() -> None:
    gone = response(410, graph_body("resyncRequired", "resyncChangesApplyDifferences"),
                    location="https://graph.test/v1.0/drives/d/root/delta")
    error = error_from_response(gone)
    assert isinstance(error, ResyncRequired)
    assert error.location == "https://graph.test/v1.0/drives/d/root/delta"


def test_nested_inner_errors_use_the_most_specific_known_code() -> None:
    body = {
        "error": {
            "code": "invalidRequest",
            "message": "m",
            "innerError": {"code": "somethingGeneric", "innererror": {"code": "pathIsTooLong"}},
        }
    }
    error = error_from_response(response(400, body))
    assert isinstance(error, PathTooLong)
    assert error.inner_codes == ("somethingGeneric", "pathIsTooLong")


def test_body_that_is_not_json_still_gives_a_typed_error() -> None:
    raw = httpx.Response(
        404, content=b"<html>nope</html>", request=httpx.Request("GET", "https://graph.test/")
    )
    assert isinstance(error_from_response(raw), ItemNotFound)


def test_drive_not_provisioned_is_a_not_found() -> None:
    assert issubclass(DriveNotProvisioned, core.NotFound)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"Retry-After": "2", "RateLimit-Reset": "7"}, 7.0),
        ({"Retry-After": "9", "RateLimit-Reset": "1"}, 9.0),
        ({}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
    ],
)
def test_retry_after_is_the_larger_of_both_headers(headers, expected) -> None:  # type: ignore[no-untyped-def]
    assert retry_after(response(429, {}, **headers)) == expected


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_spends_the_bucket_then_waits_at_the_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)  # one unit per second
    for _ in range(60):
        pacer.acquire(1)
    assert clock.now == 0.0
    pacer.acquire(2)
    assert clock.now == pytest.approx(2.0)


def test_pacer_pause_holds_every_caller() -> None:
    clock = FakeClock()
    pacer = Pacer(6000, clock=clock, sleep=clock.sleep)
    pacer.pause(1.5)
    pacer.pause(0.5)  # a shorter pause never shortens a longer one
    pacer.acquire(1)
    assert clock.now == pytest.approx(1.5)
    pacer.acquire(1)
    assert clock.now == pytest.approx(1.5)


def test_pacer_rejects_a_zero_rate() -> None:
    with pytest.raises(ValueError):
        Pacer(0)
