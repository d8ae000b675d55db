"""The campaign page inside the Airflow UI, on ``airflow standalone``: refused without a login; in
Chromium, reached from the navigation, it shows each market's state as stored by the DAGs (the
oracle is the stored access rules, read here), and after the campaign's end every market closed
and the archive done. Screenshots go to ``.artifacts/campaign-page``.

This module ends the shared stack's campaign, so ``conftest.py`` runs it after the others.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from tests.browser import ARTIFACTS as browser_artifacts
from tests.browser import launch
from tests.e2e.support import CAMPAIGN, INGEST, MARKETS, end_campaign, quiet, run_once, sign_in

pytestmark = [pytest.mark.e2e]
ARTIFACTS = browser_artifacts / "campaign-page"
PAGE = f"/campaign-media/campaigns/{CAMPAIGN}"
DATA = [f"/campaign-media/api/campaigns/{CAMPAIGN}", f"/campaign-media/campaigns/{CAMPAIGN}/audit?format=csv",
        f"/campaign-media/campaigns/{CAMPAIGN}/files/delivery/fr.json", "/campaign-media/"]


def served_now(rules: list[dict], now: datetime) -> bool:
    """Whether Cloudinary serves a copy with these access rules anonymously at ``now``."""
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return not rules or any(r["access_type"] == "anonymous" and (not r.get("start") or at(r["start"]) <= now)
                            and (not r.get("end") or now < at(r["end"])) for r in rules)


def expected(storage, now: datetime) -> dict[str, tuple[str, int]]:
    """Per market: "live" when a stored copy is served now, else "closed" after the campaign's end
    (the test's campaign is open until it ends it), and its number of copies."""
    out = {}
    for market in ("fr", "jp", "sa"):
        state = json.loads((storage / CAMPAIGN / "markets" / market / "state.json").read_text())
        access = json.loads((storage / CAMPAIGN / "markets" / market / "access.json").read_text())
        live = any(served_now((access.get(m) or state[m])["rules"], now) for m in state)
        out[market] = ("live" if live else "restricted", len(state))
    return out


def loaded(pictures, timeout: float = 60) -> list[int]:
    """Each lazily loaded picture scrolled into view, then its decoded width (0: not decoded)."""
    import time

    for index in range(pictures.count()):
        pictures.nth(index).scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout
    while True:
        state = pictures.evaluate_all("imgs => imgs.map(i => [i.complete, i.naturalWidth])")
        if all(done for done, _ in state) or time.monotonic() > deadline:
            return [width for _, width in state]
        time.sleep(0.5)


def test_anonymous_requests_to_the_page_and_its_data_are_refused(stack) -> None:
    af = stack["af"]
    for path in [PAGE, *DATA]:
        anonymous = httpx.get(f"{af.url}{path}", timeout=30)
        assert anonymous.status_code == 401, (path, anonymous.status_code, anonymous.text[:200])
        forged = httpx.get(f"{af.url}{path}", cookies={"_token": "not-a-jwt"}, timeout=30)
        assert forged.status_code in (401, 403), (path, forged.status_code)
    page = httpx.get(f"{af.url}{PAGE}", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 401 and "Sign in" in page.text and "Spring" not in page.text
    token = {"Authorization": f"Bearer {af.token}"}
    signed_in = httpx.get(f"{af.url}{DATA[0]}", headers=token, timeout=30)
    assert signed_in.status_code == 200 and signed_in.json()["campaign"] == CAMPAIGN
    # Signed in, the files route still serves manifests and reports only: no state, plan or way out.
    files = f"{af.url}/campaign-media/campaigns/{CAMPAIGN}/files"
    for name in ("markets/fr/state.json", "delivery/%2e%2e/markets/fr/access.json",
                 "%2e%2e/_account/capabilities.json"):
        assert httpx.get(f"{files}/{name}", headers=token, timeout=30).status_code == 404, name


def test_the_campaign_page_from_the_navigation_through_the_campaigns_end(stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    af, storage = stack["af"], stack["storage"]
    for dag_id in (INGEST, *MARKETS):
        af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
    assert run_once(af, INGEST, {"campaign": CAMPAIGN}) == "success"
    quiet(af, [INGEST, *MARKETS], settle=5)
    assert run_once(af, "campaign_media_usage_windows") == "success"
    want = expected(storage, datetime.now(UTC))
    assert any(status == "live" for status, _ in want.values()), want
    manifest = httpx.get(f"{af.url}/campaign-media/campaigns/{CAMPAIGN}/files/delivery/fr.json",
                         headers={"Authorization": f"Bearer {af.token}"}, timeout=30)
    assert manifest.status_code == 200 and manifest.json()["market"] == "fr"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id="Asia/Tokyo")
        page = context.new_page()
        try:
            sign_in(page, af)

            page.get_by_role("button", name="Browse").click()
            page.get_by_role("menuitem", name="Campaigns").click()
            frame = page.frame_locator("iframe[title=Campaigns]")
            frame.get_by_role("link", name="Spring Launch 2026").click()
            rows = frame.locator("#markets tr[data-market]")
            expect(rows).to_have_count(3, timeout=30_000)
            for market, (status, copies) in want.items():
                row = frame.locator(f"#markets tr[data-market={market}]")
                expect(row).to_have_attribute("data-status", status)
                expect(row.locator("td.num").first).to_contain_text(str(copies))
            # The next change in the market's zone and in the viewer's (the browser is in Tokyo).
            expect(frame.locator("#markets tr[data-market=fr]")).to_contain_text("CET")
            expect(frame.locator("#viewer-zone")).to_have_text("Asia/Tokyo")
            expect(frame.locator("#timeline rect")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "live.png"))

            # The Japanese contact sheet: every rendition of the market as a picture that loads for the
            # signed-in reviewer (restricted masters too), through the page's own preview route.
            made = json.loads((storage / CAMPAIGN / "markets" / "jp" / "state.json").read_text())
            frame.locator("#markets tr[data-market=jp]").get_by_role("link", name="contact sheet").click()
            pictures = frame.locator("#sheet figure img")
            expect(pictures).to_have_count(sum(len(e["renditions"]) for e in made.values()), timeout=30_000)
            drawn = loaded(pictures)
            assert drawn and all(width > 0 for width in drawn), drawn
            src = pictures.first.get_attribute("src")
            assert src.startswith("/campaign-media/") and "s--" not in src
            page.screenshot(path=str(ARTIFACTS / "contact-sheet.png"), full_page=True)
            assert httpx.get(f"{af.url}{src}", timeout=30).status_code == 401  # anonymous: refused
            page.goto(f"{af.url}/")

            end_campaign(stack["include"])
            assert run_once(af, "campaign_media_usage_windows") == "success"
            assert run_once(af, "campaign_media_archive") == "success"
            page.goto(f"{af.url}/")  # from the home page, the navigation opens the campaign list afresh
            page.get_by_role("button", name="Browse").click()
            page.get_by_role("menuitem", name="Campaigns").click()
            frame.get_by_role("link", name="Spring Launch 2026").click()
            expect(frame.locator("#markets tr[data-market]")).to_have_count(3, timeout=30_000)
            for market in want:
                expect(frame.locator(f"#markets tr[data-market={market}]")).to_have_attribute("data-status", "closed")
            expect(frame.locator("#archive")).to_contain_text("done")
            expect(frame.locator("#runs")).to_contain_text("campaign_media_archive")
            page.screenshot(path=str(ARTIFACTS / "after-the-end.png"))
            page.goto(f"{af.url}{PAGE}")
            page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
        finally:
            page.screenshot(path=str(ARTIFACTS / "last.png"))
            browser.close()
    done = json.loads((storage / CAMPAIGN / "archive" / "done.json").read_text())["summary"]
    data = httpx.get(f"{af.url}{DATA[0]}", headers={"Authorization": f"Bearer {af.token}"}, timeout=30).json()
    assert {m["market"]: m["status"] for m in data["markets"]} == dict.fromkeys(want, "closed")
    assert data["archive"]["state"] == "done" and str(done["verified"]) in data["archive"]["detail"]
    print(f"screenshots: {ARTIFACTS}")
