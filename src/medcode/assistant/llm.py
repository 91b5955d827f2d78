"""Optional phrasing of CasePilot's answers by a language model, from the retrieved facts only.

The model (any OpenAI-compatible chat endpoint set by ``MEDCODE_LLM_URL``, ``MEDCODE_LLM_MODEL``,
``MEDCODE_LLM_KEY``: the configuration of ``medcode.language.llm``) is sent the deterministic answer:
its text, its citations (each with an id) and its codes, and asked to reword it under a JSON schema
whose citation ids and codes are enums of those. The reply is then checked:

- every code-like string (CPT, Category III, HCPCS, ICD-10-CM shapes) must be one of the answer's codes
  (or a string the deterministic text itself holds, such as a ZIP code);
- every number must appear in the deterministic text or in a cited row's key, release or file name;
- the citations and codes it lists must be ids and codes it was given;
- it keeps at least one figure of the answer when the answer has figures, and is not a bare code;
- it says "no", "not" (and the like) when the answer does, and only then (a "not billable" never
  becomes "billable").

Anything else (a timeout, an HTTP error, no server, ``finish_reason == "length"``, a reply that is not
the schema, or fails a check) keeps the deterministic answer, with a notice saying why. The model
rewords; it never adds a fact (ARCHITECTURE.md rule 8). The question goes to the configured endpoint
only; it is never logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from medcode.assistant.model import Answer
from medcode.language import llm as language_llm
from medcode.language.llm import Config, config

__all__ = ["Config", "PhraseError", "answer_question", "checked", "config", "phrase", "request_body", "schema"]

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 1200  # of the phrased text (the schema's maxLength)
MIN_ANSWER_CHARS = 40  # or the whole answer's length when it is shorter
MAX_TOKENS = 400
SYSTEM_PROMPT = (
    "You are a medical coding assistant. Reword the answer below for a coder in two or three plain "
    "sentences. Use ONLY the facts given: do not add codes, numbers, dates or amounts that are not in "
    "the answer. Answer with JSON only: the reworded answer, the ids of the citations it relies on, and "
    "the codes it speaks of."
)
# code shapes: CPT (5 digits), Category III and other CPT (4 digits + letter), HCPCS Level II (letter +
# 4 digits), ICD-10-CM (letter, digit, digit or letter, then up to 4 more after an optional dot)
CODE_LIKE = re.compile(r"(?<![0-9A-Za-z.])(?:[0-9]{4}[0-9A-Z]|[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?)(?![0-9A-Za-z])")
NEGATION = re.compile(r"\b(?:no|not|never|none|cannot|can't|isn't|aren't|doesn't|don't|without)\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9][0-9,]*(?:\.[0-9]+)?")


class PhraseError(RuntimeError):
    """The model's reply cannot be used (the message says why; it never holds the question)."""


def _norm(code: str) -> str:
    return code.replace(".", "").upper()


def _numbers(text: str) -> set[Decimal]:
    out = set()
    for m in NUMBER.finditer(CODE_LIKE.sub(" ", text)):
        raw = m.group(0).rstrip(",").replace(",", "")
        try:
            out.add(Decimal(raw))
        except InvalidOperation:
            continue
    return out


def _facts(answer: Answer) -> str:
    """The facts as the model reads them: the answer, then each citation with its id, then the codes."""
    lines = [f"Answer: {answer.answer}", "Citations:"]
    for n, c in enumerate(answer.citations, 1):
        lines.append(f"[c{n}] {c.family}, file {c.file}, release {c.release}, row {c.row}")
    lines.append(f"Codes: {', '.join(answer.codes) or 'none'}")
    return "\n".join(lines)


def _shortest(answer: Answer) -> int:
    """The fewest characters a rewording may have (a bare code is no answer)."""
    return min(MIN_ANSWER_CHARS, len(answer.answer))


def schema(answer: Answer) -> dict[str, Any]:
    """The reply's JSON schema: ``{"answer", "citations", "codes"}``, citations and codes as enums of the
    deterministic answer's."""
    ids = [f"c{n}" for n in range(1, len(answer.citations) + 1)]
    codes: dict[str, Any] = {"type": "array", "maxItems": len(answer.codes)}  # (a small model repeats items)
    if answer.codes:
        codes["items"] = {"type": "string", "enum": list(answer.codes)}
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "minLength": _shortest(answer), "maxLength": MAX_ANSWER_CHARS},
            "citations": {"type": "array", "items": {"type": "string", "enum": ids}, "maxItems": len(ids)},
            "codes": codes,
        },
        "required": ["answer", "citations", "codes"],
        "additionalProperties": False,
    }


