"""BM25 over normalised words (bm25s computes the weights; scoring a query is ours, for speed).

A text's words: each word (kept whole across ``/&+-``: "s/p", "w/o", "a-fib") is written out when it
is an abbreviation (``medcode.language.abbreviations``, also the two-word ones), lower-cased, split
into letters and digits, stopwords dropped and Porter-stemmed as search does (``medcode.search.text``).
Queries and terms go through the same steps. A query matches a term that has any of its words (OR);
BM25 ranks terms with more and rarer query words, and shorter terms, first.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from medcode import vocab
from medcode.language import abbreviations
from medcode.language.words import STOPWORDS, stem

SPLIT = re.compile(r"[A-Za-z0-9]+(?:[/&+\-][A-Za-z0-9]+)*")
ALNUM = re.compile(r"[a-z0-9]+")
ALPHA = re.compile(r"[A-Za-z]+")
K1 = 1.2
B = 0.75


@lru_cache(maxsize=1)
def _pair_starts() -> frozenset[str]:
    """First words of the two-word abbreviations ("w o", "ex rem" ...), lower case."""
    tables = getattr(abbreviations, "_tables", None)
    keys = list(tables()[1]) if tables is not None else []
    return frozenset(k.split(" ", 1)[0] for k in keys if " " in k)


def _stems(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in ALNUM.findall(text.lower()) if w not in STOPWORDS)


_WORDS: dict[str, tuple[str, ...]] = {}  # word -> its normalised words (plain dict: the hot path)
_PAIRS: dict[tuple[str, str], tuple[str, ...] | None] = {}


def _word(word: str) -> tuple[str, ...]:
    """The normalised words one word of text stands for."""
    found = _WORDS.get(word)
    if found is None:
        found = _stems(abbreviations.expand_text(word))
        if len(_WORDS) < 500_000:
            _WORDS[word] = found
    return found


def _pair(first: str, second: str) -> tuple[str, ...] | None:
    """The words of a two-word abbreviation, or None when the two words are not one."""
    key = (first, second)
    if key not in _PAIRS:
        pair = f"{first} {second}"
        text = abbreviations.expand_text(pair)
        found = None if text == pair else _stems(text)
        if len(_PAIRS) < 100_000:
            _PAIRS[key] = found
        return found
    return _PAIRS[key]


@lru_cache(maxsize=1)
def _synonym_pattern() -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    table = vocab.synonyms()
    phrases = sorted(table, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b"), table


def with_synonyms(text: str) -> str:
    """``text`` followed by the descriptor words of every lay phrase in it (``vocab/synonyms.tsv``):
    "broken hip" also asks for "fracture of femur neck", "femur fracture" ...; the query stays OR."""
    pattern, table = _synonym_pattern()
    extra = [alt for m in pattern.finditer(text.lower()) for alt in table[m.group(1)]]
    return f"{text} {' '.join(extra)}" if extra else text


def normalise(text: str) -> list[str]:
    """The normalised words of ``text`` in order (repeats kept)."""
    raw = SPLIT.findall(text)
    starts = _pair_starts()
    out: list[str] = []
    last = len(raw) - 1
    skip = False
    for i, w in enumerate(raw):
        if skip:
            skip = False
            continue
        if i < last and w.lower() in starts:
            pair = _pair(w, raw[i + 1])
            if pair is not None:
                out.extend(pair)
                skip = True
                continue
        found = _WORDS.get(w)
        out.extend(found if found is not None else _word(w))
    return out


def weights(ids: list[list[int]], vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lucene BM25 weight of each (text, word) pair, by word: (data, indices, indptr) as a CSC matrix
    of texts x words (the same weights bm25s computes with ``method="lucene"``, vectorised)."""
    lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=len(ids))
    n = len(ids)
    flat = np.fromiter((w for r in ids for w in r), dtype=np.int64, count=int(lengths.sum()))
    docs = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pairs, tf = np.unique(flat * n + docs, return_counts=True)  # sorted by word, then text
    word, doc = pairs // n, pairs % n
    df = np.bincount(word, minlength=vocab_size)
    idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
    avg = lengths.mean() if n else 1.0
    tfc = tf / (tf + K1 * (1.0 - B + B * lengths[doc] / avg))
    data = (idf[word] * tfc).astype(np.float32)
    indptr = np.concatenate(([0], np.cumsum(df))).astype(np.int64)
    return data, doc.astype(np.int32), indptr


