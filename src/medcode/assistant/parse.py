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
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from datetime import date
from functools import cache, lru_cache

from medcode.assistant.model import Question
from medcode.kb.store import KnowledgeBase
from medcode.vocab import VocabularyError
from medcode.vocab.tsv import read

__all__ = ["KINDS", "Rule", "parse", "rules"]

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
MEMO = "assistant.parse"
RANGE_MAX = 30  # a procedure code range with more codes than this keeps its two ends only

_TOKEN = re.compile(r"(?<![A-Za-z0-9.$])([A-Za-z]?\d[0-9A-Za-z]{1,6}(?:\.[0-9A-Za-z]{1,4})?)(?![A-Za-z0-9]|\.\d)")
_PROC = re.compile(r"\d{4}[0-9FTU]|[A-Z]\d{4}")
_PROC_SHAPE = re.compile(r"\d{4}[0-9A-Z]|[A-Z]\d{4}")  # a procedure code, or one that would be (2070A)
_ICD = re.compile(r"[A-Z]\d[0-9A-Z](?:\.?[0-9A-Z]{1,4})?")
_ATTACHED = re.compile(r"\A((?:-[0-9A-Z]{2}(?![0-9A-Za-z]))+)")
_RANGE_SEP = re.compile(r"\A\s*(?:-|–|to|through|thru)\s*\Z", re.IGNORECASE)
_MODIFIER = re.compile(
    r"\b(?i:modif[a-z]*|mod)\s*(?:of\s+)?-?\s*([0-9A-Z]{2})(?![0-9A-Za-z])(?:\s*(?:,|and|or|/)\s*-?([0-9A-Z]{2})(?![0-9A-Za-z]))?"
    r"|\b([0-9A-Z]{2})\s+(?i:modifier)\b|(?<![0-9A-Za-z])-([0-9]{2}|[A-Z]{2})(?![0-9A-Za-z])"
    r"|\b(TC|XE|XS|XP|XU|LT|RT|JZ|JW|GA|GY|GZ|KX|QW|PT|FX)\b"
)
_ZIP = re.compile(r"\bzip(?:\s*code)?\s*(?:is|of|#|:|=)?\s*(\d{5})(?:-\d{4})?\b", re.IGNORECASE)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATES = (
    (re.compile(r"\b(20\d\d)-(\d{1,2})-(\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(20\d\d|\d\d)\b"), "mdy"),
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}),?\s+(20\d\d)\b", re.IGNORECASE), "Mdy"),
    (re.compile(rf"\b{_MONTH}\s+(?:of\s+)?(20\d\d)\b", re.IGNORECASE), "My"),
    (re.compile(r"\b(20\d\d)\s*-?\s*q([1-4])\b|\bq([1-4])\s*(20\d\d)\b", re.IGNORECASE), "q"),
)
_YEAR = re.compile(r"(?<![\d-])(20[0-4]\d)(?![\d-])")
_WORD = re.compile(r"[a-z][a-z']*")


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


@dataclass(frozen=True)
class _Known:
    """What the parser reads from the knowledge base once: the codes and the locality names."""

    procedures: tuple[str, ...]  # sorted
    procedure_set: frozenset[str]
    icd: dict[str, str]  # compact -> dotted
    icd_sorted: tuple[str, ...]  # the compact codes, sorted
    places: dict[str, tuple[str, int]]  # lower-case name words -> (MAC-LOC, strength)
    vocabulary: frozenset[str]


def _known(kb: KnowledgeBase) -> _Known:
    found = kb.memo.get(MEMO)
    if found is None:
        found = kb.memo[MEMO] = _load(kb)
    return found  # type: ignore[no-any-return]


