"""The consult queue on the web over real HTTP: `medcode serve` in its own process on SQLite and on PostgreSQL
(MEDCODE_TEST_DATABASE_URL); users made with `medcode admin create-user`; medcode's replies are received by an
SMTP server of the test's own (aiosmtpd), acting as the outside mail server, and their threading is checked.
"""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx
import pytest
from appdb_fixtures import appdb_url  # noqa: F401 (fixture)
from test_accounts_web import PASSWORD, Server, free_port, start_server


@dataclass
class Outside:
    """The outside mail server: every message medcode sends, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 20) -> EmailMessage:
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                for m in self.messages:
                    if to in str(m["To"]):
                        return m
            time.sleep(0.1)
        raise AssertionError(f"no mail reached {to}")


@pytest.fixture(scope="module")
def outside() -> Iterator[tuple[Outside, str]]:
    from aiosmtpd.controller import Controller

    box = Outside()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, f"smtp://127.0.0.1:{port}"
    controller.stop()


def make_user(url: str, home: Path, role: str, plan: str = "member") -> str:
    """A verified account made the way a script does: `medcode admin create-user ... --password-stdin`."""
    who = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    env = dict(os.environ, MEDCODE_DATABASE_URL=url, MEDCODE_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "admin", "create-user", who, "--role", role, "--plan", plan,
         "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return who


def log_in(server: Server, who: str) -> tuple[httpx.Client, str]:
    c = server.client()
    r = c.post("/api/auth/login", json={"email": who, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


@pytest.fixture(scope="module")
def site(
    home: Path,
    data_dir: Path,
    appdb_url: str,  # noqa: F811 (fixture)
    outside: tuple[Outside, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Outside, str]]:
    server = start_server(
        home,
        data_dir,
        appdb_url,
        tmp_path_factory.mktemp("consults"),
        MEDCODE_SMTP_PORT=str(RECEIVER_PORT),  # medcode's own receiver, in the serve process
        MEDCODE_SMTP_URL=outside[1],
        MEDCODE_MAIL_FROM="consult@medcode.test",
        MEDCODE_QUOTAS="off",
        MEDCODE_CONSULT_MAX_ATTACHMENT_MB="1",
    )
    yield server, outside[0], appdb_url
    server.stop()


def wait_draft(c: httpx.Client, ticket_id: int, timeout: float = 60) -> dict[str, Any]:
    end = time.time() + timeout
    while time.time() < end:
        t = c.get(f"/api/consults/{ticket_id}").json()
        if t["draft_state"] in ("done", "failed"):
            return t
        time.sleep(0.3)
    raise AssertionError(f"no draft for ticket {ticket_id}")


RECEIVER_PORT = free_port()
QUESTION = "Can 20702 be billed with 20680 on the same day for the same patient?"


def test_member_asks_consultant_answers_and_the_mail_is_threaded(site: tuple[Server, Outside, str], home: Path) -> None:
    server, box, url = site
    member = make_user(url, home, "member")
    consultant = make_user(url, home, "consultant")
    mc, mcsrf = log_in(server, member)
    cc, ccsrf = log_in(server, consultant)

    # nobody, a member and a missing CSRF token are refused; the member asks
    assert server.client().get("/api/consults").status_code == 401
    assert server.client().post("/api/consults", json={"subject": "x", "text": "y"}).status_code == 401
    assert mc.post("/api/consults", json={"subject": "x", "text": "y"}).status_code == 403  # no X-CSRF-Token
    r = mc.post(
        "/api/consults", json={"subject": "Spacer and removal", "text": QUESTION}, headers={"X-CSRF-Token": mcsrf}
    )
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert mc.get("/api/consults").status_code == 403  # only consultants and admins see the queue
    mine = mc.get("/api/consults/mine").json()["data"]
    assert [t["id"] for t in mine] == [tid] and "draft" not in mine[0]

    # the consultant's queue: each ticket with id, subject, state, from, draft, messages
    queue = cc.get("/api/consults").json()["data"]
    t = next(t for t in queue if t["id"] == tid)
    assert (t["subject"], t["state"], t["from"]) == ("Spacer and removal", "new", member)
    assert t["messages"][0]["text"] == QUESTION and t["messages"][0]["direction"] == "in"
    assert {"draft", "due_at", "overdue"} <= set(t)
    assert t["due_at"] > t["created_at"] + 86400 and t["overdue"] is False
    drafted = wait_draft(cc, tid)
    assert drafted["draft_state"] == "done" and "20702" in drafted["draft"]
    assert drafted["citations"]  # the draft names its sources

    # filters: by state and assignee
    assert any(x["id"] == tid for x in cc.get("/api/consults", params={"state": "new"}).json()["data"])
    assert cc.get("/api/consults", params={"state": "sideways"}).status_code == 422
    assert cc.get("/api/consults", params={"limit": 0}).status_code == 422
    assert len(cc.get("/api/consults", params={"limit": 1}).json()["data"]) == 1
    assert tid not in [x["id"] for x in cc.get("/api/consults", params={"offset": 1000}).json()["data"]]
    assert not any(x["id"] == tid for x in cc.get("/api/consults", params={"assignee": "me"}).json()["data"])

    # take, then reply: state answered, the mail goes out threaded on the question
    assert cc.post(f"/api/consults/{tid}/take").status_code == 403  # CSRF
    r = cc.post(f"/api/consults/{tid}/take", headers={"X-CSRF-Token": ccsrf})
    assert r.status_code == 200 and (r.json()["state"], r.json()["assignee"]) == ("assigned", consultant)
    assert any(x["id"] == tid for x in cc.get("/api/consults", params={"assignee": "me"}).json()["data"])
    answer = "Yes, with the right documentation; see the sources below.\n\n" + drafted["draft"][:500]
    assert mc.post(f"/api/consults/{tid}/reply", json={"text": "x"}, headers={"X-CSRF-Token": mcsrf}).status_code == 403
    r = cc.post(f"/api/consults/{tid}/reply", json={"text": answer}, headers={"X-CSRF-Token": ccsrf})
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["state"] == "answered"
    sent = box.wait_for(member)
    inbound = r.json()["ticket"]["messages"][0]
    assert inbound["direction"] == "in" and r.json()["message"]["message_id"] == str(sent["Message-ID"])
    assert str(sent["In-Reply-To"]) == inbound["message_id"]
    got = sent.get_content().strip()  # type: ignore[attr-defined]
    assert got.startswith("Yes, with the right documentation")
    assert f"[{t['tag']}]" in str(sent["Subject"]) and str(sent["Subject"]).startswith("Re: Spacer and removal")
    assert sent["Message-ID"] and sent["In-Reply-To"] and sent["In-Reply-To"] in str(sent["References"])
    assert str(sent["Auto-Submitted"]).lower() == "no"

    # the member sees the reply, not the draft nor the audit log; the log names who did what
    seen = mc.get(f"/api/consults/{tid}").json()
    assert [m["direction"] for m in seen["messages"]] == ["in", "out"] and seen["messages"][1]["text"] == answer
    assert "draft" not in seen and "events" not in seen
    events = cc.get(f"/api/consults/{tid}").json()["events"]
    assert [e["action"] for e in events if e["action"] != "message"][:1] == ["opened"]
    assert {"take", "reply"} <= {e["action"] for e in events}
    assert next(e["who"] for e in events if e["action"] == "take") == consultant
    consultant_id = next(e["actor"] for e in events if e["action"] == "take")
    assert next(e["actor"] for e in events if e["action"] == "reply") == consultant_id != "mail"

    # the member writes back over the API: the ticket goes back to its consultant
    r = mc.post(f"/api/consults/{tid}/messages", json={"text": "Thank you!"}, headers={"X-CSRF-Token": mcsrf})
    assert r.status_code == 201 and r.json()["state"] == "assigned" and r.json()["messages"][-1]["text"] == "Thank you!"
    assert mc.post(f"/api/consults/{tid}/messages", json={"text": "x"}).status_code == 403  # CSRF

    # another member sees nothing of it
    other, ocsrf = log_in(server, make_user(url, home, "member"))
    assert other.get(f"/api/consults/{tid}").status_code == 404
    assert other.get("/api/consults/mine").json()["data"] == []
    r = other.post(f"/api/consults/{tid}/messages", json={"text": "x"}, headers={"X-CSRF-Token": ocsrf})
    assert r.status_code == 404


def test_states_keys_purge_and_bad_input(site: tuple[Server, Outside, str], home: Path) -> None:
    server, _, url = site
    member = make_user(url, home, "member")
    mc, mcsrf = log_in(server, member)
    cc, ccsrf = log_in(server, make_user(url, home, "consultant"))
    ac, acsrf = log_in(server, make_user(url, home, "admin"))
    tid = mc.post("/api/consults", json={"subject": "Units", "text": "How many units of 96365?"},
                  headers={"X-CSRF-Token": mcsrf}).json()["id"]  # fmt: skip

    # bad bodies and ids
    for body in ({"subject": "", "text": "x"}, {"subject": "x"}, {"subject": "x" * 301, "text": "y"}):
        assert mc.post("/api/consults", json=body, headers={"X-CSRF-Token": mcsrf}).status_code == 422
    assert (
        cc.post(f"/api/consults/{tid}/state", json={"state": "done"}, headers={"X-CSRF-Token": ccsrf}).status_code
        == 422
    )
    assert cc.get("/api/consults/999999999").status_code == 404
    assert cc.get("/api/consults/abc").status_code == 422

    # states: waiting on the customer, closed
    for state in ("waiting", "closed"):
        r = cc.post(f"/api/consults/{tid}/state", json={"state": state}, headers={"X-CSRF-Token": ccsrf})
        assert r.status_code == 200 and r.json()["state"] == state
    assert any(x["id"] == tid for x in cc.get("/api/consults", params={"state": "closed"}).json()["data"])

    # an API key works like the session (no CSRF token needed); a wrong key is refused
    key = cc.post("/api/keys", json={"name": "queue"}, headers={"X-CSRF-Token": ccsrf}).json()["key"]
    keyed = server.client()
    keyed.headers["Authorization"] = f"Bearer {key}"
    assert any(x["id"] == tid for x in keyed.get("/api/consults", params={"state": "closed"}).json()["data"])
    assert keyed.post(f"/api/consults/{tid}/state", json={"state": "assigned"}).status_code == 200
    bad = server.client()
    bad.headers["Authorization"] = "Bearer mc_not-a-key"
    assert bad.get("/api/consults").status_code == 401

    # purge: admins only; the messages go, the ticket and an audit entry stay
    assert cc.delete(f"/api/consults/{tid}", headers={"X-CSRF-Token": ccsrf}).status_code == 403
    assert ac.delete(f"/api/consults/{tid}").status_code == 403  # CSRF
    assert ac.delete(f"/api/consults/{tid}", headers={"X-CSRF-Token": acsrf}).status_code == 204
    after = ac.get(f"/api/consults/{tid}").json()
    assert after["purged"] and after["messages"] == [] and "purge" in after["events"][-1]["action"]
    assert cc.post(f"/api/consults/{tid}/take", headers={"X-CSRF-Token": ccsrf}).status_code == 409
    assert tid not in [t["id"] for t in mc.get("/api/consults/mine").json()["data"]]
    assert ac.delete("/api/consults/999999999", headers={"X-CSRF-Token": acsrf}).status_code == 404


def _form_csrf(page: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def test_pages_without_javascript(site: tuple[Server, Outside, str], home: Path) -> None:
    server, box, url = site
    member = make_user(url, home, "member")
    mc, _ = log_in(server, member)
    cc, _ = log_in(server, make_user(url, home, "consultant"))

    # guests are sent to log in; members may not see the queue
    assert server.client().get("/consult").status_code == 303
    assert server.client().get("/consults").status_code == 303
    assert mc.get("/consults").status_code == 403
    page = mc.get("/consult")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    csrf = _form_csrf(page.text)

    # a note that says it is a PDF but is not, and a form without the token, are refused
    fake = {"note": ("note.pdf", b"MZ not a pdf", "application/pdf")}
    r = mc.post("/consult", data={"csrf": csrf, "subject": "S", "question": "Q"}, files=fake)
    assert r.status_code == 422 and "not a PDF" in r.text and 'value="S"' in r.text
    r = mc.post("/consult", data={"csrf": "wrong", "subject": "S", "question": "Q"}, files=fake)
    assert r.status_code == 403
    big = {"note": ("note.txt", b"x" * (3 << 20), "text/plain")}  # over MEDCODE_CONSULT_MAX_ATTACHMENT_MB=1
    r = mc.post("/consult", data={"csrf": csrf, "subject": "S", "question": "Q"}, files=big)
    assert r.status_code == 413

    # a question with a text note: the member lands on the ticket page
    note = b"Operative note: removal of the antibiotic spacer from the left tibia.\n"
    r = mc.post(
        "/consult",
        data={"csrf": csrf, "subject": "Removal of a spacer", "question": "Which code fits the note?"},
        files={"note": ("op-note.txt", note, "text/plain")},
    )
    assert r.status_code == 303, r.text
    where = r.headers["location"]
    tid = int(where.split("/")[2].split("?")[0])
    page = mc.get(where)
    assert page.status_code == 200 and "Which code fits the note?" in page.text and "Removal of a spacer" in page.text
    assert "Removal of a spacer" in mc.get("/consult/mine").text

    # the consultant's queue and ticket page; the note downloads for the consultant only
    queue = cc.get("/consults")
    assert queue.status_code == 200 and f'href="/consults/{tid}"' in queue.text
    assert f'href="/consults/{tid}"' in cc.get("/consults", params={"state": "new", "assignee": "any"}).text
    assert f'href="/consults/{tid}"' not in cc.get("/consults", params={"assignee": "me"}).text
    staff = cc.get(f"/consults/{tid}")
    assert staff.status_code == 200 and "op-note.txt" in staff.text and "Audit log" in staff.text
    aid = int(staff.text.split(f"/consults/{tid}/attachments/")[1].split('"')[0])
    got = cc.get(f"/consults/{tid}/attachments/{aid}")
    assert got.status_code == 200 and got.content == note and "attachment" in got.headers["content-disposition"]
    assert mc.get(f"/consults/{tid}/attachments/{aid}").status_code == 403
    assert mc.get(f"/consults/{tid}").status_code == 403

    # take and answer from the page; the member's page shows the answer
    csrf = _form_csrf(staff.text)
    assert cc.post(f"/consults/{tid}/take", data={"csrf": csrf}).status_code == 303
    assert cc.post(f"/consults/{tid}/reply", data={"csrf": "x", "text": "no"}).status_code == 403
    r = cc.post(f"/consults/{tid}/reply", data={"csrf": csrf, "text": "Use the removal code; see the note."})
    assert r.status_code == 303 and r.headers["location"] == f"/consults/{tid}?sent=1"
    assert box.wait_for(member)
    page = mc.get(f"/consult/{tid}").text
    assert "Use the removal code; see the note." in page and "answered" in page

    # the member writes back on the page: the message joins the thread and the ticket goes back to the consultant
    assert mc.post(f"/consult/{tid}", data={"csrf": "x", "text": "Thanks"}).status_code == 403
    assert mc.post(f"/consult/{tid}", data={"csrf": _form_csrf(page), "text": "  "}).status_code == 422
    r = mc.post(f"/consult/{tid}", data={"csrf": _form_csrf(page), "text": "And the left femur?"})
    assert r.status_code == 303
    seen = cc.get(f"/api/consults/{tid}").json()
    assert [m["direction"] for m in seen["messages"]] == ["in", "out", "in"] and seen["state"] == "assigned"
    assert seen["messages"][2]["text"] == "And the left femur?"
    other, _ = log_in(server, make_user(url, home, "member"))
    other_csrf = _form_csrf(other.get("/consult").text)
    assert other.post(f"/consult/{tid}", data={"csrf": other_csrf, "text": "x"}).status_code == 404

    # purge from the page: admins only; the attachment file goes too
    assert "Purge this ticket" not in cc.get(f"/consults/{tid}").text
    assert cc.post(f"/consults/{tid}/purge", data={"csrf": csrf}).status_code == 403
    ac, _ = log_in(server, make_user(url, home, "admin"))
    admin_page = ac.get(f"/consults/{tid}").text
    assert "Purge this ticket" in admin_page
    r = ac.post(f"/consults/{tid}/purge", data={"csrf": _form_csrf(admin_page)})
    assert r.status_code == 200 and "Ticket purged" in r.text
    assert cc.get(f"/consults/{tid}/attachments/{aid}").status_code == 404
    assert "And the left femur?" not in mc.get(f"/consult/{tid}").text


def mail_in(sender: str, subject: str, text: str, **headers: str) -> str:
    """Send a message to medcode's receiver over loopback SMTP; its Message-ID."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "consult@medcode.test", subject
    msg["Message-ID"] = make_msgid(domain="outside.test")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    with smtplib.SMTP("127.0.0.1", RECEIVER_PORT, timeout=30) as smtp:
        smtp.send_message(msg)
    return str(msg["Message-ID"])


