"""Diagnoses (ICD-10-CM) a note supports: concept matches combined with a model learned from CodiEsp.

Interface for the Case2Code pipeline (``suggest/__init__.py``)::

    diagnose(kb, note, *, day=None, include_all=False, model=DEFAULT) -> list[DiagnosisCandidate]

``note`` is the note text (or any object with a ``text`` attribute, such as ``language.note.Note``).
The list is best first; every code exists and is billable in the newest ICD-10-CM release of ``kb``
(``day`` is accepted for the pipeline's sake; the concept table is of the newest release). Items with
``recommended`` True passed the threshold (``THRESHOLD``, chosen on CodiEsp dev); ``include_all``
adds up to ``MAX_CANDIDATES`` below it (``recommended`` False). ``evidence`` holds spans of the note:
the matched words of a concept match, else the sentence whose words speak most for the model's code.
Mentions that ``language.context`` finds negated ("no fracture", "denies chest pain", "ruled out"),
hypothetical or of a family member are not matches (``DROP``; dropping uncertain or historical ones
too lowered dev F1).

The model (``suggest.learned``) is trained at first use from ``<data>/codiesp`` and cached in
``<home>/cache/codiesp``; without CodiEsp the concept matches alone are scored (``LENGTH_PRIOR``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from medcode import settings
from medcode.kb.store import KnowledgeBase
from medcode.language.context import Context, assess
from medcode.language.index import home_of
from medcode.language.note import Note, read
from medcode.suggest.affirmed import affirmed
from medcode.suggest.concepts import Concepts, Match, concepts, sentences
from medcode.suggest.learned import Learned, load
from medcode.suggest.model import Evidence

THRESHOLD = 0.2  # combined score at or above which a code is recommended (tuned on CodiEsp dev)
MAX_RECOMMENDED = 25  # per note
MAX_CANDIDATES = 40  # per note, with include_all
FLOOR = 0.05  # model probabilities below this are not candidates
# A code the model finds alone is scored again on the note's affirmed words (``suggest.affirmed``): it keeps its
# score when that keeps at least KEPT of it, else it takes the affirmed score less AGAINST times what the
# negated, hypothetical or family words gave it (chosen on CodiEsp dev and the US notes).
KEPT = 0.6
AGAINST = 1.0
# precision of a concept match by its number of content words when no model is available
LENGTH_PRIOR = {1: 0.22, 2: 0.24, 3: 0.30, 4: 0.30}
# mentions in these contexts support no code of their own (ICD-10-CM guidelines: a negated or
# hypothetical condition is not coded; a family member's condition is a Z80-Z84 code, not the condition)
DROP = ("negated", "family", "hypothetical")
_lock = threading.Lock()


@dataclass(frozen=True)
class DiagnosisCandidate:
    code: str
    description: str
    score: float  # 0-1
    evidence: tuple[Evidence, ...]
    why: str
    recommended: bool = True
    source: str = ""  # "concept", "model" or "concept+model"


class _Default:
    pass


DEFAULT: Any = _Default()


def model_for(kb: KnowledgeBase, data: Path | None = None, home: Path | None = None) -> Learned | None:
    """The CodiEsp model for ``kb`` (trained at first use, then cached), or None without CodiEsp.
    ``data`` defaults to MEDCODE_DATA, ``home`` to the home the knowledge base lives in."""
    with _lock:
        if "suggest.learned" in kb.memo:
            found: Learned | None = kb.memo["suggest.learned"]
            return found
        data = data if data is not None else settings.load().data
        home = home if home is not None else (home_of(kb) or kb.path.parent)
        table = concepts(kb)
        salt = ",".join(sorted(s.sha256 for s in kb.sources.values() if s.family == "icd10cm"))
        model = None if data is None else load(home, data / "codiesp", lambda t: matched(table, t), salt)
        kb.memo["suggest.learned"] = model
        return model


def matches(table: Concepts, text: str, note: Note | None = None) -> list[Match]:
    """The concept matches of ``text`` whose context (``language.context``) does not rule them out
    (``note``: ``text`` already read)."""
    found = table.match(text)
    if not found:
        return found
    note = note if note is not None and note.text == text else read(text)
    return [m for m in found if not _dropped(assess(note, m.start, m.end))]


def _dropped(context: Context) -> bool:
    return any(getattr(context, flag) for flag in DROP)


def matched(table: Concepts, text: str) -> dict[str, int]:
    """{code: longest matching term} over the non-negated concept matches of ``text``."""
    out: dict[str, int] = {}
    for m in matches(table, text):
        out[m.code] = max(out.get(m.code, 0), m.length)
    return out


def diagnose(
    kb: KnowledgeBase, note: Any, *, day: date | None = None, include_all: bool = False, model: Any = DEFAULT
) -> list[DiagnosisCandidate]:
    """The diagnoses ``note`` supports, best first (see the module docstring)."""
    text: str = note if isinstance(note, str) else note.text
    table = concepts(kb)
    learned: Learned | None = model_for(kb) if model is DEFAULT else model
    read_note = note if isinstance(note, Note) else read(text)
    found = matches(table, text, read_note)
    by_code: dict[str, list[Match]] = {}
    for m in found:
        by_code.setdefault(m.code, []).append(m)
    scores: dict[str, tuple[float, str]] = {}
    for code, ms in by_code.items():
        length = max(m.length for m in ms)
        p = learned.match_precision(code, length) if learned else LENGTH_PRIOR[min(length, 4)]
        scores[code] = (p, "concept")
    if learned is not None:
        probs = learned.probabilities(text)
        # a code the model finds alone must be found in the affirmed words too (not "negative for fever")
        plain = learned.probabilities(affirmed(read_note))
        for j in (probs >= FLOOR).nonzero()[0]:
            code, p = learned.codes[j], float(probs[j])
            if code in scores:
                scores[code] = (0.5 * p + 0.5 * max(p, scores[code][0]), "concept+model")
            elif plain[j] >= FLOOR:  # the code stands when the affirmed words keep most of its score
                q = float(plain[j])
                scores[code] = (p if q >= KEPT * p else q - AGAINST * (p - q), "model")
    # the billable code each raw code stands for (CodiEsp's 2018 codes, headers with a default child)
    best: dict[str, tuple[float, str, str]] = {}
    for raw, (score, source) in scores.items():
        billable = table.billable(raw)
        if billable is not None and (billable not in best or score > best[billable][0]):
            best[billable] = (score, source, raw)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
    recommended = [kv for kv in ranked if kv[1][0] >= THRESHOLD][:MAX_RECOMMENDED]
    chosen = recommended + (ranked[len(recommended) :][:MAX_CANDIDATES] if include_all else [])
    spans = sentences(text) if learned is not None and any(src == "model" for _, (_, src, _) in chosen) else []
    features = learned.features([text[s:e] for s, e in spans]) if learned is not None and spans else None
    out = []
    for n, (code, (score, source, raw)) in enumerate(chosen):
        evidence, why = _evidence(text, code, raw, source, by_code, learned, spans, features)
        out.append(
            DiagnosisCandidate(
                code=code,
                description=table.codes[code].description,
                score=round(min(max(score, 0.0), 1.0), 4),
                evidence=evidence,
                why=why,
                recommended=n < len(recommended),
                source=source,
            )
        )
    return out


def _evidence(
    text: str,
    code: str,
    raw: str,
    source: str,
    by_code: dict[str, list[Match]],
    learned: Learned | None,
    spans: list[tuple[int, int]],
    features: object,
) -> tuple[tuple[Evidence, ...], str]:
    mapped = "" if raw == code else f" (stands for {raw}, which is not a billable code)"
    ms = by_code.get(raw) or by_code.get(code)
    if ms:
        seen: set[tuple[int, int]] = set()
        evidence = []
        for m in ms:
            if (m.start, m.end) not in seen:
                seen.add((m.start, m.end))
                evidence.append(Evidence(m.start, m.end, text[m.start : m.end]))
        why = f'the note\'s words match the ICD-10-CM term "{ms[0].term}"{mapped}'
        if source == "concept+model":
            why += "; the CodiEsp-trained model agrees"
        return tuple(evidence[:3]), why
    why = f"the CodiEsp-trained model finds the note's words typical of {raw}{mapped}"
    if learned is not None and features is not None:
        best = learned.strongest(raw, features)
        if best is not None:
            s, e = spans[best]
            return (Evidence(s, e, text[s:e]),), why
    return (), why
