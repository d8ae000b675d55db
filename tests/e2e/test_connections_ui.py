"""A real browser on the Connections page: both connection types are offered with their own
fields, and the list's Test button answers from our hooks — success against the emulators, a
clear failure with a wrong secret. Screenshots kept in .artifacts/connections/."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser import ARTIFACTS as browser_artifacts
from tests.browser import launch

pytestmark = [pytest.mark.e2e]
ARTIFACTS = browser_artifacts / "connections"


def log_in(page, af) -> None:
    page.goto(f"{af.url}/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", af.password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{af.url}/", timeout=30_000)


def add_connection(page, af, conn_id: str, conn_type: str, standard: dict[str, str], extra: dict[str, str],
                   shot: str) -> None:
    """Admin → Connections → Add: pick the type by its name, fill the relabelled fields."""
    from playwright.sync_api import expect

    page.goto(f"{af.url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog").first
    dialog.locator("input[name=connection_id]").fill(conn_id)
    dialog.get_by_role("combobox").fill(conn_type)
    page.get_by_role("option", name=conn_type, exact=True).click()
    for name, value in standard.items():
        dialog.locator(f"input[name={name}]").fill(value)
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    for name, value in extra.items():
        dialog.locator(f"#element_{name}").fill(value)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-form.png"), full_page=True)
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Connection has been successfully created").first).to_be_visible(timeout=15_000)


def press_test(page, conn_id: str, shot: str) -> str:
    """Click the row's Test button; return the toast's text."""
    from playwright.sync_api import expect

    page.mouse.move(0, 0)  # a tooltip left open by the previous click would take this one
    page.wait_for_timeout(300)
    row = page.get_by_role("row").filter(has_text=conn_id)
    with page.expect_response(lambda r: "connections/test" in r.url) as answer:
        row.get_by_role("button", name="Test Connection").click()
    body = answer.value.json()
    toast = page.get_by_text("Test Connection", exact=False).last
    expect(toast).to_be_visible(timeout=15_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    return f"{body.get('status')} {body.get('message') or body.get('detail')}"


def test_connection_types_forms_and_test_button(stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    af, ps, cld = stack["af"], stack["ps"], stack["cld"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ps_url = urlsplit(ps.base_url)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            log_in(page, af)
            # Both types are offered, with their own labels and help text.
            page.goto(f"{af.url}/connections")
            page.get_by_role("button", name="Add Connection").click()
            page.get_by_role("dialog").first.get_by_role("combobox").fill("o")
            offered = page.get_by_role("option").all_inner_texts()
            assert "Cloudinary" in offered and "PhotoShelter" in offered, offered
            page.keyboard.press("Escape")

            add_connection(page, af, "cld_ui", "Cloudinary",
                           {"host": cld.credentials["cloud_name"], "login": cld.credentials["api_key"],
                            "password": cld.credentials["api_secret"], "port": "443"},
                           {"upload_prefix": cld.base_url, "delivery_host": f"127.0.0.1:{cld.port}"}, "cloudinary")
            add_connection(page, af, "ps_ui", "PhotoShelter",
                           {"host": f"{ps_url.scheme}://{ps_url.hostname}", "port": str(ps_url.port),
                            "login": ps.credentials["email"], "password": ps.credentials["password"]},
                           {"api_key": ps.credentials["api_key"]}, "photoshelter")
            page.goto(f"{af.url}/connections")
            expect(page.get_by_text("cld_ui").first).to_be_visible(timeout=15_000)
            assert press_test(page, "cld_ui", "cloudinary-test-ok") == \
                "True Cloudinary cloud 'democloud' answered the ping"
            ok = press_test(page, "ps_ui", "photoshelter-test-ok")
            assert ok.startswith("True logged in to PhotoShelter as pipeline@example.com"), ok

            # A wrong secret: the hook's own, clear failure (not a stack trace, not a 400).
            page.mouse.move(0, 0)
            page.wait_for_timeout(300)
            page.get_by_role("row").filter(has_text="cld_ui").get_by_role("button", name="Edit Connection").click()
            dialog = page.get_by_role("dialog").first
            dialog.locator("input[name=password]").fill("wrong-secret")
            dialog.get_by_role("button", name="Save").click()
            expect(page.get_by_role("dialog")).to_have_count(0, timeout=15_000)
            failed = press_test(page, "cld_ui", "cloudinary-test-wrong-secret")
            assert failed.startswith("False Cloudinary ping failed") and "wrong-secret" not in failed, failed
            expect(page.get_by_text("Cloudinary ping failed").first).to_be_visible()
        finally:
            page.screenshot(path=str(ARTIFACTS / "last.png"))
            browser.close()
