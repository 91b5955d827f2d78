"""Diagnoses that no line points to. Severity info: the claim may list up to 12 diagnoses and
each line points to up to four, so a diagnosis that supports no line is not denied; it is often
a pointer written wrong, or a code that belongs on another claim."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "unpointed"
TITLE = "Diagnoses no line points to"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    pointed = {p for line in claim.lines for p in line.pointers}
    for i, dx in enumerate(claim.diagnoses, start=1):
        if i not in pointed:
            yield unpointed(i, dx)


def unpointed(i: int | str, dx: str) -> Finding:
    return Finding(
        "diagnosis.unpointed",
        "info",
        (),
        f"Diagnosis {i} ({dx}) is listed on the claim, but no line points to it.",
        "Point the lines it supports to it, or leave it off the claim if it supports none.",
    )


# --- the batch form ---------------------------------------------------------------------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over the batch engine's frames: claims ``c`` (``dx``), lines ``ln`` (``ptrs``)."""
    dx = (
        c.select("cid", "dx", i=pl.int_ranges(1, pl.col("dx").list.len() + 1))
        .explode("dx", "i")
        .filter(pl.col("dx").is_not_null())
    )
    pointed = ln.select("cid", i=pl.col("ptrs")).explode("i").drop_nulls().unique()
    cand = dx.join(pointed, on=["cid", "i"], how="anti")

    def make(r: dict, text: dict) -> Iterator[Finding]:
        yield unpointed(r["i"], text["dx"])

    # worded once per position (at most 12), the code written in per row
    return bc._per_key(cand, ["i"], make, pl.lit([], dtype=pl.List(pl.Int64)), fields=("dx",))
