"""One place for talking HTTP to the pose service: base URL, API key, timeouts and retries.

Both CLIs (`clients.pose`, `clients.eval_mpii`) go through `ServiceClient`, so a 503 from a full batching
queue or a dropped connection is retried the same way everywhere: after the server's Retry-After when it
sends one, else after an exponentially growing, capped delay.
"""

import asyncio
import email.utils
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
URL_VARIABLE = "HGPOSE_URL"
API_KEY_VARIABLE = "HGPOSE_API_KEY"
RETRYABLE_STATUS = frozenset({503})

Sleep = Callable[[float], Awaitable[None]]


class ServiceCallError(RuntimeError):
    """A call to the service failed: an error answer that retrying does not fix, retries used up, or an
    answer of the wrong shape. `status` is the HTTP status when the service answered with an error."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before re-sending a request that met a 503 or a connection error."""

    attempts: int = 6
    backoff_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, retry: int, retry_after: str | None = None) -> float:
        """Seconds before retry number `retry` (0-based); the server's Retry-After wins when it is valid."""
        parsed = parse_retry_after(retry_after)
        if parsed is not None:
            return min(parsed, self.max_delay_s)
        return min(self.backoff_s * 2**retry, self.max_delay_s)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


@dataclass(frozen=True)
class ClientSettings:
    """Where the service is and how to reach it; URL and key default to HGPOSE_URL / HGPOSE_API_KEY."""

    base_url: str = field(default_factory=lambda: os.environ.get(URL_VARIABLE, DEFAULT_URL))
    api_key: str | None = field(default_factory=lambda: os.environ.get(API_KEY_VARIABLE) or None)
    timeout_s: float = 60.0
    retry: RetryPolicy = RetryPolicy()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    @classmethod
    def from_options(cls, url: str | None, api_key: str | None, timeout_s: float) -> "ClientSettings":
        """Command-line options where given, else the environment's defaults."""
        defaults = cls()
        return cls(
            base_url=url or defaults.base_url, api_key=api_key or defaults.api_key, timeout_s=timeout_s
        )


class ServiceClient:
    """Async HTTP client for the pose service with retries; use as `async with ServiceClient(...) as c`."""

    def __init__(
        self,
        settings: ClientSettings,
        max_connections: int = 16,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=settings.headers(),
            timeout=settings.timeout_s,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )
        self.retries = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request (kwargs as for httpx), retrying 503s and transport errors; the decoded JSON body.

        Raises ServiceCallError for any other non-2xx answer (with the service's own message) and when the
        retries are used up.
        """
        policy = self.settings.retry
        for attempt in range(policy.attempts):
            last_try = attempt == policy.attempts - 1
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                if last_try:
                    raise ServiceCallError(
                        f"{method} {self.settings.base_url}{path}: {type(error).__name__}: {error} "
                        f"(gave up after {policy.attempts} attempts)"
                    ) from error
                await self._retry_after(attempt, None)
                continue
            if response.status_code in RETRYABLE_STATUS and not last_try:
                await self._retry_after(attempt, response.headers.get("Retry-After"))
                continue
            if response.is_error:
                raise ServiceCallError(
                    f"{method} {path}: HTTP {response.status_code}: {error_message(response)}",
                    status=response.status_code,
                )
            return response.json()
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _retry_after(self, attempt: int, retry_after: str | None) -> None:
        self.retries += 1
        await self._sleep(self.settings.retry.delay(attempt, retry_after))


def error_message(response: httpx.Response) -> str:
    """The service's error text: FastAPI's `detail` when the body is JSON, else the raw body."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)
