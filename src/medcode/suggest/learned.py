"""A diagnosis model learned from the CodiEsp train split, at first use.

CodiEsp (CLEF eHealth 2020; CC BY 4.0; Miranda-Escalada et al., corpus DOI 10.5281/zenodo.3693570)
is read from ``<MEDCODE_DATA>/codiesp``. Nothing derived from it is committed: the model is trained
when first needed and cached as ``MEDCODE_HOME/cache/codiesp/<key>.pkl``, ``key`` being the sha256 of
the format version, the CodiEsp files read and the ICD-10-CM release the concept table comes from.

The model has two parts:
- a ridge regression (a linear probability model; all codes solved at once in the dual form, about
  two seconds) over TF-IDF word and bigram features, for every code with at least ``MIN_DOCS``
  training documents (one-vs-rest logistic regression scored the same on dev and trained 100 times
  slower);
- the precision of each concept match in train: how often a note whose sentences match a term of
  code C is coded C (``match_stats``), smoothed toward the precision of matches of the same length.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import math
import pickle
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 3
MIN_DOCS = 2  # codes with fewer training documents get no classifier (concept matches still find them)
RIDGE = 0.7  # regularisation of the ridge regression (chosen on dev)
SMOOTHING = 1.0  # pseudo-matches at the length prior when estimating a code's match precision
LONGEST = 4  # match lengths at or above this share one prior

Matcher = Callable[[str], dict[str, int]]  # note text -> {code: longest matching term (content words)}


class CorpusError(ValueError):
    """A CodiEsp file medcode cannot read."""


@dataclass
class Corpus:
    ids: list[str]
    texts: list[str]
    labels: list[set[str]]  # upper case, dot kept (as CIE-10-ES writes them)


def read_split(root: Path, split: str) -> Corpus:
    """The English texts and diagnosis labels of ``split`` ("train" or "dev")."""
    label_file = root / split / f"{split}D.tsv"
    labels: dict[str, set[str]] = {}
    with label_file.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2 or not fields[0] or not fields[1]:
                raise CorpusError(f"{label_file}, line {n}: expected articleID<TAB>code, got {len(fields)} field(s)")
            labels.setdefault(fields[0], set()).add(fields[1].strip().upper())
    folder = root / split / "text_files_en"
    ids = sorted(p.stem for p in folder.glob("*.txt"))
    if not ids:
        raise CorpusError(f"{folder}: no text files")
    texts = [(folder / f"{i}.txt").read_text(encoding="utf-8") for i in ids]
    return Corpus(ids, texts, [labels.get(i, set()) for i in ids])


def corpus_files(root: Path, splits: Iterable[str] = ("train",)) -> list[Path]:
    out: list[Path] = []
    for split in splits:
        out.append(root / split / f"{split}D.tsv")
        out.extend(sorted((root / split / "text_files_en").glob("*.txt")))
    return out


def corpus_key(root: Path, salt: str, splits: Iterable[str] = ("train",)) -> str:
    sklearn = importlib.metadata.version("scikit-learn")  # (not imported: that takes about a second)
    digest = hashlib.sha256(f"medcode.suggest.learned {FORMAT} {salt} sklearn {sklearn}".encode())
    for path in corpus_files(root, splits):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


@dataclass
class Tfidf:
    """The fitted TF-IDF of the model as plain data (word and word-pair vocabulary, idf, stop words):
    the same vectors as scikit-learn's TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, l2 norm)
    without importing scikit-learn when a note is coded (its import takes about a second)."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    stop: frozenset[str]

    def transform(self, texts: Sequence[str]) -> object:
        from scipy.sparse import csr_matrix

        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for i, text in enumerate(texts):
            toks = [w for w in TOKEN.findall(text.lower()) if w not in self.stop]
            grams = Counter(g for g in [*toks, *(f"{a} {b}" for a, b in zip(toks, toks[1:]))] if g in self.vocabulary)
            if not grams:
                continue
            idx = [self.vocabulary[g] for g in grams]
            v = np.array([1.0 + math.log(n) for n in grams.values()]) * self.idf[idx]
            v /= np.linalg.norm(v)
            rows.extend([i] * len(idx))
            cols.extend(idx)
            vals.extend(v.tolist())
        return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.idf)), dtype=np.float64)


