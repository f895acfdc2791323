"""ASGI middleware: request ids, access log and request metrics, and a JSON 500 for any unexpected error;
the request body limit (413); HEAD served as GET without the body."""

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_body
from service.logs import request_id_var
from service.telemetry import ServiceMetrics

REQUEST_ID_HEADER = "x-request-id"
UNMATCHED_ROUTE = "unmatched"

access_log = logging.getLogger("service.access")
logger = logging.getLogger(__name__)


class RequestContextMiddleware:
    """Gives each request an id (the caller's X-Request-ID or a new one), echoes it, logs and counts it; an
    unexpected exception is logged with its traceback and answered with a JSON 500 carrying the id."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")[:128] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        sent_status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal sent_status
            if message["type"] == "http.response.start":
                sent_status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # uvicorn cancels requests still running when graceful shutdown times out; it would answer 500.
            if sent_status is None:
                await _send_error(send_with_id, 503, "the service is shutting down; retry elsewhere", scope)
            raise
        except Exception:
            logger.exception("the request failed unexpectedly")
            if sent_status is not None:
                raise  # the answer is under way: uvicorn closes the connection
            await _send_error(
                send_with_id, 500, "internal error; the log holds it under the request id", scope
            )
        finally:
            status = sent_status or 500  # none sent: uvicorn answers 500
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", UNMATCHED_ROUTE)  # the app's own templates: a closed set
            self.metrics.count_request(route_path, scope["method"], status, elapsed)
            access_log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 2), "route": route_path},
            )
            request_id_var.reset(token)


class _BodyRefused(Exception):
    """The body broke a limit; `status` and `what` say which."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(what)
        self.status = status
        self.what = what


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    timeout_s: float


class BodyLimitMiddleware:
    """413 for a body over `max_bytes` (by Content-Length up front, or while a chunked body streams); 408
    for a body not received within `timeout_s` of the request's start, so a trickling upload holds its
    connection, and a graceful shutdown, for at most that long. `path_limits` give some paths their own
    (a video upload is larger and slower than an image)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_s: float,
        path_limits: Mapping[str, BodyLimit] | None = None,
    ) -> None:
        self.app = app
        self.limit = BodyLimit(max_bytes, timeout_s)
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.limit)
        max_bytes, timeout_s = limit.max_bytes, limit.timeout_s
        size_limit = f"the limit is {max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await _send_error(send, 413, f"the request body is {int(declared)} bytes; {size_limit}", scope)
            return
        deadline: float | None = asyncio.get_running_loop().time() + timeout_s
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received, deadline
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyRefused(
                    408, f"the request body did not arrive within {timeout_s:g} s of its headers"
                ) from None
            if message["type"] == "http.request":
                if not message.get("more_body", False):
                    deadline = None  # the body is complete: waiting for a disconnect has no deadline
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyRefused(413, f"the request body exceeds {max_bytes} bytes; {size_limit}")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyRefused as refusal:
            if started:
                raise
            await _send_error(send, refusal.status, refusal.what, scope)


async def _send_error(send: Send, status: int, detail: str, scope: Scope) -> None:
    """A JSON error that closes the connection (the rest of the request body is not read)."""
    body = error_body(detail, request_id_var.get(), scope["path"])
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HeadAsGetMiddleware:
    """HEAD is answered as GET (RFC 9110: the same headers, no body): the app sees GET, uvicorn, which still
    sees HEAD, sends no body. A route without GET answers 405 as it does to GET."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, send)
        finally:
            if "route" in as_get:  # for RequestContextMiddleware's route label
                scope["route"] = as_get["route"]
