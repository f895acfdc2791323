"""How uvicorn serves the app: the h11 protocol with the service's connection limits.

uvicorn's own options give the header size limit (`h11_max_incomplete_event_size`, h11 refuses the request
past it; httptools has no such limit, so h11 is chosen) and the idle keep-alive timeout. uvicorn has no
deadline for a request's line and headers: a client that connects and stays silent, or trickles a header
byte by byte, would hold its connection forever. LimitedH11Protocol adds that one deadline, and answers
h11's refusals as JSON like every other error; the body's deadline is an ASGI middleware
(service.middleware.BodyLimitMiddleware, 408).
"""

import asyncio
import uuid
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.errors import error_body
from service.middleware import REQUEST_ID_HEADER
from service.settings import HEADER_TIMEOUT_S, Settings


class LimitedH11Protocol(H11Protocol):
    """h11 that closes a connection whose next request line and headers are not in within the deadline."""

    header_timeout_s: float = HEADER_TIMEOUT_S

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are complete
            self._cancel_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()  # for the next request on this keep-alive connection

    def send_400_response(self, msg: str) -> None:
        """h11 could not parse the request (malformed, or its line and headers over max_header_bytes): a JSON
        400 that closes the connection, as uvicorn's plain-text one does."""
        request_id = uuid.uuid4().hex
        detail = "malformed HTTP request, or its request line and headers are over the size limit"
        self.logger.warning("refused a request h11 could not parse", extra={"request_id": request_id})
        body = error_body(detail, request_id)
        headers = [
            (b"content-type", b"application/json"),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
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