def _load(kb: KnowledgeBase) -> _Known:
    procs = {r[0] for r in kb.query("SELECT DISTINCT hcpcs FROM rvus")}
    procs |= {r[0] for r in kb.query("SELECT code FROM hcpcs_codes WHERE length(code) = 5")}
    procs |= {r[0] for r in kb.query("SELECT code FROM code_presence") if _PROC.fullmatch(r[0])}
    icd = dict(kb.query("SELECT compact, code FROM icd10cm_codes WHERE kind NOT IN ('chapter', 'block')"))
    places: dict[str, tuple[str, int]] = {}

    def put(name: str, key: str, strength: int) -> None:
        name = " ".join(name.lower().replace(".", " ").split())
        if len(name) >= 3 and strength > places.get(name, ("", -1))[1]:
            places[name] = (key, strength)

    gpci = kb.resolve("gpci", None)
    if gpci is not None:
        for mac, loc, name in kb.query(
            "SELECT mac, locality, name FROM gpcis WHERE release_id = ?", (gpci.release.ids[0],)
        ):
            key = f"{mac}-{loc}"
            name = name.strip("* ")
            main, _, inner = name.partition("(")
            put(main, key, 4)
            parts = [p.strip() for p in re.split(r"[-/,]", main) if p.strip()]
            for i, part in enumerate(parts):
                put(part, key, 3 if i == 0 else 2)
            if main.upper().startswith("METROPOLITAN "):
                put(main[len("METROPOLITAN ") :], key, 3)
            for part in re.split(r"[/,]", inner.rstrip(")").replace("CNTY", "")):
                if " " in part.strip():  # multi-word county names only: "orange", "king" are words
                    put(part, key, 2 if parts and part.strip() != parts[0] else 3)
            if inner and parts and parts[0].lower() in inner.lower():
                put(parts[0], key, 5)  # "San Francisco": the locality that holds San Francisco county
    counties = kb.resolve("locality", None)
    if counties is not None:  # a state's name: its locality when it has one, else the place alone
        states: dict[str, set[str]] = {}
        for mac, loc, state in kb.query(
            "SELECT mac, locality, state FROM locality_counties WHERE release_id = ?", (counties.release.ids[0],)
        ):
            for name in state.split("/"):
                states.setdefault(name.strip(), set()).add(f"{mac}-{loc}")
        for name, keys in states.items():
            put(name, next(iter(keys)) if len(keys) == 1 else "", 1)
    for row in read("assistant/places.tsv", ("name", "locality")):
        put(row["name"], row["locality"], 6)
    vocab: set[str] = set()
    for rule in read("assistant/kinds.tsv", ("kind", "codes", "phrases")):
        vocab.update(_WORD.findall(rule["phrases"].lower()))
    for row in read("assistant/words.tsv", ("role", "phrases")):
        vocab.update(_WORD.findall(row["phrases"].lower()))
    for name in places:
        vocab.update(_WORD.findall(name))
    known = next(r["phrases"] for r in read("assistant/words.tsv", ("role", "phrases")) if r["role"] == "known")
    return _Known(
        tuple(sorted(procs)),
        frozenset(procs),
        icd,
        tuple(sorted(icd)),
        places,
        frozenset(w for w in vocab if len(w) >= 3) | frozenset(known.split("|")),
    )


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, or limit + 1 when above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=8192)
def _correct(word: str, vocabulary: frozenset[str]) -> str:
    """The vocabulary word ``word`` is a typo of (same first letter; 1 edit, 2 from 8 letters), or itself."""
    if word in vocabulary or len(word) < 4:
        return word
    limit = 2 if len(word) >= 8 else 1
    best, score = word, limit + 1
    for v in vocabulary:
        if v[0] != word[0] or (len(word) == 4 and len(v) <= 4):
            continue
        d = _distance(word, v, limit)
        if d < score or (d == score and best != word and len(v) > len(best)):
            best, score = v, d
    return best


def normalized(kb: KnowledgeBase, text: str) -> str:
    """The question lower-cased with its misspelt words corrected."""
    vocab = _known(kb).vocabulary
    return re.sub(r"[a-z]+", lambda m: _correct(m.group(0), vocab), " ".join(text.lower().split()))


def _dates(text: str) -> tuple[date | None, int | None, str]:
    """The date and year asked, and the text with them blanked out."""
    day: date | None = None
    years: list[int] = []
    for pattern, form in _DATES:
        for m in pattern.finditer(text):
            g = m.groups()
            try:
                if form == "ymd":
                    found = date(int(g[0]), int(g[1]), int(g[2]))
                elif form == "mdy":
                    y = int(g[2]) + (2000 if len(g[2]) == 2 else 0)
                    found = date(y, int(g[0]), int(g[1]))
                elif form == "Mdy":
                    found = date(int(g[2]), _MONTHS.index(g[0].lower()[:3]) + 1, int(g[1]))
                elif form == "My":
                    found = date(int(g[1]), _MONTHS.index(g[0].lower()[:3]) + 1, 1)
                else:
                    yq = (g[0], g[1]) if g[0] else (g[3], g[2])
                    found = date(int(yq[0]), 3 * (int(yq[1]) - 1) + 1, 1)
            except ValueError:
                continue
            day = day or found
            years.append(found.year)
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    years.extend(int(y) for y in _YEAR.findall(text))
    text = _YEAR.sub(lambda m: " " * len(m.group(0)), text)
    return day, (max(years) if years else None), text


