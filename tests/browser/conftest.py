"""The admin in a real browser: the app served over HTTP with the sandboxes (as `make run`),
Debian's Chromium driven by Playwright, a merchant signed in through the sign-in form.

Every page's screenshot goes to tests/browser/screenshots/ (not committed). Without a Chromium
the tests are skipped, and `make test` says so."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connector.conftest import SHOP, live, sandboxes  # noqa: F401 - fixtures used here

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM:
        return
    skip = pytest.mark.skip(reason="no Chromium on this machine (apt-get install chromium)")
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Merchant:
    """A page of the admin in Chromium, and what went wrong in it (console errors, CSP refusals)."""

    def __init__(self, page, base: str) -> None:  # noqa: ANN001
        self.page, self.base, self.problems = page, base, []
        # a page or a live count answered 400 with its errors is expected; a script, style or asset
        # that fails to load, a server error, a script error or a CSP refusal is not
        page.on("console", lambda m: self.problems.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}")
                if r.status >= 500 or (r.status >= 400 and r.request.resource_type not in ("document", "fetch"))
                else None)

    def open(self, path: str) -> object:
        self.page.goto(f"{self.base}{path}")
        return self.page

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def merchant(live, chromium) -> Iterator[Merchant]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    context.set_default_timeout(15000)
    page = context.new_page()
    who = Merchant(page, live.url)
    page.goto(f"{live.url}/admin/login")
    page.get_by_label("Boutique").select_option(SHOP)
    page.get_by_label("Jeton d'API (PARLONS_API_TOKEN)").fill(live.runtime.config.api_token)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live.url}/admin")
    yield who
    context.close()
    assert who.problems == [], f"the browser reported: {who.problems}"
