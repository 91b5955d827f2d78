"""The concept index: every term of the knowledge base (``terms.collect``), searched lexically (BM25)
and, once its embedding cache exists (``medcode.language.vectors``), semantically; the two rankings
are fused per code.

The lexical query adds the descriptor words of the lay phrases it holds (``vocab/synonyms.tsv``); the
semantic one is the text as written. Each ranking is a list of terms; a code's rank in it comes from
its best term (lexically, plus a tenth of its next two terms' scores). Reciprocal rank fusion adds
``1 / (RRF_K + rank)`` over the rankings a code is in, so a code both rankings put high comes first,
and a code only one finds still counts. A code's text and source are those of its best term (lexical
first).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medcode import settings
from medcode.language import saved
from medcode.language.lexical import LexicalIndex, with_synonyms
from medcode.language.terms import Term, collect

log = logging.getLogger(__name__)

FORMAT = 1  # of the key: change it when the terms change meaning
MEMO = "language.index"
RRF_K = 60
LEXICAL_WEIGHT = 1.0  # of each ranking in the fusion
SEMANTIC_WEIGHT = 1.0
MORE_TERMS = 0.1  # lexical: weight of a code's 2nd and 3rd best terms beside its best
LEXICAL_K = 400  # terms read from each ranking per lookup
SEMANTIC_K = 400
SYSTEMS = ("CPT", "HCPCS", "ICD-10-CM")


@dataclass(frozen=True)
class Candidate:
    code: str
    system: str
    score: float
    text: str
    source: str
    lexical: int | None  # the code's rank (1-based) in the lexical ranking, or None
    semantic: int | None  # the same in the semantic ranking


def terms_key(terms: list[Term]) -> str:
    """sha256 over the format version and every term text in order: names the embedding cache."""
    h = hashlib.sha256(f"medcode.language.index/{FORMAT}\n".encode())
    for term in terms:
        h.update(term.text.encode())
        h.update(b"\n")
    return h.hexdigest()


def _code_ranks(hits: list[tuple[int, float]], terms: list[Term], more: float = 0.0) -> dict[str, tuple[int, int]]:
    """code -> (rank among distinct codes, position of its best term). A code's score is its best term's
    plus ``more`` times the sum of its next two terms' (a code several terms match comes first)."""
    found: dict[str, list[float]] = {}
    best: dict[str, int] = {}
    for pos, score in hits:
        code = terms[pos].code
        scores = found.get(code)
        if scores is None:
            found[code] = [score]
            best[code] = pos
        elif len(scores) < 3:
            scores.append(score)
    if more:
        total = {code: s[0] + more * sum(s[1:]) for code, s in found.items()}
        order = sorted(found, key=lambda c: (-total[c], best[c]))
    else:
        order = list(found)  # (hits come best first)
    return {code: (n, best[code]) for n, code in enumerate(order, start=1)}


