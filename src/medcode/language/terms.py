"""Every string the official files give for a code: the terms the concept index searches.

Sources, in this order (the order is part of the index's key):

- ``icd10cm:title``      ICD-10-CM descriptions of categories and subcategories (codes and headers).
  Codes made with a 7th character are not listed: their parent's text stands for them once, and
  the coding rules add the 7th character.
- ``icd10cm:inclusion``  inclusion terms and "includes" notes of those codes.
- ``icd10cm:drug``, ``icd10cm:neoplasm``, ``icd10cm:eindex``  the index-family tables (term path
  to code; a code written with a trailing ``-`` ("C50.9-") stands for its header, C50.9).
- ``hcpcs:long``         HCPCS Level II long descriptions.
- ``clfs:long``, ``clfs:extended``  the lab fee schedule's descriptions of lab codes.
- ``pfs:short-expanded`` the physician fee schedule's short descriptors, abbreviations written out.
- ``medcode:plain``      the plain-language descriptions search makes (``search_docs.plain``).
- ``medcode:lay``        medcode's own lay descriptions of common codes (``vocab/lay_*.tsv``), for
  ICD-10-CM codes (after the inclusion terms) and CPT/HCPCS codes (last).

Codes that are no longer active (deleted in the newest fee schedule) are left out. Exact repeats of
(code, text), ignoring case and spacing, are kept once: the first source wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from medcode import vocab
from medcode.codes import system_of
from medcode.language.abbreviations import expand_text

ICD = "ICD-10-CM"
INDEX_SOURCES = {"drug": "icd10cm:drug", "neoplasm": "icd10cm:neoplasm", "eindex": "icd10cm:eindex"}
INCLUSION_NOTES = ("inclusion_term", "includes")


@dataclass(frozen=True, slots=True)
class Term:
    code: str
    system: str  # "CPT" | "HCPCS" | "ICD-10-CM"
    text: str
    source: str


def _ids(kb: Any, family: str) -> tuple[int, ...]:
    """Release ids of the newest release of ``family`` (none when it is not loaded)."""
    found = kb.resolve(family, None)
    return found.release.ids if found is not None else ()


def _marks(ids: tuple[object, ...]) -> str:
    return ", ".join("?" * len(ids))


def _has_table(kb: Any, name: str) -> bool:
    return bool(kb.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


def _diagnoses(kb: Any) -> Iterator[Term]:
    ids = _ids(kb, "icd10cm")
    if not ids:
        return
    codes: set[str] = set()
    for code, desc in kb.query(
        f"SELECT code, description FROM icd10cm_codes WHERE release_id IN ({_marks(ids)})"
        " AND kind IN ('category', 'subcategory') ORDER BY release_id, seq",
        ids,
    ):
        codes.add(code)
        yield Term(code, ICD, desc, "icd10cm:title")
    notes = kb.query(
        f"SELECT code, text FROM icd10cm_notes WHERE release_id IN ({_marks(ids)})"
        f" AND note_type IN ({_marks(INCLUSION_NOTES)}) ORDER BY release_id, rowid",
        (*ids, *INCLUSION_NOTES),
    )
    for code, text in notes:
        if code in codes:
            yield Term(code, ICD, text, "icd10cm:inclusion")
    for code, text in vocab.lay_descriptions().items():
        if code in codes:
            yield Term(code, ICD, text, "medcode:lay")
    index_ids = _ids(kb, "icd10cm_index")
    if not index_ids or not _has_table(kb, "icd10cm_index_terms"):
        return
    for kind, path, code in kb.query(
        f"SELECT kind, path_text, code FROM icd10cm_index_terms WHERE release_id IN ({_marks(index_ids)})"
        " ORDER BY release_id, rowid",
        index_ids,
    ):
        header = code.rstrip("-").rstrip(".")
        if header in codes:  # (an index code the tabular in force no longer has is left out)
            yield Term(header, ICD, path, INDEX_SOURCES[kind])


def _procedures(kb: Any) -> Iterator[Term]:
    active: dict[str, bool] = {}
    plain: list[tuple[str, str, str]] = []
    short: list[tuple[str, str, str]] = []
    for system, code, plain_text, short_text, is_active in kb.query(
        "SELECT system, code, plain, short, active FROM search_docs WHERE system IN ('CPT', 'HCPCS') ORDER BY id"
    ):
        active[code] = bool(is_active)
        if plain_text:
            plain.append((system, code, plain_text))
        if short_text:
            short.append((system, code, short_text))
    ids = _ids(kb, "hcpcs")
    if ids:
        for code, text in kb.query(
            f"SELECT code, group_concat(long_description, ' ') FROM (SELECT * FROM hcpcs_codes"
            f" WHERE release_id IN ({_marks(ids)}) AND record_id != '7' ORDER BY code, seqnum) GROUP BY code"
            " ORDER BY code",
            ids,
        ):
            if active.get(code, True):
                yield Term(code, system_of(code), text, "hcpcs:long")
    ids = _ids(kb, "clfs")
    if ids:
        for code, long, extended in kb.query(
            f"SELECT hcpcs, long_description, extended_description FROM clfs_rates WHERE release_id IN"
            f" ({_marks(ids)}) AND modifier = '' ORDER BY hcpcs, line",
            ids,
        ):
            if active.get(code, False):
                yield Term(code, system_of(code), long, "clfs:long")
                yield Term(code, system_of(code), extended, "clfs:extended")
    for system, code, text in short:
        if active[code]:
            yield Term(code, system, expand_text(text, descriptor=True), "pfs:short-expanded")
    for system, code, text in plain:
        if active[code]:
            yield Term(code, system, text, "medcode:plain")
    for code, text in vocab.lay_descriptions().items():
        if active.get(code):
            yield Term(code, system_of(code), text, "medcode:lay")


def dedupe(terms: Iterable[Term]) -> list[Term]:
    """Terms with blank texts and repeats of (code, text) left out (case and spacing ignored)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for term in terms:
        text = " ".join(term.text.split())
        key = (term.code, text.casefold())
        if not text or key in seen:
            continue
        seen.add(key)
        out.append(term if text == term.text else Term(term.code, term.system, text, term.source))
    return out


def collect(kb: Any) -> list[Term]:
    """Every term of the knowledge base's newest releases, in a fixed order."""
    return dedupe([*_diagnoses(kb), *_procedures(kb)])
