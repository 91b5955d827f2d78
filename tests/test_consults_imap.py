"""IMAP polling of the consult mailbox against a real IMAP server: Debian's dovecot (package dovecot-imapd), run
unprivileged from a configuration in a temporary folder (static password and user databases, maildir). Skipped when
dovecot is not installed; MEDCODE_REQUIRE_DOVECOT=1 makes that a failure (CI)."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from appdb_fixtures import appdb_url  # noqa: F401 (fixture)
from test_consults import free_port, mail_home, receiver_env, start_receiver, wait_for

from medcode import settings
from medcode.app import accounts, consult_server, consults, db

USER, PASSWORD = "consult", "imap-s3cret"
CONFIG = """base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_location = maildir:{dir}/mail/%u
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0600
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
"""


def _dovecot() -> str | None:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if found is None and os.environ.get("MEDCODE_REQUIRE_DOVECOT") == "1":
        pytest.fail("MEDCODE_REQUIRE_DOVECOT=1 but dovecot is not installed (apt-get install dovecot-imapd)")
    return found


@pytest.fixture(scope="module")
def imap_port() -> Iterator[int]:
    """A dovecot of the test's own on 127.0.0.1 (as the current user, or as `nobody` when that is root)."""
    binary = _dovecot()
    if binary is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    folder = Path(tempfile.mkdtemp(prefix="medcode-dovecot-"))
    for sub in ("run", "state", "mail"):
        (folder / sub).mkdir()
    user = pwd.getpwuid(os.getuid())
    prefix: list[str] = []
    if user.pw_uid == 0:  # never run the server as root: as nobody, in a folder it owns
        user = pwd.getpwnam("nobody")
        prefix = ["runuser", "-u", "nobody", "--"]
        os.chmod(folder, 0o755)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
    import grp

    port = free_port()
    conf = folder / "dovecot.conf"
    conf.write_text(
        CONFIG.format(
            dir=folder,
            user=user.pw_name,
            group=grp.getgrgid(user.pw_gid).gr_name,
            uid=user.pw_uid,
            gid=user.pw_gid,
            password=PASSWORD,
            port=port,
        )
    )
    os.chown(conf, user.pw_uid, user.pw_gid)
    subprocess.run([*prefix, binary, "-c", str(conf)], check=True, timeout=30)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"dovecot did not start: {(folder / 'dovecot.log').read_text()[-2000:]}")
        yield port
    finally:
        pid = (folder / "run" / "master.pid").read_text().strip()
        subprocess.run(["kill", pid], check=False)
        time.sleep(0.5)
        shutil.rmtree(folder, ignore_errors=True)


def deliver(port: int, msg: EmailMessage | bytes) -> None:
    box = imaplib.IMAP4("127.0.0.1", port)
    try:
        box.login(USER, PASSWORD)
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        status, _ = box.append("INBOX", None, imaplib.Time2Internaldate(time.time()), raw)
        assert status == "OK"
    finally:
        box.logout()


def unseen(port: int) -> int:
    box = imaplib.IMAP4("127.0.0.1", port)
    try:
        box.login(USER, PASSWORD)
        box.select("INBOX")
        _, found = box.search(None, "UNSEEN")
        return len((found[0] or b"").split())
    finally:
        box.logout()


def question(sender: str, subject: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "consult@medcode.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    msg.set_content(text)
    return msg


def find(eng: object, message_id: str) -> consults.Ticket | None:
    for review in (False, True):
        for t in consults.queue(eng, review=review, limit=500):  # type: ignore[arg-type]
            if any(m.message_id == message_id for m in t.messages):
                return t
    return None


def test_medcode_mail_polls_the_mailbox(
    imap_port: int,
    appdb_url: str,  # noqa: F811
    home: Path,
    tmp_path: Path,
) -> None:
    eng = db.engine(appdb_url)
    member = accounts.create_user(
        eng, f"imap-{uuid.uuid4().hex[:8]}@example.org", "a long password", "member", "member"
    )
    mhome = mail_home(home, tmp_path / "home")
    imap = f"imap://{USER}:{PASSWORD}@127.0.0.1:{imap_port}/INBOX"
    env = receiver_env(
        mhome,
        appdb_url,
        free_port(),
        MEDCODE_IMAP_URL=imap,
        MEDCODE_IMAP_SECONDS="1",
        MEDCODE_CONSULT_MAX_MESSAGE_MB="1",
    )
    first = question(member.email, "Does 20702 need modifier 51?", "See the subject.")
    stranger = question("someone@elsewhere.example", "hello", "Is 99213 billable?")
    big = question(member.email, "too big", "x")
    big.add_attachment(os.urandom(2 * 1024 * 1024), maintype="application", subtype="pdf", filename="scan.pdf")
    for msg in (first, stranger, big):
        deliver(imap_port, msg)
    assert unseen(imap_port) == 3
    port = free_port()
    proc = start_receiver(["mail", "--port", str(port)], env, port, tmp_path / "mail.log")
    try:
        t = wait_for(lambda: find(eng, first["Message-ID"]), 60)
        assert not t.review and t.requester_email == member.email
        assert wait_for(lambda: find(eng, stranger["Message-ID"]), 30).review
        wait_for(lambda: unseen(imap_port) == 0, 30)  # every message flagged \\Seen, the big one too
        drafted = wait_for(lambda: (x := consults.ticket(eng, t.id)) and x.draft_state == "done" and x, 60)
        assert "20702" in drafted.draft
        # a message delivered later is picked up by the next poll
        later = question(member.email, "Is 20610 bilateral?", "Thanks.")
        deliver(imap_port, later)
        wait_for(lambda: find(eng, later["Message-ID"]), 30)
    finally:
        proc.terminate()
        proc.wait(15)
    assert find(eng, big["Message-ID"]) is None  # over MEDCODE_CONSULT_MAX_MESSAGE_MB: left in the mailbox


def test_a_poll_stores_each_message_once(imap_port: int, appdb_url: str, tmp_path: Path) -> None:  # noqa: F811
    eng = db.engine(appdb_url)
    conf = settings.load(
        {"MEDCODE_HOME": str(tmp_path), "MEDCODE_IMAP_URL": f"imap://{USER}:x@127.0.0.1:{imap_port}/INBOX"}
    )
    with pytest.raises(imaplib.IMAP4.error):  # a wrong password is an error the poller logs, not a crash
        consult_server.imap_poll(conf, lambda raw: None)
    conf = settings.load(
        {
            "MEDCODE_HOME": str(tmp_path),
            "MEDCODE_IMAP_URL": f"imap://{USER}:{PASSWORD}@127.0.0.1:{imap_port}/INBOX",
        }
    )
    receiver = consult_server.Receiver(eng, conf, None)
    msg = question("nobody-known@example.org", "once", "What is G0439?")
    deliver(imap_port, msg)
    deliver(imap_port, msg)  # the same message twice in the mailbox
    assert consult_server.imap_poll(conf, receiver.store) == 2
    assert consult_server.imap_poll(conf, receiver.store) == 0
    t = find(eng, msg["Message-ID"])
    assert t is not None and len(t.messages) == 1
    receiver.pool.shutdown()
