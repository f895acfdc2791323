"""Browser fixtures: Debian's Chromium, headless, driven by Playwright for Python.

Playwright's own browser download cannot work on these machines, so the tests launch the system Chromium
(`apt-get install chromium`; `make test` installs it when it is missing and it runs as root). Every page
may reach only the service on 127.0.0.1: any other request is aborted and recorded, and a test that made
one fails.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

CHROMIUM = Path(os.environ.get("HGPOSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = ("127.0.0.1", "localhost")
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: Playwright's sync API holds an event loop in the main thread while it runs, and other
    modules' tests call asyncio.run() there."""
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def outside_requests() -> list[str]:
    """URLs the page tried to fetch from anywhere but this machine (each one was aborted)."""
    return []


def _offline_context(browser: Browser, outside: list[str], **options: object) -> BrowserContext:
    context = browser.new_context(accept_downloads=True, **options)

    def route(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname not in LOCAL_HOSTS:
            outside.append(url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    context.route("**/*", route)
    return context


@pytest.fixture
def page(browser: Browser, outside_requests: list[str]) -> Iterator[Page]:
    """A desktop-sized page in a fresh context; the test fails if the page asked for anything outside."""
    context = _offline_context(browser, outside_requests, viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not outside_requests, f"the page requested outside hosts: {outside_requests}"
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def phone_page(browser: Browser, outside_requests: list[str]) -> Iterator[Page]:
    """A phone-sized page (390 x 844 CSS px, touch, device scale 3)."""
    context = _offline_context(
        browser,
        outside_requests,
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        has_touch=True,
    )
    page = context.new_page()
    yield page
    context.close()
    assert not outside_requests, f"the page requested outside hosts: {outside_requests}"
