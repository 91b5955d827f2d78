"""The ICD-10-CM Official Guidelines in the knowledge base (``icd10cm_guidelines``): the section a
question is about, found by BM25 over the sections, and the sentences of it that answer the question.

A section is searched as its ancestors' titles, its own title (twice: a heading names what the section
is about) and its text, so a short rule under "Human Immunodeficiency Virus (HIV) Infections" is found
by "HIV". The answer is extractive: the one or two sentences of the section that best match the question
(BM25 again, over its sentences), never text the guidelines do not hold."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date

import numpy as np

from medcode.assistant.model import Citation
from medcode.kb.store import KnowledgeBase
from medcode.language.lexical import LexicalIndex

__all__ = ["FAMILY", "Guidelines", "Hit", "Section", "cite", "find", "load", "section", "sentences"]

FAMILY = "icd10cm_guidelines"
MEMO = "assistant.guidelines"
SQL = (
    "SELECT number, title, parent, depth, page, page_end, text FROM icd10cm_guidelines"
    " WHERE release_id = ? ORDER BY seq"
)
SENTENCE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][”\"]))\s+(?=[A-Z“\"(])")
# words of a question that say it is about the guidelines, not about what it asks
QUESTION_WORDS = re.compile(r"\b(guidelines?|guidlines?|official|icd-?10-?cm|section|rule|coding)\b", re.IGNORECASE)
OUTPATIENT = re.compile(r"\b(outpatient|office visit|clinic visit|physician office)\b", re.IGNORECASE)
INPATIENT = re.compile(r"\b(inpatient|hospital stay|admission|admitted)\b", re.IGNORECASE)
# Question words and the words the guidelines write for them.
SYNONYMS = {
    "lab": "laboratory serology culture",
    "labs": "laboratory serology culture",
    "twice": "more than once",
    "unrelated": "incidental",
    "meds": "medications",
    "needs?": "requires",
}
# A section with sections under it mostly introduces them: its score counts this much.
PARENT_WEIGHT = 0.8
SHORT = 4  # sentences: a section this short is answered whole
FUNCTION_WORDS = re.compile(
    r"\b(what|which|when|where|who|how|why|do|does|did|can|could|should|would|may|must|i|we|you|it|they|them"
    r"|is|are|was|be|the|a|an|if|but|or|and|only|ever|there|any|this|that|these|with|for|of|on|in|to|s)\b",
    re.IGNORECASE,
)
CHARACTERS = re.compile(
    r"(7th characters?|seventh characters?)((?:\s*(?:,|or|and|vs\.?|versus)?\s*[“\"']?[A-Z0-9][”\"']?(?![A-Za-z0-9]))+)"
)
# A section that only points elsewhere ("See Section I.C.15. Routine outpatient prenatal visits.")
POINTER = re.compile(r"See (Section|category|code)\b[^\n]{0,120}", re.IGNORECASE)
# a section number as the guidelines cite it: I.C.9.a.2, II.H, IV.H, App.I
NUMBER = re.compile(
    r"(?<![A-Za-z0-9.])((?:App\.)?(?:IV|III|II|I)(?:\.[A-Za-z0-9]{1,4})+|(?<=Section )(?:IV|III|II|I))(?![A-Za-z0-9])"
)
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Section:
    number: str
    title: str
    parent: str
    depth: int
    page: int
    page_end: int
    text: str

    @property
    def pages(self) -> str:
        return f"page {self.page}" if self.page == self.page_end else f"pages {self.page}-{self.page_end}"


@dataclass(frozen=True)
class Hit:
    section: Section
    score: float


@dataclass
class Guidelines:
    release: str
    file: str
    sections: list[Section]
    by_number: dict[str, Section]
    index: LexicalIndex  # over sections (ancestors' titles, title twice, text)
    sentence_index: LexicalIndex  # over sentences (the section's title and the sentence)
    sentence_of: list[int]  # sentence -> position of its section
    parents: frozenset[str]  # numbers of the sections with sections under them


def load(kb: KnowledgeBase, day: date | None = None) -> Guidelines | None:
    """The guidelines release in force on ``day`` (or the latest), indexed once per knowledge base;
    None when the knowledge base has none (built before the guidelines were ingested)."""
    resolved = kb.resolve(FAMILY, day)
    if resolved is None:
        return None
    rid = resolved.release.ids[0]
    memo: dict[int, Guidelines] = kb.memo.setdefault(MEMO, {})
    found = memo.get(rid)
    if found is not None:
        return found
    with _LOCK:
        found = memo.get(rid)
        if found is None:
            rows = kb.query(SQL, (rid,))
            sections = [Section(*r) for r in rows]
            by_number = {s.number: s for s in sections}
            docs = []
            for s in sections:
                titles, p = [], s.parent
                while p:
                    parent = by_number.get(p)
                    if parent is None:
                        break
                    titles.append(parent.title)
                    p = parent.parent
                docs.append(mark_characters(" ".join([*titles, s.title, s.title, s.text])))
            said: list[str] = []
            sentence_of: list[int] = []
            for i, s in enumerate(sections):
                for sentence in sentences(s):
                    said.append(mark_characters(f"{s.title} {sentence}"))
                    sentence_of.append(i)
            found = Guidelines(
                resolved.release.name,
                resolved.release.files[0].file,
                sections,
                by_number,
                LexicalIndex.build(docs),
                LexicalIndex.build(said),
                sentence_of,
                frozenset(x.parent for x in sections if x.parent),
            )
            memo[rid] = found
    return found


def find(g: Guidelines, question: str, k: int = 3) -> list[Hit]:
    """The ``k`` sections best matching ``question``, best first: a section's score is its BM25 score
    over sections plus the score of its best sentence over all sentences, each divided by the best of
    its ranking (a rule is often one sentence of a long section). A question about an outpatient
    visit prefers Section IV, one about an inpatient stay the other sections. Sections without text
    are never returned (their children hold the rules), nor those that only point to another section.
    A question naming a section ("what does I.C.9.a.1 say?") gets that section."""
    named = [g.by_number[m] for m in NUMBER.findall(question) if m in g.by_number]
    if named:
        return [Hit(x, float("inf")) for x in named[:k]]
    text = QUESTION_WORDS.sub(" ", question)
    setting = None
    if OUTPATIENT.search(text):
        setting, text = "IV", OUTPATIENT.sub(" ", text)
    elif INPATIENT.search(text):
        setting, text = "not IV", INPATIENT.sub(" ", text)
    text = expand(text)
    scores: dict[int, float] = {}
    by_section = g.index.search(text, 60)
    by_sentence = g.sentence_index.search(text, 200)
    for hits, positions in ((by_section, None), (by_sentence, g.sentence_of)):
        if not hits:
            continue
        top = hits[0][1]
        seen: set[int] = set()
        for i, score in hits:
            at = positions[i] if positions is not None else i
            if at in seen:
                continue
            seen.add(at)
            scores[at] = scores.get(at, 0.0) + score / top
    out = []
    for at, score in scores.items():
        s = g.sections[at]
        if not s.text.strip() or POINTER.fullmatch(s.text.strip()):
            continue
        part = s.number.split(".", 1)[0]
        if setting == "IV":
            score *= 1.5 if part == "IV" else 1.0
        elif setting == "not IV":
            score *= 0.5 if part == "IV" else 1.5 if part in ("II", "III") else 1.0
        if s.number in g.parents:
            score *= PARENT_WEIGHT
        out.append(Hit(s, score))
    out.sort(key=lambda h: (-h.score, h.section.number))
    return out[:k]


def expand(text: str) -> str:
    """The words of a question to search for: without the words any question has (``FUNCTION_WORDS``),
    with the words the guidelines use for some of its words (``SYNONYMS``), 7th characters marked."""
    extra = [alt for word, alt in SYNONYMS.items() if re.search(rf"\b{word}\b", text, re.IGNORECASE)]
    text = mark_characters(FUNCTION_WORDS.sub(" ", text))
    return f"{text} {' '.join(extra)}" if extra else text


def mark_characters(text: str) -> str:
    """ "7th character A" (also "A vs D", "“D”") as the words ``seventha``, ``seventhd``: a letter
    alone is no word to search for, a marked one is."""

    def mark(m: re.Match[str]) -> str:
        letters = re.findall(r"(?<![A-Za-z0-9])([A-Z0-9])(?![A-Za-z0-9])", m.group(2))
        return m.group(1) + " " + " ".join(f"seventh{x.lower()}" for x in letters)

    return CHARACTERS.sub(mark, text)


def section(g: Guidelines, number: str) -> Section | None:
    return g.by_number.get(number)


def sentences(s: Section) -> list[str]:
    out: list[str] = []
    for para in s.text.split("\n"):
        out.extend(p.strip() for p in SENTENCE.split(para) if p.strip())
    return out


def best_sentences(g: Guidelines, s: Section, question: str, n: int = 3) -> list[str]:
    """What of ``s`` answers ``question``: all of a short section (up to ``SHORT`` sentences), else the
    ``n`` sentences of it that best match the question (scored over every sentence of the guidelines),
    in the section's order; its first sentence when none matches."""
    parts = sentences(s)
    if len(parts) <= SHORT:
        return parts
    at = g.sections.index(s)
    mask = np.fromiter((x == at for x in g.sentence_of), dtype=bool, count=len(g.sentence_of))
    first = g.sentence_of.index(at)
    hits = g.sentence_index.search(expand(QUESTION_WORDS.sub(" ", question)), n, mask)
    if not hits:
        return parts[:1]
    top = hits[0][1]
    keep = sorted(i - first for i, score in hits if score >= 0.6 * top)
    return [parts[i] for i in keep]


def cite(g: Guidelines, s: Section) -> Citation:
    """The citation of a section: its number and the page its heading is printed on."""
    return Citation(FAMILY, g.release, g.file, f"{s.number} p. {s.page}", None)
