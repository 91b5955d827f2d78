"""Sections, sentences and tokens of a clinical note, with offsets into the original text.

Our own rules. A section header is a line that starts with a known header (``vocab/sections.tsv``)
followed by ":" (text may follow on the same line: ``ASSESSMENT AND PLAN: ...``), or a line that is
only a known header, or an upper-case line of words ending with ":" (an unknown header: ``other``).
Sentences end at "?", "!", at "." before a space unless the period closes an abbreviation ("Dr.",
"e.g.", "vs.") or a list number ("1."), at a blank line, and at a line break unless the next line
goes on in lower case (a wrapped line). Header lines are not sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from medcode import vocab
from medcode.vocab import VocabularyError

SECTIONS_FILE = "sections.tsv"
OTHER = "other"


@dataclass(frozen=True)
class Section:
    name: str  # canonical (vocab/sections.tsv), "other" for unknown headers and text before the first header
    header: str  # the header as written ("" for text before the first header)
    start: int  # offset of the header's line (or of the text)
    end: int  # offset where the next section starts


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str
    section: str


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str
    norm: str  # lower case; abbreviations are not expanded here


NAME = re.compile(r"[a-z][a-z_]*")


@cache
def section_names() -> dict[str, str]:
    """Normalised header -> canonical section name, from ``vocab/sections.tsv``."""
    return parse_sections(None)


def parse_sections(text: str | None) -> dict[str, str]:
    """The header table of a sections.tsv text (None: the packaged file); strict, errors name the line."""
    out = {}
    for n, key, value in vocab._pairs(SECTIONS_FILE, text):
        if key != normalise_header(key):
            want = normalise_header(key)
            raise VocabularyError(f"{SECTIONS_FILE} line {n}: header {key!r} must be written as {want!r}")
        if not NAME.fullmatch(value):
            raise VocabularyError(f"{SECTIONS_FILE} line {n}: name {value!r} must be a lower-case identifier")
        out[key] = value
    return out


_SPACES = re.compile(r"\s+")
_PARENTHESES = re.compile(r"\([^)]*\)")  # "HISTORY OF PRESENT ILLNESS (HPI)"


def normalise_header(header: str) -> str:
    """``"PROCEDURE(S)  PERFORMED"`` -> ``"procedures performed"``; ``"A & P"`` -> ``"a and p"``."""
    low = _PARENTHESES.sub(" ", header.lower().replace("(s)", "s")).replace("&", " and ")
    return _SPACES.sub(" ", low).strip(" .-")


# An optional list number, then the header candidate (letters, spaces, / & ( ) ' -), then ":" or the line end.
_HEADER_LINE = re.compile(
    r"^[ \t]*(?:\d{1,2}[.)][ \t]*)?(?P<header>[A-Za-z][A-Za-z /&()'\-]{0,60}?)[ \t\r]*(?P<colon>:|$)", re.MULTILINE
)
_UPPER_WORDS = re.compile(r"[A-Z][A-Z /&()'\-]{2,60}")


def _header_at(match: re.Match[str]) -> tuple[str, int] | None:
    """(section name, offset where the section's text starts) when the matched line starts a section."""
    header = match.group("header")
    name = section_names().get(normalise_header(header))
    colon = bool(match.group("colon"))
    line_end = match.string.find("\n", match.end())
    rest_of_line_blank = not match.string[match.end() : line_end if line_end >= 0 else None].strip()
    if name is not None and len(header) == 1 and not (colon and header.isupper()):
        return None  # SOAP letters only as "S:", "O:", "A:", "P:"
    if name is not None:
        if colon or header.isupper() or header.istitle() or header.islower():
            return name, match.end()
        return None
    if colon and rest_of_line_blank and _UPPER_WORDS.fullmatch(header) and any(c.isalpha() for c in header):
        return OTHER, match.end()
    return None


def _headers(text: str) -> list[tuple[int, str, str, int]]:
    """(header start, name, header text, body start) for every header line, in order."""
    out = []
    for m in _HEADER_LINE.finditer(text):
        found = _header_at(m)
        if found is not None:
            name, body = found
            out.append((m.start(), name, m.group("header").strip(), body))
    return out


def sections(text: str) -> list[Section]:
    """The note's sections in order; text before the first header (if any) is an ``other`` section."""
    return [s for s, _ in _sections(text)]


def _sections(text: str) -> list[tuple[Section, int]]:
    """Sections with the offset where each one's body (after the header) starts."""
    heads = _headers(text)
    out: list[tuple[Section, int]] = []
    first = heads[0][0] if heads else len(text)
    if text[:first].strip():
        out.append((Section(OTHER, "", 0, first), 0))
    for i, (start, name, header, body) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        out.append((Section(name, header, start, end), body))
    return out


# Words whose period does not end a sentence (compared lower case, without the period).
NO_STOP = frozenset("dr mr mrs ms prof st jr sr vs eg ie etc approx fig cf al dept inc".split())
# Dotted words that do end a sentence when one follows (dosing: "Metformin 500 mg b.i.d. Aspirin daily.").
DOTTED_STOP = frozenset("b.i.d t.i.d q.i.d p.r.n p.o q.d q.h.s".split())
_BOUNDARY = re.compile(r"[.?!]+(?=\s|$)|\n")
_LIST_NUMBER = re.compile(r"\s*\d{1,2}")
_PREVIOUS_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _split(text: str, start: int, end: int, section: str, out: list[Sentence]) -> None:
    """Append the sentences of ``text[start:end]``."""
    pos = start
    for m in _BOUNDARY.finditer(text, start, end):
        cut = m.end()
        if m.group() == "\n":
            nxt = text[cut:end].lstrip(" \t")
            if nxt[:1].islower() and text[pos : m.start()].strip():
                continue  # a wrapped line goes on
        elif m.group() == ".":
            before = text[pos : m.start()]
            word = _PREVIOUS_WORD.search(before)
            if _LIST_NUMBER.fullmatch(before):
                continue  # "1. Hypertension"
            if word and (word.group(1).lower() in NO_STOP or len(word.group(1)) == 1 and word.group(1).isupper()):
                continue  # "Dr. Smith", "J. Smith"
            if word and "." in word.group(1) and word.group(1).lower() not in DOTTED_STOP:
                continue  # "e.g.", "i.e."
        _emit(text, pos, cut, section, out)
        pos = cut
    _emit(text, pos, end, section, out)


_LEADING = re.compile(r"[\s\-*\u2022]*(?:\d{1,2}[.)](?=\s))?\s*")


def _emit(text: str, start: int, end: int, section: str, out: list[Sentence]) -> None:
    lead = _LEADING.match(text, start, end)
    s = lead.end() if lead else start
    e = end
    while e > s and text[e - 1].isspace():
        e -= 1
    if any(c.isalnum() for c in text[s:e]):
        out.append(Sentence(s, e, text[s:e], section))


def sentences(text: str) -> list[Sentence]:
    """The note's sentences with their section's name; header words are not part of any sentence."""
    return sections_and_sentences(text)[1]


def sections_and_sentences(text: str) -> tuple[list[Section], list[Sentence]]:
    """Both at once (the sections are found once)."""
    found = _sections(text)
    out: list[Sentence] = []
    for section, body in found:
        _split(text, body, section.end, section.name, out)
    return [s for s, _ in found], out


_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019/&+\-][A-Za-z0-9]+|\.[0-9]+)*")


def tokens(text: str, start: int = 0) -> list[Token]:
    """Words of ``text`` ("s/p", "a-fib", "2.5" and "patient's" are one word); offsets are ``start`` + the
    position in ``text``, so ``tokens(sentence.text, sentence.start)`` gives offsets into the note."""
    return [Token(start + m.start(), start + m.end(), m.group(), m.group().lower()) for m in _TOKEN.finditer(text)]
