"""Medically unlikely edits: units per line (MAI 1) or per day (MAI 2 and 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from medcode import vocab
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

ID = "mue"
TITLE = "Medically unlikely edits"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    per_day: dict[tuple[str, object], list] = defaultdict(list)
    for line in claim.lines:
        if line.code and line.units is not None:
            per_day[(line.code, claim.day_of(line))].append(line)
    for (code, day), lines in per_day.items():
        mue = facts.mue(code, day)
        if mue is None:
            continue
        if mue["mai"] == "1":
            for line in lines:
                if line.units > mue["units"]:
                    yield exceeded(code, day, mue, line.units, (line.line,))
        else:
            total = sum(line.units for line in lines)
            if total > mue["units"]:
                yield exceeded(code, day, mue, total, tuple(x.line for x in lines))


def exceeded(code: str, day: object, mue: dict, units: float, lines: tuple[int, ...]) -> Finding:
    """Units over the MUE: on one line (MAI 1) or on the date of service (MAI 2 and 3)."""
    meaning = vocab.meaning("mai", mue["mai"]) or ""
    where = "on the line" if mue["mai"] == "1" else f"on {day}"
    return Finding("mue.exceeded", "deny", lines,
                   f"{code}: {units:g} units {where}, the MUE is {mue['units']} (MAI {mue['mai']}: {meaning}; "
                   f"{mue['rationale']}).",
                   f"Bill at most {mue['units']} units" + (" per line" if mue["mai"] == "1" else " per day")
                   + ("; for MAI 1 more units on separate lines with 59/XE/XS/XU when documented." if mue["mai"] == "1"
                      else "; an appeal with records is the only route above it."), mue["citation"])
