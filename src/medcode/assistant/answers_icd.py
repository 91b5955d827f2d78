"""CasePilot's ICD-10-CM answers: billable or header, the codes under a code, Excludes1/Excludes2,
code first and use additional code notes, 7th characters, and questions on the Official Guidelines.

Facts about a code come only from ``medcode.lookup.get_code`` (the code page's ``DiagnosisCode``: its
hierarchy, children, tabular notes inherited from its category, block and chapter, 7th characters and
whether it is billable); what a note type means and guideline rules come from the guidelines table
(``assistant.guidelines``), cited with section and page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date

from medcode.assistant import guidelines as gl
from medcode.assistant.model import Answer, Citation, Question
from medcode.codes import MalformedCode, UnknownCode, compact_icd
from medcode.kb.models import DiagnosisCode, DiagnosisNote
from medcode.kb.store import KnowledgeBase
from medcode.lookup import get_code

__all__ = ["ANSWERS"]

ICD = re.compile(r"(?<![A-Za-z0-9.])([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?![0-9A-Za-z])")
RANGE = re.compile(
    r"(?<![A-Za-z0-9.])([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)-?\s*-\s*([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)"
)
KIND_WORDS = re.compile(
    r"\b(excludes?\s*[12]?|exclud\w*|notes?|codes?|coded|coding|type|together|same|time|say|says|first|code first"
    r"|sequenced?|before|billed|bill|report\w*|with|any|have|has|need|needs|instruction)\b",
    re.IGNORECASE,
)
LIST_LIMIT = 30  # codes named in one answer
NOTE_LIMIT = 12  # notes quoted in one answer


# --- shared -----------------------------------------------------------------------------------


def lookup_code(kb: KnowledgeBase, code: str, day: date | None) -> DiagnosisCode | None:
    try:
        found = get_code(kb, code, day=day)
    except (UnknownCode, MalformedCode):
        return None
    return found if isinstance(found, DiagnosisCode) else None


def find_diagnoses(
    kb: KnowledgeBase, q: Question, fits: Callable[[DiagnosisCode], bool] | None = None
) -> tuple[list[DiagnosisCode], bool]:
    """The ICD-10-CM codes of the question; when it names none, the code its lay words find (the
    first of the best five that ``fits``, if given): then the second value is True, the question
    was read loosely."""
    found = [d for c in q.codes if (d := lookup_code(kb, c, q.day)) is not None]
    if found or not q.terms:
        return found, False
    from medcode.language.index import concept_index

    hits = concept_index(kb).lookup(q.terms, k=5, systems=("ICD-10-CM",), semantic=False)
    for hit in hits:
        d = lookup_code(kb, hit.code, q.day)
        if d is not None and (fits is None or fits(d)):
            return [d], True
    return [], False


def existing_codes(kb: KnowledgeBase, text: str, day: date | None, seen: dict[str, str | None]) -> list[str]:
    """The ICD-10-CM codes named in ``text`` that the knowledge base holds, as it writes them."""
    out = []
    for c in ICD.findall(text):
        if c not in seen:
            d = lookup_code(kb, c, day)
            seen[c] = d.code if d is not None else None
        found = seen[c]
        if found is not None and found not in out:
            out.append(found)
    return out


def cite_code(d: DiagnosisCode, anchor: str | None = None) -> Citation:
    src = d.sources[0]
    link = f"/codes/{d.code}" + (f"#{anchor}" if anchor else "")
    return Citation(src.family, src.release, src.file, d.code, link)


def guideline_section(kb: KnowledgeBase, number: str, day: date | None) -> tuple[gl.Section, Citation] | None:
    g = gl.load(kb, day)
    if g is None:
        return None
    s = gl.section(g, number)
    return (s, gl.cite(g, s)) if s is not None else None


def no_code(q: Question, what: str) -> Answer:
    named = f" ({', '.join(q.unknown)} is not an ICD-10-CM code in the knowledge base)" if q.unknown else ""
    return Answer(
        f"Which ICD-10-CM code? Name one to see {what}{named}.",
        confidence="low",
        kind=q.kind,
        followups=("Is E11.9 billable?", "What are the codes under S72.0?"),
    )


def unique_codes(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def label_of(d: DiagnosisCode) -> str:
    return f"{d.code} ({d.description})"


def notices_of(d: DiagnosisCode, loose: bool) -> tuple[tuple[str, ...], str]:
    notices = d.notices + (("The question named no code: read as " + d.code + ".",) if loose else ())
    return notices, "medium" if loose or d.notices else "high"


# --- billable ---------------------------------------------------------------------------------


def answer_icd_billable(kb: KnowledgeBase, q: Question) -> Answer:
    found, loose = find_diagnoses(kb, q)
    if not found:
        return no_code(q, "whether it is billable")
    parts, codes, cites = [], [], []
    for d in found:
        codes.append(d.code)
        cites.append(cite_code(d))
        if d.billable:
            parts.append(f"Yes, {label_of(d)} is billable: a valid code to report on a claim (ICD-10-CM {d.release}).")
            continue
        under = d.children[:LIST_LIMIT]
        listed = "; ".join(f"{x.code}{'' if x.billable else ' (header)'}" for x in under)
        more = f" and {len(d.children) - len(under)} more" if len(d.children) > len(under) else ""
        if under and all(x.kind == "extension" for x in under):
            why = f"it needs a 7th character. Report one of the {len(d.children)} codes under it"
        else:
            why = f"it is a header ({d.kind}) with {len(d.children)} codes under it. Report one of them"
        parts.append(f"No, {label_of(d)} is not billable: {why}: {listed}{more}.")
        codes.extend(x.code for x in under)
        cites[-1] = cite_code(d, "children-h")
    rule = guideline_section(kb, "I.A.3", q.day)
    if rule is not None and any(not d.billable for d in found):
        parts.append(
            f"Only codes are reported, never categories or subcategories (guideline I.A.3, page {rule[0].page})."
        )
        cites.append(rule[1])
    notices, confidence = notices_of(found[0], loose)
    d = found[0]
    follow = (f"What are the codes under {d.code}?",) if d.children else (f"Does {d.code} have a code first note?",)
    return Answer(
        " ".join(parts),
        tuple(cites),
        unique_codes(codes),
        confidence,
        (*follow, f"What does {d.code} exclude?"),
        q.kind,
        notices,
    )


# --- children ---------------------------------------------------------------------------------


def answer_icd_children(kb: KnowledgeBase, q: Question) -> Answer:
    found, loose = find_diagnoses(kb, q)
    if not found:
        return no_code(q, "the codes under it")
    d = found[0]
    if not d.children:
        state = "it is billable itself" if d.billable else "it is not billable"
        text = f"{label_of(d)} has no codes under it: {state}."
        codes: list[str] = [d.code]
    else:
        under = d.children[:LIST_LIMIT]
        listed = "; ".join(f"{x.code} {x.description} ({'billable' if x.billable else 'header'})" for x in under)
        more = f"; and {len(d.children) - len(under)} more on the code page" if len(d.children) > len(under) else ""
        text = f"{label_of(d)} has {len(d.children)} codes directly under it: {listed}{more}."
        codes = [d.code, *(x.code for x in under)]
    notices, confidence = notices_of(d, loose)
    first = d.children[0].code if d.children else d.code
    return Answer(
        text,
        (cite_code(d, "children-h"),),
        unique_codes(codes),
        confidence,
        (f"Is {first} billable?", f"What does {d.code} exclude?"),
        q.kind,
        notices,
    )


# --- notes: excludes, code first --------------------------------------------------------------


def _covers(note: str, code: str) -> bool:
    """Whether a note's codes take in ``code`` (a code under one it names, one it names under
    ``code``, or a code in a range it names)."""
    target = compact_icd(code)
    for a, b in RANGE.findall(note):
        if compact_icd(a)[:3] <= target[:3] <= compact_icd(b)[:3]:
            return True
    for c in ICD.findall(note):
        n = compact_icd(c)
        if target.startswith(n) or n.startswith(target):
            return True
    return False


def _topic_words(q: Question, codes: Iterable[str]) -> set[str]:
    from medcode.language.lexical import normalise

    text = q.text
    for c in codes:
        text = text.replace(c, " ").replace(compact_icd(c), " ")
    text = ICD.sub(" ", KIND_WORDS.sub(" ", gl.FUNCTION_WORDS.sub(" ", text)))
    return set(normalise(text))


def _by_topic(q: Question, notes: list[DiagnosisNote], codes: Iterable[str]) -> list[DiagnosisNote]:
    """The notes sharing most words with the question's own words (all when it has none)."""
    from medcode.language.lexical import normalise

    words = _topic_words(q, codes)
    if not words:
        return notes
    scored = [(len(words & set(normalise(n.text))), n) for n in notes]
    best = max((s for s, _ in scored), default=0)
    return [n for s, n in scored if s == best] if best else notes


