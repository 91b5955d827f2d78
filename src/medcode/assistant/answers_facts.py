"""What the CPT/HCPCS answerers share: the code page of a question's code, citations of its rows
with a link to the code page section they are shown in, the stale-data notice and the answer maker.

Every fact comes from ``medcode.lookup.get_code`` (and the functions the code page and claim
checker call); this module only reads them and turns them into sentences."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date

from medcode.assistant.model import Answer, Citation, Question
from medcode.claims import Checker
from medcode.codes import MalformedCode, UnknownCode, kinds
from medcode.kb import models
from medcode.kb.store import KnowledgeBase
from medcode.lookup import get_code

__all__ = [
    "FAMILY_LABELS",
    "STATUS_NAMES",
    "asked_day",
    "checker",
    "cite",
    "exists",
    "code_page",
    "loosely",
    "make",
    "money",
    "no_code",
    "per_code",
    "stale",
]

# code-like strings in an answer (as bench/ask_bench.py finds them): every one must be in ``codes``
CODE_LIKE = re.compile(r"\b(?:\d{4}[0-9FTU]|[A-V]\d{4}|[A-TV-Z]\d[0-9A-Z]\.[0-9A-Z]{1,4})\b")
FAMILY_LABELS = {
    "pprrvu": "physician fee schedule (PFS) relative value file",
    "gpci": "GPCI file",
    "ptp_practitioner": "NCCI practitioner PTP table",
    "ptp_hospital": "NCCI outpatient hospital PTP table",
    "mue_practitioner": "NCCI practitioner MUE table",
    "aoc": "NCCI add-on code table",
    "hcpcs": "HCPCS file",
}


# One claim checker per knowledge base, as the web app keeps one: its reference tables load once.
_CHECKERS: weakref.WeakKeyDictionary[KnowledgeBase, Checker] = weakref.WeakKeyDictionary()


def checker(kb: KnowledgeBase) -> Checker:
    found = _CHECKERS.get(kb)
    if found is None:
        found = _CHECKERS[kb] = Checker(kb)
    return found


def capital(text: str) -> str:
    """``text`` with its first letter in capitals (a sentence made of a fact)."""
    return text[:1].upper() + text[1:]


def exists(kb: KnowledgeBase, code: str, day: date | None) -> bool:
    """Whether the fee schedule or the HCPCS file in force has ``code`` (the claim checker's tables:
    a cheap test before a code page lookup, whose miss looks for suggestions)."""
    facts = checker(kb).facts
    return bool(facts.pfs_rows(code, day)) or facts.hcpcs(code, day)


# The names of the PFS status codes (RVU26B.pdf, Attachment A); their meanings are in vocab.
STATUS_NAMES = {
    "A": "Active Code",
    "B": "Bundled Code",
    "C": "Carriers price the code",
    "D": "Deleted Codes",
    "E": "Excluded from Physician Fee Schedule by regulation",
    "F": "Deleted/Discontinued Codes",
    "G": "Not valid for Medicare purposes",
    "H": "Deleted Modifier",
    "I": "Not valid for Medicare purposes",
    "J": "Anesthesia Services",
    "M": "Measurement codes",
    "N": "Non-covered Services",
    "P": "Bundled/Excluded Codes",
    "R": "Restricted Coverage",
    "T": "Injections",
    "X": "Statutory Exclusion",
}


def money(x: float | None) -> str:
    return "not payable" if x is None else f"${x:,.2f}"


def asked_day(kb: KnowledgeBase, q: Question) -> date | None:
    """The date to look the code up on: the day asked; for a year alone, the start of the newest
    fee schedule release of that year (the newest release is the default), else its first day."""
    if q.day is not None:
        return q.day
    if q.year is None:
        return None
    in_year = [r for r in kb.releases.get("pprrvu", []) if r.effective_from.year == q.year]
    return in_year[-1].effective_from if in_year else date(q.year, 1, 1)


def code_page(kb: KnowledgeBase, code: str, q: Question) -> models.ProcedureCode | models.DiagnosisCode:
    """The code page the answer reads (raises UnknownCode or MalformedCode)."""
    return get_code(kb, code, day=asked_day(kb, q), zip_code=q.zip, locality=q.locality)


def procedure_page(kb: KnowledgeBase, code: str, q: Question) -> models.ProcedureCode | None:
    try:
        page = code_page(kb, code, q)
    except (UnknownCode, MalformedCode):
        return None
    return page if isinstance(page, models.ProcedureCode) else None


def cite(c: models.Citation | None, link: str | None = None) -> Citation | None:
    if c is None:
        return None
    return Citation(c.family, c.release, c.file, c.row or "", link)


def link(code: str, section: str) -> str:
    return f"/codes/{code}#{section}"


def stale(kb: KnowledgeBase, q: Question, family: str) -> str | None:
    """The notice when the newest ``family`` table loaded is older than the date (or year) asked."""
    if q.day is None and q.year is None:
        return None
    r = kb.resolve(family, q.day or date(q.year or 1, 1, 1))
    if r is None:
        return None
    rel = r.release
    asked = q.day.isoformat() if q.day else str(q.year)
    older = (q.day is not None and q.day > rel.effective_to) or (
        q.day is None and (q.year or 0) > rel.effective_to.year
    )
    if not older:
        return None
    return (
        f"The newest {FAMILY_LABELS.get(family, family)} loaded is {rel.name} (effective "
        f"{rel.effective_from.isoformat()} to {rel.effective_to.isoformat()}), older than the date asked ({asked}): "
        "this answer is from that table and its rows may have changed since."
    )


RANK = {"high": 0, "medium": 1, "low": 2}


def per_code(
    kind: str, one: Callable[[KnowledgeBase, Question], Answer], family: str | None = None, most: int = 3
) -> Callable[[KnowledgeBase, Question], Answer]:
    """An answerer for up to ``most`` codes from one for a single code: the answers one after the
    other, with the stale-data notice of ``family`` (the table the facts come from)."""

    def answer(kb: KnowledgeBase, q: Question) -> Answer:
        codes = list(dict.fromkeys(q.codes))[:most] or [""]
        parts = [one(kb, replace(q, codes=(c,) if c else ())) for c in codes]
        notice = stale(kb, q, family) if family else None
        worst = max((p.confidence for p in parts), key=RANK.__getitem__)
        if notice and worst == "high":
            worst = "medium"
        if len(parts) == 1 and not notice:
            return parts[0]
        return make(
            kind,
            [*(p.answer for p in parts), notice or ""],
            [c for p in parts for c in p.codes],
            [c for p in parts for c in p.citations],
            parts[0].followups,
            confidence=worst,
            notices=[n for p in parts for n in p.notices],
        )

    answer.__doc__ = one.__doc__
    return answer


def loosely(fn: Callable[[KnowledgeBase, Question], Answer]) -> Callable[[KnowledgeBase, Question], Answer]:
    """The answerer with confidence medium at most when the codes were read from lay words."""

    def answer(kb: KnowledgeBase, q: Question) -> Answer:
        a = fn(kb, q)
        return replace(a, confidence="medium") if q.terms and a.confidence == "high" else a

    answer.__doc__ = fn.__doc__
    return answer


def _is_diagnosis(code: str) -> bool:
    try:
        return kinds(code) == ["diagnosis"]
    except MalformedCode:
        return False


def no_code(kind: str, q: Question, why: str = "") -> Answer:
    """A low-confidence answer when no CPT/HCPCS code of the question can be read. It names the
    ICD-10-CM codes asked about (they are codes, of another kind) and no other code-like string."""
    icd = [c for c in q.codes if _is_diagnosis(c)]
    if icd:
        text = (
            f"{', '.join(icd)} {'is an ICD-10-CM code' if len(icd) == 1 else 'are ICD-10-CM codes'}, "
            "not a CPT or HCPCS procedure code."
        )
    elif q.codes or q.unknown:
        text = "The code named is not a CPT or HCPCS code in the files loaded."
    else:
        text = "I found no code in the question."
    return Answer(
        f"{text}{' ' + why if why else ''}",
        codes=tuple(icd),
        kind=kind,
        confidence="low",
        followups=("Search for the service by name", "What does a code mean?"),
    )


def make(
    kind: str,
    sentences: Iterable[str],
    codes: Iterable[str],
    citations: Iterable[Citation | None],
    followups: Iterable[str],
    *,
    confidence: str = "high",
    notices: Iterable[str] = (),
) -> Answer:
    """The answer: the sentences joined, every code the text names among ``codes`` (those named
    first, in order), citations once each."""
    text = " ".join(s.strip() for s in sentences if s and s.strip())
    out: list[str] = []
    for c in (*codes, *CODE_LIKE.findall(text)):
        if c not in out:
            out.append(c)
    cites: list[Citation] = []
    for c in citations:
        if c is not None and c not in cites:
            cites.append(c)
    notes = tuple(dict.fromkeys(n for n in notices if n))
    return Answer(
        text,
        citations=tuple(cites),
        codes=tuple(out),
        confidence=confidence,
        followups=tuple(dict.fromkeys(followups))[:3],
        kind=kind,
        notices=notes,
    )
