"""CasePilot: answers to coders' questions from the knowledge base, with the rows they came from.

    answer = medcode.ask(kb, "What does 99213 pay in Manhattan?")
    again = medcode.ask(kb, "and in Chicago?", conversation_id=answer.conversation_id)

``ask`` reads the question (``assistant.parse``), says so when a code does not exist, and hands the
question to the answerer of its kind (``ANSWERS`` of ``answers_codes`` and ``answers_icd``); the
conversation keeps the last question so a follow-up takes what it leaves out."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import cache

from medcode.assistant import conversation
from medcode.assistant.answers_seventh import with_guideline
from medcode.assistant.model import Answer, Citation, Question
from medcode.assistant.parse import KINDS, parse
from medcode.codes import suggest
from medcode.kb.store import KnowledgeBase
from medcode.pricing import PricingError

__all__ = ["KINDS", "Answer", "Citation", "Question", "answerers", "ask", "parse"]

log = logging.getLogger(__name__)
ANSWER_MODULES = ("answers_codes", "answers_icd", "answers_seventh", "answers_locality")
Answerer = Callable[[KnowledgeBase, Question], Answer]


@cache
def answerers() -> dict[str, Answerer]:
    """kind -> answerer, merged from the answer modules present."""
    merged: dict[str, Answerer] = {}
    for name in ANSWER_MODULES:
        full = f"medcode.assistant.{name}"
        try:
            module = importlib.import_module(full)
        except ModuleNotFoundError as e:
            if e.name != full:
                raise
            continue
        merged.update(getattr(module, "ANSWERS", {}))
    return merged


def _not_a_code(kb: KnowledgeBase, q: Question) -> Answer:
    said: list[str] = []
    near: list[str] = []
    for code in q.unknown[:3]:
        nearest = suggest(kb, code, limit=3)
        near.extend(c for c in nearest if c not in near)
        said.append(
            f"{code} is not a code: it is in none of the CPT/HCPCS or ICD-10-CM files loaded."
            + (f" The nearest codes that exist are {', '.join(nearest)}." if nearest else "")
        )
    cites = tuple(
        Citation(r.release.family, r.release.name, r.release.files[0].file, "(no such code)")
        for r in (kb.resolve("pprrvu", None), kb.resolve("hcpcs", None), kb.resolve("icd10cm", None))
        if r is not None
    )
    return Answer(
        " ".join(said),
        citations=cites,
        codes=tuple(near),
        confidence="low",
        followups=tuple(f"What is {c}?" for c in near[:3]),
        kind=q.kind,
    )


def _cannot(q: Question, why: str) -> Answer:
    return Answer(
        why,
        codes=q.codes,
        confidence="low",
        followups=("What does 99213 pay in Manhattan?", "Is E11.9 billable?"),
        kind=q.kind,
    )


MAX_QUESTION = 2000  # characters of a question: a coder's question is short, a longer text is a note


def _answer(kb: KnowledgeBase, q: Question) -> Answer:
    if not q.text.strip():
        return _cannot(q, "Ask a question about a code, for example: Is 20702 an add-on code?")
    if q.unknown and not q.codes:
        return _not_a_code(kb, q)
    if q.terms and not q.codes:
        return _cannot(q, f"I found no code for “{q.terms}”. Try other words, or name the code.")
    found = answerers().get(q.kind)
    if found is None:
        return _cannot(q, f"I can't answer that yet: questions of this kind ({q.kind}) have no answerer.")
    try:
        answer = found(kb, q)
    except PricingError as exc:  # a ZIP code or locality in no Medicare locality: the user's to fix
        return _cannot(q, f"I could not price that: {exc}")
    except Exception:  # an answerer's bug must not take down a chat: say so, low confidence
        log.exception("CasePilot answerer %s failed", q.kind)
        return _cannot(q, "I could not answer that: the answerer failed. The error is in the log.")
    answer = with_guideline(kb, q, answer)
    notices = list(answer.notices)
    if q.unknown:
        notices.append(f"{', '.join(q.unknown)}: not a code in the files loaded; the answer is about the other codes.")
    if q.terms and answer.confidence == "high":
        answer = replace(answer, confidence="medium")
        notices.append(f"Read “{q.terms}” as {', '.join(q.codes)}.")
    return replace(answer, notices=tuple(dict.fromkeys(notices)), kind=answer.kind or q.kind)


def ask(
    kb: KnowledgeBase,
    question: str,
    *,
    conversation_id: str | None = None,
    day: date | None = None,
    zip_code: str | None = None,
) -> Answer:
    """The answer to ``question``. ``conversation_id``: the id an earlier answer returned (a
    follow-up such as "and in Manhattan?" takes what it leaves out from that question); a new id
    when None. ``day``/``zip_code``: the date of service and ZIP when the question gives none."""
    cid = conversation_id or conversation.new_id()
    if len(question) > MAX_QUESTION:  # read nothing of it: a long text is a note (Case2Code, the audit)
        return replace(
            _cannot(
                Question(text="", kind="guidelines"),
                f"The question is {len(question):,} characters; ask in at most {MAX_QUESTION:,} "
                "(for a whole note, use Case2Code or the documentation audit).",
            ),
            conversation_id=cid,
        )
    previous = conversation.STORE.recall(cid) if conversation_id else None
    q = parse(kb, question, previous, day=day, zip_code=zip_code)
    answer = _answer(kb, q)
    conversation.STORE.remember(cid, q)
    return replace(answer, conversation_id=cid)
