"""Whether a query asks for a procedure (CPT, HCPCS) or a diagnosis (ICD-10-CM), read from how often
each of its words is in the descriptors of each kind, per document of that kind: "biopsy", "repair",
"x-ray" are procedure words; "fracture", "infection" diagnosis words; "knee" says little."""

from __future__ import annotations

import math
from dataclasses import dataclass

from medcode.kb.store import KnowledgeBase
from medcode.language.words import STOPWORDS, stem, words
from medcode.search.query import Group

PROCEDURES = ("CPT", "HCPCS")
DIAGNOSES = ("ICD-10-CM",)
SMOOTH = 5.0  # documents added to every count, so that a rare word says little
CLIP = 2.0  # log-odds one word group can add


@dataclass(frozen=True)
class Counts:
    procedures: dict[str, int]
    diagnoses: dict[str, int]
    n_procedures: int
    n_diagnoses: int


def _counts(kb: KnowledgeBase) -> Counts:
    memo = kb.memo.get("search.intent")
    if memo is None:
        proc: dict[str, int] = {}
        diag: dict[str, int] = {}
        n = {"p": 0, "d": 0}
        for system, a, b, c in kb.query(
            "SELECT system, title_stems, alias_stems, terms_stems FROM search_docs WHERE active = 1"
        ):
            if system in PROCEDURES:
                into, key = proc, "p"
            elif system in DIAGNOSES:
                into, key = diag, "d"
            else:
                continue
            n[key] += 1
            for st in set(f"{a} {b} {c}".split()):
                into[st] = into.get(st, 0) + 1
        memo = kb.memo["search.intent"] = Counts(proc, diag, max(n["p"], 1), max(n["d"], 1))
    return memo


def procedure_odds(kb: KnowledgeBase, groups: tuple[Group, ...]) -> float:
    """The probability (0-1) that the query asks for a procedure code rather than a diagnosis."""
    counts = _counts(kb)
    total = 0.0
    for g in groups:
        p = d = 0
        for alt in g.alternatives:
            st = [stem(w) for w in words(alt) if w not in STOPWORDS]
            if st:
                p += min(counts.procedures.get(s, 0) for s in st)
                d += min(counts.diagnoses.get(s, 0) for s in st)
        rate_p = (p + SMOOTH) / counts.n_procedures
        rate_d = (d + SMOOTH) / counts.n_diagnoses
        total += max(-CLIP, min(CLIP, math.log(rate_p / rate_d)))
    return 1.0 / (1.0 + math.exp(-total))


def fit(system: str, odds: float) -> float:
    """How well a code system suits a query with these procedure odds (0-1)."""
    if system in PROCEDURES:
        return odds
    if system in DIAGNOSES:
        return 1.0 - odds
    return 0.5
