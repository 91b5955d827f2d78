"""A member asks a coding question, a consultant edits CasePilot's draft and answers, the member sees the answer:
in a real Chromium (Debian's, driven by Playwright) against `medcode serve`, with users made by `medcode admin
create-user` and the answer mail received by an aiosmtpd server of the test's own (the outside mail server).
Fixtures and skipping as in test_browser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_accounts_web import PASSWORD, Server, start_server
from test_browser import browser, shot  # noqa: F401 (fixtures)
from test_consults_web import make_user, outside  # noqa: F401 (fixture)

from medcode.app import db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def consult_site(
    home: Path,
    data_dir: Path,
    outside: tuple[object, str],  # noqa: F811 (fixture)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, str]]:
    folder = tmp_path_factory.mktemp("consult-browser")
    url = f"sqlite:///{folder / 'app.db'}"
    db.upgrade(url)
    server = start_server(
        home,
        data_dir,
        url,
        folder,
        MEDCODE_SMTP_URL=outside[1],
        MEDCODE_MAIL_FROM="consult@medcode.test",
        MEDCODE_TRUST_PROXY="off",
    )
    yield server, url
    server.stop()


def log_in(pg: Page, base: str, who: str) -> None:
    pg.goto(base + "/account/login")
    pg.get_by_label("E-mail address").fill(who)
    pg.get_by_label("Password").fill(PASSWORD)
    pg.get_by_role("button", name="Log in").click()
    pg.wait_for_url("**/account")


def test_member_asks_consultant_answers_member_sees_the_reply(
    consult_site: tuple[Server, str],
    outside: tuple[object, str],  # noqa: F811 (fixture)
    home: Path,
    browser,  # noqa: F811 (fixture)
) -> None:
    server, url = consult_site
    box = outside[0]
    base = server.base
    member = make_user(url, home, "member")
    consultant = make_user(url, home, "consultant")

    # the member asks on /consult and lands on the ticket page
    mctx = browser.new_context(viewport={"width": 1200, "height": 900})
    mp = mctx.new_page()
    mp.set_default_timeout(30_000)
    log_in(mp, base, member)
    mp.goto(base + "/consult")
    mp.get_by_label("Subject").fill("Bone marrow aspiration")
    mp.get_by_label("Question").fill("Which code is used for a bone marrow aspiration, 38220 or 38221?")
    mp.get_by_role("button", name="Send the question").click()
    expect(mp.locator("h1")).to_have_text("Bone marrow aspiration")
    expect(mp.locator("#ticket-state")).to_have_text("new")
    expect(mp.locator("p.notice")).to_contain_text("Your question is sent")
    shot(mp, "consult-asked")

    # the consultant opens the queue, then the ticket; the draft arrives in the background
    cctx = browser.new_context(viewport={"width": 1200, "height": 900})
    cp = cctx.new_page()
    cp.set_default_timeout(30_000)
    log_in(cp, base, consultant)
    cp.goto(base + "/consults")
    expect(cp.locator("h1")).to_have_text("Consult queue")
    shot(cp, "consult-queue")
    cp.locator("#queue").get_by_role("row", name="Bone marrow aspiration").get_by_role("link").click()
    expect(cp.locator("h1")).to_have_text("Bone marrow aspiration")
    end = time.time() + 90
    while cp.locator("#draft-pending").count() and time.time() < end:
        time.sleep(1)
        cp.reload()
    draft = cp.get_by_label(f"Answer to {member}")
    assert "38221" in draft.input_value() or "38220" in draft.input_value()
    expect(cp.locator("#citations li").first).to_be_visible()
    cp.get_by_role("button", name="Take this ticket").click()
    expect(cp.locator("#ticket-state")).to_have_text("assigned")
    expect(cp.locator("#ticket-assignee")).to_have_text(consultant)
    expect(cp.locator("#events")).to_contain_text(consultant)
    shot(cp, "consult-draft")

    # edit the draft and send
    answer = "Hello, for an aspiration alone use 38220. " + draft.input_value()[:400]
    draft.fill(answer)
    cp.get_by_role("button", name="Send the answer").click()
    expect(cp.locator("#sent")).to_have_text("The answer is sent.")
    expect(cp.locator("#ticket-state")).to_have_text("answered")
    expect(cp.locator("#events")).to_contain_text("reply")

    # the outside mail server has the answer, in the thread; the member sees it on the ticket page
    sent = box.wait_for(member)  # type: ignore[attr-defined]
    assert sent.get_content().startswith("Hello, for an aspiration alone use 38220.")
    assert "[MC-" in str(sent["Subject"]) and sent["In-Reply-To"]
    mp.reload()
    expect(mp.locator("#ticket-state")).to_have_text("answered")
    expect(mp.locator("#thread li.out")).to_contain_text("Hello, for an aspiration alone use 38220.")
    expect(mp.locator("#thread li.out .meta")).to_contain_text("Answer from consult@medcode.test")
    assert "Sources:" not in mp.locator("#thread li.in").inner_text()  # the member never sees the draft
    shot(mp, "consult-answered")
    mp.goto(base + "/consult/mine")
    expect(mp.locator("#my-tickets .state")).to_have_text("answered")

    # the member cannot open the queue
    assert mp.goto(base + "/consults").status == 403  # type: ignore[union-attr]
    mctx.close()
    cctx.close()