def test_mail_review_folder_draft_edit_and_customer_reply(site: tuple[Server, Outside, str], home: Path) -> None:
    server, box, url = site
    member = make_user(url, home, "member")
    mc, _ = log_in(server, member)
    cc, ccsrf = log_in(server, make_user(url, home, "consultant"))
    h = {"X-CSRF-Token": ccsrf}

    # mail from a stranger goes to the review folder, not the queue; a consultant moves it into the queue
    stranger = f"stranger-{uuid.uuid4().hex[:6]}@outside.test"
    mail_in(stranger, "Modifier 59 question", "When is modifier 59 appropriate with 20610?")
    review = cc.get("/api/consults", params={"review": "true"}).json()["data"]
    rid = next(t["id"] for t in review if t["from"] == stranger)
    assert review[[t["id"] for t in review].index(rid)]["review"] is True
    assert rid not in [t["id"] for t in cc.get("/api/consults").json()["data"]]
    assert f'href="/consults/{rid}"' in cc.get("/consults", params={"review": 1}).text
    assert "Move into the queue" in cc.get(f"/consults/{rid}").text
    r = cc.post(f"/api/consults/{rid}/release", headers=h)
    assert (
        r.status_code == 200
        and r.json()["review"] is False
        and r.json()["draft_state"] in ("pending", "running", "done")
    )
    assert rid in [t["id"] for t in cc.get("/api/consults").json()["data"]]

    # a member's mail becomes their ticket; the consultant saves an edit of the draft, then answers
    first = mail_in(member, "Global period", "What is the global period of 20702?")
    tid = next(t["id"] for t in mc.get("/api/consults/mine").json()["data"] if t["subject"] == "Global period")
    r = cc.post(f"/api/consults/{tid}/draft", json={"text": "My own draft: 90 days."}, headers=h)
    assert r.status_code == 200 and r.json()["draft"] == "My own draft: 90 days."
    assert "My own draft: 90 days." in cc.get(f"/consults/{tid}").text  # the form shows the saved draft
    r = cc.post(f"/api/consults/{tid}/reply", json={"text": "The global period is 90 days."}, headers=h)
    assert r.status_code == 200
    answer = box.wait_for(member)
    assert str(answer["In-Reply-To"]) == first and first in str(answer["References"])

    # the member answers the mail: it joins the ticket (threaded by In-Reply-To), which is open again
    mail_in(member, str(answer["Subject"]), "Thanks: and for 20703?", In_Reply_To=str(answer["Message-ID"]))
    end = time.time() + 20
    while time.time() < end:
        seen = mc.get(f"/api/consults/{tid}").json()
        if len(seen["messages"]) == 3:
            break
        time.sleep(0.2)
    assert [m["direction"] for m in seen["messages"]] == ["in", "out", "in"]
    assert seen["state"] in ("new", "assigned") and "and for 20703?" in mc.get(f"/consult/{tid}").text


