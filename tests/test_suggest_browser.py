"""Case2Code in a real Chromium (Debian's, driven by Playwright) against the real server: paste a
note, drop one suggested code, check the rest as a claim. Fixtures and skipping as in test_browser."""

from __future__ import annotations

import orjson
import pytest
from test_browser import browser, page, shot  # noqa: F401 (fixtures)
from test_suggest_web import NOTE

from medcode import casenote

pytestmark = pytest.mark.browser


def test_paste_a_note_drop_a_code_and_check_as_a_claim(server, page, kb):  # noqa: F811 (fixture)
    from datetime import date

    expected = casenote.run(kb, NOTE, day=date(2026, 5, 1))
    assert len(expected.diagnoses) >= 2 and expected.procedures  # one to drop, one to keep, a line
    pg = page
    pg.goto(server + "/")
    pg.get_by_role("link", name="Case2Code").click()
    pg.wait_for_url("**/suggest")
    pg.fill("#note-text", NOTE)
    pg.fill("#note-date", "2026-05-01")
    pg.select_option("#note-setting", "office")
    pg.get_by_role("button", name="Suggest codes").click()
    pg.locator("#result").wait_for(timeout=180_000)  # a fresh server may still be loading the language layer

    boxes = pg.locator("#claim-form input[type=checkbox]")
    values = [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]
    assert values == [d.code for d in expected.diagnoses] + [
        " ".join([p.code, *p.modifiers]) for p in expected.procedures
    ]
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))  # accepted by default
    marks = pg.locator("#note-view mark").all_inner_texts()
    assert marks and all(m in NOTE for m in marks)
    shot(pg, "case2code")

    dropped = expected.diagnoses[-1].code
    pg.get_by_label(f"Accept {dropped}").uncheck()
    pg.fill("#claim-zip", "10001")
    pg.get_by_role("button", name="Check as a claim").click()
    pg.locator("table.findings").first.wait_for()
    assert pg.title().startswith("Claim checker")
    claim = orjson.loads(pg.locator("#claim-text").input_value())
    kept = [d.code for d in expected.diagnoses if d.code != dropped]
    pointers = list(range(1, min(len(kept), 4) + 1))
    assert claim == {
        "id": "CASE2CODE",
        "date": "2026-05-01",
        "place_of_service": "11",
        "zip": "10001",
        "diagnoses": kept,
        "lines": [
            {
                "code": p.code,
                "units": 1,
                **({"modifiers": list(p.modifiers)} if p.modifiers else {}),
                "pointers": pointers,
            }
            for p in expected.procedures
        ],
    }
    assert pg.locator("table.priced tbody tr").count() == len(expected.procedures)
    shot(pg, "case2code-claim")


def test_case2code_without_javascript_and_on_a_phone(browser, server):  # noqa: F811 (fixture)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.set_default_timeout(180_000)
    pg.goto(server + "/suggest")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    pg.fill("#note-text", NOTE)
    pg.get_by_role("button", name="Suggest codes").click()
    pg.locator("#result").wait_for()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390  # the tables scroll inside
    assert pg.locator("#claim-form input[type=checkbox]:checked").count() >= 2
    pg.get_by_role("button", name="Check as a claim").click()
    pg.locator("table.findings").first.wait_for()
    assert pg.title().startswith("Claim checker")
    context.close()
