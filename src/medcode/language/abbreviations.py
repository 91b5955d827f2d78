"""Abbreviations in clinical words: the CMS short-descriptor vocabulary (``vocab/abbreviations.tsv``)
plus the clinical one (``vocab/clinical_abbreviations.tsv``), which takes precedence.

``expand("htn")`` gives ``"hypertension"``; ``expand_text("s/p TKA, HTN")`` gives
``"status post total knee arthroplasty, hypertension"``. Words are only looked up, never guessed.
"""

from __future__ import annotations

import re
from functools import cache

from medcode import vocab
from medcode.vocab import VocabularyError

CLINICAL = "clinical_abbreviations.tsv"
BLOCKED = "-"  # the expansion that marks an ordinary English word ("us", "add")

# A word with inner separators kept together: s/p, n/v, i&d, a-fib, t2dm, l-spine.
WORD = re.compile(r"[A-Za-z0-9]+(?:[/&+\-][A-Za-z0-9]+)*")
SEPARATOR = re.compile(r"([/&+\-])")


@cache
def _tables() -> tuple[dict[str, str], dict[str, str | None]]:
    """(upper-case-only entries, lower-case entries with CMS merged in; None = not expanded)."""
    return parse_clinical(None)


@cache
def _descriptor_table() -> dict[str, str | None]:
    """For CMS short descriptors: the CMS vocabulary first, then clinical entries it lacks (no English-word blocks)."""
    upper, lower = _tables()
    out: dict[str, str | None] = {k: v for k, v in lower.items() if v is not None}
    out.update((k.lower(), v) for k, v in upper.items() if k.lower() not in out)
    out.update(vocab.abbreviations())
    return out


def parse_clinical(text: str | None) -> tuple[dict[str, str], dict[str, str | None]]:
    """The tables of a clinical_abbreviations.tsv text (None: the packaged file) over the CMS vocabulary."""
    upper: dict[str, str] = {}
    lower: dict[str, str | None] = dict(vocab.abbreviations())
    for n, key, value in vocab._pairs(CLINICAL, text):
        letters = re.sub(r"[^A-Za-z]", "", key)
        if not letters or "  " in key or key.count(" ") > 1:
            raise VocabularyError(f"{CLINICAL} line {n}: key {key!r} must be one or two words with letters")
        if key == key.lower():
            lower[key] = None if value == BLOCKED else value
        elif key == key.upper():
            if value == BLOCKED:
                raise VocabularyError(f"{CLINICAL} line {n}: an upper-case key needs an expansion, not {BLOCKED!r}")
            upper[key] = value
        else:
            raise VocabularyError(f"{CLINICAL} line {n}: key {key!r} must be all lower case or all upper case")
    return upper, lower


def expand(word: str, *, descriptor: bool = False) -> str | None:
    """What the abbreviation ``word`` stands for, or None when it is not one (or is an ordinary word).
    ``descriptor``: read it as a word of a CMS short descriptor ("dx" diagnostic, "us" ultrasound)
    rather than of clinical text ("dx" diagnosis, "us" the pronoun)."""
    if descriptor:
        return _descriptor_table().get(word.lower())
    upper, lower = _tables()
    if word in upper:
        return upper[word]
    return lower.get(word.lower())


def _expand_word(word: str, descriptor: bool) -> str | None:
    found = expand(word, descriptor=descriptor)
    if found is not None or not SEPARATOR.search(word):
        return found
    parts = SEPARATOR.split(word)  # htn/dm -> hypertension/diabetes mellitus
    out = [p if i % 2 else (expand(p, descriptor=descriptor) or p) for i, p in enumerate(parts)]
    joined = "".join(out)
    return joined if joined != word else None


def expand_text(text: str, *, descriptor: bool = False) -> str:
    """``text`` with every expandable word (or two-word abbreviation) written out; other text kept as is.
    ``descriptor=True`` for CMS short descriptors (see ``expand``)."""
    lower = _descriptor_table() if descriptor else _tables()[1]
    matches = list(WORD.finditer(text))
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(matches):
        m = matches[i]
        if i + 1 < len(matches):
            nxt = matches[i + 1]
            gap = text[m.end() : nxt.start()]
            if gap == " ":
                pair = f"{m.group().lower()} {nxt.group().lower()}"
                value = lower.get(pair)
                if value is not None:
                    out.append(text[pos : m.start()])
                    out.append(value)
                    pos = nxt.end()
                    i += 2
                    continue
        value = _expand_word(m.group(), descriptor)
        if value is not None:
            out.append(text[pos : m.start()])
            out.append(value)
            pos = m.end()
        i += 1
    out.append(text[pos:])
    return "".join(out)
