"""Differential test of the engines: generated claims that reach every rule branch
(``tests/claimgen.py``) give the same whole ``CheckedClaim`` (findings in order, priced lines,
totals, notices) from the per-claim engine (``medcode.claims.Checker``) and the batch engine
(``medcode.claims.batch``), both from claim objects and through the batch engine's own CSV
reader; and every finding id that docs/claims.md lists is produced by some generated claim."""

from __future__ import annotations

import re
from pathlib import Path

import claimgen
import pytest

from medcode import rules
from medcode.claims import CheckedClaim, Checker, read_csv
from medcode.claims.batch import BatchChecker
from medcode.claims.batch.inputs import csv_frames, from_claims

DOCS = Path(__file__).parent.parent / "docs" / "claims.md"
CLAIMS = 3000
SEED = 12


@pytest.fixture(scope="module")
def pools(kb) -> claimgen.Pools:
    return claimgen.Pools(kb)


@pytest.fixture(scope="module")
def generated(pools) -> list:
    return claimgen.generate(pools, CLAIMS, SEED)


@pytest.fixture(scope="module")
def per_claim(kb, generated) -> list[CheckedClaim]:
    checker = Checker(kb)
    return [checker.check(c) for c in generated]


def _differences(got: list[CheckedClaim], want: list[CheckedClaim]) -> list[str]:
    """Each claim the engines disagree on, with the parts that differ."""
    assert [g.id for g in got] == [w.id for w in want]
    out = []
    for g, w in zip(got, want):
        if g == w:
            continue
        parts = []
        if g.findings != w.findings:
            gs, ws = set(g.findings), set(w.findings)
            parts.append(
                f"batch only {sorted(gs - ws, key=str)}; per-claim only {sorted(ws - gs, key=str)}"
                if gs != ws
                else "findings in another order"
            )
        for name in ("lines", "total_allowed", "at_risk", "locality", "notices"):
            if getattr(g, name) != getattr(w, name):
                parts.append(f"{name}: batch {getattr(g, name)!r}, per-claim {getattr(w, name)!r}")
        out.append(f"{w.id}: " + "; ".join(parts))
    return out


def test_generator_is_seeded(pools, generated) -> None:
    assert claimgen.generate(pools, CLAIMS, SEED) == generated
    assert claimgen.generate(pools, 50, SEED + 1) != generated[:50]


def test_batch_engine_equals_per_claim_engine(kb, generated, per_claim) -> None:
    got = BatchChecker(kb).check(*from_claims(generated)).to_checked()
    assert _differences(got, per_claim) == []


def test_batch_csv_reader_equals_per_claim_reader(kb, generated, tmp_path) -> None:
    # claims with lines, written as CSV: the batch engine's own reader (csv_frames) against the
    # per-claim reader, each engine on what its reader read
    path = tmp_path / "generated.csv"
    # (claims over the limits of one claim included: the per-claim CSV reader keeps 50 lines and
    # counts the rest, the batch reader sends every line to the per-claim engine; both refuse them)
    fits = [c for c in generated if c.lines and not c.problems]
    assert any(len(c.lines) > rules.MAX_LINES for c in fits)
    path.write_text(claimgen.to_csv(fits))
    frames = csv_frames(str(path))
    assert frames is not None
    assert frames[0].height > 1000  # most claims take the fast path
    got = BatchChecker(kb).check(*frames).to_checked()
    checker = Checker(kb)
    want = [checker.check(c) for c in read_csv(path.read_text(), str(path))]
    assert _differences(sorted(got, key=lambda r: r.id), sorted(want, key=lambda r: r.id)) == []


def documented_ids() -> list[str]:
    """The finding ids of the table in docs/claims.md (``validity.status_<x>`` as a pattern)."""
    text = DOCS.read_text()
    section = text.split("\n## Findings", 1)[1].split("\n## ", 1)[0]
    ids = []
    for row in section.splitlines():
        if row.startswith("| `"):
            first = row.split("|")[1]
            ids += re.findall(r"`([a-z0-9_]+\.[a-z0-9_<>]+)`", first)
    return ids


def test_docs_list_the_ids() -> None:
    ids = documented_ids()
    assert len(ids) == len(set(ids)) > 30
    assert {
        "validity.bad_input",
        "npi.check_digit",
        "place_of_service.not_in_force",
        "diagnosis.unpointed",
        "validity.status_<x>",
    } <= set(ids)


def test_every_documented_id_is_generated(per_claim) -> None:
    produced = {f.id for r in per_claim for f in r.findings}
    missing = [
        i for i in documented_ids() if not any(re.fullmatch(re.escape(i).replace("<x>", "[a-z]"), p) for p in produced)
    ]
    assert missing == []
    # every status of rules.STATUS_SEVERITY that the loaded fee schedules use
    assert {i for i in produced if i.startswith("validity.status_")} >= {
        f"validity.status_{s.lower()}"
        for s in ("B", "C", "E", "I", "J", "M", "N", "P", "R", "T", "X")
        if s in rules.STATUS_SEVERITY
    }
    # and no id the docs do not list
    listed = documented_ids()
    assert (
        sorted(p for p in produced if not any(re.fullmatch(re.escape(i).replace("<x>", "[a-z]"), p) for i in listed))
        == []
    )
