"""From what the user typed to what the index is asked: codes, ranges, word groups."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from medcode import vocab
from medcode.kb.models import Expansion
from medcode.kb.store import KnowledgeBase
from medcode.language import abbreviations
from medcode.language.words import STOPWORDS, WORD, words

MAX_CHARS = 256
MAX_GROUPS = 12
RANGE = re.compile(r"([A-Z0-9][A-Z0-9.]{2,7})\s*-\s*([A-Z0-9][A-Z0-9.]{2,7})")


@dataclass(frozen=True)
class Group:
    """One idea of the query: the words typed and every alternative searched for them."""

    typed: str
    alternatives: tuple[str, ...]  # the first is what was typed
    expansions: tuple[Expansion, ...]


@dataclass(frozen=True)
class Parsed:
    text: str
    codes: tuple[str, ...]  # tokens that look like codes or code prefixes (upper case, no dot)
    span: tuple[str, str] | None  # a code range
    groups: tuple[Group, ...]
    notices: tuple[str, ...]
    modifier_hint: bool = False  # the query says "modifier"
    only_codes: bool = False  # every token looks like a code or a code prefix


def clean(query: str) -> tuple[str, list[str]]:
    """Normalised query text (no control characters, single spaces) and notices."""
    notices = []
    text = unicodedata.normalize("NFKD", query)
    text = "".join(
        " " if unicodedata.category(c)[0] in "CZ" else c for c in text if unicodedata.category(c) != "Mn"
    )  # letters without their accents
    text = " ".join(text.split())
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0]
        notices.append(f"the query was cut to its first {MAX_CHARS} characters")
    return text, notices


def parse(kb: KnowledgeBase, query: str) -> Parsed:
    text, notices = clean(query)
    upper = text.upper()
    span = None
    m = RANGE.fullmatch(upper)
    if m:
        span = (m.group(1).replace(".", ""), m.group(2).replace(".", ""))
        return Parsed(text, (), span, (), tuple(notices))
    chunks = text.split(" ")
    hint = any(c.lower() in HINTS for c in chunks)
    chunks = [c for c in chunks if c.lower() not in HINTS]
    codes, rest = [], []
    for chunk in chunks:
        code = chunk.upper().replace(".", "")
        if _codeish(code, alone=len(chunks) == 1 or hint):
            codes.append(code)
            if not _exists(kb, code):
                rest.append(chunk)  # "a1c", "2nd": words that look like codes
        else:
            rest.append(chunk)
    groups = _groups(kb, rest)
    if len(groups) > MAX_GROUPS:
        groups = groups[:MAX_GROUPS]
        notices.append(f"only the first {MAX_GROUPS} words of the query were used")
    return Parsed(
        text, tuple(codes), span, tuple(groups), tuple(notices), hint, bool(codes) and len(codes) == len(chunks)
    )


HINTS = frozenset({"modifier", "modifiers", "mod"})
LETTERED = re.compile(r"[A-Z][0-9][0-9A-Z]{0,5}|[0-9]{4}[0-9A-Z]")


def _codeish(code: str, alone: bool) -> bool:
    """Could this token be a code or a code prefix? Short numbers ("20 minutes") are words unless
    the token is the whole query or the query says "modifier"."""
    if code.isdigit():
        return len(code) >= 3 or (alone and len(code) == 2)
    if alone and len(code) == 2 and code.isalnum():
        return True  # a modifier: LT, 59, XS
    return bool(LETTERED.fullmatch(code))


def _exists(kb: KnowledgeBase, compact: str) -> bool:
    return bool(kb.query("SELECT 1 FROM search_docs WHERE compact = ? LIMIT 1", (compact,)))


def _groups(kb: KnowledgeBase, chunks: list[str]) -> list[Group]:
    abbr, syn, regions = vocab.abbreviations(), vocab.synonyms(), anatomy()
    tokens: list[str] = []
    for chunk in chunks:
        low = chunk.lower()
        if not WORD.fullmatch(low) and (low in abbr or abbreviations.expand(low)):  # w/o, h/o, d&c ...
            tokens.append(low)
        else:
            tokens.extend(words(low))
    out: list[Group] = []
    i = 0
    while i < len(tokens):
        for n in (4, 3, 2):
            if len(tokens) - i < n:
                continue
            phrase = " ".join(tokens[i : i + n])
            extra = [(a, "synonym") for a in syn.get(phrase, ())]
            extra.extend((a, "region") for a in regions.get(phrase, ()))
            if n == 2 and (full := abbreviations.expand(phrase)) and full != phrase:
                extra.append((full, "abbreviation"))  # lap chole
            extra.extend((a, "abbreviation") for a in _short_forms().get(phrase, ()))  # physical therapy -> pt
            if extra:
                out.append(_group(phrase, extra))
                i += n
                break
        else:
            word = tokens[i]
            i += 1
            if word in STOPWORDS:
                continue
            extra = [(full, "abbreviation") for full in _abbreviation(word, abbr)]
            extra.extend((a, "synonym") for a in syn.get(word, ()))
            extra.extend((a, "region") for a in regions.get(word, ()))
            if not extra and word.isalpha() and len(word) > 3 and _count(kb, word) <= RARE:
                split = _compound(kb, word)  # earwax -> ear wax
                extra.extend((w, "spelling") for w in (split or _spelling(kb, word)))
            if word.isalpha() and len(word) >= 6:
                extra.extend((w, "word form") for w in _forms(kb, word))
            out.append(_group(word, extra))
    return out


@cache
def anatomy() -> dict[str, tuple[str, ...]]:
    """Body part -> the broader regions descriptors name it by (``vocab/anatomy.tsv``)."""
    out = {}
    for n, key, value in vocab._pairs(ANATOMY):
        regions = tuple(a.strip() for a in value.split(";"))
        if key != key.lower() or not all(regions):
            raise vocab.VocabularyError(f"{ANATOMY} line {n}: lower-case part and '; '-separated regions")
        out[key] = regions
    return out


ANATOMY = "anatomy.tsv"


@cache
def _short_forms() -> dict[str, tuple[str, ...]]:
    """Written-out phrases (two to four words) -> the abbreviations that stand for them, clinical and CMS."""
    out: dict[str, list[str]] = {}
    pairs = [(k, v) for _, k, v in vocab._pairs(abbreviations.CLINICAL)] + list(vocab.abbreviations().items())
    for key, value in pairs:
        phrase = " ".join(words(value))
        if key.isalnum() and key == key.lower() and 2 <= phrase.count(" ") + 1 <= 4 and key not in out.get(phrase, []):
            out.setdefault(phrase, []).append(key)
    return {k: tuple(v) for k, v in out.items()}


def _abbreviation(word: str, cms: dict[str, str]) -> list[str]:
    """What an abbreviation stands for: clinical usage first, then the CMS descriptors' (both when
    they differ: "pt" is a patient in descriptors, physical therapy in notes)."""
    out = []
    clinical = abbreviations.expand(word)
    if clinical and clinical != word:
        out.append(clinical)
    if word in cms and cms[word] not in out:
        out.append(cms[word])
    return out


def _group(typed: str, extra: list[tuple[str, str]]) -> Group:
    alts, exps = [typed], []
    for alt, kind in extra:
        if alt not in alts:
            alts.append(alt)
            exps.append(Expansion(typed, alt, kind))
    return Group(typed, tuple(alts), tuple(exps))


def _compound(kb: KnowledgeBase, word: str) -> list[str]:
    """An unknown word that is two known words run together ("earwax" -> "ear wax")."""
    counts = _vocabulary(kb)[0]
    best, split = 0, ""
    for i in range(3, len(word) - 2):
        left, right = word[:i], word[i:]
        if left in counts and right in counts:
            score = min(counts[left], counts[right])
            if score > best:
                best, split = score, f"{left} {right}"
    return [split] if best >= MIN_COMPOUND else []


MIN_COMPOUND = 3


def _forms(kb: KnowledgeBase, word: str) -> list[str]:
    """Other forms of ``word`` in the descriptors: CMS truncations of it ("comprehen" for
    "comprehensive", "extre" for "extremity") and compounds ending in it ("osteoarthritis" for
    "arthritis")."""
    truncated, by_end = _forms_index(kb)
    out = []
    for n in range(len(word) - 1, max(4, (len(word) + 1) // 2), -1):
        if word[:n] in truncated:
            out.append(word[:n])
            break
    counts = _vocabulary(kb)[0]
    longer = [w for w in by_end.get(word[-6:], ()) if w != word and w.endswith(word) and len(w) - len(word) >= 3]
    out.extend(sorted(longer, key=lambda w: -counts[w])[:MAX_FORMS])
    return out


MAX_FORMS = 2


def _forms_index(kb: KnowledgeBase) -> tuple[frozenset[str], dict[str, tuple[str, ...]]]:
    """Words that only CMS short descriptors use and are not abbreviations we can expand (the
    truncations), and every indexed word by its last six letters."""
    memo = kb.memo.get("search.forms")
    if memo is None:
        short: set[str] = set()
        full: set[str] = set()
        for title, desc in kb.query("SELECT title, short FROM search_docs"):
            if desc:
                short.update(words(desc))
            if desc != title:  # ICD-10-CM titles and HCPCS long descriptions
                full.update(words(title))
        known = vocab.abbreviations()
        truncated = frozenset(w for w in short - full if w.isalpha() and len(w) >= 4 and w not in known)
        by_end: dict[str, list[str]] = {}
        for w in _vocabulary(kb)[0]:
            if w.isalpha() and len(w) >= 9:
                by_end.setdefault(w[-6:], []).append(w)
        memo = kb.memo["search.forms"] = (truncated, {k: tuple(v) for k, v in by_end.items()})
    return memo


def _vocabulary(kb: KnowledgeBase) -> tuple[dict[str, int], dict[str, list[str]]]:
    memo = kb.memo.get("search.words")
    if memo is None:
        counts = dict(kb.query("SELECT word, docs FROM search_words"))
        by_letter: dict[str, list[str]] = {}
        for w in counts:
            by_letter.setdefault(w[0], []).append(w)
        memo = kb.memo["search.words"] = (counts, by_letter)
    return memo


RARE = 3  # a word this rare may be two common words run together, or a typo ("pian")
COMMONER = 20  # a rare word is read as another only if that one is this many times commoner


def _count(kb: KnowledgeBase, word: str) -> int:
    return _vocabulary(kb)[0].get(word, 0)


def _known(kb: KnowledgeBase, word: str) -> bool:
    return word in _vocabulary(kb)[0]


def _spelling(kb: KnowledgeBase, word: str) -> list[str]:
    """The closest indexed words (one edit for short words, two for long ones; two letters swapped
    are one edit), commonest first; for a known but rare word, only far commoner words with two of
    its letters swapped."""
    counts, by_letter = _vocabulary(kb)
    most = 1 if len(word) < 7 else 2
    floor = counts.get(word, 0) * COMMONER
    found = [
        f
        for f in process.extract(word, by_letter.get(word[0], []), scorer=OSA.distance, score_cutoff=most, limit=9)
        if f[0] != word and counts[f[0]] > floor and (not floor or Levenshtein.distance(word, f[0]) > f[1])
    ]  # a known word is read as another only when two letters were swapped ("pian"; not "lice" as "life")
    if not found:
        return []
    best = min(d for _, d, _ in found)
    return sorted((w for w, d, _ in found if d == best), key=lambda w: -counts[w])[:2]
