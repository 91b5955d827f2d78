"""Diagnoses: every line points to a valid diagnosis; Excludes1 pairs among the claim's codes."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from medcode.claims.facts import Facts, in_excludes1_range
from medcode.claims.model import Claim, Finding

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "diagnosis"
TITLE = "Diagnosis pointers and Excludes1"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    count = len(claim.diagnoses)
    for line in claim.lines:
        yield from pointer_findings(line.line, line.code, line.pointers, count)
    yield from excludes1_findings(facts, claim.diagnoses, claim.date)


def excludes1_findings(facts: Facts, diagnoses: Sequence[str], day: date | None) -> Iterator[Finding]:
    """One ``diagnosis.excludes1`` finding per pair of distinct diagnoses where the first's notes
    exclude the second. Each code is looked up once, and the codes a note names are found by
    bisection in the claim's sorted codes, so the work grows with the notes, not with the square
    of the diagnoses."""
    known = {dx: f for dx in dict.fromkeys(diagnoses) if (f := facts.icd(dx, day)) is not None}
    by_code = sorted((f["code"].replace(".", ""), dx) for dx, f in known.items())
    keys = [k for k, _ in by_code]
    for dx, f in known.items():
        hits: dict[str, None] = {}
        for _, _, low, high in f["excludes1"]:
            i = bisect_left(keys, low)
            while i < len(keys) and in_excludes1_range(keys[i], low, high):
                if by_code[i][1] != dx:
                    hits[by_code[i][1]] = None
                i += 1
        for other in hits:
            hit = excludes1(f, known[other])
            if hit is not None:
                yield hit


def pointer_findings(line: int, code: str, pointers: tuple[int, ...], count: int) -> Iterator[Finding]:
    if not pointers:
        yield Finding(
            "diagnosis.no_pointer",
            "deny",
            (line,),
            f"Line {line} ({code}) points to no diagnosis.",
            "Point the line to the diagnosis that supports it.",
        )
    bad = [p for p in pointers if not 1 <= p <= count]
    if bad:
        yield Finding(
            "diagnosis.bad_pointer",
            "deny",
            (line,),
            f"Line {line} points to diagnosis {', '.join(map(str, bad))}; the claim has {count}.",
            "Correct the diagnosis pointer.",
        )


def excludes1(f: dict, g: dict) -> Finding | None:
    """The Excludes1 finding when diagnosis ``f`` (with its notes) excludes ``g``."""
    compact, own = g["code"].replace(".", ""), f["code"].replace(".", "")
    for src, text, low, high in f["excludes1"]:
        if in_excludes1_range(compact, low, high) and not in_excludes1_range(own, low, high):
            return Finding(
                "diagnosis.excludes1",
                "warn",
                (),
                f"{f['code']} and {g['code']} are billed together, but {src} has an Excludes1 note: {text!r}.",
                "Excludes1 means the two conditions are not coded together; keep the one the "
                "record supports, unless the conditions are unrelated (then document why).",
                f["citation"],
            )
    return None


# --- the batch form: the same check over whole files (medcode.claims.batch) --------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over whole files: pointers, then Excludes1 pairs."""
    return pl.concat([_pointer_candidates(bc, ln, c), bc._excludes1(c)])


def _pointer_candidates(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``pointer_findings`` of the lines without a pointer or with one past the claim's diagnoses."""
    count = c.select("cid", pl.col("dx").list.len().alias("count"))
    x = ln.select("cid", "line", "code", "ptrs").join(count, on="cid")
    bad = (
        x.explode("ptrs")
        .filter((pl.col("ptrs") < 1) | (pl.col("ptrs") > pl.col("count")))
        .select("cid", "line")
        .unique()
    )
    cand = (
        pl.concat([x.filter(pl.col("ptrs").list.len() == 0), x.join(bad, on=["cid", "line"])])
        .unique(["cid", "line"])
        .with_columns(ptrs_key=pl.col("ptrs").cast(pl.List(pl.String)).list.join(" "))
    )

    def make(r: dict) -> Iterator[Finding]:
        return pointer_findings(r["line"], r["code"], tuple(map(int, r["ptrs_key"].split())), r["count"])

    return bc.per_key(cand, ["line", "code", "ptrs_key", "count"], make, pl.concat_list("line"))
