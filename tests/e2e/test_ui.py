"""A real browser (Debian's Chromium, driven by Playwright): log in, open a market DAG, start a
backfill from the UI's Trigger → Backfill dialog, and see its runs succeed in the grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.browser import ARTIFACTS as browser_artifacts
from tests.browser import launch
from tests.e2e.support import quiet, runs, sign_in

pytestmark = [pytest.mark.e2e]
ARTIFACTS = browser_artifacts / "ui"
DAG = "campaign_media_market_fr"


def pick(page, index: int, moment: datetime) -> None:
    """Fill the UI's date-time picker number ``index`` (From = 0, To = 1)."""
    page.get_by_test_id("datetime-input").nth(index).click()
    page.get_by_placeholder("YYYY/MM/DD").last.fill(moment.strftime("%Y/%m/%d"))
    page.get_by_placeholder("HH:mm").last.fill(moment.strftime("%H:%M"))
    page.keyboard.press("Escape")


def test_backfill_from_the_trigger_dialog(stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    af = stack["af"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=3), today - timedelta(days=1)
    before = {r["dag_run_id"] for r in runs(af, DAG)}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            sign_in(page, af)

            page.goto(f"{af.url}/dags/{DAG}")
            page.get_by_role("button", name="Trigger").click()
            dialog = page.get_by_role("dialog").first
            dialog.get_by_text("Backfill", exact=True).click()
            pick(page, 0, start)
            pick(page, 1, end)
            page.screenshot(path=str(ARTIFACTS / "backfill-dialog.png"))
            dialog.get_by_role("button", name="Run Backfill").click()

            # The backfill's runs appear, then all succeed (the REST API is the oracle).
            quiet(af, [DAG], settle=5, timeout=300)
            created = [r for r in runs(af, DAG) if r["dag_run_id"] not in before and r["run_type"] == "backfill"]
            assert len(created) == 2, [r["dag_run_id"] for r in created]
            assert all(r["state"] == "success" for r in created)

            page.goto(f"{af.url}/dags/{DAG}/runs")
            for run in created:
                expect(page.get_by_text(run["dag_run_id"]).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "backfill-runs.png"), full_page=True)
            page.goto(f"{af.url}/dags/{DAG}")
            page.wait_for_timeout(2000)
            page.screenshot(path=str(ARTIFACTS / "backfill-grid.png"), full_page=True)
        finally:
            page.screenshot(path=str(ARTIFACTS / "last.png"))
            browser.close()
    print(f"screenshots: {ARTIFACTS}")
