"""The web site in a real Chromium (Debian's, driven by Playwright) against the real server.

Needs /usr/bin/chromium (or MEDCODE_CHROMIUM). Without it the tests are skipped, unless
MEDCODE_REQUIRE_BROWSER=1 (set by .ci/run, which installs Chromium), where they fail instead.
Set MEDCODE_SCREENSHOTS=DIR to save screenshots of the main pages (docs/screenshots holds them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser  # drives Debian's Chromium (pytest -m 'not browser' skips it)

CHROMIUM = os.environ.get("MEDCODE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHOTS = os.environ.get("MEDCODE_SCREENSHOTS")
CLAIM = (
    '{"id": "WEB-1", "date": "2026-05-01", "place_of_service": "22", "zip": "10001",\n'
    ' "diagnoses": ["M86.161"], "lines": [{"code": "20702", "units": 1, "pointers": [1]}]}'
)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("MEDCODE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def shot(pg, name: str, selector: str | None = None) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        path = str(Path(SHOTS) / f"{name}.jpg")
        if selector:
            pg.locator(selector).screenshot(path=path, type="jpeg", quality=55)
        else:
            pg.screenshot(path=path, full_page=name not in ("code-page", "icd-page"), type="jpeg", quality=55)


def test_coder_flow(server, page):
    pg = page
    pg.goto(server + "/")
    shot(pg, "home")
    box = pg.locator("#q")
    box.click()
    box.press_sequentially("antibiotic rod in the bone", delay=15)
    # the list of the final query (answers to earlier prefixes are dropped by site.js)
    pg.locator('#q-list[data-query="antibiotic rod in the bone"] [role=option]').first.wait_for()
    options = pg.locator("#q-list [role=option]")
    assert pg.locator("#q").get_attribute("aria-expanded") == "true"
    codes = [options.nth(i).get_attribute("data-code") for i in range(options.count())]
    assert "20702" in codes
    shot(pg, "autocomplete")
    for _ in range(codes.index("20702") + 1):  # the keyboard picks it
        box.press("ArrowDown")
    assert pg.locator("#q-list [aria-selected=true]").get_attribute("data-code") == "20702"
    box.press("Enter")
    pg.wait_for_url("**/codes/20702")
    assert pg.locator("#national-nonfacility").inner_text() == "$147.97"
    assert pg.title().startswith("20702 ")

    pg.select_option("#locality", label="NY: MANHATTAN (13202-01)")
    pg.get_by_role("button", name="Show payment").click()
    pg.wait_for_url("**/codes/20702?*locality=13202-01*")
    assert pg.locator("#local-nonfacility").inner_text() == "$170.89"
    shot(pg, "code-page")
    shot(pg, "code-page-charts", "#charts")

    pg.goto(server + "/codes/99213")  # the locality is remembered on other pages
    assert "MANHATTAN" in pg.locator("tr.local").inner_text()

    pg.goto(server + "/codes/20702")
    pg.get_by_role("link", name="Compare them").click()
    pg.wait_for_url("**/compare?codes=20700,20702,20704")
    heads = pg.locator("table.compare thead th").all_inner_texts()
    assert heads == ["Field", "20700", "20702", "20704"]
    assert "MANHATTAN" in pg.locator("table.compare caption").inner_text()
    shot(pg, "compare")

    pg.goto(server + "/check")
    pg.fill("#claim-text", CLAIM)
    pg.get_by_role("button", name="Check").click()
    pg.locator("table.findings").first.wait_for()
    first = pg.locator("table.findings tbody tr").first
    assert first.locator("code").inner_text() == "addon.no_primary"
    assert first.locator(".badge").inner_text() == "deny"
    shot(pg, "claim-checker")


SLOW_FIRST_ANSWER = """
(function () {
  var real = window.fetch;
  window.fetch = function (url, opts) {  // the answer for "knee" arrives 800 ms late, as on a loaded machine
    return real(url, opts).then(function (r) {
      if (!/[?&]q=knee(&|$)/.test(String(url))) return r;
      return new Promise(function (ok) { setTimeout(function () { ok(r); }, 800); });
    });
  };
})();
"""


def test_late_autocomplete_answers_are_dropped(server, page):
    pg = page
    pg.add_init_script(SLOW_FIRST_ANSWER)
    pg.goto(server + "/")
    box = pg.locator("#q")
    box.click()
    box.press_sequentially("knee", delay=10)
    pg.wait_for_timeout(200)  # the request for "knee" is sent; its answer comes while typing goes on
    box.press_sequentially(" replacement", delay=100)
    # the late answer for "knee" was never shown: the list is empty or answers what is typed
    shown = pg.evaluate("""() => { const l = document.getElementById("q-list");
                                   return l.hidden ? "hidden" : l.getAttribute("data-query"); }""")
    assert shown in ("hidden", "knee replacement")
    pg.locator('#q-list[data-query="knee replacement"] [role=option]').first.wait_for()
    pg.wait_for_timeout(900)  # long after the late answer arrived
    assert pg.locator("#q-list").get_attribute("data-query") == "knee replacement"


def test_search_page_and_icd_page(server, page):
    pg = page
    pg.goto(server + "/search?q=femur+fracture&system=icd10cm")
    assert pg.locator("input[name=system][value=icd10cm]").is_checked()
    pg.locator("ol.results a.code").first.click()
    pg.wait_for_url("**/codes/*")
    assert pg.locator("nav.crumbs li").count() >= 3
    pg.goto(server + "/codes/S72.001A")
    assert "Billable" in pg.locator(".code-head").inner_text()
    shot(pg, "icd-page")


def test_pages_fit_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    for path in (
        "/",
        "/codes/20702?locality=13202-01",
        "/codes/S72.001A",
        "/compare?codes=20700,20702,20704",
        "/check",
        "/search?q=knee+replacement",
    ):
        pg.goto(server + path)
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390, path  # wide tables scroll inside
    pg.goto(server + "/codes/20702")
    pg.keyboard.press("Tab")  # the first stop is the skip link, and it shows when focused
    assert pg.evaluate("document.activeElement.className") == "skip"
    context.close()


def test_works_without_javascript(browser, server):
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    pg.goto(server + "/")
    pg.fill("#q", "20702")
    pg.locator("form.bigsearch button[type=submit]").click()
    pg.wait_for_url("**/codes/20702")
    pg.goto(server + "/check")
    pg.fill("#claim-text", CLAIM)
    pg.get_by_role("button", name="Check").click()
    assert pg.locator("table.findings tbody tr code").first.inner_text() == "addon.no_primary"
    context.close()
