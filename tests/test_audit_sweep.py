"""The documentation audit over every CPT/HCPCS code in the knowledge base: no exception, and an answer
that keeps its contract (statuses, queries for what is not present, evidence inside the note).

Each code is audited on the date of the newest fee schedule release that has it, on a note that names
a bit of everything (a side, minutes, a procedure, a drug, a joint, a scope), alone and with RT; the
work runs in two processes so both cores are used."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from test_sweep import _procedure_cases

from medcode.audit import audit
from medcode.audit.model import STATUSES
from medcode.codes import MalformedCode, UnknownCode
from medcode.kb.store import open_kb

pytestmark = pytest.mark.slow

NOTE = """PROCEDURE: Right knee injection and debridement.
Total time 32 minutes on the date of the encounter.
The wound of the left forearm, 3.5 cm, was irrigated and closed in layers with 4-0 Vicryl and nylon.
Vancomycin 1 g was mixed by hand with PMMA cement, formed into 10 beads and placed deep to the fascia.
Colonoscopy advanced to the cecum; a polyp was removed with a cold snare. Prep was good.
No complications. Assessment: osteoarthritis of the right knee, stable. Plan: ibuprofen.
"""

_KB = None


def _check(batch: list[tuple[str, date | None]]) -> list[str]:
    global _KB
    if _KB is None:
        _KB = open_kb(Path(os.environ["MEDCODE_HOME"]))
    problems = []
    for code, day in batch:
        for codes in ([code], [f"{code}-RT"]):
            try:
                answer = audit(_KB, NOTE, codes, day=day)
            except (UnknownCode, MalformedCode):
                continue  # a code without a page on that date: answered as not found, like every interface
            except Exception as exc:  # noqa: BLE001 (the sweep reports every failure)
                problems.append(f"{codes} {day}: {type(exc).__name__}: {exc}")
                continue
            for c in answer.codes:
                for e in c.elements:
                    if e.status not in STATUSES or (e.status != "present" and not e.query):
                        problems.append(f"{codes}: element {e.id} status {e.status!r} query {e.query!r}")
                    for ev in e.evidence:
                        if NOTE[ev.start : ev.end] != ev.text:
                            problems.append(f"{codes}: element {e.id} evidence {ev} is not the note's text")
                if not c.summary:
                    problems.append(f"{codes}: no summary")
            answer.as_json()
    return problems


def test_every_procedure_code_audits(kb, home):
    cases = [(c.code, c.day) for c in _procedure_cases(kb) if c.found]
    assert len(cases) > 15_000
    batches = [cases[i : i + 500] for i in range(0, len(cases), 500)]
    os.environ["MEDCODE_HOME"] = str(home)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        problems = [p for found in pool.map(_check, batches) for p in found]
    assert problems == [], "\n".join(problems[:50])