def test_hostile_input_on_the_form_and_the_pages(site: tuple[Server, Outside, str], home: Path) -> None:
    server, _, url = site
    mc, _ = log_in(server, make_user(url, home, "member"))
    cc, _ = log_in(server, make_user(url, home, "consultant"))
    csrf = _form_csrf(mc.get("/consult").text)
    base = {"csrf": csrf, "subject": "S", "question": "Q"}
    for name, data, why in (
        ("tool.exe", b"MZ", "must be a .txt or .pdf"),
        ("note.txt", b"\xff\xfe\x00bad", "UTF-8"),
    ):
        r = mc.post("/consult", data=base, files={"note": (name, data, "application/octet-stream")})
        assert r.status_code == 422 and why in r.text, r.text[:500]
    r = mc.post("/consult", data={**base, "subject": "   "})
    assert r.status_code == 422
    r = mc.post("/consult", data={**base, "question": "x" * 100_001})
    assert r.status_code == 422 and "too long" in r.text
    broken = mc.post("/consult", content=b"--nope\r\n\r\n", headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert broken.status_code in (400, 403, 422)
    two = {"note": ("a.txt", b"a", "text/plain")}
    r = mc.post("/consult", data=base, files=[("note", two["note"]), ("note", ("b.txt", b"b", "text/plain"))])
    assert r.status_code in (400, 422)

    # markup in a question is shown as text, on the member's and the consultant's pages
    r = mc.post("/consult", data={**base, "subject": "<b>bold</b>", "question": "<script>alert(1)</script>"})
    assert r.status_code == 303
    tid = int(r.headers["location"].split("/")[2].split("?")[0])
    for page in (mc.get(f"/consult/{tid}").text, cc.get(f"/consults/{tid}").text, cc.get("/consults").text):
        assert "<script>alert(1)" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cc.get(f"/consults/{tid}").text

    # addresses that are no ticket or no attachment of it
    assert cc.get("/consults/999999999").status_code == 404
    assert cc.get(f"/consults/{tid}/attachments/999999999").status_code == 404
    assert cc.post(f"/consults/{tid}/nothing", data={"csrf": "x"}).status_code == 404
    assert mc.get("/consult/999999999").status_code == 404


def test_with_quotas_on_the_api_needs_a_session_or_key(
    home: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from medcode.app import db

    folder = tmp_path_factory.mktemp("consult-quotas")
    url = f"sqlite:///{folder / 'app.db'}"
    db.upgrade(url)
    server = start_server(
        home, data_dir, url, folder, MEDCODE_QUOTAS="on", MEDCODE_SMTP_URL="", MEDCODE_CONSULT_DUE_DAYS="0"
    )
    try:
        assert server.client().get("/api/consults").json()["error"]["type"] == "auth_required"
        mc, csrf = log_in(server, make_user(url, home, "member"))
        r = mc.post("/api/consults", json={"subject": "Q", "text": "What is 20702?"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
        cc, ccsrf = log_in(server, make_user(url, home, "consultant"))
        key = cc.post("/api/keys", json={"name": "k"}, headers={"X-CSRF-Token": ccsrf}).json()["key"]
        keyed = server.client()
        keyed.headers["Authorization"] = f"Bearer {key}"
        r = keyed.get("/api/consults")
        assert r.status_code == 200 and "X-RateLimit-Limit" in r.headers
        assert r.json()["data"][0]["id"] == mc.get("/api/consults/mine").json()["data"][0]["id"]
        if time.gmtime().tm_wday < 5:  # due the moment it was asked (0 business days): overdue a second later
            time.sleep(1.1)
            late = keyed.get("/api/consults", params={"overdue": "true"}).json()["data"]
            assert late and late[0]["overdue"] is True
            assert 'class="late">overdue' in cc.get("/consults", params={"overdue": 1}).text
        # without a mail server the answer is kept, and the server log has no word of its text
        r = keyed.post(f"/api/consults/{r.json()['data'][0]['id']}/reply", json={"text": "Secret patient words"})
        assert r.status_code == 200 and r.json()["ticket"]["state"] == "answered"
    finally:
        server.stop()
    assert "Secret patient words" not in server.log.read_text() and "mail not sent" in server.log.read_text()
