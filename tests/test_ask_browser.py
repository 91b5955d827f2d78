"""CasePilot's page in a real Chromium (Debian's, driven by Playwright) against the real server: ask a
question and see the answer appear without a reload, click a suggested follow-up, follow a citation to the
code page section; the same without JavaScript, and on a phone. Fixtures and skipping as in test_browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_ask_web import HOSTILE, QUESTION, core
from test_browser import browser, shot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
WAIT = 120_000


def _context(browser, **kw):  # noqa: F811 (fixture)
    context = browser.new_context(viewport={"width": 1200, "height": 900}, **kw)
    pg = context.new_page()
    pg.set_default_timeout(WAIT)
    return context, pg


def test_ask_see_the_answer_without_a_reload_then_a_followup_then_a_citation(server, browser, kb):  # noqa: F811
    first = core(kb, QUESTION)
    assert first["followups"] and any(c.get("link") for c in first["citations"])  # else this shows nothing
    context, pg = _context(browser)
    reloads: list[str] = []
    pg.goto(server + "/ask")
    pg.on("framenavigated", lambda frame: reloads.append(frame.url) if frame == pg.main_frame else None)
    pg.evaluate("window.__same_page = 1")  # lost on any reload
    pg.get_by_label("Your question").fill(QUESTION)
    with pg.expect_response(lambda r: r.url.endswith("/api/ask")) as asked:
        pg.get_by_role("button", name="Ask", exact=True).click()
    assert asked.value.status == 200
    turns = pg.locator("#turns > li.turn")
    expect(turns).to_have_count(1)
    assert pg.evaluate("window.__same_page") == 1 and reloads == []
    turn = turns.nth(0)
    assert turn.locator(".asked").text_content() == f"You asked: {QUESTION}"
    assert turn.locator(".answer").inner_text() == first["answer"]
    assert turn.locator(".confidence").inner_text() == f"Confidence: {first['confidence']}"
    assert turn.locator(".codes a.code").all_inner_texts() == first["codes"]
    shown = turn.locator("ol.citations > li").all_inner_texts()
    assert shown == [f"{c['family']}: {c['file']}, release {c['release']}, row {c['row']}" for c in first["citations"]]
    assert turn.locator("button.followup").all_inner_texts() == first["followups"]
    assert pg.input_value("#ask-question") == ""  # ready for the next question
    assert pg.locator("label[for=ask-question]").inner_text() == "Ask a follow-up question"
    assert not pg.locator("#examples").is_visible()
    shot(pg, "ask")

    # a follow-up button asks its question in the same conversation
    followup = first["followups"][0]
    with pg.expect_response(lambda r: r.url.endswith("/api/ask")):
        turn.get_by_role("button", name=followup).click()
    expect(turns).to_have_count(2)
    assert pg.evaluate("window.__same_page") == 1 and reloads == []
    second = turns.nth(1)
    assert second.locator(".asked").text_content() == f"You asked: {followup}"
    assert second.locator(".answer").inner_text() == core(kb, QUESTION, followup)["answer"]

    # a citation leads to the code page section the fact is shown in
    cited = next(c for c in first["citations"] if c.get("link"))
    turn.locator(f'ol.citations a[href="{cited["link"]}"]').first.click()
    pg.wait_for_url("**" + cited["link"])
    section = cited["link"].split("#", 1)[1]
    assert pg.url == server + cited["link"]
    assert pg.locator(f"section#{section}").is_visible()
    context.close()


def test_errors_and_hostile_text_are_shown_as_text(server, browser):  # noqa: F811
    context, pg = _context(browser)
    pg.goto(server + "/ask")
    pg.fill("#ask-zip", "123")
    pg.get_by_label("Your question").fill(QUESTION)
    pg.get_by_role("button", name="Ask", exact=True).click()
    expect(pg.locator("#ask-error")).to_be_visible()
    assert pg.locator("#ask-error").inner_text() == "The ZIP code '123' is not five digits (or ZIP+4)."
    assert pg.locator("#turns > li.turn").count() == 0
    pg.fill("#ask-zip", "00000")  # a ZIP code in no locality: the server says so
    pg.get_by_role("button", name="Ask", exact=True).click()
    expect(pg.locator("#ask-error")).to_have_text(re.compile("^ZIP code 00000 is not in the ZIP-to-locality file"))
    assert pg.locator("#turns > li.turn").count() == 0
    pg.fill("#ask-zip", "")
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.get_by_label("Your question").fill(HOSTILE)
    pg.get_by_role("button", name="Ask", exact=True).click()
    expect(pg.locator("#turns > li.turn")).to_have_count(1)
    assert not pg.locator("#ask-error").is_visible()
    assert pg.locator("#turns .asked").text_content() == f"You asked: {HOSTILE}"
    assert pg.locator("#turns script").count() == 0 and pg.locator("#turns .asked b").count() == 0
    assert dialogs == []
    context.close()


def test_ask_without_javascript_and_on_a_phone(server, browser, kb):  # noqa: F811
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.set_default_timeout(WAIT)
    pg.goto(server + "/ask")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    pg.get_by_label("Your question").fill(QUESTION)
    pg.get_by_role("button", name="Ask", exact=True).click()
    pg.wait_for_url(re.compile(r".*/ask$"))
    turns = pg.locator("#turns > li.turn")
    expect(turns).to_have_count(1)
    first = core(kb, QUESTION)
    assert turns.nth(0).locator(".answer").inner_text() == first["answer"]
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    shot(pg, "ask-phone")
    followup = first["followups"][0]
    turns.nth(0).get_by_role("button", name=followup).click()
    expect(turns).to_have_count(2)
    assert turns.nth(1).locator(".answer").inner_text() == core(kb, QUESTION, followup)["answer"]
    context.close()


def test_the_code_page_faq_opens_casepilot(server, browser):  # noqa: F811
    context, pg = _context(browser)
    pg.goto(server + "/codes/20702")
    pg.locator("#faq").get_by_role("link", name="Ask CasePilot about 20702").click()
    pg.wait_for_url(re.compile(r".*/ask\?q="))
    expect(pg.locator("#turns > li.turn")).to_have_count(1)
    assert "20702" in pg.locator("#turns .asked").text_content()
    context.close()