class LexicalIndex:
    """BM25 (Lucene's variant) over a fixed list of texts; positions are indexes into that list."""

    def __init__(
        self,
        vocab: dict[str, int],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        n: int,
        spelled: dict[str, int] | None = None,
    ):
        self.vocab = vocab
        self.data = data  # per word (column), the BM25 weight of each text holding it
        self.indices = indices  # per word, the texts holding it
        self.indptr = indptr
        self.size = n
        self.spelled = spelled or {}  # every word as the texts spell it (lower case) -> how many texts have it
        self._by_letter: dict[str, list[str]] | None = None  # spelled words by first letter
        self._near: dict[str, str | None] = {}

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        vocab: dict[str, int] = {}
        ids: list[list[int]] = []
        spelled: Counter[str] = Counter()
        for text in texts:
            ids.append([vocab.setdefault(w, len(vocab)) for w in normalise(text)])
            spelled.update(set(ALNUM.findall(text.lower())))
        if "" not in vocab:  # bm25s scores a text without words against this empty word
            vocab[""] = len(vocab)
        for row in ids:
            if not row:
                row.append(vocab[""])
        data, indices, indptr = weights(ids, len(vocab))
        return cls(vocab, data, indices, indptr, len(texts), dict(sorted(spelled.items())))

    def word_ids(self, query: str) -> list[int]:
        """Distinct words of ``query`` the index knows (a repeated word counts once), after ``respell``."""
        out: list[int] = []
        for w in normalise(self.respell(query)):
            i = self.vocab.get(w)
            if i is not None and w and i not in out:
                out.append(i)
        return out

    def respell(self, query: str) -> str:
        """``query`` with each word no term spells (a misspelling, or a form the terms do not use) replaced
        by the nearest word they do spell (``nearest``), if any; abbreviations, words with digits and words
        under 5 letters are kept. (A stem is not enough: "migrane" and "migrans" share one.)"""

        def fix(m: re.Match[str]) -> str:
            word = m.group()
            low = word.lower()
            if len(low) < 5 or low in self.spelled or not low.isalpha() or abbreviations.expand(word) is not None:
                return word
            return self.nearest(low) or word

        return ALPHA.sub(fix, query)

    def nearest(self, word: str) -> str | None:
        """The word of the texts nearest to ``word``: at most 1 edit (two letters swapped count as one)
        for words of 5 to 7 letters, 2 from 8 letters, first letter kept (misspellings seldom change it);
        among equally near words, the one in most texts."""
        if word in self._near:
            return self._near[word]
        limit = 1 if len(word) < 8 else 2
        if self._by_letter is None:
            by_letter: dict[str, list[str]] = {}
            for w in self.spelled:
                by_letter.setdefault(w[0], []).append(w)
            self._by_letter = by_letter
        choices = self._by_letter.get(word[0], [])
        hits = process.extract(word, choices, scorer=OSA.distance, score_cutoff=limit, limit=None)
        found = min(hits, key=lambda h: (h[1], -self.spelled[h[0]], h[0]))[0] if hits else None
        if len(self._near) < 100_000:
            self._near[word] = found
        return found

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best texts for ``query`` as (position, score), best first; ``mask`` (bool per text)
        keeps only the texts it marks."""
        words = self.word_ids(query)
        if not words or k <= 0:
            return []
        dense = np.zeros(self.size, dtype=np.float32)
        for w in words:
            a, b = int(self.indptr[w]), int(self.indptr[w + 1])
            dense[self.indices[a:b]] += self.data[a:b]  # (a text appears once in a word's list)
        if mask is not None:
            dense[~mask] = 0.0
        hit = np.flatnonzero(dense)
        if hit.size == 0:
            return []
        scores = dense[hit]
        if hit.size > k:
            top = np.argpartition(-scores, k - 1)[:k]
        else:
            top = np.arange(hit.size)
        order = top[np.lexsort((hit[top], -scores[top]))]
        return list(zip(hit[order].tolist(), scores[order].tolist(), strict=True))
