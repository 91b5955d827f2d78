"""CasePilot's question reader: what a coder's question asks (its kind) and about what (codes,
modifiers, ZIP or locality, date or year, facility or office), with follow-ups taking what they
leave out from the question before.

Kinds are keyword rules kept as data (``vocab/assistant/kinds.tsv``, tried in order); misspelt words
are corrected against the words of those rules and of the locality names before matching. Codes are
checked against the knowledge base: a code-shaped string that is no code goes to ``unknown``. A
question without a code that asks for one ("how much does a knee injection pay?") is resolved through
``medcode.search`` and keeps its words in ``terms``."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from functools import cache

from medcode.assistant.model import Question
from medcode.assistant.reading import (
    ICD,
    LOCALITY_KEY,
    ZIP,
    Codes,
    codes_in,
    dates,
    identify,
    known,
    normalized,
    place_in,
    without_seventh,
)
from medcode.kb.store import KnowledgeBase
from medcode.vocab import VocabularyError
from medcode.vocab.tsv import read

__all__ = ["KINDS", "Rule", "parse", "rules"]

# a word naming an operation or a test by its ending ("colonoscopy", "tonsillectomy", "arthroplasty")
_OPERATION = re.compile(r"[a-z]{3,}(?:ectomy|otomy|ostomy|plasty|scopy|graphy|pexy|rrhaphy|centesis|desis|tripsy)s?\b")
_UNITS = re.compile(r"(?<![A-Za-z0-9])[x×]\s*\d{1,4}\b|\b\d{1,4}\s*units?\b", re.IGNORECASE)
LAY_WORDS = 4  # a question of at most this many words, none of them asking anything, is a lay name

KINDS = (
    "description",
    "status",
    "payment",
    "global",
    "indicators",
    "addon",
    "ptp",
    "mue",
    "siblings",
    "modifiers",
    "icd_billable",
    "icd_children",
    "excludes",
    "code_first",
    "seventh",
    "guidelines",
    "claim",
    "locality",
)
CONDITIONS = ("any", "none", "icd", "proc", "proc1", "proc2", "mod")


@dataclass(frozen=True)
class Rule:
    kind: str
    codes: str
    pattern: re.Pattern[str]


def _phrase_regex(phrases: str) -> str:
    parts = []
    for p in phrases.split("|"):
        p = p.strip().lower()
        if not p:
            continue
        body = re.escape(p[:-1]) + r"[a-z0-9]*" if p.endswith("*") else re.escape(p)
        parts.append(rf"(?<![a-z0-9]){body}(?![a-z0-9])")
    return "|".join(parts)


@cache
def rules() -> tuple[Rule, ...]:
    """The kind rules of ``vocab/assistant/kinds.tsv``, in order."""
    out = []
    for n, row in enumerate(read("assistant/kinds.tsv", ("kind", "codes", "phrases")), start=1):
        if row["kind"] not in KINDS:
            raise VocabularyError(f"assistant/kinds.tsv rule {n}: field 'kind': unknown kind {row['kind']!r}")
        if row["codes"] not in CONDITIONS:
            raise VocabularyError(f"assistant/kinds.tsv rule {n}: field 'codes': {row['codes']!r} not in {CONDITIONS}")
        out.append(Rule(row["kind"], row["codes"], re.compile(_phrase_regex(row["phrases"]))))
    return tuple(out)


@cache
def _words() -> dict[str, re.Pattern[str]]:
    return {
        r["role"]: re.compile(_phrase_regex(r["phrases"])) for r in read("assistant/words.tsv", ("role", "phrases"))
    }


@cache
def _stop() -> frozenset[str]:
    row = next(r for r in read("assistant/words.tsv", ("role", "phrases")) if r["role"] == "stop")
    return frozenset(row["phrases"].split("|"))


def _condition(cond: str, c: Codes, has_mod: bool) -> bool:
    if cond == "any":
        return True
    if cond == "none":
        return not c.codes
    if cond == "icd":
        return c.icd
    if cond == "proc":
        return c.procedures >= 1
    if cond == "proc1":
        return c.procedures == 1
    if cond == "proc2":
        return c.procedures >= 2
    return has_mod and c.procedures >= 1  # mod


def _kind(words: str, c: Codes) -> str | None:
    has_mod = any(c.modifiers.values())
    for rule in rules():
        if _condition(rule.codes, c, has_mod) and rule.pattern.search(words):
            return rule.kind
    return None


def _asks_of_a_code(words: str) -> Rule | None:
    """The rule about one code that a question without a code asks ("is shingles billable?")."""
    generic = _words()["generic"]
    for r in rules():
        if r.codes in ("icd", "proc", "proc1") and any(
            not generic.fullmatch(m.group(0)) for m in r.pattern.finditer(words)
        ):  # a word that says what is asked ("billable"), not one any question has ("with")
            return r
    return None


def _setting(words: str) -> str | None:
    w = _words()
    if w["office"].search(words):
        return "office"
    return "facility" if w["facility"].search(words) else None


def _lay_terms(words: str, place: str | None) -> str:
    if place:
        words = re.sub(rf"(?<![a-z0-9]){re.escape(place)}(?![a-z0-9])", " ", words)
    words = _words()["drop"].sub(" ", words)
    words = re.sub(r"\((?:no|not|without|w/o|non)\b[^)]*\)", " ", words)  # "hay fever (no asthma)": what it is not
    stop = _stop()
    kept = [t for t in re.findall(r"[a-z0-9][a-z0-9'-]*", words) if t not in stop and t.strip("'-") not in stop]
    return " ".join(kept)


ICD_KINDS = frozenset({"icd_billable", "icd_children", "excludes", "code_first", "seventh"})


def _lay(kb: KnowledgeBase, terms: str, words: str, kind: str | None) -> tuple[str, ...]:
    """The code a question's lay words name (``medcode.search``): a payable CPT/HCPCS code for a
    payment question, an ICD-10-CM code when it asks for a diagnosis."""
    from medcode.search import SearchError, search

    w = _words()
    payment = any(r.kind == "payment" and r.pattern.search(words) for r in rules())
    if kind in ICD_KINDS or (w["icd"].search(words) and not payment):
        system = "icd10cm"
    elif payment or kind is not None or any(x.search(words) for x in (w["procedure"], w["hcpcs"], _OPERATION)):
        system = "hcpcs" if w["hcpcs_only"].search(words) else "cpt" if w["cpt_only"].search(words) else "cpt,hcpcs"
    else:  # a condition: "code for shingles?"
        system = "icd10cm"
    for row in read("assistant/lay.tsv", ("phrase", "search")):
        terms = re.sub(rf"\b{re.escape(row['phrase'])}\b", row["search"], terms)
    try:
        hits = list(search(kb, terms, system=system, limit=8).hits)
    except SearchError:
        return ()
    if not hits:
        return ()
    if w["jcode"].search(words):  # "ondansetron J code": the drug's J code, not its oral Q code
        hits = [h for h in hits if h.code.startswith("J")] or hits
    if payment:
        payable = {
            r[0]
            for r in kb.query(
                f"SELECT hcpcs FROM rvus WHERE status IN ('A', 'R', 'T') AND hcpcs IN ({','.join('?' * len(hits))})",
                tuple(h.code for h in hits),
            )
        }
        hits = [h for h in hits if h.code in payable] or hits
    code = hits[0].code
    if "." not in code or not ICD.fullmatch(code):
        return (code,)
    if "category" in words:
        return (code.split(".")[0],)
    # a diagnosis: the code found, and the headers above it among the next hits (shingles: B02.9 and B02)
    return (code, *(h.code for h in hits[1:3] if code.startswith(h.code) and h.code != code))


def _ends_with(pattern: re.Pattern[str], words: str) -> bool:
    return re.search(rf"(?:{pattern.pattern})[\s?.!]*\Z", words) is not None


def _resolve(kb: KnowledgeBase, terms: str | None, words: str, kind: str | None) -> tuple[str, ...]:
    """The codes of the knowledge base that a question's lay words name."""
    facts = known(kb)
    found = (identify(facts, code)[0] for code in (_lay(kb, terms, words, kind) if terms else ()))
    return tuple(x for x in found if x is not None)


