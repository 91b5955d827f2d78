"""CasePilot's answers on a diagnosis code's 7th character (the full codes, or the one the question's
words name) and on the ICD-10-CM Official Guidelines (the section that answers the question, with
its page). Shares the look-ups of ``answers_icd``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from medcode.assistant import guidelines as gl
from medcode.assistant.answers_icd import (
    ICD,
    cite_code,
    existing_codes,
    find_diagnoses,
    guideline_section,
    label_of,
    lookup_code,
    no_code,
    notices_of,
    unique_codes,
)
from medcode.assistant.model import Answer, Question
from medcode.kb.models import DiagnosisCode
from medcode.kb.store import KnowledgeBase

# --- 7th characters ---------------------------------------------------------------------------

# Words of a question and the words the 7th-character meanings use for them.
ENCOUNTER_WORDS = (
    (re.compile(r"\b(first|initial|new|active treatment|er visit|emergency)\b", re.I), "initial"),
    (re.compile(r"\b(follow[- ]?up|subsequent|later|after treatment|recheck|healing|aftercare)\b", re.I), "subsequent"),
    (re.compile(r"\b(sequela|sequelae|late effect|residual)\b", re.I), "sequela"),
    (re.compile(r"\b(single|one|singleton|unspecified) (fetus|gestation|pregnancy)\b", re.I), "not applicable or"),
)


def _takes_seventh(d: DiagnosisCode) -> bool:
    return d.kind == "extension" or any(x.kind == "extension" for x in d.children)


def _base(kb: KnowledgeBase, q: Question) -> tuple[DiagnosisCode | None, bool]:
    """The code the 7th character goes on: a code of the question, or one written with its placeholder
    X but without the 7th character (M80.08X: the code is M80.08). Lay words are looked up without
    the words that choose the 7th character ("follow-up visit")."""
    if q.terms and not q.codes:
        terms = q.terms
        for rx, _ in ENCOUNTER_WORDS:
            terms = rx.sub(" ", terms)
        terms = ENCOUNTER_NOISE.sub(" ", terms)
        q = replace(q, terms=" ".join(terms.split()) or q.terms)
    found, loose = find_diagnoses(kb, q, _takes_seventh)
    if found:
        d = found[0]
        if d.kind == "extension" and d.parents:
            parent = lookup_code(kb, d.parents[-1].code, q.day)
            return (parent or d), loose
        return d, loose
    for c in (*q.unknown, *q.codes):
        stripped = c.upper().rstrip("X")
        base = lookup_code(kb, stripped, q.day) if stripped != c.upper() else None
        if base is not None:
            return base, False
    return None, False


ENCOUNTER_NOISE = re.compile(r"\b(visit|encounter|which|what|code|full|7th|seventh|character)\b", re.I)


def _chosen(q: Question, meanings: dict[str, str]) -> list[str]:
    """The 7th characters the question asks for: named ("7th character D"), or whose meaning shares
    most words with the question; all when it names none."""
    from medcode.language.lexical import normalise

    named = re.findall(r"(?:7th|seventh) character\s+[\"'“]?([A-Z0-9])\b", q.text, re.IGNORECASE)
    named = [x.upper() for x in named if x.upper() in meanings]
    if named:
        return named
    text = q.text
    extra = [word for rx, word in ENCOUNTER_WORDS if rx.search(text)]
    if not extra:  # a word that names one meaning only ("moderate" of "moderate stage"), else all
        said = set(normalise(ICD.sub(" ", text)))
        sets = {k: set(normalise(v)) for k, v in meanings.items()}
        common = set.intersection(*sets.values()) if sets else set()
        hits = {k: len((s - common) & said) for k, s in sets.items()}
        most = max(hits.values(), default=0)
        winners = [k for k, n in hits.items() if n == most]
        return winners if most > 0 and len(winners) == 1 else list(meanings)
    words = set(normalise(" ".join([ICD.sub(" ", text), *extra])))
    scored = {k: len(words & set(normalise(v))) for k, v in meanings.items()}
    best = max(scored.values(), default=0)
    if best == 0:
        return list(meanings)
    top = [k for k, s in scored.items() if s == best]
    shortest = min(len(meanings[k]) for k in top)
    return [k for k in top if len(meanings[k]) == shortest][:1]


def answer_seventh(kb: KnowledgeBase, q: Question) -> Answer:
    d, loose = _base(kb, q)
    if d is None:
        return no_code(q, "its 7th characters")
    meanings = d.seventh_characters
    if not meanings:
        text = f"{label_of(d)} takes no 7th character" + (": it is billable as it is." if d.billable else ".")
        return Answer(text, (cite_code(d),), (d.code,), "high", (f"Is {d.code} billable?",), q.kind, d.notices)
    chosen = _chosen(q, meanings)
    full = {x.code[-1]: x for x in d.children if x.kind == "extension"}
    parts: list[str] = []
    codes = [d.code]
    for k in chosen:
        child = full.get(k)
        if child is not None:
            parts.append(f"{child.code} ({k}: {meanings[k]})")
            codes.append(child.code)
        else:
            parts.append(f"{k}: {meanings[k]}")
    if len(chosen) == 1 and full.get(chosen[0]) is not None:
        text = f"The code is {parts[0].replace(' (', ': 7th character ', 1).rstrip(')')} on {label_of(d)}."
    elif full:
        text = f"{label_of(d)} takes a 7th character; the full codes: {'; '.join(parts)}."
    else:
        text = f"7th characters of {label_of(d)}: {'; '.join(parts)}."
    cites = [cite_code(d, "seventh-h")]
    placeholder = any(c.code[len(d.code) :].startswith("X") for c in full.values())
    rule = guideline_section(kb, "I.A.4" if placeholder else "I.A.5", q.day)
    if rule is not None and full:
        if placeholder:
            text += (
                f" The X fills the empty character before the 7th: it is the placeholder (guideline I.A.4, page "
                f"{rule[0].page})."
            )
        else:
            text += f" The code is invalid without its 7th character (guideline I.A.5, page {rule[0].page})."
        cites.append(rule[1])
    notices, confidence = notices_of(d, loose)
    return Answer(
        text,
        tuple(cites),
        unique_codes(codes),
        confidence,
        (f"What does {d.code} exclude?", f"What are the codes under {d.code}?"),
        q.kind,
        notices,
    )


# --- the Official Guidelines ------------------------------------------------------------------


def answer_guidelines(kb: KnowledgeBase, q: Question) -> Answer:
    resolved = kb.resolve(gl.FAMILY, q.day)
    g = gl.load(kb, q.day)
    if g is None or resolved is None:
        return Answer(
            "This knowledge base holds no ICD-10-CM Official Guidelines: run `medcode ingest` with the guidelines PDF.",
            confidence="low",
            kind=q.kind,
        )
    hits = gl.find(g, q.text, 3)
    if not hits:
        return Answer(
            "I found no section of the ICD-10-CM Official Guidelines about that; try other words.",
            confidence="low",
            kind=q.kind,
            followups=("What does an Excludes1 note mean?", "When is the placeholder X required?"),
        )
    s = hits[0].section
    named = hits[0].score == float("inf")  # the question names the section: say how it begins
    said = " ".join(gl.sentences(s)[:3] if named else gl.best_sentences(g, s, q.text))
    text = f"Guideline {s.number} ({s.title}, {s.pages} of the {g.release} ICD-10-CM Official Guidelines): {said}"
    seen: dict[str, str | None] = {}
    codes = existing_codes(kb, said, q.day, seen)
    clear = len(hits) == 1 or hits[0].score >= 1.15 * hits[1].score
    notices = (resolved.note,) if resolved.note else ()
    return Answer(
        text,
        (gl.cite(g, s),),
        tuple(codes),
        "high" if clear and not notices else "medium",
        tuple(f"What does guideline {h.section.number} ({h.section.title}) say?" for h in hits[1:3]),
        q.kind,
        notices,
    )


SCENARIO_WORDS = 7  # a diagnosis question of this many words or more describes a case: the guideline on it helps
ASKS_HOW = re.compile(
    r"\b(what do i code|how do i code|how to code|which codes?|what codes?|what (?:dx|z) codes?|dx codes?|which one|"
    r"code it|code both|both|vs\.?|versus|or|another code|additional code|how many codes|first|sequenc\w*|"
    r"still code|can i|should i|can it be|need|what else|anything else|anything extra|extra|secondary|principal)\b",
    re.IGNORECASE,
)
ICD_ANSWERS = frozenset({"description", "icd_billable", "icd_children", "excludes", "code_first", "seventh"})


def with_guideline(kb: KnowledgeBase, q: Question, answer: Answer) -> Answer:
    """A diagnosis answer to a question that describes a case and asks how to code it ("CKD stage 4
    and ESRD both documented, what do I code?"), with the section of the Official Guidelines that
    best matches the question, cited with its page. Other answers are returned as they are."""
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9.'/-]*", q.text)
    diagnosis = any(ICD.fullmatch(c) for c in answer.codes) or q.kind in ICD_ANSWERS - {"description"}
    if (
        answer.kind not in ICD_ANSWERS
        or not diagnosis
        or len(words) < SCENARIO_WORDS
        or not ASKS_HOW.search(q.text)
        or answer.confidence == "low"
    ):
        return answer
    g = gl.load(kb, q.day)
    hits = gl.find(g, q.text, 2) if g is not None else []
    if g is None or not hits:
        return answer
    s = hits[0].section
    said = " ".join(gl.best_sentences(g, s, q.text, 2))
    extra = f" Guideline {s.number} ({s.title}, {s.pages} of the {g.release} ICD-10-CM Official Guidelines): {said}"
    codes = existing_codes(kb, said, q.day, {})
    return replace(
        answer,
        answer=answer.answer + extra,
        citations=(*answer.citations, gl.cite(g, s)),
        codes=unique_codes((*answer.codes, *codes)),
    )


ANSWERS: dict[str, Callable[[KnowledgeBase, Question], Answer]] = {
    "seventh": answer_seventh,
    "guidelines": answer_guidelines,
}
