"""The one Graph client: authentication, pacing, retries, typed errors and paging.

Retry rules (after rclone's OneDrive backend and Microsoft's throttling guidance):

- a refused connection (nothing listens: the service is down or the address wrong),
  to the token endpoint or to Graph: retried at most ``REFUSED_RETRIES`` times, briefly,
  then reported as ``ServiceUnreachable``, which no caller retries;
- 429, 503 and 509: wait the larger of ``Retry-After`` and ``RateLimit-Reset`` (seconds,
  fractions accepted), by pausing the process-wide pacer, then try again;
- 500, 502, 504 and transport failures (refused or cut connections, timeouts): exponential
  back-off with jitter, capped;
- 401 once: drop the cached token and fetch a new one;
- anything else (400, 403, 404, 409, 410, 416, 507...) is a semantic answer and is raised
  at once as a typed ``GraphError``.

Every logical request carries one ``client-request-id`` across its retries, so the
service's logs (and the emulator's) can tell a retry from a new request.
"""

from __future__ import annotations

import random
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

import httpx

from mobilise import __version__
from mobilise.core.settings import Settings
from mobilise.graph.auth import MsalTokenSource, TokenSource
from mobilise.graph.errors import (
    GraphError,
    ServiceFailed,
    ServiceUnreachable,
    Throttled,
    error_from_response,
    refused_connection,
    retry_after,
)
from mobilise.graph.pacer import Pacer, cost_of, process_pacer

THROTTLE_STATUSES = (429, 503, 509)
# 501 (an unsupported request) and 507 (quota) are answers, not failures: never retried.
TRANSIENT_STATUSES = (500, 502, 504)
# A service restarting refuses connections for a moment; one that is down, for ever.
REFUSED_RETRIES = 2


def user_agent(organisation: str) -> str:
    """Microsoft asks ISV-less callers to identify as ``NONISV|Organisation|App/version``."""
    return f"NONISV|{organisation}|Mobilise/{__version__}"


class GraphClient:
    def __init__(
        self,
        settings: Settings,
        *,
        tokens: TokenSource | None = None,
        pacer: Pacer | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = settings.graph_url.rstrip("/")
        self.tokens = tokens or MsalTokenSource(settings)
        self.pacer = pacer or process_pacer(settings.graph_resource_units_per_minute)
        self.max_retries = settings.graph_max_retries
        self.backoff_base = settings.graph_backoff_base_seconds
        self.backoff_cap = settings.graph_backoff_cap_seconds
        self._sleep = sleep
        self._rng = rng or random.Random()
        verify: ssl.SSLContext | bool = True
        if settings.graph_ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(settings.graph_ca_bundle))
        self.http = httpx.Client(
            verify=verify,
            transport=transport,
            timeout=httpx.Timeout(settings.graph_timeout_seconds, connect=10.0),
            headers={"User-Agent": user_agent(settings.organisation)},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("https://", "http://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * float(2**attempt))
        return float(ceiling * (0.5 + self._rng.random() / 2))

    # --- requests ---------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one logical request, retrying as the module docstring says; returns any
        2xx or 3xx answer, raises a ``GraphError`` otherwise."""
        url = self.url(path_or_url)
        request_id = str(uuid.uuid4())
        refreshed = False
        attempt = 0
        while True:
            self.pacer.acquire(cost_of(method))
            sent = {**(headers or {}), "client-request-id": request_id}
            try:
                if authenticated:
                    sent["Authorization"] = f"Bearer {self.tokens.token()}"
                response = self.http.request(method, url, json=json, content=content,
                                             params=params, headers=sent)
            except (httpx.TransportError, ServiceFailed) as exc:
                refused = isinstance(exc, ServiceUnreachable) or (
                    isinstance(exc, httpx.ConnectError) and refused_connection(exc))
                if refused and attempt >= min(REFUSED_RETRIES, self.max_retries):
                    if isinstance(exc, ServiceUnreachable):
                        raise
                    raise ServiceUnreachable(f"Graph {method} {url}: the connection was "
                                             f"refused ({exc})") from exc
                if attempt >= self.max_retries:
                    if isinstance(exc, ServiceFailed):
                        raise
                    raise ServiceFailed(f"Graph {method} {url}: {exc!r}") from exc
                self._sleep(self.backoff(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            error = error_from_response(response)
            if response.status_code == 401 and authenticated and not refreshed:
                self.tokens.invalidate()
                refreshed = True
                continue
            if not self._retryable(response) or attempt >= self.max_retries:
                raise error
            self._wait_before_retry(response, error, attempt)
            attempt += 1

    @staticmethod
    def _retryable(response: httpx.Response) -> bool:
        return response.status_code in THROTTLE_STATUSES + TRANSIENT_STATUSES

    def _wait_before_retry(self, response: httpx.Response, error: GraphError,
                           attempt: int) -> None:
        if response.status_code in THROTTLE_STATUSES:
            told = error.retry_after if isinstance(error, Throttled) else retry_after(response)
            # Every request of the process waits: Microsoft throttles per app.
            self.pacer.pause(told if told is not None else self.backoff(attempt))
        else:
            self._sleep(self.backoff(attempt))

    def get_json(self, path_or_url: str, *, params: Mapping[str, str | int] | None = None
                 ) -> dict[str, Any]:
        body: dict[str, Any] = self.request("GET", path_or_url, params=params).json()
        return body

    def send_json(self, method: str, path_or_url: str, body: Any,
                  *, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self.request(method, path_or_url, json=body,
                                              params=params).json()
        return answer

    def pages(self, path_or_url: str, *, params: Mapping[str, str | int] | None = None
              ) -> Iterator[dict[str, Any]]:
        """Each page of a collection, following ``@odata.nextLink`` verbatim; the last page
        is the one with no nextLink (it may carry ``@odata.deltaLink``)."""
        page = self.get_json(path_or_url, params=params)
        yield page
        while "@odata.nextLink" in page:
            page = self.get_json(str(page["@odata.nextLink"]))
            yield page

    def items(self, path_or_url: str, *, params: Mapping[str, str | int] | None = None
              ) -> Iterator[dict[str, Any]]:
        for page in self.pages(path_or_url, params=params):
            yield from page.get("value", [])

    def download(self, path_or_url: str, sink: IO[bytes]) -> int:
        """Write an item's content to ``sink`` (which must be seekable: a cut transfer is
        started again from the beginning). Follows Graph's 302 to the pre-authenticated
        download URL without sending the token there."""
        attempt = 0
        while True:
            located = self.request("GET", path_or_url)
            redirected = located.status_code in (301, 302, 303, 307)
            target = located.headers.get("location") if redirected else None
            sink.seek(0)
            sink.truncate()
            if target is None:
                sink.write(located.content)
                return len(located.content)
            try:
                return self._stream_to(target, sink)
            except ServiceUnreachable:
                raise
            except (httpx.TransportError, ServiceFailed) as exc:
                if attempt >= self.max_retries:
                    raise ServiceFailed(f"download of {path_or_url} failed: {exc!r}") from exc
                if isinstance(exc, Throttled):
                    self.pacer.pause(exc.retry_after or self.backoff(attempt))
                else:
                    self._sleep(self.backoff(attempt))
                attempt += 1

    def _stream_to(self, url: str, sink: IO[bytes]) -> int:
        self.pacer.acquire(1)
        written = 0
        with self.http.stream("GET", url,
                              headers={"client-request-id": str(uuid.uuid4())}) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            for chunk in response.iter_bytes(1024 * 1024):
                sink.write(chunk)
                written += len(chunk)
        return written
