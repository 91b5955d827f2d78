"""Add-on codes: a primary code on the same date (NCCI add-on code edits, types 1-3)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from medcode import vocab
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "addon"
TITLE = "Add-on codes with their primary code"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    per_day: dict[object, Counter[str]] = {}  # how many lines bill each code on each date
    for o in claim.lines:
        per_day.setdefault(claim.day_of(o), Counter())[o.code] += 1
    for line in claim.lines:
        day = claim.day_of(line)
        aoc = facts.addon(line.code, day) if line.code else None
        if aoc is None:
            continue
        others = per_day[day]  # the codes of the day's other lines (this code only if billed twice)
        primary = any(n > (c == line.code) and c in aoc["primaries"] for c, n in others.items())
        found = finding(line, day, aoc, primary)
        if found is not None:
            yield found


def finding(line: Line, day: date | str | None, aoc: dict, has_primary: bool) -> Finding | None:
    """The finding on an add-on line, given whether an eligible primary is billed the same day
    (``day`` is only written in the words)."""
    meaning = vocab.meaning("aoc_type", aoc["type"]) or ""
    if aoc["type"] == "2":
        return Finding(
            "addon.payer_primary",
            "info",
            (line.line,),
            f"{line.code} is an add-on code without a CMS list of primary codes (type 2: {meaning}).",
            "Check the MAC's list of acceptable primary codes.",
            aoc["citation"],
        )
    if has_primary:
        return None
    shown = ", ".join(sorted(aoc["primaries"])[:8]) + (" ..." if len(aoc["primaries"]) > 8 else "")
    severity = "deny" if aoc["type"] == "1" else "warn"
    return Finding(
        "addon.no_primary",
        severity,
        (line.line,),
        f"Add-on code {line.code} is billed without an eligible primary code on {day} "
        f"(edit type {aoc['type']}: {meaning}).",
        f"Bill it with its primary procedure on the same date ({shown})"
        + ("" if aoc["type"] == "1" else ", or show the MAC accepts another primary")
        + ".",
        aoc["citation"],
    )


# --- the batch form: the same check over whole files (medcode.claims.batch) --------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over whole files: the add-on lines (marked by the engine with their first edit in
    force and whether a primary is billed) that may have a finding, worded once per edit set."""
    cand = ln.filter(pl.col("aoc_row").is_not_null() & ~(pl.col("has_primary") & (pl.col("first_type") != "2")))

    def make(r: dict, text: dict) -> Iterator[Finding | None]:
        aoc = bc.facts.addon(r["code"], r["day"])  # (in force: the engine marked the line with it)
        yield finding(Line(0, r["code"]), text["day"], aoc, r["has_primary"]) if aoc is not None else None

    return bc.per_key(
        cand, ["code", "aoc_rid", "aoc_epoch", "has_primary"], make, pl.concat_list("line"), fields=("day",)
    )
