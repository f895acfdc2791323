"""Browser fixtures: Debian's Chromium, headless, driven by Playwright for Python (browser_helpers says
how)."""

from collections.abc import Iterator

import pytest
from browser_helpers import DESKTOP, checked_page, chromium, offline_context
from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: Playwright's sync API holds an event loop in the main thread while it runs, and other
    modules' tests call asyncio.run() there."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def outside_requests() -> list[str]:
    """URLs the page tried to fetch from anywhere but this machine (each one was aborted)."""
    return []


@pytest.fixture
def page(browser: Browser, outside_requests: list[str]) -> Iterator[Page]:
    """A desktop-sized page in a fresh context; the test fails if the page asked for anything outside."""
    with checked_page(browser, outside_requests, viewport=DESKTOP) as checked:
        yield checked


@pytest.fixture
def phone_page(browser: Browser, outside_requests: list[str]) -> Iterator[Page]:
    """A phone-sized page (390 x 844 CSS px, touch, device scale 3)."""
    context = offline_context(
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
