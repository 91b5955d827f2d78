"""Drafts of consult answers, made in the background: CasePilot answers the question (with its sources);
an attached note (text, or a PDF read with pypdf) also gets Case2Code's codes and, for codes the question
names, the documentation audit.

Tickets waiting for a draft have ``draft_state = 'pending'`` in the database; a :class:`Drafter` thread in
any process claims them one at a time (pending -> running, a conditional update: two processes never draft
the same ticket), so the SMTP receiver answers at once and a draft survives a restart of the process that
received the mail. No note or question text is logged.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from medcode.app.consult_views import writing
from medcode.app.models_consults import ConsultAttachment, ConsultMessage, ConsultTicket

log = logging.getLogger("medcode.consults")

MAX_PDF_PAGES = 50
MAX_NOTE = 100_000
_CODE = re.compile(r"\b(\d{4}[0-9TFU]|[A-V]\d{4})\b")


@dataclass(frozen=True)
class Job:
    ticket_id: int
    question: str
    notes: tuple[tuple[str, str], ...]  # (file name, text) of the attached notes


def question_text(subject: str, body: str) -> str:
    """The question CasePilot reads: the subject and the body without quoted lines or the signature."""
    lines = []
    for line in body.splitlines():
        if line.strip() in ("--", "-- ") or re.match(r"^On .+ wrote:$", line.strip()):
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
    text = " ".join(" ".join(lines).split())
    subject = " ".join(re.sub(r"^\s*((re|aw|fwd?)\s*:\s*)+", "", subject, flags=re.IGNORECASE).split())
    if subject and subject.lower() not in text.lower() and subject != "(no subject)":
        text = f"{subject}. {text}" if text else subject
    from medcode.assistant import MAX_QUESTION  # (CasePilot's own limit; imported late: the receiver does not load it)

    return text[:MAX_QUESTION]


def pdf_text(data: bytes) -> str:
    """The text of a PDF note (the first MAX_PDF_PAGES pages); "" when it cannot be read."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        parts = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
    except Exception:  # a broken or encrypted PDF: no text, the draft says so
        return ""
    return "\n".join(parts)[:MAX_NOTE]


def claim(db: Engine) -> Job | None:
    """Take the oldest ticket waiting for a draft (pending -> running); None when there is none."""
    with Session(db) as s:
        ids = list(
            s.scalars(
                select(ConsultTicket.id)
                .where(ConsultTicket.draft_state == "pending", ConsultTicket.review.is_(False))
                .order_by(ConsultTicket.id)
                .limit(8)
            )
        )
    for tid in ids:
        with writing(db) as s, s.begin():
            took = s.execute(
                update(ConsultTicket)
                .where(ConsultTicket.id == tid, ConsultTicket.draft_state == "pending")
                .values(draft_state="running")
            )
            if took.rowcount != 1:  # type: ignore[attr-defined]
                continue
            return _job(s, tid)
    return None


def _job(s: Session, tid: int) -> Job:
    row = s.get(ConsultTicket, tid)
    assert row is not None
    first = s.scalars(
        select(ConsultMessage)
        .where(ConsultMessage.ticket_id == tid, ConsultMessage.direction == "in")
        .order_by(ConsultMessage.id)
    ).first()
    notes: list[tuple[str, str]] = []
    if first is not None:
        atts = s.scalars(select(ConsultAttachment).where(ConsultAttachment.message_id == first.id))
        for att in atts:
            if att.text is None and att.stored_path and _is_pdf(att):
                att.text = pdf_text(Path(att.stored_path).read_bytes())
            if att.text and att.text.strip():
                notes.append((att.filename, att.text[:MAX_NOTE]))
    return Job(tid, question_text(row.subject, first.body_text if first else ""), tuple(notes))


def _is_pdf(att: ConsultAttachment) -> bool:
    if att.content_type == "application/pdf" or att.filename.lower().endswith(".pdf"):
        return True
    try:
        with open(att.stored_path or "", "rb") as fh:
            return fh.read(5) == b"%PDF-"
    except OSError:
        return False


def finish(db: Engine, ticket_id: int, text: str, citations: list[dict[str, Any]], state: str = "done") -> None:
    """Store a draft, unless a consultant wrote one meanwhile (their edit wins)."""
    with writing(db) as s, s.begin():
        s.execute(
            update(ConsultTicket)
            .where(ConsultTicket.id == ticket_id, ConsultTicket.draft_state == "running")
            .values(draft=text, draft_citations=json.dumps(citations), draft_state=state)
        )


def pending(db: Engine) -> int:
    """Tickets whose draft is not made yet (pending or running)."""
    with Session(db) as s:
        n = s.scalar(
            select(func.count())
            .select_from(ConsultTicket)
            .where(ConsultTicket.draft_state.in_(("pending", "running")), ConsultTicket.review.is_(False))
        )
    return int(n or 0)


