"""The audit's hand-labelled development notes (tests/data/audit) are well formed, name real codes and
cover the cases the issue asks for; and the audit keeps its measured quality on them (the floors sit a
little below the figures bench/audit_bench.py prints, so a regression fails here)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from medcode import lookup
from medcode.codes import UnknownCode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import audit_bench  # noqa: E402

DIR = ROOT / "tests" / "data" / "audit"
# written later by someone who had seen neither the code nor the first set; measured once untouched
# (element F1 0.967, verdicts 0.871), then used for development like the first
HOLDOUT = ROOT / "tests" / "data" / "audit_holdout"
FLOORS = {"element_f1": 0.9, "verdict": 0.9, "status": 0.85}


def test_labels_are_well_formed_and_cover_the_cases():
    labels = audit_bench.read_labels(DIR)
    assert len(labels) >= 60
    notes = {p.stem for p in (DIR / "notes").glob("*.txt")}
    assert notes == set(labels), "every note has labels and every label a note"
    statuses = Counter(s for billed in labels.values() for b in billed.values() for s in b.elements.values())
    assert all(statuses[s] for s in audit_bench.STATUSES), statuses
    verdicts = Counter(b.special.get("_supported") for billed in labels.values() for b in billed.values())
    assert verdicts["yes"] >= 15 and verdicts["no"] >= 15, verdicts
    codes = {b.code.split("-")[0].split()[0] for billed in labels.values() for b in billed.values()}
    for prefix in ("2070", "2060", "2061", "4537", "4538", "992"):
        assert any(c.startswith(prefix) for c in codes), prefix
    assert any(c.isdigit() and 12001 <= int(c) <= 13160 for c in codes), "wound repairs"


@pytest.mark.parametrize("directory", [DIR, HOLDOUT], ids=["dev", "second"])
def test_labelled_codes_exist(kb, directory):
    for billed in audit_bench.read_labels(directory).values():
        for b in billed:
            code = b.replace(" ", "-").split("-")[0]
            try:
                lookup.get_code(kb, code)
            except UnknownCode:
                pytest.fail(f"{b}: not a code")


@pytest.mark.parametrize("directory", [DIR, HOLDOUT], ids=["dev", "second"])
def test_the_audit_keeps_its_quality_on_the_development_notes(kb, directory):
    s = audit_bench.score(kb, directory)
    p, r, f1 = s.total.prf()
    verdict = s.total.verdict_right / s.total.verdicts
    status = s.total.status_right / s.total.elements
    shown = "\n".join(s.misses[:40])
    assert f1 >= FLOORS["element_f1"], f"element F1 {f1:.3f}\n{shown}"
    assert verdict >= FLOORS["verdict"], f"verdict accuracy {verdict:.3f}\n{shown}"
    assert status >= FLOORS["status"], f"status accuracy {status:.3f}\n{shown}"
