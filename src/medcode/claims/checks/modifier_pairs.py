"""Modifiers that contradict each other on one line:

- 59 with XE, XP, XS or XU: the X modifiers are the more specific forms of 59, so a line carries
  one or the other, never both (NCCI policy manual, chapter I, section E; CMS MLN on the X
  modifiers).
- 54 (surgical care only) with 55 (postoperative management only): one surgeon giving both parts
  bills the global service, with neither modifier.
- 26 (professional component) with TC (technical component): both parts are the global service,
  billed with neither modifier."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from medcode import rules
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "modifier_pairs"
TITLE = "Modifiers that contradict each other on one line"

X_MODIFIERS = tuple(m for m in rules.DISTINCT_MODIFIERS if m != "59")
# (finding id, the modifier, those it cannot share a line with, why, fix)
PAIRS = (
    (
        "modifiers.59_with_x",
        "59",
        X_MODIFIERS,
        "XE, XP, XS and XU are the specific forms of 59; a line carries one of them or 59, never both "
        "(NCCI policy manual, chapter I, section E)",
        "Keep the X modifier that describes why the service was distinct (or 59 alone) and remove the other.",
    ),
    (
        "modifiers.54_with_55",
        "54",
        ("55",),
        "54 bills the surgical care only and 55 the postoperative management only; both parts by one provider "
        "are the global surgical package",
        "Bill the procedure without 54 and 55 when one provider gave both parts; otherwise keep the modifier of "
        "the part this provider gave.",
    ),
    (
        "modifiers.26_with_tc",
        "26",
        ("TC",),
        "26 bills the professional component and TC the technical component; both are the global service",
        "Bill the code without 26 and TC for the whole service, or keep the modifier of the component billed.",
    ),
)


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    for line in claim.lines:
        if line.code and len(line.modifiers) > 1:
            yield from line_findings(line)


def line_findings(line: Line) -> Iterator[Finding]:
    has = set(line.modifiers)
    for fid, mod, others, why, fix in PAIRS:
        clash = [m for m in others if m in has]
        if mod in has and clash:
            yield Finding(
                fid, "deny", (line.line,), f"{line.code} carries {mod} and {', '.join(clash)} on one line: {why}.", fix
            )


def conflicting(mkey: str) -> bool:
    """Whether a space-separated list of modifiers holds a pair of ``PAIRS``."""
    has = set(mkey.split())
    return any(mod in has and not has.isdisjoint(others) for _, mod, others, _, _ in PAIRS)


# --- the batch form ---------------------------------------------------------------------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over the batch engine's lines frame: the lists of modifiers (``mkey``) are few,
    so each is tested once in Python."""
    bad = [k for k in ln["mkey"].unique().to_list() if k and conflicting(k)]
    cand = ln.filter(pl.col("mkey").is_in(bad)).select("cid", "line", "code", "mkey")

    def make(r: dict) -> Iterator[Finding]:
        return line_findings(Line(0, r["code"], tuple(r["mkey"].split())))

    return bc._per_key(cand, ["code", "mkey"], make, pl.concat_list("line"))
