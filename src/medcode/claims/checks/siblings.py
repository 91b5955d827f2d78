"""Sibling codes: families whose codes exclude each other on one date (vocab/code_families.tsv)."""

from __future__ import annotations

from collections.abc import Iterator

from medcode import vocab
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

ID = "siblings"
TITLE = "Codes that exclude each other"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    for family, (members, rule) in vocab.code_families().items():
        by_day: dict[object, list] = {}
        for line in claim.lines:
            if line.code in members:
                by_day.setdefault(claim.day_of(line), []).append(line)
        for day, lines in by_day.items():
            codes = sorted({x.code for x in lines})
            if len(codes) > 1:
                yield conflict(family, rule, codes, day, tuple(x.line for x in lines))


def conflict(family: str, rule: str, codes: list[str], day: object, lines: tuple[int, ...]) -> Finding:
    return Finding("siblings.conflict", "deny", lines,
                   f"{' and '.join(codes)} on {day} describe the same service in different ways "
                   f"({family.replace('_', ' ')}).", f"Bill one of them. {rule}")