@dataclass(frozen=True)
class _Codes:
    codes: tuple[str, ...]
    modifiers: dict[str, tuple[str, ...]]
    unknown: tuple[str, ...]

    @property
    def procedures(self) -> int:
        return sum(1 for c in self.codes if _PROC_SHAPE.fullmatch(c))

    @property
    def icd(self) -> bool:
        return any(not _PROC_SHAPE.fullmatch(c) for c in self.codes)


def _identify(known: _Known, token: str) -> tuple[str | None, str]:
    """(the code, its system) for a code-shaped token, (None, '') when it is no code."""
    up = token.upper()
    if "." not in up and _PROC.fullmatch(up) and up in known.procedure_set:
        return up, "proc"
    if _ICD.fullmatch(up):
        compact = up.replace(".", "")
        dotted = known.icd.get(compact)
        if dotted is not None:
            return dotted, "icd"
        if compact.endswith("X") and len(compact) >= 5:  # M80.08X: the full codes add a 7th character
            i = bisect_left(known.icd_sorted, compact)
            if i < len(known.icd_sorted) and known.icd_sorted[i].startswith(compact):
                return f"{compact[:3]}.{compact[3:]}", "icd"
    return None, ""


def _unknown(token: str) -> bool:
    """A code-shaped token that would be a code if it existed: five characters starting with four
    digits (99216, 2070A), a capital and four digits (J9999), or an ICD-10-CM shape written in
    capitals with a dot or of four characters or more (E11.99, M1713). Three-character shapes
    without a dot (B12, A1C) are too often words to be called codes."""
    up = token.upper()
    if re.fullmatch(r"\d{4}[0-9A-Z]", up):
        return True
    if token != up:
        return False
    return bool(_PROC.fullmatch(up) or (_ICD.fullmatch(up) and ("." in up or len(up) >= 4)))


def _codes(known: _Known, text: str, zip_span: tuple[int, int] | None) -> _Codes:
    found: list[tuple[int, int, str, str]] = []  # start, end, code, system
    unknown: list[str] = []
    mods: dict[str, list[str]] = {}
    spans: list[tuple[int, int]] = []  # of the codes and the modifiers written on them
    for m in _TOKEN.finditer(text):
        if zip_span and zip_span[0] <= m.start() < zip_span[1]:
            continue
        token = m.group(1)
        code, system = _identify(known, token)
        if code is None:
            if _unknown(token) and token.upper() not in unknown:
                unknown.append(token.upper())
            continue
        found.append((m.start(), m.end(), code, system))
        spans.append((m.start(), m.end()))
        attached = _ATTACHED.match(text[m.end() :])
        if attached and system == "proc":
            mods.setdefault(code, []).extend(x for x in attached.group(1).split("-") if x)
            spans.append((m.end(), m.end() + attached.end()))
    codes: list[str] = []
    for i, (start, _end, code, system) in enumerate(found):
        if i and system == "proc" and found[i - 1][3] == "proc" and _RANGE_SEP.match(text[found[i - 1][1] : start]):
            lo, hi = sorted((found[i - 1][2], code))
            inside = known.procedures[bisect_left(known.procedures, lo) : bisect_right(known.procedures, hi)]
            if len(inside) <= RANGE_MAX and len({len(c) for c in inside}) == 1:
                codes.extend(c for c in inside if c not in codes)
        if code not in codes:
            codes.append(code)
    free: list[tuple[int, str]] = []
    for m in _MODIFIER.finditer(text):
        for g in m.groups():
            if g and not any(s <= m.start() < e for s, e in spans):
                free.append((m.start(), g.upper()))
    for pos, mod in free:
        procs = [(abs(s - pos), c) for s, _, c, sys in found if sys == "proc"]
        target = min(procs)[1] if procs else ""
        if mod not in mods.get(target, []):
            mods.setdefault(target, []).append(mod)
    return _Codes(
        tuple(codes),
        {k: tuple(dict.fromkeys(v)) for k, v in mods.items()},
        tuple(u for u in unknown if u not in codes),
    )


