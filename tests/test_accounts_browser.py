"""Register, confirm, log in and reach the quota page in a real Chromium (Debian's, driven by Playwright), against
`medcode serve` with quotas on and no mail server: the confirmation link is read from the server log, as a
developer would. Fixtures and skipping as in test_browser."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from test_accounts_web import LINK, PASSWORD, Server, start_server
from test_browser import browser, shot  # noqa: F401 (fixtures)

from medcode.app import db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def quota_site(home: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser-site")
    url = f"sqlite:///{folder / 'app.db'}"
    db.upgrade(url)  # quotas on: `medcode serve` needs a migrated database
    server = start_server(
        home,
        data_dir,
        url,
        folder,
        MEDCODE_QUOTAS="on",
        MEDCODE_GUEST_PAGES="1",
        MEDCODE_MEMBER_PAGES="1",
        MEDCODE_VERIFY_EMAIL="on",
        MEDCODE_SMTP_URL="",
        MEDCODE_TRUST_PROXY="off",
    )
    yield server
    server.stop()


def link_in_log(server: Server, email: str, timeout: float = 20) -> str:
    end = time.time() + timeout
    while time.time() < end:
        text = server.log.read_text(errors="replace")
        for block in reversed(text.split("mail not sent")):
            if email in block and LINK.search(block):
                return LINK.search(block).group(0)  # type: ignore[union-attr]
        time.sleep(0.2)
    raise AssertionError(f"no link for {email} in the server log")


def test_register_confirm_log_in_and_reach_the_quota_page(quota_site: Server, browser) -> None:  # noqa: F811
    base = quota_site.base
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)

    # a guest: one code page, then the quota page with the code's heading and the search box
    pg.goto(base + "/codes/20702")
    expect(pg.locator("h1 .code")).to_have_text("20702")
    expect(pg.locator("#account-nav")).to_have_text("Log in / Register")
    response = pg.goto(base + "/codes/20703")
    assert response is not None and response.status == 402
    expect(pg.locator("h1 .code")).to_have_text("20703")
    expect(pg.locator("#quota-h")).to_have_text("You have reached your page limit")
    assert pg.locator("#top-q").is_visible() and pg.locator("#q").is_visible()
    shot(pg, "quota-guest")

    # register from the quota page's link
    pg.locator(".quota").get_by_role("link", name="Register").click()
    pg.wait_for_url("**/account/register")
    who = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    pg.get_by_label("E-mail address").fill(who)
    pg.get_by_label("Password (8 characters or more)").fill(PASSWORD)
    pg.get_by_role("button", name="Register").click()
    expect(pg.locator("h1")).to_have_text("Account created")

    # the link from the server log confirms the address
    link = link_in_log(quota_site, who)
    pg.goto(link)
    expect(pg.locator("h1")).to_have_text("Address confirmed")

    # log in: the header names the account
    pg.goto(base + "/account/login")
    pg.get_by_label("E-mail address").fill(who)
    pg.get_by_label("Password").fill(PASSWORD)
    pg.get_by_role("button", name="Log in").click()
    pg.wait_for_url("**/account")
    expect(pg.locator("#account-email")).to_have_text(who)
    expect(pg.locator("#account-nav a")).to_have_text(who)
    shown = pg.locator("#account-quota").inner_text()
    assert re.fullmatch(
        r"0 of 2 distinct pages this day \(the count starts again at \d{4}-\d\d-\d\d 00:00 UTC\)", shown
    )

    # a member sees two pages, then the quota page says why
    for code in ("20702", "20703"):
        assert pg.goto(base + f"/codes/{code}").status == 200  # type: ignore[union-attr]
    response = pg.goto(base + "/codes/20704")
    assert response is not None and response.status == 402
    expect(pg.locator("#quota-why")).to_contain_text("Your member plan shows 2 different code or compare pages a day")
    expect(pg.locator("#account-nav a")).to_have_text(who)
    shot(pg, "quota-member")

    # log out from the header
    pg.locator("#account-nav").get_by_role("button", name="Log out").click()
    pg.wait_for_url(base + "/")
    expect(pg.locator("#account-nav")).to_have_text("Log in / Register")
    context.close()
