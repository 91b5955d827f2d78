"""The consult queue's mail side over real SMTP on loopback: `medcode mail` (and `medcode serve --smtp-port`) in its
own process receives what the test sends with smtplib; a second aiosmtpd server in the test is the outside mail
server that medcode's replies reach (MEDCODE_SMTP_URL). On SQLite and on PostgreSQL (MEDCODE_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest
from appdb_fixtures import appdb_url  # noqa: F401 (fixture)

from medcode import settings
from medcode.app import accounts, consult_drafts, consults, db
from medcode.app.consult_mail import html_to_text, parse

PASSWORD = "correct horse battery"
MB = 1024 * 1024


@dataclass
class Outside:
    """The outside mail server: keeps every message medcode sends."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mail:
    port: int
    engine: Any
    conf: settings.Settings
    outside: Outside
    home: Path
    member: Any
    consultant: Any
    log: Path

    def send(self, msg: EmailMessage | bytes, sender: str = "", to: str = "consult@medcode.test") -> Any:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            if isinstance(msg, bytes):
                return smtp.sendmail(sender, [to], msg)
            return smtp.send_message(msg)


def question(sender: str, subject: str, text: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "consult@medcode.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg


def wait_for(what: Any, timeout: float = 60.0) -> Any:
    end = time.time() + timeout
    while time.time() < end:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def ticket_of(mail: Mail, message_id: str) -> consults.Ticket:
    """The ticket holding the message with this Message-ID (searched in the queue and the review folder)."""

    def find() -> consults.Ticket | None:
        for review in (False, True):
            for t in consults.queue(mail.engine, review=review, limit=500):
                if any(m.message_id == message_id for m in t.messages):
                    return t
        return None

    return wait_for(find, 30)


def start_receiver(args: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "medcode.cli", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"receiver stopped: {log.read_text()[-2000:]}")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as smtp:
                smtp.noop()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("receiver did not start")


def mail_home(home: Path, folder: Path) -> Path:
    """A home of the test's own (attachments are written there) using the test knowledge base."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kb").symlink_to((home / "kb").resolve())
    return folder


def receiver_env(mhome: Path, url: str, outside_port: int, **more: str) -> dict[str, str]:
    env = dict(
        os.environ,
        MEDCODE_HOME=str(mhome),
        MEDCODE_DATABASE_URL=url,
        MEDCODE_SMTP_URL=f"smtp://127.0.0.1:{outside_port}",
        MEDCODE_MAIL_FROM="consult@medcode.test",
        MEDCODE_CONSULT_MAX_MESSAGE_MB="25",
        MEDCODE_CONSULT_MAX_ATTACHMENT_MB="10",
    )
    env.update(more)
    return env


@pytest.fixture(scope="module")
def mail(appdb_url: str, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mail]:  # noqa: F811
    from aiosmtpd.controller import Controller

    outside = Outside()
    out_port = free_port()
    controller = Controller(outside, hostname="127.0.0.1", port=out_port)
    controller.start()
    folder = tmp_path_factory.mktemp("consults")
    mhome = mail_home(home, folder / "home")
    env = receiver_env(mhome, appdb_url, out_port)
    conf = settings.load(env)
    eng = db.engine(appdb_url)
    tag = uuid.uuid4().hex[:8]
    member = accounts.create_user(eng, f"ann-{tag}@example.org", PASSWORD, "member", "member")
    consultant = accounts.create_user(eng, f"carl-{tag}@example.org", PASSWORD, "consultant", "member")
    port = free_port()
    log = folder / "mail.log"
    proc = start_receiver(["mail", "--port", str(port)], env, port, log)
    try:
        yield Mail(port, eng, conf, outside, mhome, member, consultant, log)
    finally:
        proc.terminate()
        proc.wait(15)
        controller.stop()


# --- the whole round: a question, its draft, a reply, the customer's answer ---------------------------------


def test_question_by_mail_is_drafted_answered_and_threaded(mail: Mail) -> None:
    q = question(f"Ann <{mail.member.email}>", "Does 20702 need modifier 51?", "Hello, see the subject.\n-- \nAnn")
    assert mail.send(q) == {}
    t = ticket_of(mail, q["Message-ID"])
    assert not t.review and t.requester_email == mail.member.email and t.state == "new"
    assert t.due_at > t.created_at
    drafted = wait_for(lambda: (x := consults.ticket(mail.engine, t.id)) and x.draft_state == "done" and x)
    assert "20702" in drafted.draft and "Sources:" in drafted.draft
    assert drafted.citations and all(c.get("file") for c in drafted.citations)

    taken = consults.take(mail.engine, t.id, mail.consultant)
    assert taken.state == "assigned" and taken.assignee_id == mail.consultant.id
    before = mail.outside.count()
    sent = consults.reply(mail.engine, mail.conf, t.id, mail.consultant, "No: 20702 is an add-on code.")
    wait_for(lambda: mail.outside.count() > before)
    out = mail.outside.messages[-1]
    assert out["To"] == mail.member.email
    assert out["In-Reply-To"] == q["Message-ID"]
    assert q["Message-ID"] in out["References"]
    assert out["Message-ID"] == sent.message_id
    assert f"[{t.tag}]" in out["Subject"] and out["Subject"].startswith("Re: Does 20702")
    assert out["Auto-Submitted"] == "no"
    assert consults.ticket(mail.engine, t.id).state == "answered"  # type: ignore[union-attr]

    # the customer answers the reply: In-Reply-To joins the thread and the ticket goes back to the consultant
    back = question(mail.member.email, out["Subject"], "Thanks. And with 20680?", In_Reply_To=out["Message-ID"])
    mail.send(back)
    joined = ticket_of(mail, back["Message-ID"])
    assert joined.id == t.id and joined.state == "assigned"
    assert [m.direction for m in joined.messages] == ["in", "out", "in"]

    # a new message with only the tag in its subject (no threading headers) joins too
    tagged = question(mail.member.email, f"one more thing [{t.tag}]", "Also 20703?")
    mail.send(tagged)
    assert ticket_of(mail, tagged["Message-ID"]).id == t.id
    # the second reply carries the whole chain
    consults.reply(mail.engine, mail.conf, t.id, mail.consultant, "20703 too.")
    wait_for(lambda: mail.outside.count() > before + 1)
    refs = mail.outside.messages[-1]["References"].split()
    assert refs[0] == q["Message-ID"] and tagged["Message-ID"] == mail.outside.messages[-1]["In-Reply-To"]
    events = [e.action for e in consults.ticket(mail.engine, t.id).events]  # type: ignore[union-attr]
    assert events.count("reply") == 2 and "take" in events and events[0] == "opened"


def test_unknown_sender_goes_to_review_and_is_never_answered(mail: Mail) -> None:
    before = mail.outside.count()
    q = question("stranger@elsewhere.example", "Quick coding question", "What is 99213?")
    mail.send(q)
    t = ticket_of(mail, q["Message-ID"])
    assert t.review and t.draft_state == "none"
    assert all(x.id != t.id for x in consults.queue(mail.engine))
    assert any(x.id == t.id for x in consults.queue(mail.engine, review=True))
    released = consults.release(mail.engine, t.id, mail.consultant)
    assert not released.review and released.draft_state == "pending"
    time.sleep(1.0)
    assert mail.outside.count() == before  # nothing is sent by itself


def test_auto_replies_are_never_answered(mail: Mail) -> None:
    before = mail.outside.count()
    q = question(mail.member.email, "Out of office", "I am away.", Auto_Submitted="auto-replied")
    mail.send(q)
    t = ticket_of(mail, q["Message-ID"])
    assert t.review and t.messages[0].auto
    # an auto-reply to one of medcode's replies joins the thread but does not reopen it
    q2 = question(mail.member.email, "Is 99213 billable?", "Is it?")
    mail.send(q2)
    t2 = ticket_of(mail, q2["Message-ID"])
    consults.reply(mail.engine, mail.conf, t2.id, mail.consultant, "Yes.")
    wait_for(lambda: mail.outside.count() > before)
    ours = mail.outside.messages[-1]["Message-ID"]
    auto = question(mail.member.email, "Auto: Re: x", "Away until Monday.", In_Reply_To=ours, Precedence="bulk")
    mail.send(auto)
    joined = ticket_of(mail, auto["Message-ID"])
    assert joined.id == t2.id and joined.state == "answered" and joined.messages[-1].auto
    time.sleep(1.0)
    assert mail.outside.count() == before + 1  # only the consultant's reply went out


def test_html_only_mail_becomes_text_without_script(mail: Mail) -> None:
    msg = EmailMessage()
    msg["From"] = mail.member.email
    msg["To"] = "consult@medcode.test"
    msg["Subject"] = "HTML question"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Does <b>99213</b> need a modifier?</p>"
        "<script>alert('x')</script></body></html>",
        subtype="html",
    )
    mail.send(msg)
    t = ticket_of(mail, msg["Message-ID"])
    text = t.messages[0].text
    assert "Does 99213 need a modifier?" in text and "alert" not in text and "<" not in text and "color" not in text


def test_malformed_mime_is_kept_and_the_receiver_goes_on(mail: Mail) -> None:
    raw = (
        f"From: {mail.member.email}\r\nSubject: =?bogus?Q?broken?=\r\nMessage-ID: <bad-{uuid.uuid4().hex}@x>\r\n"
        'Content-Type: multipart/mixed; boundary="never-closed"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "--never-closed\r\nContent-Type: text/plain; charset=no-such-charset\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
        "--never-closed\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment\r\n\r\n\x00\x01"
    ).encode("latin-1") + b"\xff\xfe\x80 stray bytes\r\n"
    assert mail.send(raw, sender=mail.member.email) == {}
    mid = raw.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    t = ticket_of(mail, mid)
    assert t.messages[0].from_addr == mail.member.email
    # the next message is received as ever
    q = question(mail.member.email, "after the bad one", "Is 20610 bilateral?")
    mail.send(q)
    assert ticket_of(mail, q["Message-ID"]).subject == "after the bad one"


def test_20_mb_attachment_is_refused_and_12_mb_dropped(mail: Mail) -> None:
    big = question(mail.member.email, "big note", "see the note")
    big.add_attachment(os.urandom(20 * MB), maintype="application", subtype="pdf", filename="note.pdf")
    with pytest.raises(smtplib.SMTPSenderRefused) as declared:  # the size declared in MAIL FROM (ESMTP SIZE)
        mail.send(big)
    assert declared.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", mail.port, timeout=60) as smtp:  # plain HELO: refused after DATA
        smtp.helo()
        with pytest.raises(smtplib.SMTPDataError) as sent:
            smtp.sendmail(mail.member.email, ["consult@medcode.test"], big.as_bytes(policy=policy.SMTP))
    assert sent.value.smtp_code == 552
    mid = big["Message-ID"]
    time.sleep(0.5)
    assert not any(m.message_id == mid for t in consults.queue(mail.engine, limit=500) for m in t.messages)

    mid_size = question(mail.member.email, "middling note", "see the note")
    mid_size.add_attachment(os.urandom(12 * MB), maintype="application", subtype="pdf", filename="scan.pdf")
    mid_size.add_attachment(b"Chronic osteomyelitis of the tibia.", maintype="text", subtype="plain", filename="n.txt")
    mail.send(mid_size)
    t = ticket_of(mail, mid_size["Message-ID"])
    atts = {a.filename: a for a in t.messages[0].attachments}
    assert atts["scan.pdf"].dropped and atts["scan.pdf"].size == 12 * MB
    assert not atts["n.txt"].dropped and atts["n.txt"].has_text
    assert any("dropped" in e.detail for e in t.events)
    found = consults.attachment_file(mail.engine, atts["n.txt"].id)
    assert found is not None and found[0] == t.id and found[2] is not None
    assert found[2].read_bytes() == b"Chronic osteomyelitis of the tibia."
    assert mail.home in found[2].parents


def test_a_note_gets_case2code_and_the_audit(mail: Mail) -> None:
    q = question(mail.member.email, "Is 20702 supported by the note?", "Please check the attached note.")
    note = (
        "Chronic osteomyelitis of the left tibia. Removal of antibiotic-impregnated rods and placement of a "
        "new antibiotic delivery device into the intramedullary canal."
    )
    q.add_attachment(note.encode(), maintype="text", subtype="plain", filename="op-note.txt")
    mail.send(q)
    t = ticket_of(mail, q["Message-ID"])
    done = wait_for(lambda: (x := consults.ticket(mail.engine, t.id)) and x.draft_state == "done" and x)
    assert "Attached note op-note.txt" in done.draft and "Case2Code suggests" in done.draft
    assert "Audit of 20702" in done.draft
    assert any(c.get("file") == "op-note.txt" for c in done.citations)
    assert note not in mail.log.read_text()  # no note text in the receiver's log


def test_the_same_message_twice_is_stored_once(mail: Mail) -> None:
    q = question(mail.member.email, "twice", "Is 99214 time-based?")
    mail.send(q)
    mail.send(q)
    t = ticket_of(mail, q["Message-ID"])
    assert sum(m.message_id == q["Message-ID"] for m in consults.ticket(mail.engine, t.id).messages) == 1  # type: ignore[union-attr]


def test_states_filters_and_purge(mail: Mail) -> None:
    q = question(mail.member.email, "purge me", "Patient Jane Doe, DOB 1970-01-01: 99213?")
    q.add_attachment(b"note with patient data", maintype="text", subtype="plain", filename="p.txt")
    mail.send(q)
    t = ticket_of(mail, q["Message-ID"])
    consults.take(mail.engine, t.id, mail.consultant)
    assert any(x.id == t.id for x in consults.queue(mail.engine, assignee=mail.consultant.id, state="assigned"))
    assert all(x.id != t.id for x in consults.queue(mail.engine, unassigned=True))
    assert any(x.id == t.id for x in consults.queue(mail.engine, overdue=True, now=t.due_at + 1))
    assert all(x.id != t.id for x in consults.queue(mail.engine, overdue=True, now=t.due_at - 1))
    consults.set_state(mail.engine, t.id, mail.consultant, "waiting")
    with pytest.raises(consults.ConsultError):
        consults.set_state(mail.engine, t.id, mail.consultant, "lost")
    path = consults.attachment_file(mail.engine, t.messages[0].attachments[0].id)[2]  # type: ignore[index]
    assert path is not None and path.exists()
    assert consults.purge(mail.engine, mail.conf, t.id, mail.consultant)
    gone = consults.ticket(mail.engine, t.id)
    assert gone is not None and gone.purged and not gone.messages and gone.subject == "(purged)"
    assert not path.exists()
    assert gone.events[-1].action == "purged" and len(gone.events) >= 3
    assert all(x.id != t.id for x in consults.queue(mail.engine, limit=500))
    with pytest.raises(consults.ConsultError):
        consults.reply(mail.engine, mail.conf, t.id, mail.consultant, "too late")
    # tickets unchanged for longer than the keep time are purged
    q2 = question(mail.member.email, "old one", "What is 99215?")
    mail.send(q2)
    old = ticket_of(mail, q2["Message-ID"])
    assert consults.purge_older(mail.engine, mail.conf, 30, now=old.updated_at + 29 * 86400) == 0
    assert consults.purge_older(mail.engine, mail.conf, 30, now=old.updated_at + 31 * 86400) >= 1
    assert consults.ticket(mail.engine, old.id).purged  # type: ignore[union-attr]


def test_web_question_and_member_list(mail: Mail) -> None:
    t = consults.create_from_web(
        mail.engine, mail.conf, mail.member, "From the web", "What does 99213 pay?", ("n.txt", "text/plain", b"note")
    )
    assert not t.review and t.draft_state == "pending"
    assert any(x.id == t.id for x in consults.tickets_of(mail.engine, mail.member))
    with pytest.raises(consults.ConsultError):
        consults.create_from_web(mail.engine, mail.conf, mail.member, "x", "   ")
    with pytest.raises(consults.ConsultError):
        consults.create_from_web(
            mail.engine, mail.conf, mail.member, "x", "y", ("a.pdf", "application/pdf", b"0" * (11 * MB))
        )
    assert consult_drafts.pending(mail.engine) >= 0


# --- without the receiver ------------------------------------------------------------------------------------


def test_due_time_counts_business_days() -> None:
    conf = settings.load({})
    friday = 1_765_540_800  # 2025-12-12 12:00 UTC, a Friday
    assert time.gmtime(friday).tm_wday == 4
    assert consults.due_time(conf, "member", friday) == friday + 4 * 86400  # Tuesday
    assert consults.due_time(conf, "pro", friday) == friday + 3 * 86400  # Monday
    saturday = friday + 86400
    assert consults.due_time(conf, "member", saturday) == friday + 5 * 86400  # counted from Monday: Wednesday
    assert time.gmtime(consults.due_time(conf, "member", saturday)).tm_wday == 2


def test_parse_never_raises() -> None:
    for raw in (b"", b"\x00\xff" * 100, b"From: <>\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\n--\r\n"):
        got = parse(raw)
        assert isinstance(got.text, str)
    assert parse(b"From: x@y.org\r\nAuto-Submitted: auto-generated\r\n\r\nhi").auto
    assert not parse(b"From: x@y.org\r\nAuto-Submitted: no\r\n\r\nhi").auto
    assert parse(b"From: MAILER-DAEMON@y.org\r\n\r\nbounce").auto
    assert html_to_text("<p>a</p><script>b</script><p>c &amp; d</p>") == "a\n\nc & d"


def test_serve_receives_mail_beside_the_web(mail: Mail, tmp_path: Path) -> None:
    """`medcode serve --smtp-port` runs the same receiver in the server's main process."""
    import httpx

    web, smtp_port = free_port(), free_port()
    env = receiver_env(mail.home, str(mail.engine.url.render_as_string(hide_password=False)), free_port())
    proc = start_receiver(
        ["serve", "--port", str(web), "--workers", "1", "--smtp-port", str(smtp_port)],
        env,
        smtp_port,
        tmp_path / "s.log",
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{web}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(healthy, 60)
        q = question(mail.member.email, "Is 99213 time-based?", "Asked through serve.")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.send_message(q)
        t = ticket_of(mail, q["Message-ID"])
        assert wait_for(lambda: (x := consults.ticket(mail.engine, t.id)) and x.draft_state == "done")
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode is not None


def test_a_reply_that_cannot_be_sent_is_not_kept(mail: Mail) -> None:
    from medcode.app import mail as outgoing

    t = consults.create_from_web(mail.engine, mail.conf, mail.member, "unsent", "Is 20610 bilateral?")
    dead = settings.load(
        {
            "MEDCODE_HOME": str(mail.home),
            "MEDCODE_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
            "MEDCODE_MAIL_FROM": "c@x.org",
        }
    )
    with pytest.raises(outgoing.MailError):
        consults.reply(mail.engine, dead, t.id, mail.consultant, "Yes.")
    after = consults.ticket(mail.engine, t.id)
    assert after is not None and after.state == "new" and [m.direction for m in after.messages] == ["in"]
    with pytest.raises(consults.ConsultError):
        consults.reply(mail.engine, mail.conf, t.id, mail.consultant, "  ")
    with pytest.raises(consults.TicketNotFound):
        consults.take(mail.engine, 10**9, mail.consultant)


def text_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 11 Tf 50 750 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdf_note_is_read_for_the_draft(mail: Mail) -> None:
    note = "Chronic osteomyelitis of the left tibia. Removal of antibiotic rods from the intramedullary canal."
    assert "osteomyelitis" in consult_drafts.pdf_text(text_pdf(note))
    assert consult_drafts.pdf_text(b"%PDF-1.4 broken") == ""
    q = question(mail.member.email, "What codes does the note support?", "The operative note is attached.")
    q.add_attachment(text_pdf(note), maintype="application", subtype="pdf", filename="op.pdf")
    mail.send(q)
    t = ticket_of(mail, q["Message-ID"])
    done = wait_for(lambda: (x := consults.ticket(mail.engine, t.id)) and x.draft_state == "done" and x)
    assert "Attached note op.pdf" in done.draft and "Case2Code suggests procedures" in done.draft
    assert done.messages[0].attachments[0].has_text


def test_a_message_without_from_takes_the_envelope_sender(mail: Mail) -> None:
    mid = f"<{uuid.uuid4().hex}@example.org>"
    raw = f"To: consult@medcode.test\r\nSubject: no From header\r\nMessage-ID: {mid}\r\n\r\nIs 99215 time-based?\r\n"
    mail.send(raw.encode(), sender=mail.member.email)
    t = ticket_of(mail, mid)
    assert t.requester_email == mail.member.email and not t.review


def test_a_draft_that_cannot_be_made_is_marked_failed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    eng = db.engine(url)
    conf = settings.load({"MEDCODE_HOME": str(tmp_path)})  # no knowledge base here
    user = accounts.create_user(eng, "nokb@example.org", PASSWORD, "member", "member")
    t = consults.create_from_web(eng, conf, user, "no kb", "What is 99213?")
    assert consult_drafts.pending(eng) == 1
    drafter = consult_drafts.Drafter(eng, conf, poll_seconds=0.2).start()
    try:
        failed = wait_for(lambda: (x := consults.ticket(eng, t.id)) and x.draft_state == "failed" and x, 30)
    finally:
        drafter.stop()
        eng.dispose()
    assert failed.draft.startswith("No draft: KnowledgeBaseMissing")
    assert consult_drafts.pending(eng) == 0
