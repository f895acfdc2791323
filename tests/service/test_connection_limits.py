"""Connection limits against the real uvicorn server, configured as `python -m service`, over raw sockets:
header size, the header, body and keep-alive deadlines, and slow uploads at shutdown."""

import json
import socket
import threading
import time
from collections.abc import Callable

import pytest
from helpers import ServedApp

pytestmark = pytest.mark.slow

SHORT = {"header_timeout_s": 1.0, "body_timeout_s": 1.0, "keep_alive_timeout_s": 1}
SLACK_S = 3.0  # scheduling on a busy machine


def connect(served: ServedApp) -> socket.socket:
    sock = socket.create_connection(served.address, timeout=30)
    return sock


def read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def slow_upload_head(content_length: int) -> bytes:
    return (
        "POST /v1/pose HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\nX-Request-ID: slow-1\r\n\r\n"
    ).encode()


def json_body(response: bytes) -> dict:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])


def test_headers_over_the_limit_are_refused_and_the_connection_closed(
    serve_in_thread: Callable[..., ServedApp],
) -> None:
    served = serve_in_thread(max_header_bytes=4096)
    with connect(served) as sock:
        # 20 kB of an unfinished header: the server reads it all at once and answers before the end
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 20_000)
        response, _ = read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 431")
    assert (
        "over the limit of 4096 bytes" in json_body(response)["detail"] and json_body(response)["request_id"]
    )
    with connect(served) as sock:  # headers under the limit are served
        head = b"GET /health/live HTTP/1.1\r\nHost: test\r\nConnection: close\r\nX-Big: "
        sock.sendall(head + b"a" * 3000 + b"\r\n\r\n")
        response, _ = read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 200")


def test_a_silent_connection_is_closed_after_the_header_deadline(
    serve_in_thread: Callable[..., ServedApp],
) -> None:
    served = serve_in_thread(**SHORT)
    with connect(served) as sock:
        response, elapsed = read_until_closed(sock)
    assert response == b""
    assert 0.9 <= elapsed <= 1.0 + SLACK_S


def test_trickled_headers_are_cut_at_the_header_deadline(serve_in_thread: Callable[..., ServedApp]) -> None:
    served = serve_in_thread(**SHORT)
    closed = threading.Event()
    with connect(served) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health/live HTTP/1.1\r\n")

        def trickle() -> None:
            try:
                while not closed.is_set() and time.monotonic() - started < 10:
                    sock.sendall(b"X")
                    time.sleep(0.1)
            except OSError:
                pass

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        response, _ = read_until_closed(sock)
        closed.set()
        elapsed = time.monotonic() - started
    sender.join()
    assert response == b""
    assert elapsed <= 1.0 + SLACK_S


def test_a_stalled_body_gets_a_408_with_a_request_id_and_is_closed(
    serve_in_thread: Callable[..., ServedApp],
) -> None:
    served = serve_in_thread(**SHORT)
    with connect(served) as sock:
        sock.sendall(slow_upload_head(1000) + b'{"persons": ')
        response, elapsed = read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert json_body(response)["request_id"] == "slow-1"
    assert "did not arrive within 1 s" in json_body(response)["detail"]
    assert 0.9 <= elapsed <= 1.0 + SLACK_S


def test_an_idle_keep_alive_connection_is_closed(serve_in_thread: Callable[..., ServedApp]) -> None:
    served = serve_in_thread(**SHORT)
    with connect(served) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
        response, elapsed = read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 200")
    assert elapsed <= 1.0 + SLACK_S


@pytest.mark.parametrize(
    ("limits", "status"),
    [
        # the body deadline comes first: 408, and shutdown waits no longer than it
        ({"body_timeout_s": 1.0, "graceful_shutdown_s": 20.0}, b"408"),
        # the graceful shutdown limit comes first: uvicorn cancels the request, which gets a JSON 503
        ({"body_timeout_s": 20.0, "graceful_shutdown_s": 1.0}, b"503"),
    ],
)
def test_a_slow_upload_never_holds_shutdown_past_its_limit(
    serve_in_thread: Callable[..., ServedApp], limits: dict, status: bytes
) -> None:
    served = serve_in_thread(**limits)
    with connect(served) as sock:
        sock.sendall(slow_upload_head(1000) + b'{"persons": ')
        time.sleep(0.3)  # the request is in the app, reading its body
        started = time.monotonic()
        served.server.should_exit = True
        response, _ = read_until_closed(sock)
        served.thread.join(timeout=30)
        stopped = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 " + status), response[:200]
    assert json_body(response)["request_id"] == "slow-1"
    assert not served.thread.is_alive()
    assert stopped <= 1.0 + SLACK_S


def exchange(served: ServedApp, request: bytes) -> bytes:
    """Send `request` in one write; everything the server answers until it closes the connection."""
    with connect(served) as sock:
        sock.sendall(request)
        response, _ = read_until_closed(sock)
    return response


def test_a_request_with_both_content_length_and_transfer_encoding_is_refused_and_closed(
    serve_in_thread: Callable[..., ServedApp],
) -> None:
    served = serve_in_thread()
    smuggled = (
        b"POST /v1/models HTTP/1.1\r\nHost: test\r\nX-Request-ID: cl-te\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n"  # pipelined behind it: never answered
    )
    response = exchange(served, smuggled)
    assert response.startswith(b"HTTP/1.1 400"), response[:200]
    assert response.count(b"HTTP/1.1 ") == 1, "the connection closed after the refusal"
    body = json_body(response)
    assert "Content-Length and Transfer-Encoding" in body["detail"] and body["request_id"]
    assert b"content-type: application/json" in response.lower()


@pytest.mark.parametrize("size", [20_000, 100_000])
def test_headers_over_the_limit_in_one_write_are_refused(
    serve_in_thread: Callable[..., ServedApp], size: int
) -> None:
    served = serve_in_thread(max_header_bytes=16 * 1024)
    head = b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    response = exchange(served, head)
    assert response.startswith(b"HTTP/1.1 431"), response[:200]
    assert "16384 bytes" in json_body(response)["detail"]


@pytest.mark.parametrize("complete", [True, False])
def test_huge_headers_get_an_answer_not_a_reset(
    serve_in_thread: Callable[..., ServedApp], complete: bool
) -> None:
    served = serve_in_thread()
    head = b"GET /health/live HTTP/1.1\r\nHost: test\r\n" + b"X-Big: " + b"a" * 1_000_000
    response = exchange(served, head + (b"\r\n\r\n" if complete else b""))  # a reset raises here
    assert response.startswith(b"HTTP/1.1 431"), response[:200]
    assert json_body(response)["request_id"]
