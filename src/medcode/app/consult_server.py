"""The consult mail service: medcode's own SMTP receiver (aiosmtpd), IMAP polling (stdlib imaplib), the
background drafter and the daily purge, started by ``medcode mail`` or beside ``medcode serve``.

A message is stored (``consults.receive``, in a worker thread) before the SMTP answer ``250``; the draft is
made afterwards by the drafter. A message over MEDCODE_CONSULT_MAX_MESSAGE_MB is refused with ``552`` while
it is sent. medcode never answers mail by itself. No message content is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import imaplib
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine

from medcode.app import consult_drafts, consults
from medcode.app.consult_mail import MB, parse

log = logging.getLogger("medcode.consults")

PURGE_EVERY = 86400


class Receiver:
    """The aiosmtpd handler: every message to any recipient becomes (part of) a consult ticket."""

    def __init__(
        self,
        db: Engine,
        conf: Any,
        drafter: consult_drafts.Drafter | consult_drafts.DraftProcess | None,
        threads: int = 4,
    ) -> None:
        self.db, self.conf, self.drafter = db, conf, drafter
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="medcode-consult-receive")
        self.received = 0

    def store(self, raw: bytes, envelope_from: str = "") -> consults.Ticket:
        """Store one message (``envelope_from``: the SMTP MAIL FROM, used when the message has no From)."""
        limit = int(getattr(self.conf, "consult_max_attachment_mb", 10)) * MB
        incoming = parse(raw, max_attachment=limit)
        if not incoming.from_addr and "@" in envelope_from:
            incoming = dataclasses.replace(incoming, from_addr=envelope_from.strip().lower())
        found = consults.receive(self.db, self.conf, incoming)
        self.received += 1
        if self.drafter is not None and found.draft_state == "pending":
            self.drafter.wake()
        return found

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="replace")
        try:
            sender = str(envelope.mail_from or "")
            found = await asyncio.get_running_loop().run_in_executor(self.pool, self.store, raw, sender)
        except Exception as exc:
            log.warning("consult mail not stored (%s): the sender will retry", exc.__class__.__name__)
            return "451 4.3.0 the message could not be stored now; try again later"
        return f"250 2.0.0 stored in consult ticket {found.tag}"


def smtp_controller(receiver: Receiver, host: str, port: int, max_message_mb: int) -> Any:
    """An aiosmtpd Controller (a thread with its own event loop) on ``host:port``; call ``.start()``."""
    from aiosmtpd.controller import Controller

    return Controller(
        receiver,
        hostname=host,
        port=port,
        data_size_limit=max_message_mb * MB,
        enable_SMTPUTF8=True,
        ready_timeout=10.0,
    )


def imap_poll(conf: Any, store: Any) -> int:
    """Fetch the UNSEEN messages of MEDCODE_IMAP_URL, pass each to ``store(raw)``, flag them \\Seen; how many.
    A message over the size limit is flagged \\Seen and left in the mailbox (logged without content)."""
    parts = urlsplit(conf.imap_url)
    host = parts.hostname or "localhost"
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    box: imaplib.IMAP4
    if parts.scheme == "imaps":
        box = imaplib.IMAP4_SSL(host, parts.port or 993, timeout=30)
    else:
        box = imaplib.IMAP4(host, parts.port or 143, timeout=30)
        if query.get("starttls") in ("1", "true", "on", "yes"):
            box.starttls()
    limit = int(getattr(conf, "consult_max_message_mb", 25)) * MB
    done = 0
    try:
        box.login(unquote(parts.username or ""), unquote(parts.password or ""))
        mailbox = unquote(parts.path.strip("/")) or "INBOX"
        status, _ = box.select(f'"{mailbox}"')
        if status != "OK":
            raise RuntimeError(f"IMAP mailbox {mailbox!r} cannot be selected")
        _, found = box.uid("SEARCH", "UNSEEN")
        for uid in (found[0] or b"").decode().split():
            _, sized = box.uid("FETCH", uid, "(RFC822.SIZE)")
            size = _size(sized)
            if size > limit:
                log.warning("IMAP message %s not fetched: %s bytes, over the limit", uid, size)
            else:
                _, data = box.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((item[1] for item in data if isinstance(item, tuple)), b"")
                store(raw)
                done += 1
            box.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    finally:
        with contextlib.suppress(Exception):
            box.logout()
    return done


def _size(data: Any) -> int:
    text = b" ".join(d if isinstance(d, bytes) else b" ".join(d) for d in data if d)
    m = re.search(rb"RFC822\.SIZE (\d+)", text)
    return int(m.group(1)) if m else 0


class Service:
    """Drafter + daily purge + SMTP receiver (when ``smtp_port``) + IMAP poller (when MEDCODE_IMAP_URL)."""

    def __init__(
        self, db: Engine, conf: Any, *, host: str = "127.0.0.1", smtp_port: int = 0, draft_process: bool | None = None
    ) -> None:
        self.db, self.conf, self.host, self.smtp_port = db, conf, host, smtp_port
        self.drafter: consult_drafts.Drafter | consult_drafts.DraftProcess
        if draft_process is None:  # default: a process of its own when mail comes in (a thread for the web's few)
            draft_process = bool(smtp_port or getattr(conf, "imap_url", ""))
        if draft_process:  # drafting in its own process: the receiver keeps the interpreter to itself
            url = db.url.render_as_string(hide_password=False)
            self.drafter = consult_drafts.DraftProcess(url, conf)
        else:
            self.drafter = consult_drafts.Drafter(db, conf)
        self.receiver = Receiver(db, conf, self.drafter)
        self.controller: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Service:
        consult_drafts.recover(self.db)
        self.drafter.start()
        if self.smtp_port:
            mb = int(getattr(self.conf, "consult_max_message_mb", 25))
            self.controller = smtp_controller(self.receiver, self.host, self.smtp_port, mb)
            self.controller.start()
        self._spawn(self._purge_daily, "medcode-consult-purge")
        if getattr(self.conf, "imap_url", ""):
            self._spawn(self._poll_imap, "medcode-consult-imap")
        return self

    def _spawn(self, target: Any, name: str) -> None:
        th = threading.Thread(target=target, name=name, daemon=True)
        th.start()
        self._threads.append(th)

    def _purge_daily(self) -> None:
        while not self._stop.is_set():
            try:
                n = consults.purge_older(self.db, self.conf)
                if n:
                    log.info("purged %d consult ticket(s) older than MEDCODE_CONSULT_KEEP_DAYS", n)
            except Exception as exc:
                log.warning("consult purge failed: %s", exc.__class__.__name__)
            self._stop.wait(PURGE_EVERY)

    def _poll_imap(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                imap_poll(self.conf, self.receiver.store)
            except Exception as exc:
                log.warning("IMAP poll of the consult mailbox failed: %s: %s", exc.__class__.__name__, exc)
            wait = max(1.0, float(getattr(self.conf, "imap_seconds", 60)) - (time.monotonic() - started))
            self._stop.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        if self.controller is not None:
            self.controller.stop()
        self.drafter.stop()
        self.receiver.pool.shutdown(wait=True)
