"""The job board over real HTTP: `medcode serve` in its own process on SQLite and on PostgreSQL
(MEDCODE_TEST_DATABASE_URL): employers post, coders search and apply with a resume, employers see and move
applications; bad input (script in a description, a resume that is not a PDF or DOCX, an oversized resume),
expired and hidden jobs leave the search, resumes reach only the job's employer and the applicant, feeds."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from appdb_fixtures import appdb_url  # noqa: F401 (fixture)
from sqlalchemy import update
from test_accounts_web import PASSWORD, Server, start_server

from medcode.app import accounts, db, job_apply, keys
from medcode.app.models_jobs import Job

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Elements(HTMLParser):
    """The elements and attributes of an HTML fragment as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend(attrs)


def docx(valid: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml" if valid else "xl/workbook.xml", "<w:document/>")
    return out.getvalue()


@pytest.fixture(scope="module")
def board(
    home: Path,
    data_dir: Path,
    appdb_url: str,  # noqa: F811 (fixture)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, str, Path]]:
    server = start_server(home, data_dir, appdb_url, tmp_path_factory.mktemp("board"), MEDCODE_RESUME_MAX_MB="1")
    yield server, appdb_url, home
    server.stop()


def user(server: Server, url: str, role: str = "member") -> tuple[httpx.Client, str, Any]:
    """A new account of ``role``, logged in: (client, csrf token, User)."""
    who = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    made = accounts.create_user(db.engine(url), who, PASSWORD, role)
    c = server.client()
    r = c.post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"], made


def job(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(
        title="Remote cardiology coder",
        employer_name="Heartland Billing",
        work_mode="remote",
        location="",
        credentials=["CPC"],
        specialty="Cardiology",
        setting="professional",
        pay_min=26,
        pay_max=34,
        pay_period="hour",
        description="Code **cardiology** office charts for a growing group.\n\n- CPC required\n- two years' experience",
    )
    body.update(over)
    return body


def post(c: httpx.Client, csrf: str, **over: Any) -> dict[str, Any]:
    r = c.post("/api/jobs", json=job(**over), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


def ids(r: httpx.Response) -> set[int]:
    assert r.status_code == 200, r.text
    return {j["id"] for j in r.json()["data"]}


def test_post_search_filters_and_stemming(board: tuple[Server, str, Path]) -> None:
    server, url, _ = board
    emp, csrf, _ = user(server, url, "employer")
    tag = uuid.uuid4().hex[:8]  # a word only this test's jobs have
    remote = post(emp, csrf, description=f"Code **cardiology** charts ({tag}).")
    onsite = post(
        emp,
        csrf,
        title="Inpatient facility coder",
        work_mode="onsite",
        location="Omaha, NE",
        credentials=["CCS-P"],
        specialty="Orthopedics",
        setting="facility",
        pay_min=52_000,
        pay_max=60_000,
        pay_period="year",
        description=f"Facility charting for {tag}.",
    )
    both = {remote["id"], onsite["id"]}
    guest = server.client()
    # words are stemmed as the code search stems them: "charting" and "charts" both find "chart"
    assert ids(guest.get("/api/jobs", params={"q": f"{tag} charting"})) == both
    assert ids(guest.get("/api/jobs", params={"q": f"{tag} CARDIOLOGY charts"})) == {remote["id"]}
    assert ids(guest.get("/api/jobs", params={"q": f"{tag} dermatology"})) == set()  # every word must match
    # filters: a credential is whole (CCS-P is not CCS), remote, specialty, pay a year (hourly x 2,080)
    assert ids(guest.get("/api/jobs", params={"q": tag, "credential": "CCS-P"})) == {onsite["id"]}
    assert ids(guest.get("/api/jobs", params={"q": tag, "credential": "CCS"})) == set()
    assert ids(guest.get("/api/jobs", params={"q": tag, "credential": "cpc"})) == {remote["id"]}
    assert ids(guest.get("/api/jobs", params={"q": tag, "remote": "true"})) == {remote["id"]}
    assert ids(guest.get("/api/jobs", params={"q": tag, "mode": "onsite"})) == {onsite["id"]}
    assert ids(guest.get("/api/jobs", params={"q": tag, "specialty": "orthopedics"})) == {onsite["id"]}
    assert ids(guest.get("/api/jobs", params={"q": tag, "pay_min": 65_000})) == {remote["id"]}  # 34 x 2,080
    assert ids(guest.get("/api/jobs", params={"q": tag, "pay_min": 71_000})) == set()
    # newest first; the job page and the search page show them
    listed = guest.get("/api/jobs", params={"q": tag}).json()["data"]
    assert [j["id"] for j in listed] == [onsite["id"], remote["id"]] and listed[0]["open"] is True
    page = guest.get("/jobs", params={"q": tag, "credential": "CCS-P"})
    assert page.status_code == 200 and "Inpatient facility coder" in page.text and "Remote cardiology" not in page.text
    shown = guest.get(f"/jobs/{remote['id']}")
    assert shown.status_code == 200 and "<strong>cardiology</strong>" in shown.text
    assert "Log in</a> or" in shown.text  # a guest is asked to log in before applying


@pytest.mark.parametrize(
    "params", [{"credential": "XYZ"}, {"limit": 0}, {"offset": -1}, {"pay_min": -5}, {"q": "x" * 201}, {"mode": "moon"}]
)
def test_search_bad_input(board: tuple[Server, str, Path], params: dict[str, Any]) -> None:
    r = board[0].client().get("/api/jobs", params=params)
    assert r.status_code == 422 and r.json()["error"]["type"] == "bad_input"


def test_script_in_a_description_is_removed(board: tuple[Server, str, Path]) -> None:
    server, url, _ = board
    emp, csrf, _ = user(server, url, "employer")
    hostile = (
        "Hello <script>alert('x')</script> <img src=x onerror=alert(1)>\n\n"
        "[click](javascript:alert(2)) [site](https://example.com/jobs)\n\n<iframe src=//evil></iframe>"
    )
    made = post(emp, csrf, description=hostile, title="Auditor <b>now</b>")
    html = made["description_html"]
    # raw HTML is never rendered (markdown-it with html off, then nh3): it stays as inert text
    found = Elements()
    found.feed(html)
    assert found.tags <= {"p", "a", "strong", "em", "ul", "li"}, found.tags
    assert all(not name.startswith("on") for name, _ in found.attrs) and "<script" not in html
    assert [v for k, v in found.attrs if k == "href"] == ["https://example.com/jobs"]  # no javascript: link
    assert '<a href="https://example.com/jobs" rel="noopener noreferrer nofollow">site</a>' in html
    page = server.client().get(f"/jobs/{made['id']}").text
    assert "<script>alert" not in page and "<b>now</b>" not in page and "Auditor &lt;b&gt;now&lt;/b&gt;" in page
    assert "onerror=" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    # the page form too: an employer's form post renders the same way
    form = emp.post(
        "/jobs/new",
        data={
            "csrf": csrf,
            "title": "Form posted",
            "employer_name": "Acme",
            "work_mode": "hybrid",
            "location": "Reno, NV",
            "credentials": "CPC, RHIT",
            "setting": "auditing",
            "pay_period": "year",
            "description": "<script>alert(3)</script> **audits**",
            "days": "10",
        },
    )
    assert form.status_code == 303, form.text
    page = emp.get(form.headers["location"]).text
    assert "<strong>audits</strong>" in page and "<script>alert(3)" not in page


def test_who_may_post(board: tuple[Server, str, Path]) -> None:
    server, url, _ = board
    member, mcsrf, _ = user(server, url)
    emp, csrf, made = user(server, url, "employer")
    assert member.post("/api/jobs", json=job(), headers={"X-CSRF-Token": mcsrf}).status_code == 403
    assert emp.post("/api/jobs", json=job()).status_code == 403  # no CSRF token
    assert server.client().post("/api/jobs", json=job()).status_code == 401
    bad = emp.post("/api/jobs", json=job(credentials=["CPC", "WIZARD"]), headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "credentials"
    bad = emp.post("/api/jobs", json=job(pay_min=90, pay_max=50), headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "pay_max"
    # an API key needs no CSRF token
    _, key = keys.create_key(db.engine(url), made, "bot")
    keyed = server.client().post("/api/jobs", json=job(), headers={"Authorization": f"Bearer {key}"})
    assert keyed.status_code == 201 and keyed.json()["employer_id"] == made.id
    assert member.get("/jobs/new").status_code == 403 and server.client().get("/jobs/new").status_code == 303


def test_apply_resume_checks_access_and_states(board: tuple[Server, str, Path]) -> None:
    server, url, home = board
    emp, ecsrf, _ = user(server, url, "employer")
    coder, ccsrf, coder_user = user(server, url)
    other, _, _ = user(server, url)
    rival, _, _ = user(server, url, "employer")
    made = post(emp, ecsrf)

    def apply(
        c: httpx.Client, csrf: str, data: bytes, name: str = "resume.pdf", jid: int = made["id"]
    ) -> httpx.Response:
        files = {"resume": (name, data, "application/pdf")}
        return c.post(
            f"/api/jobs/{jid}/apply",
            files=files,
            data={"cover_note": "I code cardiology."},
            headers={"X-CSRF-Token": csrf},
        )

    # not a PDF (whatever its name and declared type), a zip that is not a Word file, over 1 MB, no file
    for data in (b"MZ\x90\x00 an executable", b"<html><script>x</script>", docx(valid=False)):
        r = apply(coder, ccsrf, data)
        assert r.status_code == 422 and r.json()["error"]["field"] == "resume", r.text
    big = apply(coder, ccsrf, PDF + b"0" * (1 << 20))
    assert big.status_code == 413 and big.json()["error"]["type"] == "too_large"
    assert (
        coder.post(
            f"/api/jobs/{made['id']}/apply", data={"cover_note": "x"}, headers={"X-CSRF-Token": ccsrf}
        ).status_code
        == 422
    )
    assert apply(coder, "wrong", PDF).status_code == 403
    assert apply(server.client(), "", PDF).status_code == 401
    assert apply(emp, ecsrf, PDF).status_code == 403  # not to one's own job
    assert apply(coder, ccsrf, PDF, jid=10**8).status_code == 404

    sent = apply(coder, ccsrf, PDF, name="../../etc/My CV.pdf")
    assert sent.status_code == 201, sent.text
    application = sent.json()
    assert application["resume_name"] == "My CV.pdf" and application["state"] == "submitted"
    word = apply(other, "", docx())  # a Word file is fine too (and the CSRF token is needed)
    assert word.status_code == 403
    ocsrf = other.get("/api/account").json()["csrf_token"]
    assert apply(other, ocsrf, docx(), name="cv.docx").status_code == 201

    # the resume: stored under MEDCODE_HOME/resumes with a random name, never under the static folder
    stored = [p for p in (home / "resumes").iterdir() if p.read_bytes() == PDF]
    assert stored and all("CV" not in p.name for p in stored)
    rid = application["id"]
    got = emp.get(f"/api/applications/{rid}/resume")
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert coder.get(f"/api/applications/{rid}/resume").content == PDF
    assert coder.get(f"/jobs/applications/{rid}/resume").content == PDF  # the page link too
    assert other.get(f"/api/applications/{rid}/resume").status_code == 403
    assert rival.get(f"/api/applications/{rid}/resume").status_code == 403
    assert rival.get(f"/jobs/applications/{rid}/resume").status_code == 403
    assert server.client().get(f"/api/applications/{rid}/resume").status_code == 401

    # the employer sees the applicants and moves them; the applicant sees the state and may withdraw only
    listed = emp.get(f"/api/jobs/{made['id']}/applications").json()
    assert listed["count"] == 2 and {a["applicant"] for a in listed["data"]} >= {coder_user.email}
    assert rival.get(f"/api/jobs/{made['id']}/applications").status_code == 404
    moved = emp.post(f"/api/applications/{rid}/state", json={"state": "interview"}, headers={"X-CSRF-Token": ecsrf})
    assert moved.status_code == 200 and moved.json()["state"] == "interview"
    mine = coder.get("/api/applications").json()["data"]
    assert [(a["job_id"], a["state"]) for a in mine] == [(made["id"], "interview")]
    refused = coder.post(f"/api/applications/{rid}/state", json={"state": "offer"}, headers={"X-CSRF-Token": ccsrf})
    assert refused.status_code == 422
    assert (
        rival.post(f"/api/applications/{rid}/state", json={"state": "offer"}, headers={"X-CSRF-Token": ""}).status_code
        == 403
    )
    rcsrf = rival.get("/api/account").json()["csrf_token"]
    assert (
        rival.post(
            f"/api/applications/{rid}/state", json={"state": "offer"}, headers={"X-CSRF-Token": rcsrf}
        ).status_code
        == 404
    )
    out = coder.post(f"/api/applications/{rid}/state", json={"state": "withdrawn"}, headers={"X-CSRF-Token": ccsrf})
    assert out.status_code == 200 and out.json()["state"] == "withdrawn"
    page = emp.get("/jobs/mine").text
    assert coder_user.email in page and "I code cardiology." in page and f"/jobs/applications/{rid}/resume" in page


def test_expired_and_hidden_jobs_leave_the_search(board: tuple[Server, str, Path]) -> None:
    server, url, _ = board
    emp, csrf, _ = user(server, url, "employer")
    admin, acsrf, _ = user(server, url, "admin")
    coder, ccsrf, _ = user(server, url)
    tag = uuid.uuid4().hex[:8]
    old, hidden, kept = (post(emp, csrf, description=f"Role {tag} {i}.") for i in range(3))
    with db.engine(url).begin() as conn:
        conn.execute(update(Job).where(Job.id == old["id"]).values(expires_at=int(time.time()) - 1))
    r = admin.post(f"/api/jobs/{hidden['id']}/hidden", json={"hidden": True}, headers={"X-CSRF-Token": acsrf})
    assert r.status_code == 200 and r.json()["hidden"] is True
    assert (
        emp.post(f"/api/jobs/{kept['id']}/hidden", json={"hidden": True}, headers={"X-CSRF-Token": csrf}).status_code
        == 403
    )
    guest = server.client()
    assert ids(guest.get("/api/jobs", params={"q": tag})) == {kept["id"]}
    assert f"/jobs/{old['id']}" not in guest.get("/jobs", params={"q": tag}).text
    assert all(f"/jobs/{j}" not in guest.get("/jobs/feed.json").text for j in (old["id"], hidden["id"]))
    # an expired job's page says it closed, and takes no application; a hidden one is gone but for its employer
    closed = guest.get(f"/jobs/{old['id']}")
    assert closed.status_code == 200 and "This job closed on" in closed.text
    files = {"resume": ("cv.pdf", PDF, "application/pdf")}
    assert coder.post(f"/api/jobs/{old['id']}/apply", files=files, headers={"X-CSRF-Token": ccsrf}).status_code == 404
    assert guest.get(f"/api/jobs/{hidden['id']}").status_code == 404
    assert emp.get(f"/api/jobs/{hidden['id']}").status_code == 200
    # delete: the job and its applications go
    assert coder.post(f"/api/jobs/{kept['id']}/apply", files=files, headers={"X-CSRF-Token": ccsrf}).status_code == 201
    assert admin.delete(f"/api/jobs/{kept['id']}", headers={"X-CSRF-Token": acsrf}).status_code == 204
    assert guest.get(f"/api/jobs/{kept['id']}").status_code == 404
    assert coder.get("/api/applications").json()["count"] == 0


def test_feeds(board: tuple[Server, str, Path]) -> None:
    server, url, _ = board
    emp, csrf, _ = user(server, url, "employer")
    made = post(emp, csrf, title=f"Risk adjustment coder {uuid.uuid4().hex[:6]}", setting="risk adjustment")
    guest = server.client()
    atom = guest.get("/jobs/feed.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in ElementTree.fromstring(atom.content).findall("a:entry", ns)]
    assert made["title"] in titles
    rss = ElementTree.fromstring(guest.get("/jobs/feed.rss").content)
    assert made["title"] in [i.findtext("title") for i in rss.iter("item")]
    feed = json.loads(guest.get("/jobs/feed.json").content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    item = next(i for i in feed["items"] if i["title"] == made["title"])
    assert item["url"].endswith(f"/jobs/{made['id']}") and "CPC" in item["tags"]


def test_two_workers_agree_after_posting_hiding_and_expiry(
    board: tuple[Server, str, Path], data_dir: Path, tmp_path: Path
) -> None:
    """Each worker keeps the search words in memory: a job posted, hidden, shown or expired through one worker
    (or in the database) is seen at once by the other."""
    _, url, home = board
    server = start_server(home, data_dir, url, tmp_path, workers=2)
    try:
        emp, csrf = _login(server, url, "employer")
        admin, acsrf = _login(server, url, "admin")
        tag = uuid.uuid4().hex[:8]

        def seen() -> set[frozenset[int]]:
            # fresh connections spread over both workers
            return {frozenset(ids(httpx.get(server.base + "/api/jobs", params={"q": tag}))) for _ in range(12)}

        assert seen() == {frozenset()}
        first = post(emp, csrf, description=f"First {tag}.")["id"]
        assert seen() == {frozenset({first})}
        second = post(emp, csrf, description=f"Second {tag}.")["id"]
        assert seen() == {frozenset({first, second})}
        hide = admin.post(f"/api/jobs/{first}/hidden", json={"hidden": True}, headers={"X-CSRF-Token": acsrf})
        assert hide.status_code == 200
        assert seen() == {frozenset({second})}
        with db.engine(url).begin() as conn:
            conn.execute(update(Job).where(Job.id == second).values(expires_at=int(time.time()) - 1))
        assert seen() == {frozenset()}
        admin.post(f"/api/jobs/{first}/hidden", json={"hidden": False}, headers={"X-CSRF-Token": acsrf})
        assert seen() == {frozenset({first})}
    finally:
        server.stop()


def _login(server: Server, url: str, role: str) -> tuple[httpx.Client, str]:
    c, csrf, _ = user(server, url, role)
    return c, csrf


def test_a_removed_account_leaves_no_resume(board: tuple[Server, str, Path]) -> None:
    """The database removes a deleted account's applications; their resume files go at the next prune (after
    an application is kept, at most hourly per process), not those of live applications."""
    server, url, home = board
    emp, ecsrf, _ = user(server, url, "employer")
    made = post(emp, ecsrf)
    files = {"resume": ("cv.pdf", PDF + uuid.uuid4().hex.encode(), "application/pdf")}
    leaving, lcsrf, _ = user(server, url)
    staying, scsrf, _ = user(server, url)
    gone = leaving.post(f"/api/jobs/{made['id']}/apply", files=files, headers={"X-CSRF-Token": lcsrf})
    kept = staying.post(f"/api/jobs/{made['id']}/apply", files=files, headers={"X-CSRF-Token": scsrf})
    assert gone.status_code == kept.status_code == 201
    assert len([p for p in (home / "resumes").iterdir() if p.read_bytes() == files["resume"][1]]) == 2
    r = leaving.request("DELETE", "/api/account", json={"password": PASSWORD}, headers={"X-CSRF-Token": lcsrf})
    assert r.status_code == 204
    assert emp.get(f"/api/jobs/{made['id']}/applications").json()["count"] == 1
    job_apply.prune_orphans(db.engine(url), home, grace=0)
    left = [p for p in (home / "resumes").iterdir() if p.read_bytes() == files["resume"][1]]
    assert len(left) == 1
    assert staying.get(f"/api/applications/{kept.json()['id']}/resume").content == files["resume"][1]


def test_with_quotas_on(board: tuple[Server, str, Path], data_dir: Path, tmp_path: Path) -> None:
    """A public site (MEDCODE_QUOTAS=on): the job pages, feeds and the job search API stay open to guests and
    count towards no quota; posting still needs an employer's session or key."""
    _, url, home = board
    server = start_server(home, data_dir, url, tmp_path, MEDCODE_QUOTAS="on", MEDCODE_GUEST_PAGES="1")
    try:
        guest = server.client()
        for _ in range(3):
            assert guest.get("/jobs").status_code == 200 and guest.get("/jobs/feed.json").status_code == 200
        assert guest.get("/api/jobs").status_code == 200  # public, as the issue says
        assert guest.post("/api/jobs", json=job()).status_code in (401, 403)
        emp, csrf, made = user(server, url, "employer")
        posted = post(emp, csrf)
        assert guest.get(f"/jobs/{posted['id']}").status_code == 200
        assert guest.get(f"/api/jobs/{posted['id']}").status_code == 200
        _, key = keys.create_key(db.engine(url), made, "poster")
        by_key = server.client().post(
            "/api/jobs", json=job(title="Posted with a key"), headers={"Authorization": f"Bearer {key}"}
        )
        assert by_key.status_code == 201, by_key.text
    finally:
        server.stop()