def _without_seventh(known: _Known, code: str) -> str:
    compact = code.replace(".", "")
    return known.icd.get(compact[:6], code) if len(compact) == 7 else code


def _place(known: _Known, words: str) -> tuple[str | None, str | None]:
    """(MAC-LOC, the place as written) of the longest locality name in the question."""
    tokens = re.sub(r"'s\b|[.,?!:;()]", " ", words).split()
    best: tuple[int, int, str, str] | None = None
    for n in (4, 3, 2, 1):
        for i in range(len(tokens) - n + 1):
            name = " ".join(tokens[i : i + n])
            hit = known.places.get(name)
            if hit and (best is None or (n, hit[1]) > best[:2]):
                best = (n, hit[1], hit[0], name)
        if best:
            break
    return (best[2] or None, best[3]) if best else (None, None)


def _condition(cond: str, c: _Codes, has_mod: bool) -> bool:
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


def _kind(words: str, c: _Codes) -> str | None:
    has_mod = any(c.modifiers.values())
    for rule in rules():
        if _condition(rule.codes, c, has_mod) and rule.pattern.search(words):
            return rule.kind
    return None


def _asks_of_a_code(words: str) -> Rule | None:
    """The rule about one code that a question without a code asks ("is shingles billable?")."""
    return next((r for r in rules() if r.codes in ("icd", "proc", "proc1") and r.pattern.search(words)), None)


def _setting(words: str) -> str | None:
    w = _words()
    if w["office"].search(words):
        return "office"
    return "facility" if w["facility"].search(words) else None


def _lay_terms(words: str, place: str | None) -> str:
    if place:
        words = words.replace(place, " ")
    words = _words()["drop"].sub(" ", words)
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
    elif payment or kind is not None or w["procedure"].search(words) or w["hcpcs"].search(words):
        system = "hcpcs" if "hcpcs" in words else "cpt,hcpcs"
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
    if "." not in code or not _ICD.fullmatch(code):
        return (code,)
    if "category" in words:
        return (code.split(".")[0],)
    # a diagnosis: the code found, and the headers above it among the next hits (shingles: B02.9 and B02)
    return (code, *(h.code for h in hits[1:3] if code.startswith(h.code) and h.code != code))


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
    known = _known(kb)
    asked_day, year, rest = _dates(text)
    z = _ZIP.search(rest)
    zip5 = z.group(1) if z else None
    c = _codes(known, rest, z.span(1) if z else None)
    if zip5 is None:  # "what does 20610 pay in 90210?": five digits that are no code, after "in"
        for u in c.unknown:
            if u.isdigit() and re.search(rf"\b(?:in|at|near)\s+(?:zip\s+)?{u}\b", rest, re.IGNORECASE):
                zip5 = u
                c = replace(c, unknown=tuple(x for x in c.unknown if x != u))
                break
    words = normalized(kb, rest)
    locality, place = (None, None) if zip5 else _place(known, words)
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
        if not (zip5 or locality):
            zip5, locality, place = previous.zip, previous.locality, previous.place
        if asked_day is None and year is None:
            asked_day, year = previous.day, previous.year
        setting = setting or previous.setting
    elif not c.codes and not c.unknown and kind not in ("locality", "modifiers", "guidelines"):
        asked = _asks_of_a_code(words)
        if w["lay"].search(words) or asked:
            lay = " ".join(rest.lower().split())
            terms = _lay_terms(asked.pattern.sub(" ", lay) if asked else lay, place) or None
            resolved = (
                _identify(known, code)[0]
                for code in (_lay(kb, terms, words, asked.kind if asked else None) if terms else ())
            )
            c = replace(c, codes=tuple(x for x in resolved if x is not None))
            kind = _kind(words, c) or kind
            if kind in (None, "guidelines", "locality", "modifiers"):
                kind = "description"
            if kind == "seventh":  # the 7th character is what is asked: the code it is added to
                c = replace(c, codes=tuple(_without_seventh(known, x) for x in c.codes))
        else:
            kind = "locality" if zip5 or place else "guidelines"
    if zip_code and not zip5 and not locality:
        zip5 = zip_code.strip()[:5]
    if asked_day is None and day is not None and year is None:
        asked_day = day
    if asked_day is not None:
        year = year if year and year != asked_day.year else asked_day.year
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