def recover(db: Engine) -> int:
    """Tickets left ``running`` by a process that stopped go back to pending (run once at receiver start)."""
    with writing(db) as s, s.begin():
        done = s.execute(
            update(ConsultTicket).where(ConsultTicket.draft_state == "running").values(draft_state="pending")
        )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def make_draft(kb: Any, job: Job) -> tuple[str, list[dict[str, Any]]]:
    """The draft text (CasePilot's answer, its sources, and what Case2Code and the audit find in the notes)
    and its citations."""
    from medcode import ask

    parts: list[str] = []
    cites: list[dict[str, Any]] = []
    if job.question:
        answer = ask(kb, job.question)
        parts.append(answer.answer)
        cites = [c.as_json() for c in answer.citations]
        if answer.notices:
            parts.append("\n".join(f"Note: {n}" for n in answer.notices))
        if cites:
            parts.append("Sources:\n" + "\n".join(_cite(i, c) for i, c in enumerate(cites, 1)))
    codes = list(dict.fromkeys(_CODE.findall(job.question)))
    for name, text in job.notes:
        parts.append(_note_part(kb, name, text, codes))
        cites.append({"family": "attachment", "release": "", "file": name, "row": "", "link": None})
    return "\n\n".join(p for p in parts if p).strip(), cites


def _cite(i: int, c: dict[str, Any]) -> str:
    return f"[{i}] {c.get('file', '')} ({c.get('family', '')}, release {c.get('release', '')}), row {c.get('row', '')}"


def _note_part(kb: Any, name: str, text: str, codes: list[str]) -> str:
    from medcode import audit, suggest

    out = [f"Attached note {name}:"]
    try:
        found = suggest(kb, text)
        procs = ", ".join(f"{p.code} ({p.confidence:.2f})" for p in found.procedures) or "none"
        diags = ", ".join(f"{d.code} ({d.confidence:.2f})" for d in found.diagnoses) or "none"
        out.append(f"Case2Code suggests procedures {procs}; diagnoses {diags}.")
    except Exception as exc:
        out.append(f"Case2Code could not read the note ({exc.__class__.__name__}).")
    for code in codes:
        try:
            result = audit(kb, text, [code])
            out.extend(f"Audit of {c.code}: {c.summary}" for c in result.codes)
        except Exception as exc:  # an unknown or malformed code named in the question
            out.append(f"Audit of {code}: not run ({exc.__class__.__name__}).")
    return "\n".join(out)


def work(db: Engine, conf: Any, wake: Any, stop: Any, poll: float = 5.0) -> None:
    """Draft pending tickets until ``stop`` is set; sleep on ``wake`` (threading or multiprocessing Events)
    while there are none."""
    kb: Any = None
    while not stop.is_set():
        try:
            job = claim(db)
        except Exception:
            log.exception("consult drafts: could not read the queue")
            job = None
        if job is None:
            wake.wait(poll)
            wake.clear()
            continue
        try:
            if kb is None:
                from medcode.kb.store import open_kb

                kb = open_kb(Path(conf.home))
            text, cites = make_draft(kb, job)
            finish(db, job.ticket_id, text, cites)
        except Exception as exc:
            log.warning("consult draft of ticket %s failed: %s", job.ticket_id, exc.__class__.__name__)
            try:
                finish(db, job.ticket_id, f"No draft: {exc.__class__.__name__}.", [], "failed")
            except Exception:  # the database is gone too: the ticket stays running until `recover`
                stop.wait(poll)


class Drafter:
    """One background thread that drafts pending tickets; :meth:`wake` after a ticket is stored."""

    def __init__(self, db: Engine, conf: Any, *, poll_seconds: float = 5.0) -> None:
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(
            target=work,
            args=(db, conf, self._wake, self._stop, poll_seconds),
            name="medcode-consult-drafts",
            daemon=True,
        )

    def start(self) -> Drafter:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)


def _process_main(url: str, conf: Any, wake: Any, stop: Any, poll: float) -> None:
    import signal

    from medcode.app import db as appdb

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it (Ctrl-C reaches the whole group)
    parent = os.getppid()

    def orphaned() -> None:  # the parent was killed without stopping it: end too
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    work(appdb.engine(url), conf, wake, stop, poll)


class DraftProcess:
    """The drafter in a process of its own (spawned), so that drafting does not take the receiver's share of
    the interpreter; same interface as :class:`Drafter`."""

    def __init__(self, url: str, conf: Any, *, poll_seconds: float = 5.0) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._wake, self._stop = ctx.Event(), ctx.Event()
        self._proc = ctx.Process(
            target=_process_main,
            args=(url, conf, self._wake, self._stop, poll_seconds),
            name="medcode-consult-drafts",
            daemon=True,
        )

    def start(self) -> DraftProcess:
        self._proc.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)


_DRAFTERS: dict[int, Drafter] = {}
_LOCK = threading.Lock()


def background(db: Engine, conf: Any) -> Drafter:
    """This process's drafter for ``db`` (started on first use); call ``.wake()`` after storing a ticket."""
    with _LOCK:
        found = _DRAFTERS.get(id(db))
        if found is None:
            found = _DRAFTERS[id(db)] = Drafter(db, conf).start()
        return found
