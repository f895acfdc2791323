"""clients.http: retry decisions, Retry-After, error messages (httpx's MockTransport plays the server)."""

import asyncio
import email.utils

import httpx
import pytest

from clients.http import ClientSettings, RetryPolicy, ServiceCallError, ServiceClient, parse_retry_after

FOUR_ATTEMPTS = RetryPolicy(attempts=4)


def run_client(handler, policy: RetryPolicy = FOUR_ATTEMPTS) -> tuple[object, list[float], ServiceClient]:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def go() -> tuple[object, ServiceClient]:
        settings = ClientSettings(base_url="http://service", api_key="k", retry=policy)
        async with ServiceClient(settings, sleep=sleep, transport=httpx.MockTransport(handler)) as client:
            return await client.request_json("GET", "/v1/models"), client

    result, client = asyncio.run(go())
    return result, delays, client


def test_503s_are_retried_after_the_servers_retry_after():
    answers = iter(
        [
            httpx.Response(503, headers={"Retry-After": "2"}),
            httpx.Response(503),
            httpx.Response(200, json=[1]),
        ]
    )
    result, delays, client = run_client(
        lambda request: next(answers), RetryPolicy(attempts=4, backoff_s=0.25)
    )
    assert result == [1]
    assert delays == [2.0, 0.5]  # the header, then the backoff of the second retry
    assert client.retries == 2


def test_connection_errors_back_off_exponentially_up_to_the_cap():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 5:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": True})

    result, delays, _ = run_client(handler, RetryPolicy(attempts=5, backoff_s=1.0, max_delay_s=3.0))
    assert result == {"ok": True}
    assert delays == [1.0, 2.0, 3.0, 3.0]
    assert calls[0].headers["Authorization"] == "Bearer k"


def test_retries_run_out_with_a_clear_error():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ServiceCallError, match="gave up after 3 attempts") as raised:
        run_client(handler, RetryPolicy(attempts=3, backoff_s=0.0))
    assert raised.value.status is None


def test_a_503_on_the_last_attempt_is_an_error_with_status():
    with pytest.raises(ServiceCallError, match="HTTP 503: queue full") as raised:
        run_client(
            lambda r: httpx.Response(503, json={"detail": "queue full"}), RetryPolicy(attempts=2, backoff_s=0)
        )
    assert raised.value.status == 503


def test_other_errors_are_not_retried_and_carry_the_service_message():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(422, json={"detail": "box [1, 1, 1, 1] is empty"})

    with pytest.raises(ServiceCallError, match=r"HTTP 422: box \[1, 1, 1, 1\] is empty") as raised:
        run_client(handler)
    assert raised.value.status == 422 and len(calls) == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("soon", None), ("", None), (None, None), ("inf", None)],
)
def test_retry_after_seconds(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_after_http_date():
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 7, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(7.0)


def test_retry_after_is_capped():
    assert RetryPolicy(max_delay_s=5.0).delay(0, "3600") == 5.0