class ConceptIndex:
    """Terms, their lexical index and (when built) their embeddings."""

    def __init__(self, terms: list[Term], lexical: LexicalIndex, home: Path | None = None) -> None:
        self.terms = terms
        self.key = terms_key(terms)
        self.lexical = lexical
        self.home = home
        self.system_of = np.array([SYSTEMS.index(t.system) for t in terms], dtype=np.int8)
        self._masks: dict[tuple[str, ...], np.ndarray] = {}
        self._vectors: Any = None
        self._vectors_lock = threading.Lock()
        # MEDCODE_EMBED=off: words only, even where an embedding cache exists
        self.semantic_on = settings.load().embed != "off"

    @classmethod
    def build(cls, terms: list[Term], home: Path | None = None) -> ConceptIndex:
        return cls(terms, LexicalIndex.build([t.text for t in terms]), home)

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.terms]

    def vectors(self) -> Any:
        """The embedding cache of these terms (``medcode.language.vectors.Vectors``), or None when there
        is no home or the module is missing. It may not be ready: see ``semantic_ready``."""
        if self.home is None:
            return None
        with self._vectors_lock:
            if self._vectors is None:
                try:
                    from medcode.language.vectors import Vectors
                except ImportError:  # the semantic step is not part of this build
                    return None
                self._vectors = Vectors.open(self.home, self.key, self.texts)
            return self._vectors

    def semantic_ready(self) -> bool:
        vectors = self.vectors()
        return vectors is not None and bool(vectors.ready())

    def _mask(self, systems: tuple[str, ...] | None) -> np.ndarray | None:
        if systems is None or set(SYSTEMS) <= set(systems):
            return None
        key = tuple(sorted(set(systems)))
        mask = self._masks.get(key)
        if mask is None:
            unknown = set(key) - set(SYSTEMS)
            if unknown:
                raise ValueError(f"unknown code system {sorted(unknown)[0]!r}; expected one of {', '.join(SYSTEMS)}")
            mask = np.isin(self.system_of, [SYSTEMS.index(s) for s in key])
            self._masks[key] = mask
        return mask

    def semantic_hits(self, text: str, k: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        """Nearest terms by embedding (empty when the cache is not ready)."""
        if not self.semantic_ready():
            return []
        hits: list[tuple[int, float]] = self._vectors.search(text, k if mask is None else k * 4)
        if mask is not None:
            hits = [h for h in hits if mask[h[0]]][:k]
        return hits

    def lookup(
        self, text: str, k: int = 50, systems: tuple[str, ...] | None = None, semantic: bool = True
    ) -> list[Candidate]:
        """The ``k`` codes best matching ``text``, best first, one per code."""
        mask = self._mask(systems)
        lexical = _code_ranks(self.lexical.search(with_synonyms(text), LEXICAL_K, mask), self.terms, MORE_TERMS)
        semantic = semantic and self.semantic_on
        sem = _code_ranks(self.semantic_hits(text, SEMANTIC_K, mask), self.terms) if semantic else {}
        scores: dict[str, float] = {}
        for ranks, weight in ((lexical, LEXICAL_WEIGHT), (sem, SEMANTIC_WEIGHT)):
            for code, (rank, _) in ranks.items():
                scores[code] = scores.get(code, 0.0) + weight / (RRF_K + rank)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        out = []
        for code, score in best:
            lex, sm = lexical.get(code), sem.get(code)
            term = self.terms[(lex or sm)[1]]  # type: ignore[index]
            out.append(
                Candidate(
                    code, term.system, score, term.text, term.source, lex[0] if lex else None, sm[0] if sm else None
                )
            )
        return out


def home_of(kb: Any) -> Path | None:
    """MEDCODE_HOME of an open knowledge base (``home/builds/<build>``), or None."""
    path = Path(kb.path)
    return path.parent.parent if path.parent.name == "builds" else None


_BUILD_LOCK = threading.Lock()


def concept_index(kb: Any, home: Path | None = None) -> ConceptIndex:
    """The knowledge base's concept index, built once per open knowledge base (``kb.memo``)."""
    found = kb.memo.get(MEMO)
    if found is not None:
        if home is not None and found.home is None:
            found.home = home
        return found  # type: ignore[no-any-return]
    with _BUILD_LOCK:
        found = kb.memo.get(MEMO)
        if found is None:
            found = _load_or_build(kb, home if home is not None else home_of(kb))
            kb.memo[MEMO] = found
        return found


def _load_or_build(kb: Any, home: Path | None) -> ConceptIndex:
    """The index saved for this build under ``home`` (``medcode.language.saved``), else a new one (saved)."""
    started = time.perf_counter()
    build = Path(kb.path)
    if home is not None:
        found = saved.load(home, build)
        if found is not None:
            log.debug("concept index: %d terms loaded in %.2f s", len(found[0]), time.perf_counter() - started)
            return ConceptIndex(*found, home=home)
    index = ConceptIndex.build(collect(kb), home)
    log.debug("concept index: %d terms built in %.1f s", len(index.terms), time.perf_counter() - started)
    if home is not None:
        saved.save(home, build, index.terms, index.lexical)
    return index
