"""/docs and /redoc render in Chromium with every request off this machine blocked (the page fixture aborts
and records them, and fails the test if there were any)."""

import pytest
from browser_helpers import screenshot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow


def test_swagger_ui_renders_offline(page: Page, service_url: str) -> None:
    page.goto(f"{service_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("hourglass-pose")
    pose = page.locator('.opblock-summary-path[data-path="/v1/pose"]')
    expect(pose).to_be_visible()
    pose.click()
    expect(page.locator(".parameters-container")).to_contain_text("render")
    screenshot(page, "docs_swagger_ui")


def test_redoc_renders_offline(page: Page, service_url: str) -> None:
    page.goto(f"{service_url}/redoc")
    expect(page.locator("h1", has_text="hourglass-pose")).to_be_visible()
    expect(page.locator("h2", has_text="Estimate 16 MPII keypoints for each given person")).to_be_visible()
    expect(page.locator("h2", has_text="Estimate 16 MPII keypoints")).to_have_count(1)
    screenshot(page, "docs_redoc")