def parse(
    kb: KnowledgeBase,
    text: str,
    previous: Question | None = None,
    day: date | None = None,
    zip_code: str | None = None,
) -> Question:
    """What ``text`` asks; ``previous``: the question before in the conversation (a follow-up
    takes its kind, codes, place, date and setting when it does not give its own); ``day`` and
    ``zip_code``: given beside the question (the question's own win)."""
    facts = known(kb)
    asked_day, year, rest = dates(text)
    key = next(  # "locality 13202-01": the MAC and locality numbers (not a ZIP code, nor 99213-25)
        (m for m in LOCALITY_KEY.finditer(rest) if m.group(1) not in facts.procedure_set and m.group(0) in facts.keys),
        None,
    )
    if key:
        rest = rest[: key.start()] + " " * (key.end() - key.start()) + rest[key.end() :]
    z = ZIP.search(rest)
    zip5 = z.group(1) if z else None
    c = codes_in(facts, rest, z.span(1) if z else None)
    asks_place = any(r.kind == "locality" and r.pattern.search(rest.lower()) for r in rules())
    pays = any(r.kind == "payment" and r.pattern.search(rest.lower()) for r in rules())
    if zip5 is None:  # "what does 20610 pay in 90210?", "what locality is 11354": five digits that are no code
        for u in c.unknown:
            after = re.search(rf"\b(?:in|at|near)\s+(?:zip\s+)?{u}\b", rest, re.IGNORECASE)
            if u.isdigit() and (after or asks_place):
                zip5 = u
                c = replace(c, unknown=tuple(x for x in c.unknown if x != u))
                break
    if zip5 is None and asks_place and not pays and len(c.codes) == 1 and c.codes[0].isdigit():
        zip5, c = c.codes[0], replace(c, codes=())  # "78701 locality?": a ZIP code that is also a CPT code
    words = normalized(kb, rest)
    locality, place = (None, None) if zip5 else place_in(facts, words, rest)
    if key:
        locality, place = f"{key.group(1)}-{key.group(2)}", None
    if place and place.upper() in facts.states:  # "pay in GA": Georgia, not the modifier GA
        state = place.upper()
        if not (c.procedures or asks_place or pays):  # "a new MI": a myocardial infarction, not Michigan
            locality, place = None, None
        c = replace(c, modifiers={k: tuple(m for m in v if m != state) for k, v in c.modifiers.items()})
    setting = _setting(words)
    kind = _kind(words, replace(c, codes=c.codes + c.unknown))  # a code that is not one still says what is asked
    terms: str | None = None
    w = _words()
    followup = previous is not None and bool(
        w["followup"].match(words)
        or w["refer"].search(words)
        or (not c.codes and not c.unknown and not w["lay"].search(words))
    )
    if followup and previous is not None:
        if not c.codes and not c.unknown:
            c = replace(c, codes=previous.codes, modifiers=dict(previous.modifiers))
        again = _kind(words, c)
        kind = again if again not in (None, "description") or not previous.kind else previous.kind
        if kind == "locality" and c.codes:
            kind = previous.kind
        if kind == "description" and c.codes and (zip5 or place):  # "and in Atlanta?": what it pays there
            kind = "payment"
        if not (zip5 or locality):
            zip5, locality, place = previous.zip, previous.locality, previous.place
        if asked_day is None and year is None:
            asked_day, year = previous.day, previous.year
        setting = setting or previous.setting
    elif not c.codes and not c.unknown and (zip5 or locality) and not w["lay"].search(words):
        kind = "locality"  # "what MAC covers ZIP 73301?"
    elif not c.codes and not c.unknown and kind not in ("locality", "modifiers", "guidelines"):
        asked = _asks_of_a_code(words)
        lay = " ".join(rest.lower().split())
        if w["lay"].search(words) or asked:
            terms = _lay_terms(asked.pattern.sub(" ", lay) if asked else lay, place) or None
            c = replace(c, codes=_resolve(kb, terms, words, asked.kind if asked else None))
            kind = _kind(words, c) or kind
            if kind in (None, "guidelines", "locality", "modifiers"):
                kind = "description"
            if kind == "seventh":  # the 7th character is what is asked: the code it is added to
                c = replace(c, codes=tuple(without_seventh(facts, x) for x in c.codes))
        elif zip5 or place:
            kind = "locality"
        else:  # a few words and nothing asked of them ("frozen shoulder code", "pinworms dx"): a lay name
            few = _lay_terms(lay, place)
            kind = None if kind == "description" else kind  # "what does X mean" of no code: not a code's description
            if few and kind is None and (len(few.split()) <= LAY_WORDS or _ends_with(w["lay_tail"], words)):
                c = replace(c, codes=_resolve(kb, few, words, None))
                if c.codes:
                    terms, kind = few, "description"
            kind = kind or "guidelines"
    if zip_code and not zip5 and not locality:
        zip5 = zip_code.strip()[:5]
    if asked_day is None and day is not None and year is None:
        asked_day = day
    if asked_day is not None:
        year = year if year and year != asked_day.year else asked_day.year
    if kind is None and c.procedures and _UNITS.search(rest):
        kind = "claim"  # "88305 x 20 on one date": the units the claim checker would allow
    if kind is None and c.procedures and (zip5 or locality or place or setting or "$" in text):
        kind = "payment"  # "45385 in Queens NY, hospital setting, 2026 $?"
    if kind is None:
        kind = "ptp" if c.procedures >= 2 else "description" if c.codes else "guidelines"
    return Question(
        text=text,
        kind=kind,
        codes=tuple(c.codes),
        modifiers=c.modifiers,
        unknown=tuple(c.unknown),
        terms=terms,
        zip=zip5,
        locality=locality,
        place=place,
        day=asked_day,
        year=year,
        setting=setting,
    )
