"""The web site over real HTTP (the ``server`` fixture): pages, canonical URLs, caching headers,
404 pages, the claim checker form and its background jobs."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from medcode.claims import Checker, read_path


class Page(HTMLParser):
    """The parts of a page the tests look at: title, canonical link, ids, labels, inputs, text."""

    def __init__(self, html: str):
        super().__init__()
        self.title = ""
        self.canonical = None
        self.ids: set[str] = set()
        self.labels_for: set[str] = set()
        self.inputs: list[dict[str, str]] = []
        self.text: list[str] = []
        self._in_title = False
        self._skip = 0
        self._label = 0  # inside a <label>: its inputs are labelled by it
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "title" and not self.title:  # the page's, not an SVG chart's
            self._in_title = True
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical = a.get("href")
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "label":
            self._label += 1
            if a.get("for"):
                self.labels_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit") and not self._label:
            self.inputs.append(a)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == "label":
            self._label -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.text.append(data)

    @property
    def words(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.text))


def get(server: str, path: str, **kw) -> httpx.Response:
    return httpx.get(server + path, timeout=30, **kw)


@pytest.mark.parametrize(
    ("path", "title", "canonical"),
    [
        ("/", "Medical code lookup", "/"),
        ("/codes/20702", "20702 ", "/codes/20702"),
        ("/codes/20702?date=2025-06-01", "20702 ", "/codes/20702"),
        ("/codes/S72.001A", "S72.001A ", "/codes/S72.001A"),
        (
            "/search?q=antibiotic+rod+in+the+bone",
            "Search: antibiotic rod in the bone",
            "/search?q=antibiotic+rod+in+the+bone",
        ),
        ("/compare?codes=20700,20702,20704", "Compare 20700, 20702, 20704", "/compare?codes=20700,20702,20704"),
        ("/check", "Claim checker", "/check"),
    ],
    ids=["home", "code", "code-dated", "icd", "search", "compare", "check"],
)
def test_pages_have_a_title_canonical_url_and_labelled_fields(server, path, title, canonical):
    r = get(server, path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    assert page.title.startswith(title) and page.title.endswith("· medcode")
    assert page.canonical == canonical
    assert "main" in page.ids  # the skip link's target
    unlabelled = [i for i in page.inputs if i.get("id") not in page.labels_for]
    assert unlabelled == []


def test_code_page_sections(server):
    page = Page(get(server, "/codes/20702").text)
    words = page.words
    for section in (
        "facts",
        "payment",
        "sites",
        "charts",
        "ncci",
        "modifiers",
        "documentation",
        "denials",
        "faq",
        "sources",
    ):
        assert section in page.ids, section
    assert "$147.97" in words  # national office payment, RVU26B
    assert "ZZZ: Add-on code" in words
    assert "Primary codes (39): 20680, 20690" in words
    assert "1 unit; adjudication indicator 3" in words
    assert "Against RVU25D: non-facility $138.44 → $147.97 (+9.53, +6.9%)" in words
    assert "20702 in column 1: these codes are denied with it (216)" in words
    assert "Showing 1–25 of 216." in words
    assert "addon.no_primary" in words and "siblings.conflict" in words
    assert "Can 20702 be billed alone?" in words
    assert "The drug named (for example vancomycin" in words  # curated requirement for the family
    assert "PPRRVU2026_Apr_nonQPP.txt, release RVU26B" in words
    assert '<svg class="chart"' in get(server, "/codes/20702").text


def test_ptp_pairs_page_on(server):
    first = Page(get(server, "/codes/20702").text).words
    second = Page(get(server, "/codes/20702?c1=200").text).words
    assert "Showing 201–216 of 216." in second and "Showing 1–25 of 216." in first


def test_locality_is_chosen_by_zip_and_remembered(server):
    r = get(server, "/codes/20702?zip=10001")
    assert r.headers["set-cookie"].startswith("medcode_locality=13202-01;")
    assert "MANHATTAN, NY (13202-01)" in Page(r.text).words
    assert "$170.89" in Page(r.text).words
    later = get(server, "/codes/99213", cookies={"medcode_locality": "13202-01"})
    assert "MANHATTAN, NY (13202-01)" in Page(later.text).words
    assert "set-cookie" not in later.headers
    bad = get(server, "/codes/20702?zip=00000")
    assert bad.status_code == 200 and "ZIP code 00000 is not in the ZIP-to-locality file" in Page(bad.text).words


def test_date_of_service_switches_the_release(server):
    words = Page(get(server, "/codes/20702?date=2025-06-01").text).words
    assert "Release RVU25A" in words and "$138.44" in words


def test_icd_page(server):
    words = Page(get(server, "/codes/S72.001A").text).words
    assert "Chapter 19" in words and "S72.0 Fracture of head and neck of femur" in words.replace("S72.0 S72.0", "S72.0")
    assert "Billable" in words
    header = Page(get(server, "/codes/S72.0").text).words
    assert "Header: not valid on a claim" in header and "Codes under S72.0" in header
    m86 = Page(get(server, "/codes/M86.16").text).words
    assert "Excludes" in m86 or "Use additional code" in m86 or "Codes under M86.16" in m86


def test_release_pages_revalidate(server):
    r = get(server, "/codes/20702")
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["vary"] == "Cookie"
    again = get(server, "/codes/20702", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert get(server, "/check").headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "status", "redirect"),
    [
        ("/search?q=20702", 303, "/codes/20702"),
        ("/search?q=s72.001a", 303, "/codes/S72.001A"),
        ("/codes/s72001a", 301, "/codes/S72.001A"),
    ],
    ids=["exact-cpt", "exact-icd", "normalised"],
)
def test_redirects(server, path, status, redirect):
    r = get(server, path)
    assert (r.status_code, r.headers["location"]) == (status, redirect)


def test_unknown_code_404_suggests_neighbours(server):
    r = get(server, "/codes/20703X")
    assert r.status_code == 404
    r = get(server, "/codes/20799")
    assert r.status_code == 404
    page = Page(r.text)
    assert page.title.startswith("Not found: 20799")
    assert "Did you mean" in page.words and "/codes/20802" in r.text or "/codes/20705" in r.text
    assert get(server, "/no/such/page").status_code == 404
    assert get(server, "/api/no/such").headers["content-type"] == "application/json"


def test_search_results_say_why(server):
    words = Page(get(server, "/search?q=antibiotic+rod+in+the+bone").text).words
    assert "20702" in words and "Matched by words" in words
    html = get(server, "/search?q=femur+fracture&system=icd10cm").text
    assert "S72" in Page(html).words
    assert 'class="system">ICD-10-CM<' in html and 'class="system">CPT<' not in html


def test_page_weight(server):
    html = get(server, "/codes/20702?locality=13202-01").content
    css = get(server, "/static/site.css").content
    js = get(server, "/static/site.js").content
    assert len(html) + len(css) + len(js) <= 150 * 1024


def test_compare(server):
    words = Page(get(server, "/compare?codes=20700,20702,20704").text).words
    assert "deep" in words and "intramedullary" in words
    assert "20700, 20702, 20704: The site of the drug-delivery device decides the code" in words
    assert "siblings.conflict" in words
    too_many = Page(get(server, "/compare?codes=1,2,3,4,5,6").text).words
    assert "Give two to five codes; 6 were given." in too_many


def test_claim_check_form_without_javascript(server):
    claim = (
        '{"id": "C1", "date": "2026-05-01", "place_of_service": "11", "zip": "10001", '
        '"diagnoses": ["M86.161"], "lines": [{"code": "20702", "units": 1, "pointers": [1]}]}'
    )
    r = httpx.post(server + "/check", data={"text": claim, "format": "auto"}, timeout=60)
    assert r.status_code == 200
    words = Page(r.text).words
    assert "addon.no_primary" in words and "deny" in words
    job = re.search(r"/check/jobs/([A-Za-z0-9_-]{16})/report\.json", r.text).group(1)
    report = get(server, f"/check/jobs/{job}/report.json").json()
    assert [f["id"] for f in report["claims"][0]["findings"]][0] == "addon.no_primary"
    assert get(server, f"/check/jobs/{job}/report.csv").text.startswith("claim_id,finding,")
    empty = httpx.post(server + "/check", data={"text": "", "format": "auto"}, timeout=30)
    assert empty.status_code == 422 and "Paste a claim or choose a file" in empty.text
    broken = httpx.post(server + "/check", data={"text": "{not json", "format": "json"}, timeout=30)
    assert broken.status_code == 422 and "pasted text:1:2: not JSON" in Page(broken.text).words


def _csv(lines: int) -> bytes:
    head = "claim_id,date,place_of_service,zip,diagnoses,line,code,modifiers,units,pointers\n"
    codes = ("99213", "20610", "97110", "20702")
    rows = [f"B{i // 4},2026-05-01,11,10001,M17.11,{i % 4 + 1},{codes[i % 4]},,1,1" for i in range(lines)]
    return (head + "\n".join(rows) + "\n").encode()


def test_large_upload_runs_in_the_background(server):
    body = _csv(40_000)  # over the inline limit: checked by the batch engine in a thread
    assert len(body) > 512 * 1024
    r = httpx.post(
        server + "/check",
        data={"format": "auto"},
        files={"file": ("big.csv", body, "text/csv")},
        timeout=60,
        follow_redirects=False,
    )
    assert r.status_code == 303
    job = r.headers["location"]
    assert re.fullmatch(r"/check/jobs/[A-Za-z0-9_-]{16}", job)
    assert get(server, "/healthz").status_code == 200  # the server answers while the job runs
    for _ in range(600):
        status = get(server, job + "/status").json()
        if status["state"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert status["state"] == "done", status
    assert status["total"] == 40_000 and status["summary"]["lines"] == 40_000
    assert status["summary"]["claims"] == 10_000
    # 20702 with 20610 on every claim: 20610 is not an eligible primary of 20702
    assert status["summary"]["findings"]["addon.no_primary"] == 10_000
    words = Page(get(server, job).text).words
    assert "10000 claims, 40000 lines" in words and "The first 50 claims are shown" in words
    report = get(server, job + "/report.json").json()
    assert len(report["claims"]) == 10_000 and report["summary"] == status["summary"]


def test_upload_of_an_empty_file_and_an_unknown_job(server):
    r = httpx.post(
        server + "/check", data={"format": "auto"}, files={"file": ("empty.837", b"", "text/plain")}, timeout=30
    )
    assert r.status_code == 422 and "The file is empty (0 bytes)" in r.text
    assert get(server, "/check/jobs/AAAAAAAAAAAAAAAA").status_code == 404
    assert get(server, "/check/jobs/AAAAAAAAAAAAAAAA/report.json").status_code == 404


@pytest.mark.parametrize("name", ["claims_hand_made.837", "claim_hand_made.fhir.json"], ids=["837p", "fhir"])
def test_upload_837p_and_fhir_files(server, kb, name):
    path = Path(__file__).parent / "data" / name
    r = httpx.post(server + "/check", data={"format": "auto"}, files={"file": (name, path.read_bytes())}, timeout=60)
    assert r.status_code == 200
    job = re.search(r"/check/jobs/([A-Za-z0-9_-]{16})/report\.json", r.text).group(1)
    report = get(server, f"/check/jobs/{job}/report.json").json()
    checker = Checker(kb)
    expected = [checker.check(c) for c in read_path(str(path))]
    assert [c["id"] for c in report["claims"]] == [c.id for c in expected]
    assert [[f["id"] for f in c["findings"]] for c in report["claims"]] == [
        [f.id for f in c.findings] for c in expected
    ]
    words = Page(r.text).words
    assert all(f"Claim {c.id}" in words for c in expected)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/modifiers/59", ["Distinct procedural service", "ptp.bypassed"]),
        ("/modifiers/51", ["modifiers.51_on_addon", "the highest at 100%, the others at 50%"]),
        ("/modifiers/50", ["modifiers.bilateral_not_allowed"]),
        ("/modifiers/80", ["modifiers.assistant_not_allowed", "16%"]),
    ],
    ids=["59", "51", "50", "80"],
)
def test_modifier_pages(server, path, words):
    r = get(server, path)
    assert r.status_code == 200
    text = Page(r.text).words
    assert all(w in text for w in words), text


def test_modifier_links(server):
    assert get(server, "/codes/59").headers["location"] == "/modifiers/59"
    assert get(server, "/modifiers/xs").headers["location"] == "/modifiers/XS"
    assert get(server, "/search?q=XS").headers["location"] == "/modifiers/XS"
    assert get(server, "/modifiers/Q9Z").status_code == 404
    html = get(server, "/search?q=distinct+procedural+service").text
    assert 'href="/modifiers/59"' in html


def test_bad_page_parameters_get_a_page(server):
    r = get(server, "/codes/20702?c1=-1")
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "cannot be used (query.c1:" in Page(r.text).words
    assert get(server, "/api/codes/20702/ptp?offset=-1").headers["content-type"] == "application/json"


def test_dmepos_code_page(server):
    r = get(server, "/codes/E0601")
    words = Page(r.text).words
    assert "DMEPOS RR (category CR)$48.72–$98.07" in words.replace(" $", "$")
    assert 'id="charts"' not in r.text  # no RVUs: no charts
