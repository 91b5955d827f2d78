"""Modifiers against the PFS indicators of the code they are on (the rules: ``rules.INDICATOR_RULES``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from medcode import rules, vocab
from medcode.claims.batch.frames import _is_em
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "modifiers"
TITLE = "Modifiers that fit the code"

ASSISTANT = rules.ASSISTANT_MODIFIERS
_LABEL = {
    "pctc": "PC/TC",
    "bilateral": "bilateral surgery",
    "assistant": "assistant at surgery",
    "co_surgeon": "co-surgeon",
    "team": "team surgery",
}


def is_em(code: str) -> bool:
    return rules.is_em(code)


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    for line in claim.lines:
        if not line.code or not line.modifiers:
            continue
        yield from line_findings(facts, line, claim.day_of(line))


def line_findings(facts: Facts, line: Line, day: date | None) -> Iterator[Finding]:
    """The modifier findings on one line (the batch engine calls this once per code, modifiers
    and release)."""
    for mod in line.modifiers:
        if mod not in facts.modifiers:
            yield Finding(
                "modifiers.unknown",
                "deny",
                (line.line,),
                f"{mod} on {line.code} is not a CPT or HCPCS Level II modifier.",
                "Correct or remove the modifier.",
            )
    if "25" in line.modifiers and not rules.is_em(line.code):
        yield Finding(
            "modifiers.25_not_em",
            "deny",
            (line.line,),
            f"Modifier 25 is for evaluation and management codes; {line.code} is not one.",
            "Put 25 on the E/M code of the day, not on the procedure.",
        )
    aoc = facts.addon(line.code, day) if "51" in line.modifiers else None
    if aoc is not None:
        yield Finding(
            "modifiers.51_on_addon",
            "deny",
            (line.line,),
            f"{line.code} is an add-on code: modifier 51 (multiple procedures) does not apply to it.",
            "Remove modifier 51; add-on codes are exempt from the multiple procedure rules.",
            aoc["citation"],
        )
    pfs = judged_row(facts, line.code, day, line.modifiers)
    if pfs is not None:
        yield from indicator_findings(line, pfs)


def judged_row(facts: Facts, code: str, day: date | None, modifiers: tuple[str, ...]) -> dict | None:
    """The PFS row whose indicators the line's modifiers are judged by: the row ``Facts.pfs``
    picks (its 26, TC or 53 row, else the code's own), or where the code has neither, its first
    modifier row (86153 has only 86153-26, whose PC/TC indicator 6 forbids TC)."""
    pfs = facts.pfs(code, day, modifiers)
    if pfs is None:
        rows = facts.pfs_rows(code, day)
        first = next((m for m in rules.PFS_ROW_MODIFIERS if m in rows), None)
        pfs = facts.pfs(code, day, (first,)) if first else None
    return pfs


def indicator_findings(line: Line, pfs: dict) -> Iterator[Finding]:
    """A finding for each PFS indicator whose rule the line's modifiers break."""
    code = line.code
    row = f" of its {code}-{pfs['modifier']} row" if pfs.get("modifier") else ""
    for fid, field, mods in rules.indicator_misfits(pfs, line.modifiers):
        rule = rules.INDICATOR_RULES[field][pfs[field]]
        verdict = rule.verdicts[mods[0]]
        meaning = vocab.meaning(field, pfs[field]) or rule.definition
        names = " and ".join(mods)
        if verdict == rules.DOCUMENTATION:
            text = f"{names} on {code} is paid only with documentation"
        else:
            text = f"{names} on {code} is not allowed"
        yield Finding(
            fid,
            rules.VERDICT_SEVERITY[verdict],
            (line.line,),
            f"{text} ({_LABEL[field]} indicator {pfs[field]}{row}: {meaning.rstrip('.')}).",
            rule.fix.format(mod=names),
            pfs["citation"],
        )


# --- the batch form: the same check over whole files (medcode.claims.batch) --------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over whole files: the lines whose modifiers may break a rule (``rules``), worded
    once per code, modifiers and release."""
    # a line whose modifier breaks an indicator's rule (rules.INDICATOR_RULES), any value
    misfit = [
        pl.col(f"m{m}")
        & pl.col(field).is_in([v for v, rule in values.items() if rule.verdicts[m] != rules.ALLOWED]).fill_null(False)
        for field, values in rules.INDICATOR_RULES.items()
        for m in rules.INDICATOR_MODIFIERS[field]
    ]
    cand = (
        ln.filter(pl.col("mkey") != "")
        .filter(
            pl.any_horizontal(
                pl.col("m_unknown"),
                pl.col("m25") & ~_is_em(pl.col("code")),
                pl.col("m51") & pl.col("aoc_row").is_not_null(),
                *misfit,
                pl.col("status").is_null(),
            )  # no row: maybe a modifier row (judged_row)
        )
        .with_columns(aoc_key=pl.col("aoc_row").fill_null(-1))
    )

    def make(r: dict) -> Iterator[Finding]:
        return line_findings(bc.facts, Line(0, r["code"], tuple(r["mkey"].split())), r["day"])

    return bc.per_key(cand, ["code", "mkey", "pfs_rid", "aoc_key"], make, pl.concat_list("line"))