def request_body(answer: Answer, question: str, conf: Config) -> dict[str, Any]:
    return {
        "model": conf.model or "medcode",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Question: {question[:2000]}\n\n{_facts(answer)}"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "casepilot_answer", "strict": True, "schema": schema(answer)},
        },
        "temperature": 0,
        "max_tokens": MAX_TOKENS,
        "stream": False,
    }


def _post(body: dict[str, Any], conf: Config) -> bytes:
    """The raw reply of the chat endpoint (the same request and failures as Case2Code's re-rank)."""
    return language_llm.post(body, conf, PhraseError)


def parse_reply(raw: bytes, answer: Answer) -> str:
    """The phrased text of a chat-completion reply, after every check (``PhraseError`` otherwise)."""
    try:
        choice = json.loads(raw)["choices"][0]
        finish = choice.get("finish_reason")
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise PhraseError("the reply is not a chat completion") from None
    if finish == "length":
        raise PhraseError("the reply was cut at its length limit")
    try:
        reply = json.loads(content)
        text, cited, codes = reply["answer"], reply["citations"], reply["codes"]
    except (ValueError, KeyError, TypeError):
        raise PhraseError('the reply is not {"answer", "citations", "codes"}') from None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_ANSWER_CHARS:
        raise PhraseError("the reply's answer is empty, not text or too long")
    if len(" ".join(text.split())) < _shortest(answer):
        raise PhraseError(f"the reply's answer is under {_shortest(answer)} characters")
    ids = {f"c{n}" for n in range(1, len(answer.citations) + 1)}
    if not isinstance(cited, list) or not all(isinstance(c, str) and c in ids for c in cited):
        raise PhraseError("the reply cites rows it was not given")
    if not isinstance(codes, list) or not all(isinstance(c, str) and c in answer.codes for c in codes):
        raise PhraseError("the reply lists codes it was not given")
    problem = checked(text, answer)
    if problem is not None:
        raise PhraseError(problem)
    return " ".join(text.split())


def checked(text: str, answer: Answer) -> str | None:
    """What is wrong with a phrasing of ``answer`` (a code or number it was not given), None when nothing."""
    known = {_norm(c) for c in answer.codes} | {_norm(m.group(0)) for m in CODE_LIKE.finditer(answer.answer)}
    for m in CODE_LIKE.finditer(text):
        if _norm(m.group(0)) not in known:
            return f"the reply names {m.group(0)!r}, which is not among the answer's codes"
    cited = " ".join(f"{c.row} {c.release} {c.file}" for c in answer.citations)
    numbers = _numbers(answer.answer) | _numbers(cited)
    said = _numbers(text)
    for n in sorted(said):
        if n not in numbers:
            return f"the reply states the number {n}, which is not in the answer or its cited rows"
    if _numbers(answer.answer) and not said & _numbers(answer.answer):
        return "the reply leaves out every figure of the answer"
    if bool(NEGATION.search(text)) != bool(NEGATION.search(answer.answer)):  # "is billable" for "is not billable"
        return "the reply " + ("adds a negation" if NEGATION.search(text) else "drops the answer's negation")
    return None


def phrase(answer: Answer, question: str, conf: Config | None) -> Answer:
    """``answer`` reworded by the model when one is configured and its reply passes every check; else
    ``answer`` itself (with a notice when the model was asked and not used). An answer without
    citations (no facts to reword: "2070A is not a code") is never sent."""
    if conf is None or not answer.citations:
        return answer
    try:
        text = parse_reply(_post(request_body(answer, question, conf), conf), answer)
    except PhraseError as exc:
        log.warning("language model phrasing not used: %s", exc)
        notice = f"The language model's wording was not used ({exc}); this is medcode's own answer."
        return dataclasses.replace(answer, notices=(*answer.notices, notice))
    notice = "Worded by a language model from the cited rows; every code and number in it was checked against them."
    return dataclasses.replace(answer, answer=text, notices=(*answer.notices, notice))


def answer_question(
    kb: Any,
    question: str,
    *,
    conversation_id: str | None = None,
    day: date | None = None,
    zip_code: str | None = None,
    conf: Config | None = None,
) -> Answer:
    """``medcode.assistant.ask`` and, with a model configured, ``phrase`` (what the CLI, the API and the
    page call). A ZIP code given apart from the question must be in a locality: ``UnknownLocality``
    (``PricingError`` for one that is not a ZIP code) otherwise, so the interfaces can name the field."""
    from medcode.assistant import ask
    from medcode.pricing import find_locality

    if zip_code is not None:
        find_locality(kb, zip_code=zip_code, day=day)
    found = ask(kb, question, conversation_id=conversation_id, day=day, zip_code=zip_code)
    return phrase(found, question, conf)
