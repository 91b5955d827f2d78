"""The documentation audit in a real Chromium (Debian's, driven by Playwright) against the real server:
paste a note, enter the codes, see the evidence highlighted and the queries, copy the queries (with
the clipboard, and with the fallback where there is none), dictate. Fixtures and skipping as in test_browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_audit_web import CODES, NOTE
from test_browser import browser, page, shot  # noqa: F401 (fixtures)

from medcode.audit import audit

pytestmark = pytest.mark.browser
WAIT = 180_000  # a fresh server may still be loading the language layer


def _fill_and_submit(pg, server: str) -> None:
    pg.goto(server + "/codes/20702")
    pg.get_by_role("link", name="Audit a note for 20702").click()
    pg.wait_for_url("**/audit?code=20702")
    assert pg.input_value("#audit-codes") == "20702"
    pg.fill("#audit-text", NOTE)
    pg.fill("#audit-codes", ", ".join(CODES))
    pg.get_by_role("button", name="Audit the note").click()
    pg.locator("#result").wait_for(timeout=WAIT)


def test_audit_a_note_see_the_evidence_and_copy_the_queries(server, browser, kb):  # noqa: F811 (fixture)
    found = audit(kb, NOTE, CODES)
    shown = [(c, e) for c in found.codes for e in c.elements]
    asked = [e.query for _, e in shown if e.status != "present" and e.query]
    assert asked and any(e.evidence for _, e in shown)  # else this test shows nothing
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    _fill_and_submit(pg, server)

    verdicts = pg.locator(".verdict").all_inner_texts()
    assert verdicts == ["✓ Supported" if c.supported else "✗ Not supported" for c in found.codes]
    # each element with evidence: its words marked in the note, in its own colour, with a visible label
    marks = pg.locator("#audit-note mark")
    assert marks.count() > 0
    marked = " ".join(marks.all_inner_texts())
    labels = pg.locator("#audit-note .tag").all_inner_texts()
    for c, e in shown:
        if e.evidence:
            assert all(w in marked for ev in e.evidence for w in re.findall(r"\w+", ev.text))
            assert any(label.startswith(f"{'-'.join([c.code, *c.modifiers])} {e.id}") for label in labels)
            assert pg.locator(f"#audit-note mark.el-{e.id}").count() >= 1
    colours = {marks.nth(i).evaluate("m => getComputedStyle(m).backgroundColor") for i in range(marks.count())}
    assert len(colours) >= min(2, len({e.id for _, e in shown if e.evidence}))
    # a missing element: its row says so in words and gives the query
    c, e = next((c, e) for c, e in shown if e.status != "present" and e.query)
    row = pg.locator(f'#code-{found.codes.index(c)} tr[data-element="{e.id}"]')
    assert row.locator(".status").inner_text().endswith(e.status)
    assert row.locator("td.query").inner_text() == e.query
    shot(pg, "audit")

    # Copy queries, with the clipboard
    button = pg.get_by_role("button", name="Copy queries")
    assert button.is_visible()
    button.click()
    expect(pg.locator("#copy-status")).to_have_text(re.compile("^Copied"))
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert copied == pg.locator("#queries-text").input_value()
    assert [line.split(": ", 1)[1] for line in copied.split("\n")] == asked
    assert (
        pg.locator("#copy-status").inner_text() == f"Copied {len(asked)} {'query' if len(asked) == 1 else 'queries'}."
    )
    context.close()


def test_copy_queries_without_the_clipboard_api(server, browser):  # noqa: F811 (fixture)
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    _fill_and_submit(pg, server)
    pg.get_by_role("button", name="Copy queries").click()
    status = pg.locator("#copy-status").inner_text()
    assert status.startswith("Copied") or status.startswith("Select the queries")
    # the fallback selected the whole text of the box (what execCommand("copy") copies)
    box = pg.locator("#queries-text")
    selected = box.evaluate("t => [t.selectionStart, t.selectionEnd, t.value.length]")
    assert selected[0] == 0 and selected[1] == selected[2] > 0
    assert pg.evaluate("document.activeElement.id") == "queries-text"
    context.close()


FAKE_SPEECH = """
window.SpeechRecognition = function () {
  var self = this;
  this.start = function () {
    setTimeout(function () {
      var alt = {transcript: "cement beads mixed by hand"};
      var result = [alt]; result.isFinal = true;
      self.onresult({resultIndex: 0, results: [result]});
    }, 50);
  };
  this.stop = function () { setTimeout(function () { self.onend(); }, 10); };
};
"""


def test_dictate_appears_only_with_speech_recognition(server, browser):  # noqa: F811 (fixture)
    # a browser without speech recognition: no button
    context = browser.new_context()
    context.add_init_script("delete window.webkitSpeechRecognition; delete window.SpeechRecognition;")
    pg = context.new_page()
    pg.goto(server + "/audit")
    assert not pg.locator("#dictate").is_visible()
    context.close()
    # one with it (a stand-in for the browser's recognizer: the speech service cannot run here)
    context = browser.new_context()
    context.add_init_script(FAKE_SPEECH)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.goto(server + "/audit")
    pg.fill("#audit-text", "Procedure:")
    dictate = pg.get_by_role("button", name="Dictate")
    assert dictate.is_visible() and dictate.get_attribute("aria-pressed") == "false"
    dictate.click()
    expect(pg.locator("#audit-text")).to_have_value(re.compile("beads"))
    assert pg.input_value("#audit-text") == "Procedure: cement beads mixed by hand"
    stop = pg.get_by_role("button", name="Stop dictation")
    assert stop.get_attribute("aria-pressed") == "true"
    stop.click()
    expect(pg.locator("#dictate")).to_have_text("Dictate")
    assert pg.locator("#dictate-status").inner_text() == "Dictation ended."
    context.close()


def test_audit_without_javascript_and_on_a_phone(browser, server):  # noqa: F811 (fixture)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.set_default_timeout(WAIT)
    pg.goto(server + "/audit?code=20702")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    assert not pg.locator("#dictate").is_visible()
    pg.fill("#audit-text", NOTE)
    pg.get_by_role("button", name="Audit the note").click()
    pg.locator("#result").wait_for()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390  # the tables scroll inside
    assert pg.locator("#audit-note mark").count() > 0
    assert not pg.locator("#copy-queries").is_visible()  # the queries are in the box to copy by hand
    assert pg.locator("#queries-text").input_value()
    shot(pg, "audit-phone")
    context.close()
