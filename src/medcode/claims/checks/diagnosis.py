"""Diagnoses: every line points to a valid diagnosis; Excludes1 pairs among the claim's codes."""

from __future__ import annotations

from collections.abc import Iterator

from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

ID = "diagnosis"
TITLE = "Diagnosis pointers and Excludes1"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    count = len(claim.diagnoses)
    for line in claim.lines:
        yield from pointer_findings(line.line, line.code, line.pointers, count)
    found = [(dx, facts.icd(dx, claim.date)) for dx in claim.diagnoses]
    known = [(dx, f) for dx, f in found if f is not None]
    for dx, f in known:
        for other, g in known:
            if other != dx:
                hit = excludes1(f, g)
                if hit is not None:
                    yield hit


def pointer_findings(line: int, code: str, pointers: tuple[int, ...], count: int) -> Iterator[Finding]:
    if not pointers:
        yield Finding("diagnosis.no_pointer", "deny", (line,), f"Line {line} ({code}) points to no diagnosis.",
                      "Point the line to the diagnosis that supports it.")
    bad = [p for p in pointers if not 1 <= p <= count]
    if bad:
        yield Finding("diagnosis.bad_pointer", "deny", (line,),
                      f"Line {line} points to diagnosis {', '.join(map(str, bad))}; the claim has {count}.",
                      "Correct the diagnosis pointer.")


def excludes1(f: dict, g: dict) -> Finding | None:
    """The Excludes1 finding when diagnosis ``f`` (with its notes) excludes ``g``."""
    compact = g["code"].replace(".", "")
    for src, text, ref in f["excludes1"]:
        if compact.startswith(ref) and not f["code"].replace(".", "").startswith(ref):
            return Finding("diagnosis.excludes1", "warn", (),
                           f"{f['code']} and {g['code']} are billed together, but {src} has an Excludes1 "
                           f"note: {text!r}.",
                           "Excludes1 means the two conditions are not coded together; keep the one the "
                           "record supports, unless the conditions are unrelated (then document why).",
                           f["citation"])
    return None
