"""The job board in a real Chromium (Debian's, driven by Playwright) against `medcode serve`: an employer posts
a job, a coder finds it by searching and applies with a resume, the employer sees the application and its
resume. Users are made as a script would, with `medcode admin create-user EMAIL --role ROLE --password-stdin`.
Fixtures and skipping as in test_browser."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_accounts_web import PASSWORD, Server, start_server
from test_browser import browser, shot  # noqa: F401 (fixtures)

from medcode.app import db

pytestmark = pytest.mark.browser
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def board_site(home: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    folder = tmp_path_factory.mktemp("board-browser")
    url = f"sqlite:///{folder / 'app.db'}"
    db.upgrade(url)
    server = start_server(home, data_dir, url, folder, MEDCODE_TRUST_PROXY="off")
    yield server, url
    server.stop()


def create_user(home: Path, url: str, role: str) -> str:
    who = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    env = dict(os.environ, MEDCODE_HOME=str(home), MEDCODE_DATABASE_URL=url)
    done = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "admin", "create-user", who, "--role", role, "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return who


def log_in(pg: Page, base: str, who: str) -> None:
    pg.goto(base + "/account/login")
    pg.get_by_label("E-mail address").fill(who)
    pg.get_by_label("Password").fill(PASSWORD)
    pg.get_by_role("button", name="Log in").click()
    pg.wait_for_url("**/account")


def test_employer_posts_coder_applies_employer_sees_it(
    board_site: tuple[Server, str],
    home: Path,
    browser,  # noqa: F811 (fixture)
    tmp_path: Path,
) -> None:
    server, url = board_site
    base = server.base
    employer, coder = create_user(home, url, "employer"), create_user(home, url, "member")
    tag = "zq" + uuid.uuid4().hex[:6]  # a word only this job has

    # the employer posts a job with the form; Markdown is rendered, a script in it is not run
    ctx_e = browser.new_context(viewport={"width": 1200, "height": 900})
    pe = ctx_e.new_page()
    pe.set_default_timeout(30_000)
    dialogs: list[str] = []
    pe.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(pe, base, employer)
    pe.goto(base + "/jobs/new")
    pe.get_by_label("Title").fill("Remote HCC coder")
    pe.get_by_label("Employer").fill("Prairie Health")
    pe.get_by_label("Work mode").select_option("remote")
    pe.get_by_label("Credentials").fill("CRC, CPC")
    pe.get_by_label("Specialty").fill("Risk adjustment")
    pe.get_by_label("Setting").select_option("risk adjustment")
    pe.get_by_label("Pay from ($)").fill("28")
    pe.get_by_label("to ($)").fill("35")
    pe.get_by_label("per").select_option("hour")
    pe.get_by_label("Description").fill(f"Review **charts** for {tag}.\n\n<script>alert('posted')</script>")
    pe.get_by_role("button", name="Post the job").click()
    expect(pe.locator("#job-title")).to_have_text("Remote HCC coder")
    expect(pe.locator("#job-description strong")).to_have_text("charts")
    assert dialogs == []
    shot(pe, "jobboard-job")

    # a coder searches (stemmed words, a credential, remote only), opens the job and applies with a resume
    ctx_c = browser.new_context(viewport={"width": 1200, "height": 900})
    pc = ctx_c.new_page()
    pc.set_default_timeout(30_000)
    log_in(pc, base, coder)
    pc.goto(base + "/jobs")
    pc.get_by_label("Words").fill(f"{tag} chart")
    pc.get_by_label("Credential").select_option("CRC")
    pc.get_by_label("Remote only").check()
    pc.get_by_role("button", name="Search jobs").click()
    expect(pc.locator("#jobs-count")).to_have_text("1 open job")
    shot(pc, "jobboard-search")
    pc.locator("#job-list").get_by_role("link", name="Remote HCC coder").click()
    expect(pc.locator("#job-title")).to_have_text("Remote HCC coder")
    not_pdf = tmp_path / "resume.pdf"
    not_pdf.write_bytes(b"this is not a PDF at all")
    pc.get_by_label("Cover note").fill("Five years of HCC coding.")
    pc.get_by_label("Resume (PDF or Word .docx").set_input_files(str(not_pdf))
    pc.get_by_role("button", name="Send the application").click()
    expect(pc.locator("#apply-error")).to_have_text("the resume is not a PDF or a Word (.docx) file")
    resume = tmp_path / "Jane Coder resume.pdf"
    resume.write_bytes(PDF)
    pc.get_by_label("Cover note").fill("Five years of HCC coding.")
    pc.get_by_label("Resume (PDF or Word .docx").set_input_files(str(resume))
    pc.get_by_role("button", name="Send the application").click()
    pc.wait_for_url("**/jobs/applications")
    expect(pc.locator("#applications")).to_contain_text("Remote HCC coder")
    expect(pc.locator(".application-state")).to_have_text("submitted")

    # the employer sees the application, opens the resume and moves it to interview; the coder sees the state
    pe.goto(base + "/jobs/mine")
    row = pe.locator("tr.applicant")
    expect(row.locator(".applicant-email")).to_have_text(coder)
    expect(row.locator(".cover-note")).to_have_text("Five years of HCC coding.")
    link = row.get_by_role("link", name="Jane Coder resume.pdf")
    got = pe.request.get(base + str(link.get_attribute("href")))
    assert got.status == 200 and got.body() == PDF
    row.get_by_label("State").select_option("interview")
    row.get_by_role("button", name="Set").click()
    pe.wait_for_url("**/jobs/mine")
    expect(pe.locator("tr.applicant select")).to_have_value("interview")
    shot(pe, "jobboard-applicants")
    pc.reload()
    expect(pc.locator(".application-state")).to_have_text("interview")
    # someone else cannot open the resume
    assert pc.request.get(base + str(link.get_attribute("href"))).status == 200  # the applicant may
    ctx_g = browser.new_context()
    assert ctx_g.request.get(base + str(link.get_attribute("href")), max_redirects=0).status == 303
    for ctx in (ctx_e, ctx_c, ctx_g):
        ctx.close()
