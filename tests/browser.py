"""Debian's Chromium driven by Playwright (its own browser download cannot run here)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.system import require_system_packages

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / ".artifacts"  # screenshots the tests take; `make screenshots` shrinks some into docs/img
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright):
    """A headless Chromium (fails with the install command when it is missing)."""
    require_system_packages()
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def screenshot_page(url: str, path: Path, *, expect_text: str, width: int = 1280,
                    images: str | None = None) -> list[tuple[int, int]]:
    """Open ``url``, check that ``expect_text`` is visible, and save a full-page screenshot.
    ``images`` (a CSS selector): the decoded sizes of those images as Chromium drew them (0 x 0 for
    one it could not decode)."""
    from playwright.sync_api import expect, sync_playwright

    path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(url)
            expect(page.get_by_text(expect_text).first).to_be_visible(timeout=15_000)
            page.screenshot(path=str(path), full_page=True)
            if images is None:
                return []
            sizes = page.eval_on_selector_all(images, "els => els.map(e => [e.naturalWidth, e.naturalHeight])")
            return [tuple(size) for size in sizes]
        finally:
            browser.close()