def _source(n: DiagnosisNote) -> str:
    """The code a note is written under ("" for a chapter or a block)."""
    return "" if n.source_code.isdigit() or "-" in n.source_code else n.source_code


def _where(n: DiagnosisNote, d: DiagnosisCode) -> str:
    if n.source_code == d.code:
        return f"at {d.code}"
    if n.source_code.isdigit():
        return f"at chapter {n.source_code}"
    return f"at {n.source_code}"


def _render(notes: list[DiagnosisNote], d: DiagnosisCode, label: str) -> str:
    shown = notes[:NOTE_LIMIT]
    groups: dict[str, str] = {}
    for n in shown:
        text = n.text.strip().lstrip(",;: ").strip()
        where = _where(n, d)
        before = groups.get(where)
        groups[where] = text if before is None else before + (" " if before.endswith(":") else ", ") + text
    body = "; ".join(f"{label} {where}: {texts}" for where, texts in groups.items())
    more = f" (and {len(notes) - len(shown)} more on the code page)" if len(notes) > len(shown) else ""
    return body + more


def answer_excludes(kb: KnowledgeBase, q: Question) -> Answer:
    found, loose = find_diagnoses(kb, q)
    if not found:
        return no_code(q, "its Excludes1 and Excludes2 notes")
    want = {"excludes1", "excludes2"}
    m = re.search(r"excludes?\s*([12])|type\s*([12])\s*excludes", q.text, re.IGNORECASE)
    if m:
        want = {f"excludes{m.group(1) or m.group(2)}"}
    parts: list[str] = []
    cites: list[Citation] = []
    codes = [d.code for d in found]
    seen: dict[str, str | None] = {}
    used: set[str] = set()
    others = [c for c in q.codes if c not in codes] + codes
    pair = len(found) > 1 or len(q.codes) > 1
    for d in found:
        notes = [n for t in ("excludes1", "excludes2") if t in want for n in getattr(d, t)]
        if pair:
            targets = [c for c in others if c != d.code]
            notes = [n for n in notes if any(_covers(n.text, c) for c in targets)]
            if not notes:
                continue
        else:
            notes = _by_topic(q, notes, codes)
        for t, label in (("excludes1", "Excludes1"), ("excludes2", "Excludes2")):
            chosen = [n for n in notes if n.type == t]
            if chosen:
                parts.append(f"{d.code}: {_render(chosen, d, label)}.")
                used.add(t)
                cites.append(cite_code(d, f"{t}-h"))
                for n in chosen[:NOTE_LIMIT]:
                    codes.extend(existing_codes(kb, f"{_source(n)} {n.text}", q.day, seen))
    if not parts:
        names = " and ".join(codes)
        kinds = " or ".join(sorted(x.capitalize() for x in want))
        above = "them" if pair else "it"
        text = f"No {kinds} note of {names} (or of the category, block and chapter above {above})"
        text += " names the other code." if pair else " was found."
        return Answer(text, tuple(cite_code(d) for d in found), unique_codes(codes), "high", (), q.kind, ())
    if pair:
        together = "excludes1" not in used
        parts.insert(0, "Yes, both may be coded when both are present." if together else "No, not together.")
    for t, number, meaning in (
        (
            "excludes1",
            "I.A.12.a",
            "Excludes1 means the excluded condition is never coded with this one (not coded here)",
        ),
        (
            "excludes2",
            "I.A.12.b",
            "Excludes2 means the excluded condition is not part of this one, but a patient may have both, "
            "and then both are coded",
        ),
    ):
        rule = guideline_section(kb, number, q.day)
        if t in used and rule is not None:
            parts.append(f"{meaning} (guideline {number}, page {rule[0].page}).")
            cites.append(rule[1])
    notices, confidence = notices_of(found[0], loose)
    d = found[0]
    return Answer(
        " ".join(parts),
        tuple(cites),
        unique_codes(codes),
        confidence,
        (f"Does {d.code} have a code first note?", f"Is {d.code} billable?"),
        q.kind,
        notices,
    )


