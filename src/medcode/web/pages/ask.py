"""The CasePilot page (/ask): a chat with the coding assistant.

Works without JavaScript: the form posts, and the server renders the conversation so far (kept in the
server process by conversation id, a hidden field of the form) with the new answer; each suggested
follow-up is a submit button of its own small form. With JavaScript (``static/site.js``) the same forms
send the question to POST /api/ask and the answer is added without a reload. Every text (questions,
answers, citations) is escaped by Jinja2; a citation links only to a path on this site.

``GET /ask?q=...`` (the code page's "Ask CasePilot about CODE" link) answers the question at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medcode.assistant.conversation import new_id as new_conversation_id
from medcode.assistant.model import Answer
from medcode.pricing import PricingError
from medcode.web.api.ask import MAX_QUESTION, run_ask
from medcode.web.pages import pages
from medcode.web.pages.suggest import FormError, _day, _form, _one

router = APIRouter(include_in_schema=False)
FORM_BYTES = 32 * 1024
_CONVERSATION = re.compile(r"[A-Za-z0-9_-]{8,64}")
_ZIP = re.compile(r"[0-9]{5}(-?[0-9]{4})?")
_LINK = re.compile(r"/[A-Za-z0-9._~/%#?=&+-]*")  # a path on this site (not //host)
EXAMPLES = (
    "Can 20702 be billed alone?",
    "Does 20702 need modifier 51?",
    "What does 99213 pay in Manhattan?",
    "Can 45380 and 45378 be billed together?",
    "Is S72.0 billable?",
)


@dataclass(frozen=True)
class Turn:
    question: str
    answer: Answer


class Transcripts:
    """The turns of each conversation shown on the page, in this process: the most recently used
    ``max_conversations``, each for ``keep_seconds`` after its last question, its last ``max_turns``."""

    def __init__(self, max_conversations: int = 2000, max_turns: int = 30, keep_seconds: float = 3600.0):
        self.max_conversations, self.max_turns, self.keep_seconds = max_conversations, max_turns, keep_seconds
        self._items: OrderedDict[str, tuple[float, tuple[Turn, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def turns(self, conversation_id: str) -> tuple[Turn, ...]:
        with self._lock:
            hit = self._items.get(conversation_id)
            if hit is None or time.monotonic() - hit[0] > self.keep_seconds:
                return ()
            return hit[1]

    def add(self, conversation_id: str, turn: Turn) -> tuple[Turn, ...]:
        """The conversation with ``turn`` added at its end."""
        turns = (*self.turns(conversation_id), turn)[-self.max_turns :]
        with self._lock:
            self._items[conversation_id] = (time.monotonic(), turns)
            self._items.move_to_end(conversation_id)
            while len(self._items) > self.max_conversations:
                self._items.popitem(last=False)
        return turns


TRANSCRIPTS = Transcripts()


def safe_link(link: str | None) -> str | None:
    """A citation's link when it is a path on this site, else None (it is shown without a link)."""
    if link and _LINK.fullmatch(link) and not link.startswith("//"):
        return link
    return None


def _page(request: Request, status: int = 200, **context: Any) -> Response:
    context.setdefault("examples", EXAMPLES)
    context.setdefault("max_question", MAX_QUESTION)
    context.setdefault("safe_link", safe_link)
    return pages(request).page(request, "ask.html", status=status, cache=False, **context)


async def _answer(
    request: Request, question: str, conversation: str, date_text: str, zip_text: str
) -> tuple[int, dict[str, Any]]:
    """(status, page context) for a question of the form or of ``?q=``."""
    shown = {"conversation_id": conversation, "date": date_text, "zip": zip_text}
    try:
        question = " ".join(question.split())
        if not question:
            raise FormError("Write a question (for example: Does 20702 need modifier 51?).")
        if len(question) > MAX_QUESTION:
            raise FormError(f"The question is {len(question):,} characters; at most {MAX_QUESTION:,}.")
        if zip_text and not _ZIP.fullmatch(zip_text):
            raise FormError(f"The ZIP code {zip_text[:20]!r} is not five digits (or ZIP+4).")
        day = _day(date_text)
    except FormError as exc:
        turns = TRANSCRIPTS.turns(conversation)
        return exc.status, {**shown, "error": str(exc), "turns": turns, "question": question[:MAX_QUESTION]}
    try:
        found = await run_ask(request, question, conversation, day, zip_text or None)
    except PricingError as exc:  # a ZIP code in no locality
        turns = TRANSCRIPTS.turns(conversation)
        return 422, {**shown, "error": str(exc), "turns": turns, "question": question}
    return 200, {**shown, "turns": TRANSCRIPTS.add(conversation, Turn(question, found))}


@router.get("/ask")
async def ask_page(request: Request) -> Response:
    """The chat; ``?q=`` asks that question in a new conversation."""
    question = request.query_params.get("q", "")
    if not question.strip():
        return _page(request, conversation_id=new_conversation_id(), turns=())
    status, context = await _answer(request, question[: MAX_QUESTION + 1], new_conversation_id(), "", "")
    return _page(request, status, **context)


@router.post("/ask")
async def ask_submit(request: Request) -> Response:
    try:
        form = await _form(request, FORM_BYTES)
    except FormError as exc:
        return _page(request, exc.status, error=str(exc), conversation_id=new_conversation_id(), turns=())
    conversation = _one(form, "conversation_id")
    if not _CONVERSATION.fullmatch(conversation):
        conversation = new_conversation_id()
    question = (form.get("question") or [""])[0]
    status, context = await _answer(
        request, question[: MAX_QUESTION + 1], conversation, _one(form, "date")[:40], _one(form, "zip")[:20]
    )
    return _page(request, status, **context)
