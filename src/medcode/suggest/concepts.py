"""Concept matches: ICD-10-CM titles and inclusion terms found in a note's sentences.

A term matches a sentence when every content word of the term (stemmed; generic words such as
"unspecified", "site" and words in parentheses left out) occurs in the sentence. Within a sentence only the most
specific terms are kept (a term whose words are a strict subset of another match's words is dropped).
The table is built once per open knowledge base (``kb.memo``) from the newest ICD-10-CM release.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from medcode.kb.store import KnowledgeBase
from medcode.language.index import home_of
from medcode.language.words import STOPWORDS, stem

log = logging.getLogger(__name__)

WORD = re.compile(r"[A-Za-z0-9]+")
# words that say nothing about which condition a term names
GENERIC = frozenset(STOPWORDS) | {
    "unspecified", "specified", "site", "type", "nos", "elsewhere", "classified", "not", "with",
    "without", "due", "part", "region", "disease", "disorder", "condition", "encounter", "initial",
    "subsequent", "sequela", "by", "or", "in", "of", "and",
}  # fmt: skip
PARENTHESES = re.compile(r"\([^()]*\)")
MAX_CODES_PER_TERM = 3  # a term shared by more codes names none of them well
SENTENCE = re.compile(r"[^\n.;!?]+(?:[.;!?](?!\d)|$)|[^\n]+", re.MULTILINE)


@dataclass(frozen=True)
class Code:
    code: str
    description: str
    billable: bool
    kind: str


@dataclass(frozen=True)
class Match:
    """``code`` matched by a term of ``length`` content words; the words lie in ``text[start:end]``."""

    code: str
    length: int
    start: int
    end: int
    term: str


def _key(text: str) -> frozenset[str]:
    """The content words of a term; words in parentheses are optional in ICD-10-CM and left out."""
    text = PARENTHESES.sub(" ", text.lower())
    return frozenset(stem(w) for w in WORD.findall(text) if w not in GENERIC and not w.isdigit())


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)``: split at line ends and at . ; ! ? (not inside numbers)."""
    out = []
    for m in SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append((start, end))
    return out


class Concepts:
    """The ICD-10-CM codes of one release and their terms."""

    def __init__(self, codes: dict[str, Code], terms: dict[frozenset[str], tuple[tuple[str, ...], str]]):
        self.codes = codes
        self.terms = terms
        self.by_word: dict[str, list[frozenset[str]]] = defaultdict(list)
        for key in terms:
            self.by_word[min(key, key=len)].append(key)
        self._children: dict[str, list[str]] = defaultdict(list)
        compact = {c.replace(".", ""): c for c in codes}
        for code in codes:
            head = code.replace(".", "")[:-1]
            while len(head) >= 3 and head not in compact:
                head = head[:-1]
            if len(head) >= 3:
                self._children[compact[head]].append(code)

    @classmethod
    def build(cls, kb: KnowledgeBase) -> Concepts:
        rid = _release(kb)
        rows = kb.query(
            "SELECT code, billable, description, kind FROM icd10cm_codes WHERE release_id = ? "
            "AND kind NOT IN ('chapter', 'block') ORDER BY seq",
            (rid,),
        )
        codes = {str(c): Code(str(c), str(d), bool(b), str(k)) for c, b, d, k in rows}
        found: dict[frozenset[str], dict[str, str]] = defaultdict(dict)
        for code in codes.values():
            found[_key(code.description)].setdefault(code.code, code.description)
        for code, text in kb.query(
            "SELECT code, text FROM icd10cm_notes WHERE release_id = ? AND note_type IN ('inclusion_term', 'includes')",
            (rid,),
        ):
            found[_key(str(text))].setdefault(str(code), str(text))
        terms = {
            key: (tuple(by_code), next(iter(by_code.values())))
            for key, by_code in found.items()
            if key and len(by_code) <= MAX_CODES_PER_TERM
        }
        return cls(codes, terms)

    def match(self, text: str) -> list[Match]:
        """Every most-specific term match of every sentence of ``text``."""
        out: list[Match] = []
        for start, end in sentences(text):
            words = [
                (m.start() + start, m.end() + start, stem(m.group().lower())) for m in WORD.finditer(text[start:end])
            ]
            have = frozenset(w for _, _, w in words)
            keys = {k for w in have for k in self.by_word.get(w, ()) if k <= have}
            for key in keys:
                if any(key < other for other in keys):
                    continue
                spans = [(s, e) for s, e, w in words if w in key]
                codes, term = self.terms[key]
                for code in codes:
                    out.append(Match(code, len(key), spans[0][0], spans[-1][1], term))
        return out

    def billable(self, code: str) -> str | None:
        """``code`` itself when billable; else its default billable descendant (the "unspecified" one,
        with the initial-encounter 7th character) when there is exactly one such choice; else None."""
        found = self.codes.get(code)
        if found is not None and found.billable:
            return code
        if found is None:  # a CIE-10-ES code with a placeholder the US code set extends: try its stem
            code = code.rstrip("X").rstrip(".")
            if code not in self.codes:
                return None
        pick: str | None = code
        for _ in range(4):
            children = self._children.get(pick, []) if pick else []
            pick = _default_child(self.codes, children) if children else None
            if pick is None:
                return None
            if self.codes[pick].billable:
                return pick
        return None


def _default_child(codes: dict[str, Code], children: list[str]) -> str | None:
    initial = [c for c in children if len(c.replace(".", "")) == 7 and c.endswith("A")]
    if initial:
        return initial[0]
    unspecified = [c for c in children if "unspecified" in codes[c].description.lower()]
    if len(unspecified) == 1:
        return unspecified[0]
    if len(children) == 1:
        return children[0]
    return None


def _release(kb: KnowledgeBase) -> int:
    ids = [s for s in kb.sources.values() if s.family == "icd10cm"]
    if not ids:
        raise LookupError(f"the knowledge base at {kb.path} holds no ICD-10-CM release")
    return max(ids, key=lambda s: s.effective_from).id


def concepts(kb: KnowledgeBase) -> Concepts:
    """The concept table of ``kb``, built once per knowledge-base build and saved in
    ``MEDCODE_HOME/cache/suggest`` (building it takes about 2 s; loading it a tenth of that)."""
    found = kb.memo.get("suggest.concepts")
    if found is None:
        found = kb.memo["suggest.concepts"] = _saved(kb)
    return found


def _saved(kb: KnowledgeBase) -> Concepts:
    home = home_of(kb)
    if home is None:
        return Concepts.build(kb)
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    path = home / "cache" / "suggest" / f"concepts-{Path(kb.path).name}-{code}.pkl"
    try:
        with path.open("rb") as f:
            found = pickle.load(f)
        if isinstance(found, Concepts):
            return found
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        pass  # missing or unreadable: build it again
    found = Concepts.build(kb)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("concepts-*.pkl"):  # other builds' and other code's tables
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(found, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as e:  # a read-only home: work without the saved table
        log.debug("could not save the concept table: %s", e)
    return found
