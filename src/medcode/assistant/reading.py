"""Reading a question's parts for CasePilot's parser (``medcode.assistant.parse``): codes (checked
against the knowledge base, with ranges and the modifiers written on them), dates and years, ZIP
codes, locality names (with state postal abbreviations), and misspelt words corrected against the
parser's vocabulary. What the knowledge base gives (the code sets, the locality names) is read once
per knowledge base (``known``)."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from medcode.kb.store import KnowledgeBase
from medcode.vocab.tsv import read

MEMO = "assistant.parse"
RANGE_MAX = 30  # a procedure code range with more codes than this keeps its two ends only

TOKEN = re.compile(r"(?<![A-Za-z0-9.$])([A-Za-z]?\d[0-9A-Za-z]{1,6}(?:\.[0-9A-Za-z]{1,4})?)(?![A-Za-z0-9]|\.\d)")
PROC = re.compile(r"\d{4}[0-9FTU]|[A-Z]\d{4}")
PROC_SHAPE = re.compile(r"\d{4}[0-9A-Z]|[A-Z]\d{4}")  # a procedure code, or one that would be (2070A)
ICD = re.compile(r"[A-Z]\d[0-9A-Z](?:\.?[0-9A-Z]{1,4})?")
ATTACHED = re.compile(r"\A((?:-[0-9A-Z]{2}(?![0-9A-Za-z]))+)")
# a modifier written after its code with a space ("88305 26", "20610 RT"): the common pricing and
# bypass modifiers only, and not a number of minutes, units or milligrams
SPACED = re.compile(
    r"\A[ ]+(2[2-6]|5[0-9]|7[6-9]|80|82|91|TC|LT|RT|XE|XS|XP|XU|AS)(?![0-9A-Za-z.,/%$])"
    r"(?!\s*(?:min|minutes?|units?|mg|ml|mcg|x\b|times|days?|hours?|hrs?|years?|yrs?|%))",
)
RANGE_SEP = re.compile(r"\A\s*(?:-|–|to|through|thru)\s*\Z", re.IGNORECASE)
MODIFIER = re.compile(
    r"\b(?i:modif[a-z]*|mod)\s*(?:of\s+)?-?\s*([0-9A-Z]{2})(?![0-9A-Za-z])(?:\s*(?:,|and|or|/)\s*-?([0-9A-Z]{2})(?![0-9A-Za-z]))?"
    r"|\b([0-9A-Z]{2})\s+(?i:modifier)\b|(?<![0-9A-Za-z])-([0-9]{2}|[A-Z]{2})(?![0-9A-Za-z])"
    r"|\b(TC|XE|XS|XP|XU|LT|RT|JZ|JW|GA|GY|GZ|KX|QW|PT|FX)\b"
)
LOCALITY_KEY = re.compile(r"(?<![\d-])(\d{5})-(\d{2})(?![\d-])")  # MAC-LOC, as the GPCI file keys it
ZIP = re.compile(r"\bzip(?:\s*code)?\s*(?:is|of|#|:|=)?\s*(\d{5})(?:-\d{4})?\b", re.IGNORECASE)
MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATES = (
    (re.compile(r"\b(20\d\d)-(\d{1,2})-(\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(20\d\d|\d\d)\b"), "mdy"),
    (re.compile(rf"\b{MONTH}\s+(\d{{1,2}}),?\s+(20\d\d)\b", re.IGNORECASE), "Mdy"),
    (re.compile(rf"\b{MONTH}\s+(?:of\s+)?(20\d\d)\b", re.IGNORECASE), "My"),
    (re.compile(r"\b(20\d\d)\s*-?\s*q([1-4])\b|\bq([1-4])\s*(20\d\d)\b", re.IGNORECASE), "q"),
)
YEAR = re.compile(r"(?<![\d-])(20[0-4]\d)(?![\d-])")
_PLAIN = re.compile(r"[a-z]{4,}")
WORD = re.compile(r"[a-z][a-z']*")


@dataclass(frozen=True)
class Known:
    """What the parser reads from the knowledge base once: the codes and the locality names."""

    procedures: tuple[str, ...]  # sorted
    procedure_set: frozenset[str]
    icd: dict[str, str]  # compact -> dotted
    icd_sorted: tuple[str, ...]  # the compact codes, sorted
    places: dict[str, tuple[str, int]]  # lower-case name words -> (MAC-LOC, strength)
    vocabulary: frozenset[str]
    states: dict[str, str]  # postal abbreviation -> MAC-LOC of its one locality, "" when it has several
    keys: frozenset[str]  # every MAC-LOC of the GPCI file
    plain: frozenset[str]  # words of the ICD-10-CM and HCPCS descriptions: spelt right, never corrected


def known(kb: KnowledgeBase) -> Known:
    found = kb.memo.get(MEMO)
    if found is None:
        found = kb.memo[MEMO] = load(kb)
    return found  # type: ignore[no-any-return]


def load(kb: KnowledgeBase) -> Known:
    procs = {r[0] for r in kb.query("SELECT DISTINCT hcpcs FROM rvus")}
    procs |= {r[0] for r in kb.query("SELECT code FROM hcpcs_codes WHERE length(code) = 5")}
    procs |= {r[0] for r in kb.query("SELECT code FROM code_presence") if PROC.fullmatch(r[0])}
    icd = dict(kb.query("SELECT compact, code FROM icd10cm_codes WHERE kind NOT IN ('chapter', 'block')"))
    places: dict[str, tuple[str, int]] = {}

    def put(name: str, key: str, strength: int) -> None:
        name = " ".join(name.lower().replace(".", " ").split())
        if len(name) >= 3 and strength > places.get(name, ("", -1))[1]:
            places[name] = (key, strength)

    gpci = kb.resolve("gpci", None)
    gpci_keys: set[str] = set()
    if gpci is not None:
        for mac, loc, name in kb.query(
            "SELECT mac, locality, name FROM gpcis WHERE release_id = ?", (gpci.release.ids[0],)
        ):
            key = f"{mac}-{loc}"
            gpci_keys.add(key)
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
    abbreviations: dict[str, set[str]] = {}
    zips = kb.resolve("zip5", None)
    if zips is not None:  # a state's postal abbreviation ("Denver, CO"): the localities of its ZIP codes
        for state, mac, loc in kb.query(
            "SELECT DISTINCT state, mac, locality FROM zip_localities WHERE release_id = ?", (zips.release.ids[0],)
        ):
            abbreviations.setdefault(state.strip().upper(), set()).add(f"{mac}-{loc}")
    vocab: set[str] = set()
    for rule in read("assistant/kinds.tsv", ("kind", "codes", "phrases")):
        vocab.update(WORD.findall(rule["phrases"].lower()))
    for row in read("assistant/words.tsv", ("role", "phrases")):
        vocab.update(WORD.findall(row["phrases"].lower()))
    for name in places:
        vocab.update(WORD.findall(name))
    known = next(r["phrases"] for r in read("assistant/words.tsv", ("role", "phrases")) if r["role"] == "known")
    return Known(
        tuple(sorted(procs)),
        frozenset(procs),
        icd,
        tuple(sorted(icd)),
        places,
        frozenset(w for w in vocab if len(w) >= 3) | frozenset(known.split("|")),
        {s: next(iter(keys)) if len(keys) == 1 else "" for s, keys in abbreviations.items() if len(s) == 2},
        frozenset(gpci_keys),
        frozenset(_description_words(kb)),
    )


def _description_words(kb: KnowledgeBase) -> set[str]:
    words: set[str] = set()
    for family, sql in (
        ("icd10cm", "SELECT description FROM icd10cm_codes WHERE release_id = ?"),
        ("hcpcs", "SELECT long_description FROM hcpcs_codes WHERE release_id = ?"),
    ):
        resolved = kb.resolve(family, None)
        if resolved is not None:
            for (text,) in kb.query(sql, (resolved.release.ids[0],)):
                words.update(_PLAIN.findall(text.lower()))
    return words


def distance(a: str, b: str, limit: int) -> int:
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
def correct(word: str, vocabulary: frozenset[str]) -> str:
    """The vocabulary word ``word`` is a typo of (same first letter; 1 edit, 2 from 8 letters), or itself."""
    if word in vocabulary or len(word) < 4:
        return word
    limit = 2 if len(word) >= 8 else 1
    best, score = word, limit + 1
    for v in vocabulary:
        if v[0] != word[0] or (len(word) == 4 and len(v) <= 4):
            continue
        d = distance(word, v, limit)
        if d < score or (d == score and best != word and len(v) > len(best)):
            best, score = v, d
    return best


def normalized(kb: KnowledgeBase, text: str) -> str:
    """The question lower-cased with its misspelt words corrected (a word of a code description, such
    as "diagnostic", is spelt right even when it is close to a keyword such as "diagnosis")."""
    facts = known(kb)
    vocab, plain = facts.vocabulary, facts.plain

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        return word if word in plain else correct(word, vocab)

    return re.sub(r"[a-z]+", fix, " ".join(text.lower().split()))


def dates(text: str) -> tuple[date | None, int | None, str]:
    """The date and year asked, and the text with them blanked out."""
    day: date | None = None
    years: list[int] = []
    for pattern, form in DATES:
        for m in pattern.finditer(text):
            g = m.groups()
            try:
                if form == "ymd":
                    found = date(int(g[0]), int(g[1]), int(g[2]))
                elif form == "mdy":
                    y = int(g[2]) + (2000 if len(g[2]) == 2 else 0)
                    found = date(y, int(g[0]), int(g[1]))
                elif form == "Mdy":
                    found = date(int(g[2]), MONTHS.index(g[0].lower()[:3]) + 1, int(g[1]))
                elif form == "My":
                    found = date(int(g[1]), MONTHS.index(g[0].lower()[:3]) + 1, 1)
                else:
                    yq = (g[0], g[1]) if g[0] else (g[3], g[2])
                    found = date(int(yq[0]), 3 * (int(yq[1]) - 1) + 1, 1)
            except ValueError:
                continue
            day = day or found
            years.append(found.year)
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    years.extend(int(y) for y in YEAR.findall(text))
    text = YEAR.sub(lambda m: " " * len(m.group(0)), text)
    return day, (max(years) if years else None), text


@dataclass(frozen=True)
class Codes:
    codes: tuple[str, ...]
    modifiers: dict[str, tuple[str, ...]]
    unknown: tuple[str, ...]

    @property
    def procedures(self) -> int:
        return sum(1 for c in self.codes if PROC_SHAPE.fullmatch(c))

    @property
    def icd(self) -> bool:
        return any(not PROC_SHAPE.fullmatch(c) for c in self.codes)


def identify(known: Known, token: str) -> tuple[str | None, str]:
    """(the code, its system) for a code-shaped token, (None, '') when it is no code."""
    up = token.upper()
    if "." not in up and PROC.fullmatch(up) and up in known.procedure_set:
        return up, "proc"
    if ICD.fullmatch(up):
        compact = up.replace(".", "")
        dotted = known.icd.get(compact)
        if dotted is not None:
            return dotted, "icd"
        if compact.endswith("X") and len(compact) >= 5:  # M80.08X: the full codes add a 7th character
            i = bisect_left(known.icd_sorted, compact)
            if i < len(known.icd_sorted) and known.icd_sorted[i].startswith(compact):
                return f"{compact[:3]}.{compact[3:]}", "icd"
    return None, ""


def is_unknown(token: str) -> bool:
    """A code-shaped token that would be a code if it existed: five characters starting with four
    digits (99216, 2070A), a capital and four digits (J9999), or an ICD-10-CM shape written in
    capitals with a dot or of four characters or more (E11.99, M1713). Three-character shapes
    without a dot (B12, A1C) are too often words to be called codes."""
    up = token.upper()
    if re.fullmatch(r"\d{4}[0-9A-Z]", up):
        return True
    if token != up:
        return False
    return bool(PROC.fullmatch(up) or (ICD.fullmatch(up) and ("." in up or len(up) >= 4)))


def codes_in(known: Known, text: str, zip_span: tuple[int, int] | None) -> Codes:
    found: list[tuple[int, int, str, str]] = []  # start, end, code, system
    unknown: list[str] = []
    mods: dict[str, list[str]] = {}
    spans: list[tuple[int, int]] = []  # of the codes and the modifiers written on them
    for m in TOKEN.finditer(text):
        if zip_span and zip_span[0] <= m.start() < zip_span[1]:
            continue
        token = m.group(1)
        code, system = identify(known, token)
        if code is None:
            if is_unknown(token) and token.upper() not in unknown:
                unknown.append(token.upper())
            continue
        found.append((m.start(), m.end(), code, system))
        spans.append((m.start(), m.end()))
        attached = ATTACHED.match(text[m.end() :])
        if attached and system == "proc":
            mods.setdefault(code, []).extend(x for x in attached.group(1).split("-") if x)
            spans.append((m.end(), m.end() + attached.end()))
        elif system == "proc" and (spaced := SPACED.match(text[m.end() :])):
            mods.setdefault(code, []).append(spaced.group(1))
            spans.append((m.end(), m.end() + spaced.end()))
    codes: list[str] = []
    for i, (start, _end, code, system) in enumerate(found):
        if i and system == "proc" and found[i - 1][3] == "proc" and RANGE_SEP.match(text[found[i - 1][1] : start]):
            lo, hi = sorted((found[i - 1][2], code))
            inside = known.procedures[bisect_left(known.procedures, lo) : bisect_right(known.procedures, hi)]
            if len(inside) <= RANGE_MAX and len({len(c) for c in inside}) == 1:
                codes.extend(c for c in inside if c not in codes)
        if code not in codes:
            codes.append(code)
    free: list[tuple[int, str]] = []
    for m in MODIFIER.finditer(text):
        for g in m.groups():
            if g and not any(s <= m.start() < e for s, e in spans):
                free.append((m.start(), g.upper()))
    for pos, mod in free:
        procs = [(abs(s - pos), c) for s, _, c, sys in found if sys == "proc"]
        target = min(procs)[1] if procs else ""
        if mod not in mods.get(target, []):
            mods.setdefault(target, []).append(mod)
    return Codes(
        tuple(codes),
        {k: tuple(dict.fromkeys(v)) for k, v in mods.items()},
        tuple(u for u in unknown if u not in codes),
    )


def without_seventh(known: Known, code: str) -> str:
    compact = code.replace(".", "")
    return known.icd.get(compact[:6], code) if len(compact) == 7 else code


# a state's postal abbreviation after a place name or "in": "Denver, CO", "Denver CO", "in CO"
_STATE = re.compile(r"(?:,\s*|\b[Ii]n\s+|[a-z]\s+)([A-Z]{2})(?![A-Za-z0-9-])")


def place_in(known: Known, words: str, text: str = "") -> tuple[str | None, str | None]:
    """(MAC-LOC, the place as written) of the longest locality name in the question (``words``,
    lower-cased), else of a state abbreviation in ``text`` as written ("Denver, CO")."""
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
    if best is None:
        for m in _STATE.finditer(text):
            key = known.states.get(m.group(1))
            if key is not None:
                return key or None, m.group(1).lower()
    return (best[2] or None, best[3]) if best else (None, None)
