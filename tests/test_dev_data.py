"""The hand-written development data of issue 13 is well formed and names only real codes:
bench/search_dev.tsv (search queries) and tests/data/notes (US encounter notes with gold codes)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from medcode.kb.store import KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "search_dev.tsv"
NOTES = ROOT / "tests" / "data" / "notes"
KINDS = ("lay", "clinical", "abbreviated", "misspelt")
SYSTEMS = ("CPT", "HCPCS", "ICD-10-CM")
# The issue's own examples are held out: the development set must not contain them.
HELD_OUT = (
    "cataract removal with lens implant",
    "mri lower back no contrast",
    "ekg with interpretation and report",
    "upper gi endoscopy with biopsy",
    "cbc with automated differential",
    "annual physical normal adult",
    "arthritis right knee",
    "antibiotic spacer placed in knee joint",
)


def _rows() -> list[tuple[str, str, str, list[str]]]:
    rows = []
    for line in QUERIES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, system, query, codes = line.split("\t")
            rows.append((kind, system, query, codes.split()))
    return rows


def _gold() -> list[tuple[str, str, int, str, str]]:
    out = []
    for line in (NOTES / "gold.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            note, kind, rank, code, mods = line.split("\t")
            out.append((note, kind, int(rank), code, mods))
    return out


def _icd_billable(kb: KnowledgeBase, code: str) -> bool:
    rows = kb.query("SELECT billable FROM icd10cm_codes WHERE compact = ?", (code.replace(".", ""),))
    return any(r[0] == 1 for r in rows)


def _procedure_exists(kb: KnowledgeBase, code: str) -> bool:
    return bool(
        kb.query("SELECT 1 FROM rvus WHERE hcpcs = ? LIMIT 1", (code,))
        or kb.query("SELECT 1 FROM hcpcs_codes WHERE code = ? LIMIT 1", (code,))
    )


def test_search_dev_size_and_balance() -> None:
    rows = _rows()
    assert len(rows) >= 420
    cells = Counter((system, kind) for kind, system, _, _ in rows)
    assert {k for k, _ in cells} == set(SYSTEMS) and {k for _, k in cells} == set(KINDS)
    assert min(cells.values()) >= 20
    share = Counter(system for _, system, _, _ in rows)
    assert 0.35 <= share["ICD-10-CM"] / len(rows) <= 0.45
    assert 0.35 <= share["CPT"] / len(rows) <= 0.45
    assert 0.15 <= share["HCPCS"] / len(rows) <= 0.25


def test_search_dev_has_no_duplicates_nor_held_out_examples() -> None:
    queries = [q.lower() for _, _, q, _ in _rows()]
    assert [q for q, n in Counter(queries).items() if n > 1] == []
    assert [q for q in queries if q in HELD_OUT] == []


@pytest.mark.parametrize("system", SYSTEMS, ids=SYSTEMS)
def test_search_dev_codes_exist(kb: KnowledgeBase, system: str) -> None:
    check = _icd_billable if system == "ICD-10-CM" else _procedure_exists
    bad = [(q, c) for _, s, q, codes in _rows() if s == system for c in codes if not check(kb, c)]
    assert bad == []


def test_notes_have_gold() -> None:
    notes = sorted(p.name for p in NOTES.glob("*.txt"))
    assert len(notes) >= 44
    graded = {g[0] for g in _gold()}
    assert sorted(graded) == notes
    kinds = Counter((note, kind) for note, kind, _, _, _ in _gold())
    assert [n for n in notes if kinds[(n, "D")] == 0 or kinds[(n, "P")] == 0] == []


@pytest.mark.parametrize("kind", ["D", "P"], ids=["diagnoses", "procedures"])
def test_gold_codes_exist(kb: KnowledgeBase, kind: str) -> None:
    check = _icd_billable if kind == "D" else _procedure_exists
    assert [(n, c) for n, k, _, c, _ in _gold() if k == kind and not check(kb, c)] == []


def test_gold_ranks_are_consecutive() -> None:
    ranks: dict[tuple[str, str], list[int]] = {}
    for note, kind, rank, _, _ in _gold():
        ranks.setdefault((note, kind), []).append(rank)
    assert {key: r for key, r in ranks.items() if r != list(range(1, len(r) + 1))} == {}


@pytest.mark.parametrize("path", sorted(NOTES.glob("*.txt")), ids=lambda p: p.stem)
def test_note_length(path: Path) -> None:
    words = len(path.read_text(encoding="utf-8").split())
    assert 60 <= words <= 300, f"{path.name}: {words} words"