@dataclass
class Learned:
    vectorizer: Tfidf
    codes: tuple[str, ...]
    weights: np.ndarray  # (features, codes) float32
    bias: np.ndarray  # (codes,) float32
    match_hits: dict[str, tuple[int, int]]  # code -> (notes coded C among those matching C, notes matching C)
    length_prior: dict[int, float]  # match length -> precision of matches of that length
    train_seconds: float = 0.0
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {c: i for i, c in enumerate(self.codes)}

    def features(self, texts: Sequence[str]) -> object:
        return self.vectorizer.transform(texts)

    def probabilities(self, text: str) -> np.ndarray:
        """The regression's estimate of P(code | note) for every code of the model, clipped to 0-1."""
        x = self.features([text])
        z = np.asarray(x @ self.weights).ravel() + self.bias  # type: ignore[operator]
        return np.clip(z, 0.0, 1.0)

    def match_precision(self, code: str, length: int) -> float:
        prior = self.length_prior.get(min(length, LONGEST), 0.0)
        hit, seen = self.match_hits.get(code, (0, 0))
        return (hit + SMOOTHING * prior) / (seen + SMOOTHING)

    def strongest(self, code: str, features: object) -> int | None:
        """Row of ``features`` (``self.features(texts)``) whose words speak most for ``code`` (None when none does)."""
        j = self.index.get(code)
        if j is None or features.shape[0] == 0:  # type: ignore[attr-defined]
            return None
        weight = np.asarray(features @ self.weights[:, j]).ravel()  # type: ignore[operator]
        best = int(np.argmax(weight))
        return best if weight[best] > 0 else None


def fit(texts: Sequence[str], labels: Sequence[set[str]], matcher: Matcher) -> Learned:
    """Trains the model on notes and their codes."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.5, sublinear_tf=True, stop_words="english")
    x = vectorizer.fit_transform(texts)
    counts = Counter(c for codes in labels for c in codes)
    codes = tuple(sorted(c for c, n in counts.items() if n >= MIN_DOCS))
    y = np.array([[c in gold for c in codes] for gold in labels], dtype=np.float64).reshape(len(labels), len(codes))
    bias = y.mean(axis=0)
    # ridge regression of every code at once, solved in its dual form (notes << features)
    gram = np.asarray((x @ x.T).todense())
    dual = np.linalg.solve(gram + RIDGE * np.eye(len(labels)), y - bias)
    weights = np.asarray(x.T @ dual, dtype=np.float32)
    hits: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    length_hits: Counter[int] = Counter()
    length_seen: Counter[int] = Counter()
    for text, gold in zip(texts, labels, strict=True):
        for code, length in matcher(text).items():
            seen[code] += 1
            hits[code] += code in gold
            length_seen[min(length, LONGEST)] += 1
            length_hits[min(length, LONGEST)] += code in gold
    plain = Tfidf(
        {str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
        np.asarray(vectorizer.idf_, dtype=np.float64),
        frozenset(vectorizer.get_stop_words() or ()),
    )
    return Learned(
        vectorizer=plain,
        codes=codes,
        weights=weights,
        bias=bias.astype(np.float32),
        match_hits={c: (hits[c], seen[c]) for c in seen},
        length_prior={n: length_hits[n] / length_seen[n] for n in length_seen},
        train_seconds=time.perf_counter() - started,
    )


def load(home: Path, root: Path, matcher: Matcher, salt: str) -> Learned | None:
    """The model trained on ``root``'s train split: from the cache, else trained now and cached.
    None when ``root`` holds no CodiEsp train split."""
    if not (root / "train" / "trainD.tsv").is_file():
        return None
    key = corpus_key(root, salt)
    path = home / "cache" / "codiesp" / f"{key}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as f:
                found = pickle.load(f)
            if isinstance(found, Learned):
                return found
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as e:
            log.warning("ignoring the unreadable CodiEsp model cache %s (%s)", path, e)
    corpus = read_split(root, "train")
    model = fit(corpus.texts, corpus.labels, matcher)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{time.monotonic_ns()}.tmp")
    with partial.open("wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)
    log.info("trained the CodiEsp diagnosis model in %.1f s (cached at %s)", model.train_seconds, path)
    return model
