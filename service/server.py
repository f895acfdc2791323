"""How uvicorn serves the app: the h11 protocol with the service's connection limits.

uvicorn's own options give the idle keep-alive timeout. Everything else about a request's line and headers
is here, in LimitedH11Protocol:
- the head size limit, however the head arrives: h11 checks its `max_incomplete_event_size` only while a
  head is incomplete, so a complete head in one large write passed it; each parsed head is measured too;
- a request carrying both Content-Length and Transfer-Encoding is refused (RFC 9112 section 6.3: behind a
  proxy that frames the body the other way, it smuggles a second request);
- a deadline for the line and headers, which uvicorn lacks: a client that connects and stays silent, or
  trickles a header byte by byte, would hold its connection forever;
- every refusal is a JSON error with a request id, after which the server stops writing, reads and drops
  what the client is still sending for up to LINGER_S, then closes: closing with unread data makes the
  kernel reset the connection, and the client would lose the answer.
The body's deadline is an ASGI middleware (service.middleware.BodyLimitMiddleware, 408).
"""

import asyncio
import http
import uuid
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from service.errors import error_body
from service.middleware import REQUEST_ID_HEADER
from service.settings import DEFAULT_MAX_HEADER_BYTES, HEADER_TIMEOUT_S, Settings

LINGER_S = 2.0
# The bytes of a request line and of a header line beside its parts: "METHOD TARGET HTTP/1.1\r\n",
# "name: value\r\n", and the blank line that ends the head.
REQUEST_LINE_OVERHEAD = len("  HTTP/1.1\r\n")
HEADER_LINE_OVERHEAD = len(": \r\n")
HEAD_END = len("\r\n")


class Refusal(h11.RemoteProtocolError):
    """A request the service refuses before the app sees it; `detail` is what the client is told."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail, error_status_hint=status)
        self.detail = detail


def head_bytes(request: h11.Request) -> int:
    """The size of a parsed request line and headers (as sent, less any optional whitespace h11 dropped)."""
    line = len(request.method) + len(request.target) + REQUEST_LINE_OVERHEAD
    return line + sum(len(n) + len(v) + HEADER_LINE_OVERHEAD for n, v in request.headers) + HEAD_END


class CheckedConnection(h11.Connection):
    """h11's server side, with the head size limit for complete heads and the framing rule above; keeps the
    last error it raised for the answer."""

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes
        self.refusal: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                self._check(event)
        except h11.RemoteProtocolError as error:
            self.refusal = error
            raise
        return event

    def _check(self, request: h11.Request) -> None:
        if head_bytes(request) > self.max_head_bytes:
            raise Refusal(self.over_the_limit, 431)
        names = {name for name, _ in request.headers}  # lower case, as h11 keeps them
        if b"content-length" in names and b"transfer-encoding" in names:
            raise Refusal(
                "the request has both Content-Length and Transfer-Encoding: send one of them (RFC 9112)", 400
            )

    @property
    def over_the_limit(self) -> str:
        return f"the request line and headers are over the limit of {self.max_head_bytes} bytes"


class LimitedH11Protocol(H11Protocol):
    """h11 with the head checks and deadline above, JSON refusals and a lingering close after them."""

    header_timeout_s: float = HEADER_TIMEOUT_S

    _header_deadline: asyncio.TimerHandle | None = None
    _lingering = False

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.checked = CheckedConnection(config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES)
        self.conn = self.checked

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the refusal is sent: what the client still sends is dropped
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are complete
            self._cancel_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()  # for the next request on this keep-alive connection

    def send_400_response(self, msg: str) -> None:
        """A request h11 could not parse or CheckedConnection refused: a JSON error (400, or 431 for a head
        over the limit) with a new request id; then the connection is closed."""
        request_id = uuid.uuid4().hex
        refusal = self.checked.refusal
        status = refusal.error_status_hint if refusal is not None else 400
        if isinstance(refusal, Refusal):
            detail = refusal.detail
        elif status == 431:
            detail = self.checked.over_the_limit
        else:
            detail = f"malformed HTTP request: {refusal or msg}"
        self.logger.warning("refused a request: %s", detail, extra={"request_id": request_id})
        body = error_body(detail, request_id)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers, reason=http.HTTPStatus(status).phrase.encode()),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self._close_after_answer()

    def _close_after_answer(self) -> None:
        """Stop writing, drop what the client still sends until it closes or LINGER_S pass, then close."""
        self._lingering = True
        self._cancel_header_deadline()
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.transport.resume_reading()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info(
                "closing a connection whose request headers took over %g s", self.header_timeout_s
            )
            self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config / uvicorn.run keyword arguments for the protocol, connection limits and shutdown."""
    protocol = type(
        "LimitedH11Protocol", (LimitedH11Protocol,), {"header_timeout_s": settings.header_timeout_s}
    )
    return {
        "http": protocol,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "timeout_graceful_shutdown": settings.graceful_shutdown_s,
    }