def answer_code_first(kb: KnowledgeBase, q: Question) -> Answer:
    found, loose = find_diagnoses(kb, q)
    if not found:
        return no_code(q, "its code first and use additional code notes")
    additional = bool(re.search(r"\badditional\b|\balso\b", q.text, re.IGNORECASE))
    parts: list[str] = []
    cites: list[Citation] = []
    codes = [d.code for d in found]
    seen: dict[str, str | None] = {}
    for d in found:
        notes: list[tuple[str, str, list[DiagnosisNote]]] = [("code_first", "Code first", list(d.code_first))]
        if additional or not d.code_first:
            notes.append(("use_additional_code", "Use additional code", list(d.use_additional_code)))
        said = False
        for key, label, chosen in notes:
            if not chosen:
                continue
            parts.append(f"{d.code}: {_render(chosen, d, label)}.")
            cites.append(cite_code(d, f"{key}-h"))
            said = True
            for n in chosen[:NOTE_LIMIT]:
                codes.extend(existing_codes(kb, f"{_source(n)} {n.text}", q.day, seen))
        if not said:
            parts.append(f"{label_of(d)} has no code first or use additional code note, at the code or above it.")
            cites.append(cite_code(d))
    rule = guideline_section(kb, "I.A.13", q.day)
    if rule is not None and any(d.code_first for d in found):
        parts.append(
            "Code first marks a manifestation code: the underlying condition is sequenced before it "
            f"(guideline I.A.13, page {rule[0].page})."
        )
        cites.append(rule[1])
    notices, confidence = notices_of(found[0], loose)
    d = found[0]
    return Answer(
        " ".join(parts),
        tuple(cites),
        unique_codes(codes),
        confidence,
        (f"What does {d.code} exclude?", f"Is {d.code} billable?"),
        q.kind,
        notices,
    )


ANSWERS: dict[str, Callable[[KnowledgeBase, Question], Answer]] = {
    "icd_billable": answer_icd_billable,
    "icd_children": answer_icd_children,
    "excludes": answer_excludes,
    "code_first": answer_code_first,
}
